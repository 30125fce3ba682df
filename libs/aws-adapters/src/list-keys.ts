import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3ObjectError } from './errors';

export interface ListKeysOptions {
  /** Keys per list call; S3's maximum (and default) is 1000. */
  pageSize?: number;
}

/** One entry of a listing. */
export interface ListedObject {
  key: string;
  /** Bytes. */
  size: number;
  /** As S3 reports it, quotes included. */
  etag: string;
}

/**
 * Every object under a prefix with its size and ETag, in S3's (UTF-8 binary) order, page after
 * page (see {@link listKeys} for why ListObjects v1).
 * @example
 * for await (const { key, size } of listObjects(s3, 'rides-local', 'processed/')) console.log(key, size);
 */
export async function* listObjects(s3: S3Client, bucket: string, prefix: string, options: ListKeysOptions = {}): AsyncGenerator<ListedObject> {
  let marker: string | undefined;
  for (;;) {
    let page;
    try {
      page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker, MaxKeys: options.pageSize }));
    } catch (err) {
      throw new S3ObjectError('ListObjects', bucket, prefix, err);
    }
    const objects = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' }]));
    yield* objects;
    if (!page.IsTruncated || objects.length === 0) return;
    marker = objects[objects.length - 1].key;
  }
}

/**
 * Every key under a prefix, in S3's (UTF-8 binary) order, page after page.
 *
 * Uses ListObjects (v1) with `Marker` = the last key seen, which real S3 fully supports: s3rver
 * builds v2 continuation tokens with DES, which OpenSSL 3 (Node ≥ 17) refuses, so every truncated
 * ListObjectsV2 page fails there with InternalError.
 * @example
 * for await (const key of listKeys(s3, 'rides-local', 'processed/')) console.log(key);
 */
export async function* listKeys(s3: S3Client, bucket: string, prefix: string, options: ListKeysOptions = {}): AsyncGenerator<string> {
  for await (const object of listObjects(s3, bucket, prefix, options)) yield object.key;
}
