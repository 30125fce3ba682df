import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { MissingEtagError, S3ObjectError } from './errors';

/** An object being read: the body streams, nothing is buffered. */
export interface OpenedObject {
  body: Readable;
  /** As S3 reports it, quotes included (`"9b2cf535f27731c974343645a3985328"`). */
  etag: string;
  /** Bytes in `body` (the range length for ranged reads). */
  contentLength: number;
}

export interface OpenObjectOptions {
  /** First byte to read (0-based); the rest of the object follows. Used to resume a file. */
  start?: number;
  /** Read only if the object still has this ETag (S3 answers 412 otherwise). */
  ifMatch?: string;
}

/**
 * Opens an S3 object as a Node stream, with its ETag and length.
 * @example
 * const { body, etag } = await openObject(s3, 'rides-local', 'raw/rides.json');
 * for await (const chunk of body) process.stdout.write(chunk);
 */
export async function openObject(s3: S3Client, bucket: string, key: string, options: OpenObjectOptions = {}): Promise<OpenedObject> {
  let out;
  try {
    out = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(options.start !== undefined && options.start > 0 && { Range: `bytes=${options.start}-` }),
        ...(options.ifMatch !== undefined && { IfMatch: options.ifMatch }),
      }),
    );
  } catch (err) {
    throw new S3ObjectError('GetObject', bucket, key, err);
  }
  if (!(out.Body instanceof Readable)) {
    throw new S3ObjectError('GetObject', bucket, key, new TypeError('the response body is not a Node.js stream (browser runtime?)'));
  }
  if (!out.ETag) {
    out.Body.destroy();
    throw new MissingEtagError('GetObject', bucket, key);
  }
  return { body: out.Body, etag: out.ETag, contentLength: out.ContentLength ?? 0 };
}
