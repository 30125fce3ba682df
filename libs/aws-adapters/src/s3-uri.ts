import { S3UriError } from './errors';

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
