import type { S3Client } from '@aws-sdk/client-s3';
import { deleteKeys, listKeys, readManifest, versionState, type Logger } from '@rydes/aws-adapters';
import { objectKeys, parseOutputKey, sameVersion, type ObjectKeys, type SourceRef } from '@rydes/ride-model';

/*
 * Re-uploads, decided:
 *
 * - The same bytes again (same ETag) are ingested again and produce the same keys with the same
 *   bytes in processed/ and rejects/. The manifest keeps the first run's `startedAt`/`finishedAt`:
 *   when everything else in it is unchanged it is not rewritten (one GetObject per file), so a
 *   re-upload leaves all three prefixes byte-identical.
 * - A changed object under the same key (new ETag) gets new outputs under its new etag8. Once the
 *   new version's manifest is written, and only if the key still holds that version, ingest
 *   deletes every other version's processed/, rejects/ and manifest of the same source key
 *   (versions are found by their manifests, whose `source` must equal the key: `raw/a.json` and
 *   `raw/a.ndjson` share the stem `a` and never touch each other's outputs).
 * - A version whose ingestion finishes after the key was overwritten removes its own outputs
 *   instead; transform does the same per message (write, HeadObject, delete if the
 *   source moved on), so a late message of an old version cannot resurrect stale output.
 *   Checking after writing rather than before closes the race: either the overwrite came before
 *   the check (the writer sees it and deletes) or after the write (the new version's cleanup,
 *   which follows its own upload, lists and deletes it).
 * - Deleting a source never deletes results. A version is superseded only when a newer version of
 *   the same key exists: the key holds another ETag, or the key is gone and a newer version's
 *   manifest exists (replaced, then deleted). A plain deletion (a lifecycle rule, a user cleaning
 *   raw/) keeps the version's outputs; the newest version then removes the older ones as usual.
 *   "Newer" compares the manifests' `startedAt` (aws-adapters' versionState).
 */

/** What a cleanup removed: versions of the source and objects deleted. */
export interface Removed {
  versions: number;
  objects: number;
}

/**
 * Deletes one version's outputs: `processed/<stem>-<etag8>-<digits>.csv` (matched exactly, so
 * stem `a` never matches `a-b`'s keys), its rejects (and any rejects parts a continuation left)
 * and its manifest. Returns the objects deleted.
 */
export async function removeVersion(s3: S3Client, bucket: string, keys: ObjectKeys, extra: string[] = []): Promise<number> {
  const ours = (key: string, kind: 'processed' | 'rejectsPart') => {
    const parsed = parseOutputKey(key);
    return parsed?.kind === kind && sameVersion(parsed, keys);
  };
  async function* outputs() {
    for await (const key of listKeys(s3, bucket, keys.processedPrefix)) if (ours(key, 'processed')) yield key;
    yield keys.rejects;
    // Rejects of the parts of a file ingested in several invocations, if any are left.
    for await (const key of listKeys(s3, bucket, keys.rejectsPartPrefix)) if (ours(key, 'rejectsPart')) yield key;
    yield* extra;
    // Last, so a cleanup interrupted half-way is found again by the next one.
    yield keys.manifest;
  }
  return deleteKeys(s3, bucket, outputs());
}

/**
 * Deletes the outputs of every other version of `source` (see the comment at the top).
 * Only call once `etag`'s manifest is written and the key still holds `etag`.
 */
export async function removeOtherVersions(s3: S3Client, bucket: string, source: string, etag: string, log: Logger): Promise<Removed> {
  const own = objectKeys({ bucket, key: source, etag });
  const removed: Removed = { versions: 0, objects: 0 };
  const candidates: string[] = [];
  for await (const key of listKeys(s3, bucket, own.manifestsPrefix)) {
    const parsed = parseOutputKey(key);
    if (parsed?.kind === 'manifest' && parsed.stem === own.stem && parsed.etag8 !== own.etag8) candidates.push(key);
  }
  for (const key of candidates) {
    const manifest = await readManifest(s3, bucket, key);
    if (manifest?.source !== source) continue;
    removed.objects += await removeVersion(s3, bucket, objectKeys({ bucket, key: source, etag: manifest.etag }));
    removed.versions++;
  }
  if (removed.versions > 0) log.info({ ...removed, etag }, 'outputs of earlier versions of the file removed');
  return removed;
}

/**
 * After the manifest: if this version is still the newest (the key holds it, or it was deleted
 * with no newer version), remove every other version's outputs; if a newer version exists,
 * remove this version's own.
 */
export async function settleVersions(s3: S3Client, source: SourceRef, keys: ObjectKeys, startedAt: Date, log: Logger): Promise<Removed> {
  const state = await versionState(s3, source.bucket, source.key, source.etag, startedAt);
  if (state !== 'superseded') return removeOtherVersions(s3, source.bucket, source.key, source.etag, log);
  const objects = await removeVersion(s3, source.bucket, keys);
  log.warn({ etag: source.etag, objects }, 'a newer version of the file arrived while this one was ingested; this version\'s outputs removed');
  return { versions: 1, objects };
}
