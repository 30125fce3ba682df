import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startFaultProxy, startLocalServers, type LocalServers } from '@rydes/local-aws';
import { awsErrorOf, countRequests, createObjectWriter, createS3Client, currentEtag, isNoSuchKey, openObject, putObject, S3ObjectError, type ObjectWriter } from '../src';

const BUCKET = 'adapters-writer';
const CSV = 'text/csv; charset=utf-8';

/** One request as a front saw it: method, raw path, headers, body, and whether its SigV4 signature verified. */
interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  signatureValid: boolean;
}

/**
 * Signature V4 checked from scratch (node's crypto, not the SDK's signer) on the request as it
 * arrived: canonical request from the raw path and the signed headers, the payload hash against
 * the body, the signature against the secret key.
 */
function verifySigV4(req: IncomingMessage, body: Buffer, secret: string): boolean {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(String(req.headers.authorization));
  if (!auth) return false;
  const [, , day, region, service, signedHeaders, signature] = auth;
  const payloadHash = String(req.headers['x-amz-content-sha256']);
  if (payloadHash !== createHash('sha256').update(body).digest('hex')) return false;
  const [path, query = ''] = (req.url ?? '/').split('?');
  const canonicalQuery = query.split('&').filter(Boolean).sort().join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((name) => `${name}:${String(req.headers[name]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const amzDate = String(req.headers['x-amz-date']);
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(day).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

/** A front that records (and verifies) every request, then forwards it untouched to `upstream`. */
async function recordingFront(upstream: string, secret: string): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const target = new URL(upstream);
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, signatureValid: verifySigV4(req, body, secret) });
      const up = request({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.rawHeaders }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      });
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('createObjectWriter: PutObject through node http, against s3rver behind our strict front', () => {
  let local: LocalServers;
  let s3: S3Client;
  beforeAll(async () => {
    local = await startLocalServers({ buckets: [BUCKET] });
    s3 = createS3Client(local.env);
  });
  afterAll(async () => {
    s3.destroy();
    await local.close();
  });

  const secret = () => local.env.AWS_SECRET_ACCESS_KEY ?? '';
  async function readAll(key: string): Promise<Buffer> {
    const { body } = await openObject(s3, BUCKET, key);
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  it('stores the same bytes, content type and ETag as the SDK PutObject, with a signature that verifies and the same path encoding', async () => {
    // Prepare: the SDK client and the writer, both through a recording, verifying front
    const front = await recordingFront(local.s3Endpoint, secret());
    const client = createS3Client({ ...local.env, AWS_ENDPOINT_URL_S3: front.url });
    const writer = createObjectWriter(client);
    const body = Buffer.from('ride_index,groundstation\n0,"US W, ""x"""\n1,é\n', 'utf8');
    const keys = { sdk: 'processed/sdk/a b+c (1)*é!.csv', lean: 'processed/lean/a b+c (1)*é!.csv' };
    try {
      // Act
      const sdk = await putObject(client, BUCKET, keys.sdk, body, CSV);
      const lean = await writer.put(BUCKET, keys.lean, body, CSV);
      const text = await writer.put(BUCKET, 'processed/lean/text.csv', body.toString('utf8'), CSV);
      // Assess: the wire
      const [sdkReq, leanReq, textReq] = front.seen;
      expect(front.seen.map((s) => s.signatureValid)).toEqual([true, true, true]);
      expect(leanReq.path).toBe(sdkReq.path.replace('/sdk/', '/lean/').replace('?x-id=PutObject', ''));
      expect(leanReq.path).toBe(`/${BUCKET}/processed/lean/a%20b%2Bc%20%281%29%2A%C3%A9%21.csv`);
      for (const name of ['content-type', 'content-length', 'x-amz-content-sha256', 'host']) expect(leanReq.headers[name]).toBe(sdkReq.headers[name]);
      expect(leanReq.headers['amz-sdk-request']).toBe('attempt=1; max=5');
      expect(leanReq.headers['x-amz-checksum-crc32']).toBeUndefined(); // WHEN_REQUIRED under a custom endpoint, as the SDK
      expect(textReq.body.equals(body)).toBe(true);
      // Assess: the objects
      expect(lean.etag).toBe(sdk.etag);
      expect(text.etag).toBe(sdk.etag);
      expect((await readAll(keys.lean)).equals(body)).toBe(true);
      const [headSdk, headLean] = await Promise.all([keys.sdk, keys.lean].map((Key) => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key }))));
      expect({ type: headLean.ContentType, length: headLean.ContentLength, etag: headLean.ETag }).toEqual({ type: headSdk.ContentType, length: headSdk.ContentLength, etag: headSdk.ETag });
      expect(headLean.ContentType).toBe(CSV);
    } finally {
      writer.destroy();
      client.destroy();
      await front.close();
    }
  });

  it('sends the CRC32 integrity header the SDK sends when checksums are WHEN_SUPPORTED (AWS defaults), the same value', async () => {
    const front = await recordingFront(local.s3Endpoint, secret());
    const client = new S3Client({
      endpoint: front.url,
      forcePathStyle: true,
      region: local.region,
      credentials: { accessKeyId: local.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: secret() },
      requestChecksumCalculation: 'WHEN_SUPPORTED',
    });
    const writer = createObjectWriter(client);
    const body = randomBytes(4096);
    try {
      await putObject(client, BUCKET, 'crc/sdk.bin', body);
      await writer.put(BUCKET, 'crc/lean.bin', body);
      const [sdkReq, leanReq] = front.seen;
      expect(sdkReq.headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
      expect(leanReq.headers['x-amz-checksum-crc32']).toBe(sdkReq.headers['x-amz-checksum-crc32']);
      expect(leanReq.headers['x-amz-sdk-checksum-algorithm']).toBe('CRC32');
      expect(leanReq.signatureValid).toBe(true);
      expect(String(leanReq.headers.authorization)).toContain('x-amz-checksum-crc32');
      expect((await readAll('crc/lean.bin')).equals(body)).toBe(true);
    } finally {
      writer.destroy();
      client.destroy();
      await front.close();
    }
  });

  it('retries a 503 as the SDK does (backoff, attempt header) and succeeds; gives up after maxAttempts with S3 code and status', async () => {
    // Prepare: a fault proxy answering 503 SlowDown-style errors to the first two PUTs, then to every PUT
    let failures = 2;
    const proxy = await startFaultProxy('S3', local.s3Endpoint, { strike: () => failures-- > 0, poisoned: () => false });
    const client = createS3Client({ ...local.env, AWS_ENDPOINT_URL_S3: proxy.url, AWS_MAX_ATTEMPTS: '3' });
    const writer = createObjectWriter(client);
    const counts = countRequests(writer);
    try {
      // Act + assess: two 503s, then stored
      const { etag } = await writer.put(BUCKET, 'retry/ok.csv', 'a,b\n', CSV);
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(counts).toEqual({ PutObjectCommand: 3 });
      expect(proxy.stats).toEqual({ requests: { PUT: 3 }, retries: 2 });
      expect((await readAll('retry/ok.csv')).toString()).toBe('a,b\n');
      // Act + assess: every attempt refused
      failures = Infinity;
      const error = await writer.put(BUCKET, 'retry/never.csv', 'a,b\n', CSV).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(S3ObjectError);
      expect((error as Error).message).toMatch(/^PutObject s3:\/\/adapters-writer\/retry\/never\.csv failed: ServiceUnavailable: rydes --chaos: injected transient fault/);
      expect(awsErrorOf(error)).toEqual({ status: 503, name: 'ServiceUnavailable' });
      expect(((error as S3ObjectError).cause as { $metadata: { attempts: number } }).$metadata.attempts).toBe(3);
      expect(counts).toEqual({ PutObjectCommand: 6 });
    } finally {
      writer.destroy();
      client.destroy();
      await proxy.close();
    }
  });

  it('surfaces S3 error codes and does not retry client errors: NoSuchBucket from the local S3, AccessDenied once', async () => {
    const proxy = await startFaultProxy('S3', local.s3Endpoint, { strike: () => false, poisoned: (key) => key.includes('poison') });
    const client = createS3Client({ ...local.env, AWS_ENDPOINT_URL_S3: proxy.url });
    const writer = createObjectWriter(client);
    try {
      const missing = await writer.put('no-such-bucket-here', 'processed/x.csv', 'a\n', CSV).catch((err: unknown) => err);
      expect(missing).toBeInstanceOf(S3ObjectError);
      expect(awsErrorOf(missing)).toEqual({ status: 404, name: 'NoSuchBucket' });
      expect(isNoSuchKey(missing)).toBe(false);
      expect((missing as Error).message).toContain('NoSuchBucket: The specified bucket does not exist');
      const denied = await writer.put(BUCKET, 'processed/poison-000001.csv', 'a\n', CSV).catch((err: unknown) => err);
      expect(awsErrorOf(denied)).toEqual({ status: 403, name: 'AccessDenied' });
      expect(proxy.stats.requests).toEqual({ PUT: 2 });
    } finally {
      writer.destroy();
      client.destroy();
      await proxy.close();
    }
  });

  it('times out a request that is never answered, retries it, and fails with TimeoutError once the attempts are spent', async () => {
    // A server that reads the request and never answers.
    let received = 0;
    const silent = createServer((req) => {
      received++;
      req.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const client = createS3Client({ ...local.env, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, AWS_MAX_ATTEMPTS: '2' });
    const writer = createObjectWriter(client, { requestTimeoutMs: 200 });
    try {
      const error = await writer.put(BUCKET, 'processed/slow.csv', 'a\n', CSV).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(S3ObjectError);
      expect((error as Error).message).toContain('TimeoutError: PutObject was not answered within 200 ms');
      expect(received).toBe(2);
    } finally {
      writer.destroy();
      client.destroy();
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('headEtag reads the ETag the SDK HeadObject reads (signed, counted as HeadObjectCommand), undefined for a missing key', async () => {
    // Prepare: the SDK client and the writer, both through a recording, verifying front
    const front = await recordingFront(local.s3Endpoint, secret());
    const client = createS3Client({ ...local.env, AWS_ENDPOINT_URL_S3: front.url });
    const writer = createObjectWriter(client);
    const counts = countRequests(writer);
    const key = 'raw/a b+c (1)*é!.json';
    try {
      await putObject(s3, BUCKET, key, '[{"ride":1}]\n');
      // Act
      const [sdk, lean] = [await currentEtag(client, BUCKET, key), await writer.headEtag(BUCKET, key)];
      const [sdkMissing, leanMissing] = [await currentEtag(client, BUCKET, 'raw/none.json'), await writer.headEtag(BUCKET, 'raw/none.json')];
      // Assess
      expect(lean).toMatch(/^"[0-9a-f]{32}"$/);
      expect(lean).toBe(sdk);
      expect([sdkMissing, leanMissing]).toEqual([undefined, undefined]);
      expect(counts).toEqual({ HeadObjectCommand: 2 });
      const [sdkReq, leanReq] = front.seen;
      expect(front.seen.map((r) => [r.method, r.signatureValid])).toEqual([['HEAD', true], ['HEAD', true], ['HEAD', true], ['HEAD', true]]);
      expect(leanReq.path).toBe(sdkReq.path.replace('?x-id=HeadObject', ''));
      for (const name of ['x-amz-content-sha256', 'host']) expect(leanReq.headers[name]).toBe(sdkReq.headers[name]);
    } finally {
      writer.destroy();
      client.destroy();
      await front.close();
    }
  });

  it('headEtag retries a 503 as the SDK does and gives up with S3ObjectError(HeadObject) and the status', async () => {
    // A front that refuses every HEAD with a bodiless 503.
    let heads = 0;
    const refusing = createServer((req, res) => {
      heads++;
      req.resume();
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const client = createS3Client({ ...local.env, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`, AWS_MAX_ATTEMPTS: '3' });
    const writer = createObjectWriter(client);
    try {
      const error = await writer.headEtag(BUCKET, 'raw/x.json').catch((err: unknown) => err);
      expect(error).toBeInstanceOf(S3ObjectError);
      expect((error as Error).message).toMatch(/^HeadObject s3:\/\/adapters-writer\/raw\/x\.json failed/);
      expect(awsErrorOf(error).status).toBe(503);
      expect(heads).toBe(3);
    } finally {
      writer.destroy();
      client.destroy();
      refusing.closeAllConnections();
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
    }
  });

  it('leaves bodies over 1 MiB to the SDK client (counted there, not by the writer)', async () => {
    const client = createS3Client(local.env);
    const sdkCounts = countRequests(client);
    const writer: ObjectWriter = createObjectWriter(client);
    const writerCounts = countRequests(writer);
    const body = randomBytes(1024 * 1024 + 1);
    try {
      await writer.put(BUCKET, 'big/over.bin', body);
      expect(sdkCounts).toEqual({ PutObjectCommand: 1 });
      expect(writerCounts).toEqual({});
      expect((await readAll('big/over.bin')).equals(body)).toBe(true);
    } finally {
      writer.destroy();
      client.destroy();
    }
  });
});
