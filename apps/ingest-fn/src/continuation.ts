/**
 * Where a continuation picks a ride file up. The next invocation re-reads the file from the start
 * and replays records before `nextIndex` through validation and the Chunker without sending them:
 * counts, rejects and chunk numbering come out exactly as in one uninterrupted run, for every
 * input shape, gzip included. `etag` pins the object version (read with If-Match).
 */
export interface Continuation {
  v: 1;
  bucket: string;
  key: string;
  etag: string;
  /** First ride index this invocation sends; every valid ride before it is in a chunk already sent (ingest-file.ts). */
  nextIndex: number;
  /** 1 for the first continuation. */
  part: number;
  /** When the first part started (the manifest's `startedAt`). */
  startedAt: string;
}

/** The payload an ingest function sends itself. */
export interface ContinuationEvent {
  rydesContinuation: Continuation;
}

export function isContinuationEvent(event: unknown): event is ContinuationEvent {
  const c = (event as Partial<ContinuationEvent> | null)?.rydesContinuation;
  return typeof c === 'object' && c !== null && c.v === 1 && typeof c.key === 'string' && Number.isSafeInteger(c.nextIndex);
}
