import type { S3Event } from 'aws-lambda';
import { decodeEventKey, isRideFileKey, RIDE_FILE_SUFFIXES, type Manifest } from '@rydes/ride-model';
import { isContinuationEvent, type ContinuationEvent } from './continuation';
import { IngestEventError, IngestFileError } from './errors';
import { ingestFile, type IngestDeps } from './ingest-file';

/**
 * Ingests every ride file of an S3 event, one after another (each is already streamed with
 * several SQS calls in flight), or the rest of one file for a continuation event. Keys outside
 * `raw/` or with other suffixes are skipped with a log line. A failed file does not stop the
 * others; at the end {@link IngestEventError} is thrown so AWS retries the event (safe: every
 * key and message is deterministic). Returns the manifests of the files finished here.
 */
export async function ingestEvent(event: S3Event | ContinuationEvent, deps: IngestDeps): Promise<Manifest[]> {
  if (typeof event === 'object' && event !== null && 'rydesContinuation' in event && !isContinuationEvent(event)) {
    // E.g. a version 1 hand-off (which replayed the prefix) still queued across a deployment:
    // failing sends it to the ingest DLQ instead of dropping the rest of the file in silence.
    const v = ((event as { rydesContinuation?: { v?: unknown } | null }).rydesContinuation)?.v;
    throw new Error(`continuation payload version ${JSON.stringify(v)} is not one this function reads (2); re-upload the file to ingest it again`);
  }
  if (isContinuationEvent(event)) {
    const c = event.rydesContinuation;
    const outcome = await ingestFile(deps, { bucket: c.bucket, key: c.key, eventEtag: c.etag }, c).catch((err: unknown) => {
      throw new IngestEventError([err instanceof IngestFileError ? err : new IngestFileError(c.bucket, c.key, undefined, err)]);
    });
    return 'manifest' in outcome ? [outcome.manifest] : [];
  }
  const manifests: Manifest[] = [];
  const failures: IngestFileError[] = [];
  for (const record of event.Records ?? []) {
    const bucket = record.s3.bucket.name;
    const key = decodeEventKey(record.s3.object.key);
    if (!isRideFileKey(key)) {
      deps.logger.info({ bucket, key }, `ignored: not a ride file (raw/<name> ending ${RIDE_FILE_SUFFIXES.join(', ')})`);
      continue;
    }
    try {
      const outcome = await ingestFile(deps, { bucket, key, eventEtag: record.s3.object.eTag });
      if ('manifest' in outcome) manifests.push(outcome.manifest);
    } catch (err) {
      failures.push(err instanceof IngestFileError ? err : new IngestFileError(bucket, key, undefined, err));
    }
  }
  if (failures.length > 0) throw new IngestEventError(failures);
  return manifests;
}
