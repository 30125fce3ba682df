import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import * as zlib from 'node:zlib';
import { PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { AwsCredentialIdentity, Provider, RetryErrorInfo, RetryErrorType, RetryStrategyV2, RetryToken, SdkError } from '@smithy/types';
import { isNoSuchKey, MissingEtagError, S3ObjectError } from './errors';
import { currentEtag } from './object-versions';
import { putObject } from './put-object';
import { SigV4Signer } from './sigv4';

/** What {@link createObjectWriter} returns: PutObject of a string or buffer, as `putObject` does it. */
export interface ObjectWriter {
  /**
   * Writes one object (a single PutObject) and returns the ETag S3 reports; throws
   * {@link S3ObjectError} (its `cause` an `S3ServiceException` with S3's code, message and status)
   * once the SDK's retry strategy gives up.
   */
  put(bucket: string, key: string, body: string | Uint8Array, contentType?: string): Promise<{ etag: string }>;
  /**
   * HeadObject's ETag, as {@link currentEtag} reads it with the SDK: undefined when S3 answers
   * 404 (no such key), the ETag otherwise; throws {@link S3ObjectError} once the retry strategy
   * gives up, {@link MissingEtagError} for an answer without one.
   */
  headEtag(bucket: string, key: string): Promise<string | undefined>;
  /** Called once per HTTP request sent (retries included), as `countRequests` counts an SDK client's. */
  onRequest(listener: (commandName: WriterCommand) => void): void;
  /** Closes the writer's idle keep-alive sockets. */
  destroy(): void;
}

export interface ObjectWriterOptions {
  /**
   * Per attempt: a request not answered in full within this time is destroyed and fails with a
   * `TimeoutError`, which the retry strategy retries like any transient error. Default 10 s: a
   * PutObject of at most 1 MiB takes well under a second, and five attempts with their backoff
   * still fit in the transform's 60 s timeout (the SDK's handler has no request timeout: a hung
   * socket there waits for the function's own timeout).
   */
  requestTimeoutMs?: number;
}

/** The commands a writer sends, as the SDK names them. */
export type WriterCommand = 'PutObjectCommand' | 'HeadObjectCommand';

/** SHA-256 of no bytes: a HEAD's signed payload hash. */
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** Bodies above this go through the SDK (which adds `Expect: 100-continue` from 2 MiB on). */
const LEAN_MAX_BYTES = 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** The SDK's own `maxSockets` for its node http handler. */
const MAX_SOCKETS = 50;
/** Not signed (SigV4 never signs user-agent); names the client in S3's access logs. */
const USER_AGENT = 'rydes-object-writer';

/** Where and how a bucket's objects are written: resolved once per bucket by the SDK's own rules. */
interface Target {
  protocol: 'http:' | 'https:';
  hostname: string;
  port?: number;
  /** Host header: host, plus the port when it is not the scheme's default. */
  host: string;
  /** Path before the key: `/` (virtual-hosted) or `/<bucket>/` (path-style). */
  prefix: string;
  signer: SigV4Signer;
}

/**
 * A PutObject for small objects (strings and buffers up to 1 MiB) that spends a fraction of the
 * SDK's client CPU per request, for the transform's one-object-per-message writes. It keeps what
 * the SDK client `s3` would do, taking each part from that client's own resolved configuration:
 * the endpoint (`getEndpointFromInstructions` with PutObject's parameters: virtual-hosted on AWS,
 * path-style under a custom endpoint, FIPS/dual-stack/access points as configured), the
 * credentials (the client's provider chain, memoised and refreshed before expiry), the SigV4
 * signature (SigV4 with the payload hash signed, as the SDK's signer computes it: {@link SigV4Signer}), the integrity
 * checksum (CRC32 header when the client computes checksums WHEN_SUPPORTED — on AWS; none with
 * WHEN_REQUIRED — the local endpoint), the retry strategy and its quota (the client's
 * `retryStrategy`: standard or adaptive mode, `maxAttempts`, backoff with jitter, throttling
 * codes, 5xx, socket errors and timeouts classified by the SDK's own functions) and clock-skew
 * correction (the client's `systemClockOffset`, from each response's Date header). It sends with
 * node's http/https and a keep-alive agent per writer, with a request timeout the SDK's default
 * handler does not have. Anything it does not do the same way goes to the SDK unchanged:
 * bodies over 1 MiB, buckets whose endpoint needs another signer (S3 Express directory
 * buckets, multi-region access points: sigv4a), endpoints the rules reject.
 *
 * @example
 * const s3 = createS3Client(process.env, { cacheMiddleware: true });
 * const writer = createObjectWriter(s3);
 * const { etag } = await writer.put('rides-local', 'processed/rides-9b2cf535-000000.csv', csv, 'text/csv; charset=utf-8');
 */
export function createObjectWriter(s3: S3Client, options: ObjectWriterOptions = {}): ObjectWriter {
  return new LeanObjectWriter(s3, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
}

/** The part of the S3 client's resolved configuration the writer uses. */
interface ResolvedS3Config {
  credentials: Provider<AwsCredentialIdentity>;
  retryStrategy: () => Promise<RetryStrategyV2 | object>;
  maxAttempts: () => Promise<number>;
  requestChecksumCalculation: () => Promise<string>;
  systemClockOffset: number;
  disableClockSkewCorrection?: () => Promise<boolean | undefined>;
}

class LeanObjectWriter implements ObjectWriter {
  private readonly config: ResolvedS3Config;
  private readonly targets = new Map<string, Promise<Target | undefined>>();
  private readonly listeners: Array<(commandName: WriterCommand) => void> = [];
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
  };
  private settings?: Promise<{ strategy: RetryStrategyV2 | undefined; checksum: boolean; skewCorrection: boolean }>;

  constructor(private readonly s3: S3Client, private readonly requestTimeoutMs: number) {
    this.config = s3.config as unknown as ResolvedS3Config;
  }

  onRequest(listener: (commandName: WriterCommand) => void): void {
    this.listeners.push(listener);
  }

  destroy(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  async put(bucket: string, key: string, body: string | Uint8Array, contentType?: string): Promise<{ etag: string }> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const [target, settings] = await Promise.all([bytes.length <= LEAN_MAX_BYTES ? this.target(bucket) : undefined, this.resolveSettings()]);
    if (!target || !settings.strategy) return putObject(this.s3, bucket, key, body, contentType);
    const headers: Record<string, string> = {
      host: target.host,
      'user-agent': USER_AGENT,
      'content-type': contentType ?? 'application/octet-stream',
      'content-length': String(bytes.length),
      'x-amz-content-sha256': createHash('sha256').update(bytes).digest('hex'),
    };
    if (settings.checksum) {
      headers['x-amz-sdk-checksum-algorithm'] = 'CRC32';
      headers['x-amz-checksum-crc32'] = crc32Base64(bytes);
    }
    let answer: Answer;
    try {
      answer = await this.send(target, settings.strategy, settings, 'PUT', key, headers, bytes);
    } catch (err) {
      throw new S3ObjectError('PutObject', bucket, key, err);
    }
    return { etag: typeof answer.headers.etag === 'string' ? answer.headers.etag : '' };
  }

  /**
   * The transform checks its source version once per batch (versionState): through the SDK a
   * HeadObject cost as much client CPU as the PutObject this writer replaced, so it takes the
   * same path. A 404 is answered at once (the SDK's retry strategy does not retry it either).
   */
  async headEtag(bucket: string, key: string): Promise<string | undefined> {
    const [target, settings] = await Promise.all([this.target(bucket), this.resolveSettings()]);
    if (!target || !settings.strategy) return currentEtag(this.s3, bucket, key);
    const headers: Record<string, string> = { host: target.host, 'user-agent': USER_AGENT, 'x-amz-content-sha256': EMPTY_SHA256 };
    let answer: Answer;
    try {
      answer = await this.send(target, settings.strategy, settings, 'HEAD', key, headers, undefined);
    } catch (err) {
      if (isNoSuchKey(err)) return undefined;
      throw new S3ObjectError('HeadObject', bucket, key, err);
    }
    if (typeof answer.headers.etag !== 'string' || !answer.headers.etag) throw new MissingEtagError('HeadObject', bucket, key);
    return answer.headers.etag;
  }

  private resolveSettings() {
    this.settings ??= (async () => {
      const strategy = await this.config.retryStrategy();
      return {
        // A legacy (v1) strategy object has no token API: the SDK path keeps it.
        strategy: 'acquireInitialRetryToken' in strategy ? strategy : undefined,
        checksum: (await this.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED' && typeof zlib.crc32 === 'function',
        skewCorrection: (await this.config.disableClockSkewCorrection?.()) !== true,
      };
    })();
    return this.settings;
  }

  /** The bucket's endpoint as the SDK resolves it (its own cache ignores the key too). */
  private target(bucket: string): Promise<Target | undefined> {
    let target = this.targets.get(bucket);
    if (!target) {
      target = this.resolveTarget(bucket);
      this.targets.set(bucket, target);
    }
    return target;
  }

  private async resolveTarget(bucket: string): Promise<Target | undefined> {
    let endpoint;
    try {
      endpoint = await getEndpointFromInstructions({ Bucket: bucket, Key: '' }, PutObjectCommand as never, this.s3.config as never);
    } catch {
      return undefined; // the SDK reports the rule's error itself
    }
    const scheme = (endpoint.properties?.authSchemes as Array<Record<string, unknown>> | undefined)?.[0];
    const url = endpoint.url;
    if (scheme?.name !== 'sigv4' || scheme.disableDoubleEncoding !== true || typeof scheme.signingRegion !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search) return undefined;
    if (endpoint.headers && Object.keys(endpoint.headers).length) return undefined;
    // S3 signs the path as sent (keys are encoded once, never twice: the SDK's disableDoubleEncoding).
    const signer = new SigV4Signer(scheme.signingRegion, typeof scheme.signingName === 'string' ? scheme.signingName : 's3');
    return {
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port && { port: Number(url.port) }),
      host: url.host,
      prefix: url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`,
      signer,
    };
  }

  /**
   * Sends one request with the client's retry strategy, signer and clock: the 2xx answer, or the
   * last error (S3's, as the SDK would throw it) once the strategy gives up. A HEAD's 404 is not
   * retried (a client error, as the SDK classifies it).
   */
  private async send(
    target: Target,
    strategy: RetryStrategyV2,
    settings: { skewCorrection: boolean },
    method: 'PUT' | 'HEAD',
    key: string,
    headers: Record<string, string>,
    bytes: Buffer | undefined,
  ): Promise<Answer> {
    const path = target.prefix + encodeKey(key);
    const commandName: WriterCommand = method === 'PUT' ? 'PutObjectCommand' : 'HeadObjectCommand';
    const maxAttempts = await this.config.maxAttempts();
    let token: RetryToken = await strategy.acquireInitialRetryToken('');
    let attempts = 0;
    let totalRetryDelay = 0;
    for (;;) {
      attempts++;
      const offsetBefore = this.config.systemClockOffset;
      const sentAt = Date.now();
      // As the SDK stamps it: local fault proxies and S3's logs tell retries by it.
      headers['amz-sdk-request'] = `attempt=${attempts}; max=${maxAttempts}`;
      try {
        const signed = { ...headers };
        target.signer.sign(method, path, signed, await this.config.credentials(), new Date(sentAt + offsetBefore));
        for (const listener of this.listeners) listener(commandName);
        const answer = await this.request(target, method, path, signed, bytes);
        if (settings.skewCorrection) this.sampleClock(answer.headers.date, sentAt, answer.headers.age);
        if (answer.status >= 200 && answer.status < 300) {
          strategy.recordSuccess(token);
          return answer;
        }
        throw s3Error(answer, attempts, totalRetryDelay, settings.skewCorrection ? offsetBefore : undefined, this.config.systemClockOffset);
      } catch (err) {
        const info: RetryErrorInfo = { errorType: retryErrorType(err as SdkError) };
        const hint = retryAfterOf(err);
        if (hint) info.retryAfterHint = hint;
        try {
          token = await strategy.refreshRetryTokenForRetry(token, info);
        } catch {
          const metadata = ((err as { $metadata?: Record<string, unknown> }).$metadata ??= {});
          metadata.attempts = attempts;
          metadata.totalRetryDelay = totalRetryDelay;
          throw err;
        }
        const delay = token.getRetryDelay();
        totalRetryDelay += delay;
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** The SDK's clock-skew sampling: the offset follows each response's Date header. */
  private sampleClock(date: string | string[] | undefined, sentAt: number, age: string | string[] | undefined): void {
    if (typeof date !== 'string' || age !== undefined) return;
    const server = Date.parse(date);
    const now = Date.now();
    if (Number.isNaN(server) || now - sentAt > 900_000) return;
    this.config.systemClockOffset = server - now;
  }

  private request(target: Target, method: 'PUT' | 'HEAD', path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Answer> {
    const transport = target.protocol === 'https:' ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      const req = transport.request(
        { method, hostname: target.hostname, port: target.port, path, headers, agent: this.agents[target.protocol], timeout: this.requestTimeoutMs },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            res.resume();
            res.on('end', () => resolve({ status, headers: res.headers, body: '' }));
          } else {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          }
          res.on('error', reject);
        },
      );
      // The whole exchange, not just idle time, is bounded: a trickling answer times out too.
      const operation = method === 'PUT' ? 'PutObject' : 'HeadObject';
      const timer = setTimeout(() => req.destroy(timeoutError(operation, this.requestTimeoutMs)), this.requestTimeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('timeout', () => req.destroy(timeoutError(operation, this.requestTimeoutMs)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Each path segment as the SDK's serializer encodes it (RFC 3986 unreserved kept, `/` kept). */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/** CRC32 as S3's `x-amz-checksum-crc32` wants it: the big-endian 4 bytes, base64. */
function crc32Base64(bytes: Buffer): string {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(zlib.crc32(bytes) >>> 0);
  return out.toString('base64');
}

function timeoutError(operation: string, ms: number): Error {
  return Object.assign(new Error(`${operation} was not answered within ${ms} ms (request timeout)`), { name: 'TimeoutError', code: 'ETIMEDOUT' });
}

/** The SDK's classification of an error for its retry strategy (retryMiddleware's getRetryErrorType). */
function retryErrorType(err: SdkError): RetryErrorType {
  if (isThrottlingError(err)) return 'THROTTLING';
  if (isTransientError(err)) return 'TRANSIENT';
  if (isServerError(err)) return 'SERVER_ERROR';
  return 'CLIENT_ERROR';
}

function retryAfterOf(err: unknown): Date | undefined {
  const value = (err as { $response?: { headers?: Record<string, string | string[] | undefined> } }).$response?.headers?.['retry-after'];
  if (typeof value !== 'string') return undefined;
  const seconds = value.endsWith('GMT') ? (Date.parse(value) - Date.now()) / 1000 : Number(value);
  return Number.isFinite(seconds) ? new Date(Date.now() + Math.max(0, seconds) * 1000) : undefined;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function xmlText(body: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(body);
  return match?.[1].replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => XML_ENTITIES[name]);
}

/** S3's error answer as the SDK would throw it: name = S3's Code, its Message, status and request ids. */
function s3Error(answer: Answer, attempts: number, totalRetryDelay: number, offsetBefore: number | undefined, offsetAfter: number): S3ServiceException {
  const code = xmlText(answer.body, 'Code') ?? (answer.status === 404 ? 'NotFound' : `Http${answer.status}`);
  const header = (name: string) => (typeof answer.headers[name] === 'string' ? (answer.headers[name] as string) : undefined);
  const error = new S3ServiceException({
    name: code,
    $fault: answer.status >= 500 ? 'server' : 'client',
    message: xmlText(answer.body, 'Message') ?? code,
    $metadata: {
      httpStatusCode: answer.status,
      requestId: xmlText(answer.body, 'RequestId') ?? header('x-amz-request-id'),
      extendedRequestId: xmlText(answer.body, 'HostId') ?? header('x-amz-id-2'),
      attempts,
      totalRetryDelay,
    },
  });
  // As the SDK's signer: a skew of 4 minutes or more that this answer corrected makes the error retryable.
  if (offsetBefore !== undefined && Math.abs(offsetAfter) >= 240_000 && offsetAfter !== offsetBefore) (error.$metadata as { clockSkewCorrected?: boolean }).clockSkewCorrected = true;
  Object.defineProperty(error, '$response', { value: { statusCode: answer.status, headers: answer.headers }, enumerable: false });
  return error;
}
