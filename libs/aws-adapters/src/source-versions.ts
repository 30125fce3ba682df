import type { S3Client } from '@aws-sdk/client-s3';
import { objectKeys, parseOutputKey, type Manifest } from '@rydes/ride-model';
import { listKeys } from './list-keys';
import { readManifest } from './manifest';
import { currentEtag, sameEtag } from './object-versions';

/**
 * Where a version of a ride file stands:
 * - `current`: the key still holds it;
 * - `superseded`: a newer version of the same key exists — the key holds another ETag, or the
 *   key is gone and a newer version's manifest exists (replaced, then deleted);
 * - `deleted`: the key is gone and no newer version is known (a lifecycle rule, a user cleaning
 *   raw/). Outputs of a deleted version are results and are kept.
 */
export type VersionState = 'current' | 'superseded' | 'deleted';

/**
 * Decides {@link VersionState} for `etag` of `bucket/key`: one HeadObject (`headEtag`, default
 * {@link currentEtag} through `s3`; an ObjectWriter's `headEtag` is cheaper), and only when the key
 * is gone a listing of the source's manifests. "Newer" compares ingest start times: another
 * version is newer when its manifest's `startedAt` is later than this version's own manifest's,
 * or, when this version has none yet, later than `startedBefore` (a time this version's ingest
 * had certainly started by, e.g. when one of its messages was sent). When in doubt: `deleted`,
 * which keeps results.
 * @example
 * const state = await versionState(s3, 'rides-local', 'raw/a.json', '"9b2c…"', new Date(sentMs));
 * if (state === 'superseded') await deleteKeys(s3, 'rides-local', written);
 */
export async function versionState(
  s3: S3Client,
  bucket: string,
  key: string,
  etag: string,
  startedBefore: Date,
  headEtag: (bucket: string, key: string) => Promise<string | undefined> = (b, k) => currentEtag(s3, b, k),
): Promise<VersionState> {
  const now = await headEtag(bucket, key);
  if (now !== undefined) return sameEtag(now, etag) ? 'current' : 'superseded';
  const own = await readManifest(s3, bucket, objectKeys({ bucket, key, etag }).manifest);
  const since = own ? Date.parse(own.startedAt) : startedBefore.getTime();
  for (const other of await otherManifests(s3, bucket, key, etag)) {
    if (Date.parse(other.startedAt) > since) return 'superseded';
  }
  return 'deleted';
}

/** Manifests of the other versions of `key` (same source key, another ETag), read one by one. */
export async function otherManifests(s3: S3Client, bucket: string, key: string, etag: string): Promise<Manifest[]> {
  const own = objectKeys({ bucket, key, etag });
  const found: Manifest[] = [];
  for await (const manifestKey of listKeys(s3, bucket, own.manifestsPrefix)) {
    const parsed = parseOutputKey(manifestKey);
    if (parsed?.kind !== 'manifest' || parsed.stem !== own.stem || parsed.etag8 === own.etag8) continue;
    const manifest = await readManifest(s3, bucket, manifestKey);
    if (manifest?.source === key && !sameEtag(manifest.etag, etag)) found.push(manifest);
  }
  return found;
}
