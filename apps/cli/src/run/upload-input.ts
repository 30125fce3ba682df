import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3ObjectError } from '@rydes/aws-adapters';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline, Transform } from 'node:stream';
import { InputFileError } from '../errors';
import type { LocalStack } from '../stack/local-stack';
import { describeFsError, type RunInput } from './inputs';

/** S3's largest single PutObject; bigger files go through the stack's multipart upload. */
export const SINGLE_PUT_MAX_BYTES = 5 * 1024 ** 3;

/**
 * Bytes read from the file at a time: with fs's default 64 KiB, a 46 MB file is ~700 reads, size
 * checks and socket writes on the CLI's busy thread; with 1 MiB, ~45. The local S3 (its own
 * thread) reads the socket in its own pieces either way.
 */
export const UPLOAD_READ_BYTES = 1024 * 1024;

/**
 * Uploads one FILE of `rydes run` to its raw/ key; its notification starts the ingest. A file of
 * known size (the preflight stat'ed it) goes in one streamed PutObject with its Content-Length:
 * the local S3 writes it once, where a multipart upload buffers 5 MiB parts, hashes each to sign
 * it, stores the parts and then copies them into the object — 2–4 times the time for a 46 MB
 * file (and the SDK signs a stream body as UNSIGNED-PAYLOAD, so nothing hashes it again). A file
 * that is not the size it had at the preflight fails with InputFileError instead of a truncated
 * or hanging upload.
 * @example
 * const { key, etag } = await uploadInput(stack, input); // key === input.key
 */
export async function uploadInput(stack: LocalStack, input: RunInput): Promise<{ key: string; etag: string }> {
  if (input.bytes > SINGLE_PUT_MAX_BYTES) return stack.upload(resolve(input.path), input.key);
  let sent = 0;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      if (sent > input.bytes) done(new InputFileError(input.path, `it grew while rydes uploaded it (from ${input.bytes} bytes)`));
      else done(null, chunk);
    },
    flush(done) {
      done(sent < input.bytes ? new InputFileError(input.path, `it shrank while rydes uploaded it (${sent} of ${input.bytes} bytes)`) : null);
    },
  });
  // The file's own errors (deleted, unreadable) end the body too.
  pipeline(createReadStream(resolve(input.path), { highWaterMark: UPLOAD_READ_BYTES }), body, () => undefined);
  const failed = new Promise<never>((_, reject) =>
    body.once('error', (err: NodeJS.ErrnoException) => reject(err instanceof InputFileError || !err.code ? err : new InputFileError(input.path, describeFsError(err)))),
  );
  try {
    const out = await Promise.race([stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: input.key, Body: body, ContentLength: input.bytes })), failed]);
    return { key: input.key, etag: out.ETag ?? '' };
  } catch (err) {
    body.destroy();
    if (err instanceof InputFileError) throw err;
    throw new S3ObjectError('PutObject', stack.bucket, input.key, err);
  }
}
