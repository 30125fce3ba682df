import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { receiveBatch, sameEtag } from '@rydes/aws-adapters';
import { decodeEventKey, decodeMessage } from '@rydes/ride-model';
import type { CompletionCheck } from './completion';

/** What the two DLQs hold at the end of a run. */
export interface DeadLetters {
  /** Fan-out messages, decoded: which chunk of which source version, and its rides. */
  fanout: Array<{ source: string; etag: string; chunk: number; rides: number }>;
  /** Fan-out DLQ bodies that are not fan-out messages (their rides cannot be counted). */
  undecodable: number;
  /** raw/ keys of the S3 events in the ingest DLQ (whole files). */
  ingestFiles: string[];
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
  const dead: DeadLetters = { fanout: [], undecodable: 0, ingestFiles: [] };
  for (const message of await peekAll(sqs, queues.fanoutDlq.url, check.fanoutDlq)) {
    try {
      const decoded = decodeMessage(message.Body ?? '');
      dead.fanout.push({ source: decoded.source.key, etag: decoded.source.etag, chunk: decoded.chunk, rides: decoded.rides.length });
    } catch {
      dead.undecodable++;
    }
  }
  for (const message of await peekAll(sqs, queues.ingestDlq.url, check.ingestDlq)) {
    const event = JSON.parse(message.Body ?? '{}') as { Records?: Array<{ s3?: { object?: { key?: string } } }> };
    for (const record of event.Records ?? []) {
      dead.ingestFiles.push(decodeEventKey(record.s3?.object?.key ?? ''));
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
