import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SendMessageBatchResultEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import { type FailedEntry, SqsMessageTooLargeError, SqsSendError } from './errors';
import { RequestBodyPool } from './sqs-protocol';

/**
 * SendMessageBatch limits: entries per call, and payload bytes per call (the sum of the bodies),
 * which is also the largest message the API takes: 1 MiB since SQS raised both from 256 KiB
 * (SQS API Reference, SendMessageBatch). A queue's MaximumMessageSize may still refuse a single
 * message below that; SQS lists such an entry in `Failed`.
 */
export const SQS_BATCH_ENTRIES = 10;
export const SQS_BATCH_BYTES = 1_048_576;
/** The payload limit per call before 1 MiB: what the sender falls back to when an endpoint refuses a call as BatchRequestTooLong. */
export const SQS_LEGACY_BATCH_BYTES = 262_144;

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
  /**
   * Payload bytes per call, at most (default {@link SQS_BATCH_BYTES}). Above what the endpoint
   * takes, its BatchRequestTooLong answers make the sender fall back to 256 KiB calls.
   */
  maxBatchBytes?: number;
  /**
   * Compare each accepted body's MD5 with the `MD5OfMessageBody` SQS computed, as the SDK does
   * (a mismatch fails the call's entries, as the SDK's error would). Default: when the client's
   * own check is off (`md5: false`), so a send is checked exactly once. See {@link md5Hex}.
   */
  verifyMd5?: boolean;
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
  /** UTF-8 bytes of the body. */
  bytes: number;
  attempts: number;
}

/** Entries in calls of at most `limit` payload bytes each (a single larger entry goes alone). */
function cut(entries: Entry[], limit: number): Entry[][] {
  const calls: Entry[][] = [];
  let call: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entry.bytes;
    if (call.length > 0 && bytes + size > limit) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(entry);
    bytes += size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

/** SQS's answer to a call whose payload is over its limit (the whole call is refused). */
function isBatchTooLong(err: unknown): boolean {
  const e = err as { name?: string; Code?: string } | undefined;
  return /BatchRequestTooLong/.test(`${e?.name} ${e?.Code} ${errorCode(err)}`);
}

/**
 * Sends message bodies to an SQS queue with SendMessageBatch: at most 10 entries and 1 MiB of
 * payload per call, a few calls in flight, and the source is read only as fast as SQS accepts
 * (backpressure), so a stream of any length runs in bounded memory. Fewer, fuller calls: each
 * call has a fixed cost besides its bytes (SDK middleware, signing, an HTTP exchange, the
 * queue's per-request work), and the 1,000-ride fan-out messages (~180 KB) used to go one per
 * call under the old 256 KiB limit; five now share one. SQS bills each 64 KiB of payload as one
 * request either way. An endpoint that still has the old limit (it answers BatchRequestTooLong)
 * gets the refused call's entries again in calls of at most 256 KiB, and every later call is cut
 * at 256 KiB too.
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
  // Lowered to the legacy limit, for the rest of this send, by an endpoint that refuses a call as too long.
  const limit = { bytes: options.maxBatchBytes ?? SQS_BATCH_BYTES };
  const verify = options.verifyMd5 ?? (sqs.config as { md5?: unknown }).md5 === false;
  const failed: FailedEntry[] = [];
  const inFlight = new Set<Promise<void>>();

  const launch = async (batch: Entry[]) => {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const call = sendBatch(sqs, queueUrl, batch, { ...settings, verify }, stats, failed, limit, options.onSent).finally(() => inFlight.delete(call));
    inFlight.add(call);
  };

  let batch: Entry[] = [];
  let batchBytes = 0;
  let position = 0;
  try {
    for await (const body of bodies) {
      const bytes = Buffer.byteLength(body, 'utf8');
      if (bytes > SQS_BATCH_BYTES) throw new SqsMessageTooLargeError(position, bytes, SQS_BATCH_BYTES);
      // Full by count or by bytes: the batch goes, and this body opens the next.
      if (batch.length === SQS_BATCH_ENTRIES || batchBytes + bytes > limit.bytes) {
        await launch(batch);
        batch = [];
        batchBytes = 0;
        if (failed.length > 0) break;
      }
      batch.push({ id: `m${position++}`, body, bytes, attempts: 0 });
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
  settings: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; verify: boolean },
  stats: SendStats,
  failed: FailedEntry[],
  limit: { bytes: number },
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
      if (settings.verify) checkMd5s(out.Successful ?? [], byId);
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
      if (isBatchTooLong(err) && pending.reduce((n, e) => n + e.bytes, 0) > SQS_LEGACY_BATCH_BYTES) {
        // An endpoint with the 256 KiB limit: these entries again in calls it takes, and every later call cut there too.
        limit.bytes = Math.min(limit.bytes, SQS_LEGACY_BATCH_BYTES);
        stats.retries++;
        for (const entry of pending) entry.attempts--;
        for (const call of cut(pending, SQS_LEGACY_BATCH_BYTES)) await sendBatch(sqs, queueUrl, call, settings, stats, failed, limit, onSent);
        pending = [];
        continue;
      }
      // The SDK has already spent its attempts on this call.
      const code = errorCode(err);
      const senderFault = (err as { $fault?: string })?.$fault === 'client';
      for (const entry of pending) failed.push({ id: entry.id, code, message: err instanceof Error ? err.message : String(err), senderFault });
    }
    pending = retry;
  }
}

/**
 * The SDK's MD5 check of SendMessageBatch (sendMessageBatchMiddleware), done here: the same
 * comparison and the same error (the call's entries fail with it), but each body's UTF-8 bytes
 * are written into one reused buffer instead of a fresh copy per body, which in the ingest's
 * profile cost 13–25 ms of the ~100 ms the check took for a 200k file (the MD5 itself the rest).
 */
function checkMd5s(successful: SendMessageBatchResultEntry[], byId: Map<string, Entry>): void {
  const wrong: string[] = [];
  for (const result of successful) {
    const entry = byId.get(result.Id ?? '');
    if (entry && result.MD5OfMessageBody !== md5Hex(entry.body)) wrong.push(result.MessageId ?? '');
  }
  if (wrong.length > 0) throw new Error(`Invalid MD5 checksum on messages: ${wrong.join(', ')}`);
}

/** One reused buffer for the bodies' UTF-8 bytes while they are hashed (the same write as a pooled request body's). */
const md5Scratch = new RequestBodyPool(1);

/** MD5 (hex) of `text`'s UTF-8 bytes, written into a buffer kept for the next body. */
export function md5Hex(text: string): string {
  const bytes = md5Scratch.encode(text);
  const md5 = createHash('md5').update(bytes).digest('hex');
  md5Scratch.release(bytes);
  return md5;
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
