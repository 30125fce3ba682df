import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
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
