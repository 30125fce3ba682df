import type { S3Client } from '@aws-sdk/client-s3';
import { S3UriError } from './errors';
import { openObject } from './open-object';

/** A bucket and key, as named by an `s3://bucket/key` URI. */
export interface S3Location {
  bucket: string;
  key: string;
}

/**
 * Splits `s3://bucket/key` into bucket and key. The key is taken verbatim (no URL decoding):
 * S3 URIs in configuration are written the way the key is spelled.
 * @example
 * parseS3Uri('s3://rides-local/stations/ghcnd-stations.txt');
 * // → { bucket: 'rides-local', key: 'stations/ghcnd-stations.txt' }
 */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri.trim());
  if (!match) {
    const reason = !uri.trim().startsWith('s3://') ? 'it does not start with s3://' : 'the bucket or the key is missing';
    throw new S3UriError(uri, reason);
  }
  const [, bucket, key] = match;
  // S3 bucket names: 3–63 lower-case letters, digits, dots and hyphens.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new S3UriError(uri, `"${bucket}" is not a valid bucket name (3–63 lower-case letters, digits, dots, hyphens)`);
  }
  return { bucket, key };
}

/**
 * Reads a whole object named by an S3 URI into memory. Meant for small objects read once per
 * container, such as a station catalogue (the 125k-line GHCN file is about 10 MB); stream
 * anything larger with {@link openObject}.
 * @example
 * const text = (await readS3Uri(s3, 's3://rides-local/stations/stations.csv')).toString('utf8');
 */
export async function readS3Uri(s3: S3Client, uri: string): Promise<Buffer> {
  const { bucket, key } = parseS3Uri(uri);
  const { body } = await openObject(s3, bucket, key);
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
}
