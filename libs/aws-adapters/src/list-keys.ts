import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3ObjectError } from './errors';

export interface ListKeysOptions {
  /** Keys per list call; S3's maximum (and default) is 1000. */
  pageSize?: number;
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
  let marker: string | undefined;
  for (;;) {
    let page;
    try {
      page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker, MaxKeys: options.pageSize }));
    } catch (err) {
      throw new S3ObjectError('ListObjects', bucket, prefix, err);
    }
    const keys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]));
    yield* keys;
    if (!page.IsTruncated || keys.length === 0) return;
    marker = keys[keys.length - 1];
  }
}
