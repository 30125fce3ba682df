import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Readable } from 'node:stream';
import { sendMessages, type SendStats } from '@rydes/aws-adapters';
import { Chunker, encodeMessage, parseRides, validateRecord, type FanoutMessage, type RawRecord, type ResumePoint, type RideRecords, type SourceRef } from '@rydes/ride-model';
import type { Continuation } from './continuation';
import type { RejectsWriter } from './rejects-writer';

/** Running counts of one file (earlier parts included); `lastIndex`/`lastByteOffset` place a failure. */
export interface Progress {
  total: number;
  valid: number;
  rejected: number;
  droppedFields: number;
  lastIndex: number;
  lastByteOffset: number;
  /** Chunks sent by earlier parts. */
  priorChunks: number;
  /** Set when this part stops early: where the continuation starts. */
  handOff?: ResumePoint;
}

/** What one part of a file did: counts, SQS costs and the error that stopped it, if any. */
export interface PartResult {
  progress: Progress;
  stats: SendStats;
  /** First index this part read. */
  startIndex: number;
  failure?: unknown;
}

/** The counts a part starts from: zero, or the running totals its continuation carries. */
export function startProgress(resume?: Continuation): Progress {
  const prior = resume?.counts;
  const point = resume?.resume;
  return {
    total: prior?.total ?? 0, valid: prior?.valid ?? 0, rejected: prior?.rejected ?? 0, droppedFields: prior?.droppedFields ?? 0,
    lastIndex: (point?.index ?? 0) - 1, lastByteOffset: point?.byteOffset ?? 0, priorChunks: prior?.chunks ?? 0,
  };
}

/**
 * Streams one part of a file through parse → validate → chunk → SQS, rejects to `rejects`, until
 * the end of the file, an error, or `shouldHandOff()` turning true at a place the file may be
 * cut (then `progress.handOff` says where the continuation starts). Never throws: a parse, S3 or
 * SQS error is returned as `failure`, with the chunks sent before it counted in `stats.sent`.
 * @example
 * const part = await fanOut(sqs, queueUrl, 100, source, body, rejects, resume, () => remainingMs() < 60_000);
 */
export async function fanOut(
  sqs: SQSClient,
  queueUrl: string,
  ridesPerMessage: number,
  source: SourceRef,
  body: Readable,
  rejects: RejectsWriter,
  resume: Continuation | undefined,
  shouldHandOff: () => boolean,
): Promise<PartResult> {
  const point = resume?.resume;
  const progress = startProgress(resume);
  const startIndex = point?.index ?? 0;
  const stats: SendStats = { sent: 0, calls: 0, retries: 0 };
  try {
    const records = parseRides(body, point && { resume: point });
    const chunker = new Chunker({ source, ridesPerMessage, ...(point && { continueAt: { chunk: progress.priorChunks, index: point.index } }) });
    const mayCut = (k: number): boolean => k > startIndex && shouldHandOff();
    await sendMessages(sqs, queueUrl, messages(records, chunker, rejects, progress, mayCut), { stats });
    return { progress, stats, startIndex };
  } catch (failure) {
    return { progress, stats, startIndex, failure };
  }
}

/**
 * Encoded fan-out messages of a file, produced only as fast as they are sent, from
 * the part's start on (a continuation's parser starts there).
 *
 * A file may be left at index k only where every valid ride before k sits in a chunk already
 * sent, so the continuation, starting a fresh Chunker at k with the chunk count so far, numbers
 * and fills every later chunk exactly as one run would. Messages carry their gaps (v2), so a
 * rejected ride leaves the open chunk open; the points checked are a completed chunk and a
 * rejected ride:
 * - nothing is open: k = this record + 1;
 * - a chunk is open: k = its first ride. The records read since are read again by the
 *   continuation, so the counts go back to what they were before that ride, and this part's
 *   rejects past k are dropped when the parts' rejects are joined (each part keeps `from ≤ index < to`).
 * The second case covers files whose rejects are so dense that a chunk takes long to fill. Every
 * part reads at least one record (`mayCut` demands k > the part's first index), so a chain of continuations always moves
 * forward: a part whose first ride opened the open chunk goes on until that chunk closes.
 * On a parse error the open chunk is still emitted (its rides are valid), then the error propagates.
 */
async function* messages(records: RideRecords, chunker: Chunker, rejects: RejectsWriter, progress: Progress, mayCut: (k: number) => boolean): AsyncGenerator<string> {
  const encode = (message: FanoutMessage | undefined): string | undefined => (message === undefined ? undefined : encodeMessage(message));
  // The open chunk's start: the counts before its first ride, and the record before that ride.
  let opened: { counts: Pick<Progress, 'total' | 'valid' | 'rejected' | 'droppedFields'>; before: RawRecord | undefined } | undefined;
  let previous: RawRecord | undefined;
  const cutAfter = (raw: RawRecord): boolean => {
    const open = chunker.openFirstIndex;
    if (open === undefined) {
      if (!mayCut(raw.index + 1)) return false;
      progress.handOff = records.resumePointAfter(raw);
      return true;
    }
    if (opened?.before === undefined || !mayCut(open)) return false;
    Object.assign(progress, opened.counts);
    progress.handOff = records.resumePointAfter(opened.before);
    return true;
  };
  // Records a chunk of the file at a time: a promise per batch, not per record.
  try {
    for (let batch = await records.nextBatch(); batch !== undefined; batch = await records.nextBatch()) {
      for (const raw of batch) {
        progress.total++;
        progress.lastIndex = raw.index;
        progress.lastByteOffset = raw.byteOffset ?? progress.lastByteOffset;
        const result = validateRecord(raw);
        if (!result.ok) {
          progress.rejected++;
          await rejects.add({ index: raw.index, reasons: result.reasons, record: raw.record });
          if (cutAfter(raw)) return;
          previous = raw;
          continue;
        }
        progress.valid++;
        progress.droppedFields += result.dropped.length;
        const done = chunker.push(raw.index, result.ride);
        if (chunker.openFirstIndex === raw.index) {
          const counts = { total: progress.total - 1, valid: progress.valid - 1, rejected: progress.rejected, droppedFields: progress.droppedFields - result.dropped.length };
          opened = { counts, before: previous };
        }
        for (const message of done) yield encodeMessage(message);
        if (done.length > 0 && cutAfter(raw)) return;
        previous = raw;
      }
    }
  } catch (err) {
    const body = encode(chunker.flush());
    if (body !== undefined) yield body;
    throw err;
  } finally {
    // Closes the file when this stops early (a hand-off, an error, the consumer stopping), as for-await did.
    await records.return?.();
  }
  const body = encode(chunker.flush());
  if (body !== undefined) yield body;
}
