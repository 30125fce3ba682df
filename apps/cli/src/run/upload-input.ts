import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3ObjectError } from '@rydes/aws-adapters';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline, Transform } from 'node:stream';
import { InputFileError } from '../errors';
import type { LocalStack } from '../stack/local-stack';
import { describeFsError, type RunInput } from './inputs';
import { SampleRecordMismatch } from './sample';
import type { FollowedSample } from './sample-follow';

/** Says nothing (the followed upload's failures are reported by its caller). */
const QUIET_LOGGER = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

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

/**
 * Uploads the generated sample to `key` while it is being written: one streamed PutObject of the
 * recorded size whose body follows the file ({@link FollowedSample.body}), so the upload ends
 * about when the writing does instead of starting then. It fails (and stores nothing) when the
 * sample turns out other than its record ({@link SampleRecordMismatch}; the key is then deleted,
 * in case the store kept part of the body): the caller then uploads the file as written.
 * @example
 * const { etag } = await uploadFollowedSample(stack, 'raw/rides-200000-seed1-96c93d2cb3a4.json', followed);
 */
export async function uploadFollowedSample(stack: LocalStack, key: string, followed: FollowedSample): Promise<{ key: string; etag: string }> {
  const body = followed.body();
  const abort = new AbortController();
  // Its error (the sample's own, or the record's mismatch) is the PUT's failure too; the request
  // is aborted then, so the server sees a cut-off upload rather than one waiting for its last byte.
  const failed = new Promise<never>((_, reject) =>
    body.once('error', (err) => {
      abort.abort();
      reject(err);
    }),
  );
  try {
    const put = new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body, ContentLength: followed.expected.bytes });
    // A body cut off on purpose is no news: the SDK would print that a streaming request cannot be
    // retried on the console (its fallback when the client has no logger); the caller says what happened.
    put.middlewareStack.add(
      (next, context) => (args) => {
        context.logger = QUIET_LOGGER;
        return next(args);
      },
      { step: 'initialize', name: 'rydesQuietFollowedUpload' },
    );
    const out = await Promise.race([stack.s3.send(put, { abortSignal: abort.signal }), failed]);
    return { key, etag: out.ETag ?? '' };
  } catch (err) {
    body.destroy();
    abort.abort();
    // The key names bytes that were never sent: whatever a store kept of the cut-off PUT (the
    // local S3 keeps the part of a large body it had written) must not stay there under it.
    if (err instanceof SampleRecordMismatch) await stack.s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key })).catch(() => undefined);
    throw err;
  }
}
