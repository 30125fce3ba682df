import { DeleteObjectsCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isNoSuchKey, MissingEtagError, S3ObjectError } from './errors';

/** DeleteObjects accepts at most this many keys per call. */
export const DELETE_BATCH_KEYS = 1000;

/**
 * The object's current ETag as S3 reports it (quotes included), or `undefined` when there is no
 * such key (decided on the status, 404, or the error name). One HeadObject request; an answer
 * without an ETag throws {@link MissingEtagError}; any other failure (access denied, a 5xx) throws
 * {@link S3ObjectError}, so a misconfigured function fails loudly instead of guessing.
 * @example
 * const etag = await currentEtag(s3, 'rides-local', 'raw/rides.json');
 * if (etag === undefined) console.log('the object is gone');
 */
export async function currentEtag(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  let out;
  try {
    out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if (isNoSuchKey(err)) return undefined;
    throw new S3ObjectError('HeadObject', bucket, key, err);
  }
  if (!out.ETag) throw new MissingEtagError('HeadObject', bucket, key);
  return out.ETag;
}

/**
 * True when two ETags name the same object version: quotes and a weak `W/` prefix are ignored,
 * hex compared case-insensitively.
 * @example
 * sameEtag('"9b2cf535f27731c9"', '9B2CF535F27731C9'); // true
 */
export function sameEtag(a: string, b: string): boolean {
  const bare = (etag: string) => etag.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  return bare(a) === bare(b);
}

/**
 * Deletes keys with DeleteObjects, {@link DELETE_BATCH_KEYS} per call, reading the keys lazily
 * (a listing of any length runs in bounded memory). Missing keys count as deleted, as in S3.
 * Returns the number of keys deleted; throws {@link S3ObjectError} naming the first key S3
 * refused (DeleteObjects answers 200 and lists refusals in `Errors`).
 * @example
 * await deleteKeys(s3, 'rides-local', listKeys(s3, 'rides-local', 'processed/old-'));
 */
export async function deleteKeys(s3: S3Client, bucket: string, keys: Iterable<string> | AsyncIterable<string>): Promise<number> {
  let batch: string[] = [];
  let deleted = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const objects = batch;
    batch = [];
    let out;
    try {
      out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects.map((Key) => ({ Key })), Quiet: true } }));
    } catch (err) {
      throw new S3ObjectError('DeleteObjects', bucket, objects[0], err);
    }
    const refused = out.Errors ?? [];
    if (refused.length > 0) {
      const first = refused[0];
      throw new S3ObjectError('DeleteObjects', bucket, first.Key ?? objects[0], new Error(`${first.Code ?? 'Unknown'}: ${first.Message ?? ''} (${refused.length} key(s) refused)`));
    }
    deleted += objects.length;
  };
  for await (const key of keys) {
    batch.push(key);
    if (batch.length === DELETE_BATCH_KEYS) await flush();
  }
  await flush();
  return deleted;
}
