import type { S3Client } from '@aws-sdk/client-s3';
import { currentEtag, deleteKeys, listKeys, putObject, readManifest, sameEtag, type Logger } from '@rydes/aws-adapters';
import { objectKeys, parseOutputKey, sameVersion, type Manifest, type ObjectKeys } from '@rydes/ride-model';

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
 * - A version whose ingestion finishes after the key was overwritten (or deleted) removes its
 *   own outputs instead; transform does the same per message (write, HeadObject, delete if the
 *   source moved on), so a late message of an old version cannot resurrect stale output.
 *   Checking after writing rather than before closes the race: either the overwrite came before
 *   the check (the writer sees it and deletes) or after the write (the new version's cleanup,
 *   which follows its own upload, lists and deletes it).
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

/** True when `key` still holds the version `etag` (one HeadObject). */
export async function stillCurrent(s3: S3Client, bucket: string, key: string, etag: string): Promise<boolean> {
  const now = await currentEtag(s3, bucket, key);
  return now !== undefined && sameEtag(now, etag);
}
