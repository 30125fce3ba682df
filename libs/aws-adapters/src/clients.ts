import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { customEndpoint, localCredentials, maxAttemptsOf, regionOf, type Env } from './endpoints';
import { pooledSqsJsonProtocol, releaseRequestBodies, RequestBodyPool, SqsStringJsonProtocol } from './sqs-protocol';

/**
 * S3 client honouring `AWS_ENDPOINT_URL(_S3)` and `AWS_REGION`. With a custom endpoint
 * (s3rver, MinIO, LocalStack) it uses path-style addressing and computes checksums only when an
 * operation requires them: s3rver stores aws-chunked frames verbatim otherwise (PITFALLS #1).
 *
 * `cacheMiddleware` (the SDK's own option, off by default) resolves each command class's
 * middleware stack once instead of on every call; the SDK rebuilt it per PutObject, a tenth of a
 * small PutObject's CPU. Only for a client whose middleware stack nobody changes after its first
 * call (a function's module-level client); changes made later are not seen.
 * @example
 * const s3 = createS3Client();            // real AWS, default credential chain
 * const local = createS3Client({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4568', AWS_REGION: 'us-east-1' });
 * const writer = createS3Client(process.env, { cacheMiddleware: true });
 */
export function createS3Client(env: Env = process.env, options: { cacheMiddleware?: boolean } = {}): S3Client {
  const endpoint = customEndpoint(env, 'S3');
  return new S3Client({
    region: regionOf(env),
    maxAttempts: maxAttemptsOf(env),
    ...(options.cacheMiddleware && { cacheMiddleware: true }),
    ...(endpoint && {
      endpoint,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    ...localCredentials(env, endpoint),
  });
}

/**
 * SQS client honouring `AWS_ENDPOINT_URL(_SQS)` and `AWS_REGION`. Request bodies are written by
 * `JSON.stringify` ({@link SqsStringJsonProtocol}): the same bytes as the SDK's default
 * serializer, several times less CPU for large message bodies. `overrides` replace the request
 * handler (the transport) or the MD5 checks of sent and received bodies, or turn on
 * `cacheMiddleware` (as for {@link createS3Client}: only for a client whose middleware stack
 * nobody changes after its first call): resolving the stack was about a third of the client's
 * own CPU for a SendMessageBatch of ten one-ride bodies (serialising and signing included), and
 * one ride per message makes one such call per ten rides.
 *
 * `reuseRequestBodies` writes each request body into a buffer the client reuses after a
 * successful call ({@link RequestBodyPool}) instead of a fresh one per call: for a sender of
 * ~1 MB SendMessageBatch calls (the ingest). Only with a transport that is done with the body
 * once the call has returned (the SDK's HTTP handler is), not one that keeps the bytes.
 * @example
 * const sqs = createSqsClient({ AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324', AWS_REGION: 'us-east-1' });
 * const sender = createSqsClient(process.env, { cacheMiddleware: true, reuseRequestBodies: true });
 */
export function createSqsClient(
  env: Env = process.env,
  overrides: Pick<SQSClientConfig, 'requestHandler' | 'md5' | 'cacheMiddleware'> & { reuseRequestBodies?: boolean } = {},
): SQSClient {
  const { reuseRequestBodies, ...config } = overrides;
  const endpoint = customEndpoint(env, 'SQS');
  const pool = reuseRequestBodies ? new RequestBodyPool() : undefined;
  const client = new SQSClient({
    region: regionOf(env),
    maxAttempts: maxAttemptsOf(env),
    protocol: pool ? pooledSqsJsonProtocol(pool) : SqsStringJsonProtocol,
    ...(endpoint && { endpoint }),
    ...localCredentials(env, endpoint),
    ...config,
  });
  if (pool) client.middlewareStack.add(releaseRequestBodies(pool), { step: 'build', name: 'releaseRequestBodies' });
  return client;
}
