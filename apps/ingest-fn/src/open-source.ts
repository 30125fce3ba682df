import type { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { isNoSuchKey, isPreconditionFailed, openObject, sameEtag } from '@rydes/aws-adapters';
import type { SourceRef } from '@rydes/ride-model';
import type { Continuation } from './continuation';

/**
 * The ride file opened for this part, or why there is nothing to read:
 * - `superseded`: a continuation found the key holding another version (S3 answered 412 to its
 *   If-Match): the version this chain was reading is replaced, the new one has its own event;
 * - `deleted`: there is no object under the key (404) — deleted before the first part read it,
 *   or between two parts.
 */
export type OpenedSource =
  | { status: 'open'; source: SourceRef; body: Readable; close(): void }
  | { status: 'superseded' }
  | { status: 'deleted' };

/**
 * Opens the object at the start of the file, or for a continuation at its resume point, pinned
 * to the first part's version with If-Match. A plain file resumes through a byte range starting
 * one byte before the point (that byte is dropped): a range starting at the very end of the
 * object (a cut after its last record) would be refused (416). A gzip file is inflated from its
 * start; the parser drops the bytes before the point. Other S3 errors propagate.
 * @example
 * const opened = await openSource(s3, { bucket, key }, continuation);
 * if (opened.status === 'open') for await (const chunk of opened.body) …
 */
export async function openSource(s3: S3Client, object: { bucket: string; key: string }, resume?: Continuation): Promise<OpenedSource> {
  const point = resume?.resume;
  const rangeStart = point && !point.gzip ? point.byteOffset - 1 : undefined;
  let opened;
  try {
    opened = await openObject(s3, object.bucket, object.key, resume && { ifMatch: resume.etag, ...(rangeStart !== undefined && { start: rangeStart }) });
  } catch (err) {
    if (resume && isPreconditionFailed(err)) return { status: 'superseded' };
    if (isNoSuchKey(err)) return { status: 'deleted' };
    throw err;
  }
  // S3 answers 412 to If-Match; an S3-compatible server that ignores it is caught here.
  if (resume && !sameEtag(opened.etag, resume.etag)) {
    opened.body.destroy();
    return { status: 'superseded' };
  }
  const raw = opened.body;
  const body = rangeStart !== undefined ? dropBytes(raw, 1) : raw;
  return {
    status: 'open',
    source: { bucket: object.bucket, key: object.key, etag: opened.etag },
    body,
    close: () => {
      body.destroy();
      raw.destroy();
    },
  };
}

/** `stream` without its first `count` bytes. */
function dropBytes(stream: Readable, count: number): Readable {
  async function* rest(): AsyncGenerator<Buffer> {
    let left = count;
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (left >= buf.length) {
        left -= buf.length;
        continue;
      }
      yield left > 0 ? buf.subarray(left) : buf;
      left = 0;
    }
  }
  return Readable.from(rest());
}
