import type { S3Client } from '@aws-sdk/client-s3';
import type { Manifest } from '@rydes/ride-model';
import { isNoSuchKey } from './errors';
import { openObject } from './open-object';

/**
 * The manifest at `key`, or `undefined` when there is no such object (decided on the status or
 * the error name, never the message text) or it is not a manifest
 * (not JSON, or no string `source` and `etag`). Any other failure (access, network) throws.
 *
 * @example
 * const manifest = await readManifest(s3, 'rides-local', objectKeys(source).manifest);
 * if (manifest?.error) console.error(manifest.error.message);
 */
export async function readManifest(s3: S3Client, bucket: string, key: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    const { body } = await openObject(s3, bucket, key);
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    text = Buffer.concat(parts).toString('utf8');
  } catch (err) {
    if (isNoSuchKey(err)) return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Manifest;
    return typeof parsed?.source === 'string' && typeof parsed.etag === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
