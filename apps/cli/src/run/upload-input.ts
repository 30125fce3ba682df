import { S3ObjectError } from '@rydes/aws-adapters';
import { LocalFileSizeError } from '@rydes/local-aws';
import { resolve } from 'node:path';
import { InputFileError } from '../errors';
import type { LocalStack } from '../stack/local-stack';
import { describeFsError, type RunInput } from './inputs';

/** S3's largest single PutObject; bigger files go through the stack's multipart upload. */
export const SINGLE_PUT_MAX_BYTES = 5 * 1024 ** 3;

/**
 * Uploads one FILE of `rydes run` to its raw/ key; its notification starts the ingest. A file of
 * known size (the preflight stat'ed it) is stored by the local S3 itself from the file
 * (`LocalServers.putFile`): the same object files, ETag and ObjectCreated:Put notification as a
 * PutObject of its bytes, sent once the object is complete, without the HTTP hop. The streamed
 * PutObject it replaces cost both sides of a loopback socket (~0.2–0.4 s of CPU for 46.6 MB,
 * compiled cold, at a moment when the function environments start on the same two cores);
 * the local S3's thread now reads, hashes and writes the file (~0.08 s of CPU). A file that is
 * not the size it had at the preflight fails with InputFileError instead of a truncated or
 * hanging upload, and nothing is stored. Files above S3's single-PUT limit go through the
 * stack's multipart upload, as on AWS.
 * @example
 * const { key, etag } = await uploadInput(stack, input); // key === input.key
 */
export async function uploadInput(stack: LocalStack, input: RunInput): Promise<{ key: string; etag: string }> {
  if (input.bytes > SINGLE_PUT_MAX_BYTES) return stack.upload(resolve(input.path), input.key);
  try {
    const { etag } = await stack.servers.putFile(stack.bucket, input.key, resolve(input.path), { bytes: input.bytes });
    return { key: input.key, etag };
  } catch (err) {
    if (err instanceof LocalFileSizeError) {
      throw new InputFileError(input.path, err.read === undefined ? `it grew while rydes uploaded it (from ${input.bytes} bytes)` : `it shrank while rydes uploaded it (${err.read} of ${input.bytes} bytes)`);
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code && code.startsWith('E')) throw new InputFileError(input.path, describeFsError(err as NodeJS.ErrnoException));
    throw new S3ObjectError('PutObject', stack.bucket, input.key, err);
  }
}
