import { CopyObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { S3ObjectError } from './errors';

/** S3's minimum multipart part size (all parts but the last). */
const PART_BYTES = 5 * 1024 * 1024;

/**
 * Writes an object. Strings and buffers go in one PutObject; a stream (length unknown) goes
 * through a multipart upload in 5 MiB parts, two in flight, so memory stays bounded. Returns the
 * ETag S3 reports.
 * @example
 * await putObject(s3, 'rides-local', 'processed/rides-9b2cf535-000000.csv', csv, 'text/csv; charset=utf-8');
 * await putObject(s3, 'rides-local', 'raw/big.ndjson', createReadStream('big.ndjson'));
 */
export async function putObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Uint8Array | Readable,
  contentType?: string,
): Promise<{ etag: string }> {
  try {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
      return { etag: out.ETag ?? '' };
    }
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const out = await upload.done();
    return { etag: out.ETag ?? '' };
  } catch (err) {
    throw new S3ObjectError('PutObject', bucket, key, err);
  }
}

/**
 * Copies an object inside a bucket on the server side (one CopyObject: objects up to 5 GB).
 * `CopySource` is URL-encoded per path segment, so keys with spaces or non-ASCII names work.
 * @example
 * await copyObject(s3, 'rides-local', 'rejects/rides-9b2cf535.ndjson', 'rejects/rides-9b2cf535-part0000.ndjson');
 */
export async function copyObject(s3: S3Client, bucket: string, from: string, to: string): Promise<void> {
  const source = [bucket, ...from.split('/')].map(encodeURIComponent).join('/');
  try {
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: source }));
  } catch (err) {
    throw new S3ObjectError('CopyObject', bucket, from, err);
  }
}
