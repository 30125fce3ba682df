import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { receiveBatch, sameEtag } from '@rydes/aws-adapters';
import { decodeEventKey, decodeMessage } from '@rydes/ride-model';
import type { InvocationRecord } from '../lambda/async-invoker';
import type { CompletionCheck } from './completion';

/** What the two DLQs hold at the end of a run. */
export interface DeadLetters {
  /** Fan-out messages, decoded: which chunk of which source version, and its rides. */
  fanout: Array<{ source: string; etag: string; chunk: number; rides: number }>;
  /** Fan-out DLQ bodies that are not fan-out messages (their rides cannot be counted). */
  undecodable: number;
  /** raw/ keys of the S3 events in the ingest DLQ (whole files). */
  ingestFiles: string[];
  /** Each ingest DLQ entry: the file, why its last attempt failed, and how often it ran. */
  ingestEntries: IngestDeadLetter[];
}

/** One ingest DLQ message read as Lambda's invocation record (a bare event is read too). */
export interface IngestDeadLetter {
  /** raw/ key of the file (an S3 event's, or a continuation's). */
  key: string;
  /** The continuation part when the failed invocation was a continuation. */
  part?: number;
  errorType: string;
  errorMessage: string;
  /** RetriesExhausted or EventAgeExceeded; undefined for a bare event. */
  condition?: string;
  attempts?: number;
  requestId?: string;
}

/**
 * Reads an ingest DLQ message body: Lambda's invocation record (an on-failure destination's
 * body: `requestPayload` is the event, `responsePayload` the last error) or a bare event (a
 * legacy DeadLetterConfig's body). One entry per file the event names.
 * @example
 * ingestDeadLetters(message.Body); // → [{ key: 'raw/a.json', errorType: 'IngestEventError', errorMessage: '…', condition: 'RetriesExhausted', attempts: 3 }]
 */
export function ingestDeadLetters(body: string): IngestDeadLetter[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [{ key: '?', errorType: 'Undecodable', errorMessage: `not JSON: ${body.slice(0, 80)}` }];
  }
  const record = parsed as Partial<InvocationRecord> | null;
  const isRecord = record?.version === '1.0' && typeof record.requestContext === 'object' && 'requestPayload' in record;
  const event = (isRecord ? record.requestPayload : parsed) as {
    Records?: Array<{ s3?: { object?: { key?: string } } }>;
    rydesContinuation?: { key?: string; part?: number };
  } | null;
  const error = isRecord
    ? { errorType: record.responsePayload?.errorType ?? 'Unknown', errorMessage: record.responsePayload?.errorMessage ?? '', condition: record.requestContext?.condition, attempts: record.requestContext?.approximateInvokeCount, requestId: record.requestContext?.requestId }
    : { errorType: 'Unknown', errorMessage: 'a bare event (no invocation record): see the function log' };
  if (event?.rydesContinuation) return [{ key: String(event.rydesContinuation.key ?? '?'), part: event.rydesContinuation.part, ...error }];
  const keys = (event?.Records ?? []).map((r) => decodeEventKey(r.s3?.object?.key ?? ''));
  return (keys.length ? keys : ['?']).map((key) => ({ key, ...error }));
}

/**
 * One line per entry, the reason first: `raw/a.json (continuation part 2): IngestEventError: …
 * (RetriesExhausted after 3 attempt(s))`. Only the first line of the error message, at most 300
 * characters: a stack or a multi-line message stays in the record.
 * @example
 * describeIngestDeadLetter({ key: 'raw/a.json', errorType: 'TypeError', errorMessage: 'x', condition: 'RetriesExhausted', attempts: 3 });
 * // 'raw/a.json: TypeError: x (RetriesExhausted after 3 attempt(s))'
 */
export function describeIngestDeadLetter(entry: IngestDeadLetter): string {
  const part = entry.part !== undefined ? ` (continuation part ${entry.part})` : '';
  return `${entry.key}${part}: ${ingestDeadLetterReason(entry)}`;
}

