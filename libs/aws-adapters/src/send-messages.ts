import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { type FailedEntry, SqsMessageTooLargeError, SqsSendError } from './errors';

/** SendMessageBatch limits: entries per call and total payload bytes per call. */
export const SQS_BATCH_ENTRIES = 10;
export const SQS_BATCH_BYTES = 262_144;

export interface SendMessagesOptions {
  /** Attempts per entry that SQS lists in `Failed`, the first included (default 6). */
  maxAttempts?: number;
  /** Backoff cap of the first retry in ms; doubles each retry up to `maxDelayMs` (default 50). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** SendMessageBatch calls in flight at once (default 4). */
  concurrency?: number;
  /** Counters to add to, e.g. shared across several sends; a fresh object otherwise. */
  stats?: SendStats;
  /** Called after each call with the number of messages it got accepted. */
  onSent?: (count: number) => void;
}

/**
 * What a send cost: `calls` counts SendMessageBatch calls of ours (the retried ones included),
 * `retries` those that re-sent `Failed` entries. The SDK's own attempts inside one call
 * (throttling, 5xx, network) are not ours to count: see the client's `maxAttempts`.
 */
export interface SendStats {
  sent: number;
  calls: number;
  retries: number;
}

interface Entry {
  id: string;
  body: string;
  attempts: number;
}

/**
 * Sends message bodies to an SQS queue with SendMessageBatch: at most 10 entries and
 * 262,144 payload bytes per call, a few calls in flight, and the source is read only as fast as
 * SQS accepts (backpressure), so a stream of any length runs in bounded memory.
 *
 * Retries live in one place per kind of failure: the SDK client retries a whole call that met
 * throttling, a 5xx or a network error (its `maxAttempts`, see createSqsClient); this function
 * retries, with exponential backoff and full jitter, only the entries SQS lists in `Failed` of a
 * 200 response (unless SQS blames the sender), which the SDK cannot see. A call that still fails
 * after the SDK's attempts fails its entries at once. Throws {@link SqsSendError} naming the
 * entries (`m<position>`) and codes that still failed; after a failure no further bodies are
 * read. If the source itself throws, the calls already in flight finish first, then its error
 * is rethrown: everything read before it was sent.
 * @example
 * const stats = await sendMessages(sqs, queueUrl, bodies, { concurrency: 4 });
 * console.log(`${stats.sent} messages in ${stats.calls} calls (${stats.retries} retried)`);
 */
export async function sendMessages(
  sqs: SQSClient,
  queueUrl: string,
  bodies: Iterable<string> | AsyncIterable<string>,
  options: SendMessagesOptions = {},
): Promise<SendStats> {
  const settings = {
    maxAttempts: options.maxAttempts ?? 6,
    baseDelayMs: options.baseDelayMs ?? 50,
    maxDelayMs: options.maxDelayMs ?? 5_000,
  };
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const stats = options.stats ?? { sent: 0, calls: 0, retries: 0 };
  const failed: FailedEntry[] = [];
  const inFlight = new Set<Promise<void>>();

  const launch = async (batch: Entry[]) => {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const call = sendBatch(sqs, queueUrl, batch, settings, stats, failed, options.onSent).finally(() => inFlight.delete(call));
    inFlight.add(call);
  };

  let batch: Entry[] = [];
  let batchBytes = 0;
  let position = 0;
  try {
    for await (const body of bodies) {
      const bytes = Buffer.byteLength(body, 'utf8');
      if (bytes > SQS_BATCH_BYTES) throw new SqsMessageTooLargeError(position, bytes, SQS_BATCH_BYTES);
      if (batch.length === SQS_BATCH_ENTRIES || batchBytes + bytes > SQS_BATCH_BYTES) {
        await launch(batch);
        batch = [];
        batchBytes = 0;
        if (failed.length > 0) break;
      }
      batch.push({ id: `m${position++}`, body, attempts: 0 });
      batchBytes += bytes;
    }
    if (batch.length > 0 && failed.length === 0) await launch(batch);
  } catch (err) {
    if (batch.length > 0 && failed.length === 0) await launch(batch);
    await Promise.all(inFlight);
    if (failed.length > 0) throw new SqsSendError(queueUrl, failed, stats.sent, err);
    throw err;
  }
  await Promise.all(inFlight);
  if (failed.length > 0) throw new SqsSendError(queueUrl, failed, stats.sent);
  return stats;
}

/** One batch until every entry is sent or out of attempts; never rejects (failures are collected). */
async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  entries: Entry[],
  settings: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number },
  stats: SendStats,
  failed: FailedEntry[],
  onSent?: (count: number) => void,
): Promise<void> {
  let pending = entries;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) {
      stats.retries++;
      await sleep(fullJitter(attempt, settings.baseDelayMs, settings.maxDelayMs));
    }
    stats.calls++;
    for (const entry of pending) entry.attempts++;
    const retry: Entry[] = [];
    try {
      const out = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: pending.map((e): SendMessageBatchRequestEntry => ({ Id: e.id, MessageBody: e.body })),
        }),
      );
      const byId = new Map(pending.map((e) => [e.id, e]));
      const accepted = out.Successful?.length ?? 0;
      stats.sent += accepted;
      if (accepted > 0) onSent?.(accepted);
      for (const f of out.Failed ?? []) {
        const entry = byId.get(f.Id ?? '');
        if (!entry) continue;
        const result: FailedEntry = { id: entry.id, code: f.Code ?? 'Unknown', message: f.Message ?? '', senderFault: f.SenderFault ?? false };
        if (!result.senderFault && entry.attempts < settings.maxAttempts) retry.push(entry);
        else failed.push(result);
      }
    } catch (err) {
      // The SDK has already spent its attempts on this call.
      const code = errorCode(err);
      const senderFault = (err as { $fault?: string })?.$fault === 'client';
      for (const entry of pending) failed.push({ id: entry.id, code, message: err instanceof Error ? err.message : String(err), senderFault });
    }
    pending = retry;
  }
}

function errorCode(err: unknown): string {
  const e = err as { name?: string; code?: string; Code?: string };
  return e?.Code ?? e?.code ?? e?.name ?? 'Unknown';
}

/** "Full jitter" (AWS Architecture Blog): uniform in [0, min(cap, base · 2^attempt)). */
function fullJitter(attempt: number, baseMs: number, capMs: number): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
