import type { ResumePoint } from '@rydes/ride-model';

/**
 * Where a continuation picks a ride file up: just after the last record the previous part read
 * (`resume`), with that part's running counts. Nothing before the point is parsed again: a plain
 * file is read from `resume.byteOffset` (an S3 byte range), a gzip file is inflated from the
 * start and the bytes before the point dropped unparsed. Every valid ride before
 * `resume.index` is in a chunk already sent, so chunk numbering goes on from `counts.chunks`
 * and counts, rejects and chunks come out exactly as in one uninterrupted run. `etag` pins the
 * object version (read with If-Match).
 */
export interface Continuation {
  v: 2;
  bucket: string;
  key: string;
  etag: string;
  resume: ResumePoint;
  /** Totals of the parts before this one. */
  counts: { total: number; valid: number; rejected: number; droppedFields: number; chunks: number };
  /** Parts before this one that rejected rides (see {@link RejectsPart}). */
  rejectParts: RejectsPart[];
  /** 1 for the first continuation. */
  part: number;
  /** When the first part started (the manifest's `startedAt`). */
  startedAt: string;
}

/**
 * A part that rejected rides left them in `rejectsPart(part)`; the last part joins these, in
 * order, into the file's one rejects object, keeping from each only the lines of rides
 * `from` ≤ index < `to` (the rides that part read). Should a part's object hold other lines
 * (a retried invocation that stopped at a different ride rewrote it), the filter drops the
 * extra ones and the count check in the join fails loudly on any that are missing.
 */
export interface RejectsPart {
  part: number;
  from: number;
  /** Absent for the last part. */
  to?: number;
}

/** The payload an ingest function sends itself. */
export interface ContinuationEvent {
  rydesContinuation: Continuation;
}

export function isContinuationEvent(event: unknown): event is ContinuationEvent {
  const c = (event as Partial<ContinuationEvent> | null)?.rydesContinuation;
  return (
    typeof c === 'object' && c !== null && c.v === 2 && typeof c.key === 'string' &&
    typeof c.resume === 'object' && c.resume !== null && Number.isSafeInteger(c.resume.index) && Number.isSafeInteger(c.resume.byteOffset) &&
    typeof c.counts === 'object' && c.counts !== null && Array.isArray(c.rejectParts)
  );
}