/** The reason alone: `IngestEventError: … (RetriesExhausted after 3 attempt(s))`. */
export function ingestDeadLetterReason(entry: IngestDeadLetter): string {
  const line = entry.errorMessage.split('\n')[0];
  const message = line.length > 300 ? `${line.slice(0, 299)}…` : line;
  const how = [entry.condition, entry.attempts !== undefined ? `after ${entry.attempts} attempt(s)` : undefined].filter(Boolean).join(' ');
  return `${entry.errorType}${message ? `: ${message}` : ''}${how ? ` (${how})` : ''}`;
}

/**
 * The name the user gave a file, from its raw/ key: the CLI's keys are
 * `raw/<stem>-<12 hex of its sha256><suffix>` (run/inputs.ts), an upload's `raw/<file name>`.
 * @example
 * userFileName('raw/my_rides-0123456789ab.json'); // 'my_rides.json'
 * userFileName('raw/2019/rides.json.gz');         // 'rides.json.gz'
 */
export function userFileName(key: string): string {
  const name = key.split('/').pop() ?? key;
  return name.replace(/-[0-9a-f]{12}(\.(?:nd)?json(?:\.gz)?)$/, '$1');
}

/** What a look into the DLQs found, without taking anything out (doctor). */
export interface DeadLetterSample {
  /** Distinct messages seen (at most `max` per queue). */
  fanout: DeadLetters['fanout'];
  undecodable: number;
  ingest: IngestDeadLetter[];
}

/**
 * Reads up to `max` messages of each DLQ and leaves them there: received with a visibility
 * timeout of 0, so they stay visible to anyone else (an SQS receive never removes a message;
 * only DeleteMessage does). Repeated receives may return the same message: counted once.
 * @example
 * const sample = await sampleDeadLetters(sqs, { fanoutDlq: url1, ingestDlq: url2 });
 * sample.ingest.map(describeIngestDeadLetter);
 */
export async function sampleDeadLetters(sqs: SQSClient, queues: { fanoutDlq?: string; ingestDlq?: string }, max = 10): Promise<DeadLetterSample> {
  const sample: DeadLetterSample = { fanout: [], undecodable: 0, ingest: [] };
  const peek = async (url: string) => {
    const byId = new Map<string, Message>();
    for (let attempt = 0; attempt < 3 && byId.size < max; attempt++) {
      const messages = await receiveBatch(sqs, url, { visibilityTimeout: 0 });
      if (messages.length === 0) break;
      for (const message of messages) if (byId.size < max) byId.set(message.MessageId ?? '', message);
    }
    return [...byId.values()];
  };
  if (queues.fanoutDlq) {
    for (const message of await peek(queues.fanoutDlq)) {
      try {
        const decoded = decodeMessage(message.Body ?? '');
        sample.fanout.push({ source: decoded.source.key, etag: decoded.source.etag, chunk: decoded.chunk, rides: decoded.rides.length });
      } catch {
        sample.undecodable++;
      }
    }
  }
  if (queues.ingestDlq) for (const message of await peek(queues.ingestDlq)) sample.ingest.push(...ingestDeadLetters(message.Body ?? ''));
  return sample;
}

/** Lost work compared with what the DLQs hold; `accounted` when they are the same rides. */
export interface LostWork {
  /** Valid rides of the manifests that are not in rides.csv. */
  rides: number;
  dlqRides: number;
  dlqMessages: number;
  /** Per source, the chunks in the DLQ: `raw/x.json chunks 3, 17`. */
  dlqChunks: string[];
  /** Chunks missing from processed/ with no DLQ message for them, or DLQ chunks that were written. */
  unaccounted: string[];
  undecodable: number;
  ingestFiles: string[];
  /** The ingest DLQ's invocation records, read: which file, why, how often it ran. */
  ingestEntries?: IngestDeadLetter[];
  accounted: boolean;
}

/**
 * Reads every message of a DLQ without deleting it: each receive hides what it returned for
 * `hideSeconds`, so the next one returns others, until `expected` distinct messages are in hand
 * or the queue answers empty (confirmed by a long poll: see receiveBatch).
 */
