import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { currentEtag, deleteKeys, openObject, putObject, readManifest } from '@rydes/aws-adapters';
import type { Manifest, ObjectKeys } from '@rydes/ride-model';
import type { RejectsPart } from './continuation';
import { sameContent } from './manifest';

/**
 * The last part of a file ingested in several parts joins the parts' rejects, in order and each
 * filtered to the rides that part read, into the file's one rejects object, and checks that the
 * lines add up to the manifest's `rejected`. The parts are deleted only once the manifest is
 * written ({@link deleteRejectsParts}), so a part missing here means a rerun of a last part that
 * finished: with the same manifest in place, the joined object is already right and is left alone.
 * @example
 * await joinRejects(s3, bucket, keys, continuation.rejectParts, manifest);
 */
export async function joinRejects(s3: S3Client, bucket: string, keys: ObjectKeys, parts: RejectsPart[], manifest: Manifest): Promise<void> {
  if (parts.length === 0) return;
  for (const { part } of parts) {
    if ((await currentEtag(s3, bucket, keys.rejectsPart(part))) !== undefined) continue;
    const existing = await readManifest(s3, bucket, keys.manifest);
    if (existing && sameContent(existing, manifest)) return;
    throw new Error(`rejects of part ${part} (s3://${bucket}/${keys.rejectsPart(part)}) are missing, and the file has no finished manifest; re-upload the file to ingest it again`);
  }
  let lines = 0;
  async function* joined(): AsyncGenerator<Buffer> {
    for (const { part, from, to = Number.MAX_SAFE_INTEGER } of parts) {
      const { body } = await openObject(s3, bucket, keys.rejectsPart(part));
      for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
        // RejectsWriter writes `{"index":N,…}`; JSON escapes line breaks inside a record.
        const index = Number(/^\{"index":(\d+),/.exec(line)?.[1] ?? -1);
        if (index < from || index >= to) continue;
        lines++;
        yield Buffer.from(line + '\n');
      }
    }
    if (lines !== manifest.rejected) {
      throw new Error(`the parts' rejects hold ${lines} lines for the ${manifest.rejected} rejected rides; a retried part may have rewritten its rejects: re-upload the file to ingest it again`);
    }
  }
  await putObject(s3, bucket, keys.rejects, Readable.from(joined()), 'application/x-ndjson');
}

/** Once the manifest is written: the parts' rejects objects are joined and no longer needed. */
export async function deleteRejectsParts(s3: S3Client, bucket: string, keys: ObjectKeys, parts: RejectsPart[]): Promise<void> {
  await deleteKeys(s3, bucket, parts.map((p) => keys.rejectsPart(p.part)));
}
