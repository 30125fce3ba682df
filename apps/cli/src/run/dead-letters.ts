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

/** One line per entry: `raw/a.json (part 2): IngestEventError: … after 3 attempts`. */
export function describeIngestDeadLetter(entry: IngestDeadLetter): string {
  const part = entry.part !== undefined ? ` (continuation part ${entry.part})` : '';
  const attempts = entry.attempts !== undefined ? ` after ${entry.attempts} attempt(s)` : '';
  return `${entry.key}${part}: ${entry.errorType}: ${entry.errorMessage}${attempts}`;
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
