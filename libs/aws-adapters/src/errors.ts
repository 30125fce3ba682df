/** Base class of every error thrown by `@rydes/aws-adapters`; `cause` keeps the SDK error. */
export class AwsAdapterError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A string that is not an `s3://bucket/key` URI. */
export class S3UriError extends AwsAdapterError {
  constructor(readonly uri: string, reason: string) {
    super(`"${uri}" is not an S3 URI: ${reason}; write it as s3://<bucket>/<key>, e.g. s3://rides/stations/ghcnd-stations.txt`);
  }
}

/** An S3 operation failed for a given object (missing key, no access, server error). */
export class S3ObjectError extends AwsAdapterError {
  constructor(
    readonly operation: string,
    readonly bucket: string,
    readonly key: string,
    cause: unknown,
  ) {
    super(`${operation} s3://${bucket}/${key} failed: ${describe(cause)}; check that the bucket and key exist and the function may access them`, { cause });
  }
}

/** One SendMessageBatch entry that SQS still refused after every retry. */
export interface FailedEntry {
  /** The entry id inside the batch (`m<position>`, position in the input order). */
  id: string;
  code: string;
  message: string;
  senderFault: boolean;
}

/** Some messages could not be sent after the retries; `failed` names each entry and its code. */
export class SqsSendError extends AwsAdapterError {
  constructor(
    readonly queueUrl: string,
    readonly failed: FailedEntry[],
    readonly sent: number,
    cause?: unknown,
  ) {
    const list = failed.slice(0, 5).map((f) => `${f.id} ${f.code}${f.message ? ` (${f.message})` : ''}`).join(', ');
    const more = failed.length > 5 ? ` and ${failed.length - 5} more` : '';
    super(
      `SendMessageBatch to ${queueUrl} failed for ${failed.length} message(s) after retries: ${list}${more}; ` +
        `${sent} message(s) were sent. Sender faults mean a bad message (size, characters); otherwise retry later`,
      { cause },
    );
  }
}

/** A single message is larger than SQS accepts (1 MiB; a queue's MaximumMessageSize may refuse less); no retry can help. */
export class SqsMessageTooLargeError extends AwsAdapterError {
  constructor(readonly position: number, readonly bytes: number, readonly limit: number) {
    super(`message ${position} is ${bytes} bytes, over the SQS limit of ${limit} bytes; send smaller chunks (fewer rides per message)`);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** A function's environment lacks a variable or holds a value it cannot use. */
export class ConfigError extends AwsAdapterError {
  constructor(readonly variable: string, problem: string) {
    super(`${variable} ${problem}`);
  }
}

/** The HTTP status and error name of an SDK error, looked for through `cause` (our wrappers keep it). */
export function awsErrorOf(err: unknown): { status?: number; name?: string } {
  for (let e = err as { name?: string; cause?: unknown; $metadata?: { httpStatusCode?: number } } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.$metadata !== undefined) return { status: e.$metadata.httpStatusCode, name: e.name };
    e = e.cause as typeof e;
  }
  return {};
}

/**
 * True when S3 says the object does not exist: status 404 or the name NoSuchKey/NotFound (a HEAD
 * error has no body, so its name is only "NotFound"); never decided on message text.
 * @example
 * try { await openObject(s3, bucket, key); } catch (err) { if (isNoSuchKey(err)) return undefined; throw err; }
 */
export function isNoSuchKey(err: unknown): boolean {
  const { status, name } = awsErrorOf(err);
  // A missing bucket is a 404 too (NoSuchBucket): a misconfiguration, not a missing object.
  return name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket');
}

/**
 * True when S3 refused a conditional request (`If-Match` on another ETag, `If-None-Match: *` on
 * an existing key): status 412 / PreconditionFailed.
 * @example
 * if (isPreconditionFailed(err)) console.log('the object changed since it was first read');
 */
export function isPreconditionFailed(err: unknown): boolean {
  const { status, name } = awsErrorOf(err);
  return status === 412 || name === 'PreconditionFailed';
}

/** S3 answered without the ETag every object response carries. */
export class MissingEtagError extends AwsAdapterError {
  constructor(readonly operation: string, readonly bucket: string, readonly key: string) {
    super(`${operation} s3://${bucket}/${key} returned no ETag; an S3-compatible server must send one (the pipeline names outputs by it)`);
  }
}