async function peekAll(sqs: SQSClient, queueUrl: string, expected: number, hideSeconds = 300): Promise<Message[]> {
  const byId = new Map<string, Message>();
  while (byId.size < expected) {
    const Messages = await receiveBatch(sqs, queueUrl, { visibilityTimeout: hideSeconds });
    if (Messages.length === 0) break;
    for (const message of Messages) byId.set(message.MessageId ?? '', message);
  }
  return [...byId.values()];
}

/**
 * The contents of both DLQs, read through the CLI's own (direct) client. Call once at the end
 * of a run: the messages stay hidden for a while afterwards.
 * @example
 * const dead = await readDeadLetters(stack.sqs, stack.queues, check);
 */
export async function readDeadLetters(
  sqs: SQSClient,
  queues: { fanoutDlq: { url: string }; ingestDlq: { url: string } },
  check: Pick<CompletionCheck, 'fanoutDlq' | 'ingestDlq'>,
): Promise<DeadLetters> {
  const dead: DeadLetters = { fanout: [], undecodable: 0, ingestFiles: [], ingestEntries: [] };
  for (const message of await peekAll(sqs, queues.fanoutDlq.url, check.fanoutDlq)) {
    try {
      const decoded = decodeMessage(message.Body ?? '');
      dead.fanout.push({ source: decoded.source.key, etag: decoded.source.etag, chunk: decoded.chunk, rides: decoded.rides.length });
    } catch {
      dead.undecodable++;
    }
  }
  for (const message of await peekAll(sqs, queues.ingestDlq.url, check.ingestDlq)) {
    for (const entry of ingestDeadLetters(message.Body ?? '')) {
      dead.ingestEntries.push(entry);
      if (!dead.ingestFiles.includes(entry.key)) dead.ingestFiles.push(entry.key);
    }
  }
  return dead;
}

/**
 * Whether the DLQs hold exactly the work that was lost. Per source: a file whose event is in
 * the ingest DLQ is held whole; otherwise its missing rides (manifest `valid` − rows in
 * rides.csv) must equal the rides of its fan-out DLQ messages, and its missing chunks the
 * chunks of those messages.
 * @example
 * lostWork(check, { 'raw/a.json': 900 }, dead).accounted; // true when chunk 3 (100 rides) is in the DLQ
 */
export function lostWork(check: CompletionCheck, rowsBySource: Record<string, number>, dead: DeadLetters): LostWork {
  const lost: LostWork = {
    rides: 0,
    dlqRides: 0,
    dlqMessages: dead.fanout.length,
    dlqChunks: [],
    unaccounted: [],
    undecodable: dead.undecodable,
    ingestFiles: dead.ingestFiles,
    ingestEntries: dead.ingestEntries,
    accounted: dead.undecodable === 0,
  };
  for (const source of check.sources) {
    const missing = (source.manifest?.valid ?? 0) - (rowsBySource[source.key] ?? 0);
    lost.rides += missing;
    const held = dead.fanout.filter((m) => m.source === source.key && (!source.manifest || sameEtag(m.etag, source.manifest.etag)));
    const heldRides = held.reduce((n, m) => n + m.rides, 0);
    lost.dlqRides += heldRides;
    const heldChunks = new Set(held.map((m) => m.chunk));
    if (heldChunks.size) lost.dlqChunks.push(`${source.key} chunks ${listed([...heldChunks].sort((a, b) => a - b))}`);
    if (dead.ingestFiles.includes(source.key)) continue;
    const missingChunks = new Set(source.missingChunks ?? []);
    for (const chunk of missingChunks) if (!heldChunks.has(chunk)) lost.unaccounted.push(`${source.key} chunk ${chunk} missing, not in the DLQ`);
    for (const chunk of heldChunks) if (!missingChunks.has(chunk)) lost.unaccounted.push(`${source.key} chunk ${chunk} in the DLQ but written`);
    if (missing !== heldRides) {
      lost.unaccounted.push(`${source.key}: ${missing} rides missing, ${heldRides} in the DLQ`);
    }
  }
  lost.accounted &&= lost.unaccounted.length === 0;
  return lost;
}

function listed(numbers: number[], max = 10): string {
  return numbers.slice(0, max).join(', ') + (numbers.length > max ? `, … (${numbers.length - max} more)` : '');
}
