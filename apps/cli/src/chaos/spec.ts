/**
 * Fault injection for `rydes run --chaos SPEC`.
 *
 * SPEC is a comma-separated list of `NAME=RATE` (RATE a probability in [0, 1]) and `seed=INTEGER`
 * (default 1), e.g.
 *
 *     rydes run --chaos s3-put-error=0.1,s3-get-error=0.05,sqs-send-error=0.05,transform-crash=0.05,duplicate-delivery=0.05,seed=7
 *
 * Every fault is injected beneath the function bundles — in HTTP proxies between the functions'
 * own SDK clients and the local S3/SQS servers (`AWS_ENDPOINT_URL_S3`/`_SQS` point at them), or
 * in the local Lambda runtime around the handler — never in domain code. The CLI's own uploads,
 * completion checks, downloads and the SQS event source talk to the servers directly, as AWS's
 * own machinery would.
 *
 * Transient faults (a run with only these must still end with every valid ride written exactly
 * once, both DLQs empty, exit 0):
 * - `s3-put-error` — an S3 write request of a function (PUT, POST: PutObject, UploadPart,
 *   CompleteMultipartUpload, DeleteObjects, …) is answered 503 ServiceUnavailable instead of being
 *   forwarded. The SDK retries it (3 attempts); if all fail, the function fails and Lambda's own
 *   retry (ingest: async retries; transform: redelivery) takes over.
 * - `s3-get-error` — the same for S3 GET requests (GetObject, ListObjects).
 * - `sqs-send-error` — the same for SQS SendMessage / SendMessageBatch (the ingest's fan-out).
 * - `transform-crash` — a transform invocation's execution environment is killed after the
 *   handler has done all its work but before its response reaches the event source (the
 *   response is lost): the whole batch comes back after the visibility timeout, and every
 *   output is written a second time.
 * - `duplicate-delivery` — a fan-out message the transform processed successfully is delivered
 *   once more: the event source deletes it and puts an identical copy back on the queue (so the
 *   extra delivery does not count against the original's 5 receives).
 *
 * Permanent fault (the run ends with exit 1, and the summary shows the lost rides are exactly the
 * rides in the fan-out DLQ's messages):
 * - `poison-message` — a fan-out message whose processed/ object can never be written: every
 *   PutObject of that key is answered 403 AccessDenied. The choice depends only on the seed and
 *   the key, so every redelivery fails the same way and the message reaches the DLQ after 5
 *   receives. Counted once per message.
 *
 * Each kind draws from its own seeded stream, so the n-th opportunity of a kind gets the same
 * decision in every run with the same seed, however the kinds interleave; counts still vary a
 * little between runs because concurrent invocations change how many opportunities there are.
 * The summary reports faults injected by kind and retries spent: SDK retries seen by the proxies
 * (the `amz-sdk-request: attempt=N` header, N > 1), ingest invocation retries and transform
 * redeliveries.
 */
import { seededRandom } from '@rydes/ride-model';
import { InvalidOptionError } from '../errors';

export const FAULTS = ['s3-put-error', 's3-get-error', 'sqs-send-error', 'transform-crash', 'duplicate-delivery', 'poison-message'] as const;
export type Fault = (typeof FAULTS)[number];

export interface ChaosSpec {
  /** Probability of each fault per opportunity (request, invocation, processed message, message key). */
  rates: Record<Fault, number>;
  seed: number;
}

/**
 * `s3-put-error=0.1,transform-crash=0.05,seed=7` → rates (unnamed faults 0) and seed (default 1).
 * @example
 * parseChaos('s3-put-error=0.1,seed=3').rates['s3-put-error']; // 0.1
 */
export function parseChaos(text: string): ChaosSpec {
  const rates = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  let seed = 1;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, value = ''] = part.split('=');
    const number = Number(value);
    if (name === 'seed' && value !== '' && Number.isSafeInteger(number)) seed = number;
    else if ((FAULTS as readonly string[]).includes(name) && value !== '' && number >= 0 && number <= 1) rates[name as Fault] = number;
    else throw new InvalidOptionError('--chaos', part, `NAME=RATE with NAME one of ${FAULTS.join(', ')} and RATE in [0, 1], or seed=INTEGER`);
  }
  return { rates, seed };
}

/** FNV-1a, 32 bits: turns seed + name into an independent stream seed. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** What the fault proxies and the runtime need from an injector (tests pass scripted ones). */
export interface FaultSource {
  /** True (and counted) when this opportunity gets the fault. */
  strike(fault: Fault): boolean;
  /** True when writes of `key` are refused for good (`poison-message`). */
  poisoned(key: string): boolean;
}

/** Decides and counts faults: one seeded stream per kind for the whole run. */
export class FaultInjector implements FaultSource {
  readonly injected: Record<Fault, number> = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  private readonly streams: Record<Fault, () => number>;
  private readonly poisonedKeys = new Set<string>();

  constructor(readonly spec: ChaosSpec) {
    this.streams = Object.fromEntries(FAULTS.map((f) => [f, seededRandom(hash32(`${spec.seed}:${f}`))])) as Record<Fault, () => number>;
  }

  strike(fault: Fault): boolean {
    const rate = this.spec.rates[fault];
    if (rate <= 0 || this.streams[fault]() >= rate) return false;
    this.injected[fault]++;
    return true;
  }

  /** A pure function of seed and key, so every redelivery of the message meets the same refusal. */
  poisoned(key: string): boolean {
    const rate = this.spec.rates['poison-message'];
    if (rate <= 0 || seededRandom(hash32(`${this.spec.seed}:poison-message:${key}`))() >= rate) return false;
    if (!this.poisonedKeys.has(key)) {
      this.poisonedKeys.add(key);
      this.injected['poison-message']++;
    }
    return true;
  }

  get total(): number {
    return FAULTS.reduce((n, f) => n + this.injected[f], 0);
  }
}
