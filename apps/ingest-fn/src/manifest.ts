import type { S3Client } from '@aws-sdk/client-s3';
import { deleteKeys, putObject, readManifest, sameEtag } from '@rydes/aws-adapters';
import { RideParseError, type Manifest, type ObjectKeys } from '@rydes/ride-model';
import type { Progress } from './fan-out';

/** What a manifest records besides the counts. */
export interface ManifestHead {
  bucket: string;
  source: string;
  etag: string;
  ridesPerMessage: number;
  startedAt: Date;
  finishedAt: Date;
}

/** The manifest of a file from its running counts; `error` when it stopped early. */
export function buildManifest(head: ManifestHead, progress: Progress, chunks: number, error?: Manifest['error']): Manifest {
  return {
    bucket: head.bucket,
    source: head.source,
    etag: head.etag,
    total: progress.total,
    valid: progress.valid,
    rejected: progress.rejected,
    // Counted from SQS's answers (plus earlier parts'): a prefix 0..chunks-1 after a parse error.
    chunks,
    ridesPerMessage: head.ridesPerMessage,
    droppedFields: progress.droppedFields,
    startedAt: head.startedAt.toISOString(),
    finishedAt: head.finishedAt.toISOString(),
    ...(error && { error }),
  };
}

/** The manifest error of a failure: where parsing broke, or the last record read before an S3/SQS error. */
export function describeFailure(err: unknown, progress: Progress): NonNullable<Manifest['error']> {
  if (err instanceof RideParseError) return { message: err.message, byteOffset: err.byteOffset, lastGoodIndex: err.lastGoodIndex };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { message, byteOffset: progress.lastByteOffset, lastGoodIndex: progress.lastIndex };
}

/**
 * The manifest error of a file whose raw object was deleted before ingest read all of it. The
 * rides after `lastGoodIndex` were never read: not rejected, not lost, nothing retries them.
 */
export function sourceDeleted(progress: Progress): NonNullable<Manifest['error']> {
  const read = progress.total === 0 ? 'before ingest read any ride' : `after ${progress.total} ride(s) were read (last index ${progress.lastIndex}, byte ${progress.lastByteOffset})`;
  return {
    message: `source deleted ${read}; the rest of the file was not read. Upload the file again to ingest all of it`,
    byteOffset: progress.lastByteOffset,
    lastGoodIndex: progress.lastIndex,
    code: 'source-deleted',
  };
}

/**
 * Writes a manifest unless the same one (times aside) is already there; returns the one in
 * place. A re-run of the same version thus keeps the first run's times and bytes. When the
 * earlier run of this version had more chunks (RIDES_PER_MESSAGE changed), the surplus
 * processed/ objects are deleted so no ride appears twice.
 */
export async function writeManifest(s3: S3Client, bucket: string, keys: ObjectKeys, manifest: Manifest): Promise<Manifest> {
  const previous = await readManifest(s3, bucket, keys.manifest);
  if (previous && sameContent(previous, manifest)) return previous;
  await putObject(s3, bucket, keys.manifest, JSON.stringify(manifest, null, 2) + '\n', 'application/json');
  if (previous && sameEtag(previous.etag, manifest.etag) && previous.chunks > manifest.chunks && manifest.error === undefined) {
    const surplus = Array.from({ length: previous.chunks - manifest.chunks }, (_, i) => keys.processed(manifest.chunks + i));
    await deleteKeys(s3, bucket, surplus);
  }
  return manifest;
}

/** True when two manifests differ at most in their times. */
export function sameContent(a: Manifest, b: Manifest): boolean {
  const strip = ({ startedAt: _s, finishedAt: _f, ...rest }: Manifest) => JSON.stringify(rest);
  return strip(a) === strip(b);
}
