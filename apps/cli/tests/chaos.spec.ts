import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageBatchCommand, CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_MAX_ATTEMPTS, createS3Client, createSqsClient, putObject } from '@rydes/aws-adapters';
import { startFaultProxy, startLocalServers, type FaultProxy, type LocalServers } from '@rydes/local-aws';
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { FAULTS, FaultInjector, parseChaos, type Fault, type FaultSource } from '../src/chaos/spec';
import { InvalidOptionError } from '../src/errors';

const BUCKET = 'chaos-spec';

/** A FaultSource that strikes exactly the listed opportunities of each kind (1-based). */
function scripted(strikes: Partial<Record<Fault, number[]>>, poisonedKeys: string[] = []): FaultSource & { seen: Record<string, number> } {
  const seen: Record<string, number> = {};
  return {
    seen,
    strike(fault) {
      seen[fault] = (seen[fault] ?? 0) + 1;
      return strikes[fault]?.includes(seen[fault]) ?? false;
    },
    poisoned: (key) => poisonedKeys.includes(key),
  };
}

function decisions(injector: FaultInjector, fault: Fault, count: number): boolean[] {
  return Array.from({ length: count }, () => injector.strike(fault));
}

async function readAll(body: unknown): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body as Readable) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('parseChaos', () => {
  it('reads NAME=RATE pairs and the seed, every other fault at 0 and seed 1 by default', () => {
    const spec = parseChaos('s3-put-error=0.1, transform-crash=0.05');
    expect(spec.seed).toBe(1);
    expect(spec.rates['s3-put-error']).toBe(0.1);
    expect(spec.rates['transform-crash']).toBe(0.05);
    expect(Object.keys(spec.rates).sort()).toEqual([...FAULTS].sort());
    for (const fault of FAULTS.filter((f) => f !== 's3-put-error' && f !== 'transform-crash')) expect(spec.rates[fault]).toBe(0);
    expect(parseChaos('poison-message=1,seed=-42')).toMatchObject({ seed: -42, rates: { 'poison-message': 1 } });
  });

  it.each([
    ['s3-put-eror=0.1', 's3-put-eror=0.1'],
    ['s3-put-error=1.5', 's3-put-error=1.5'],
    ['s3-put-error=-0.1', 's3-put-error=-0.1'],
    ['s3-put-error=', 's3-put-error='],
    ['transform-crash', 'transform-crash'],
    ['seed=1.5', 'seed=1.5'],
    ['seed=', 'seed='],
    ['s3-get-error=0.1,seed=x', 'seed=x'],
  ])('rejects %s with an error naming the part %s and what is expected', (text, part) => {
    const parse = () => parseChaos(text);
    expect(parse).toThrow(InvalidOptionError);
    expect(parse).toThrow(`--chaos ${JSON.stringify(part)}: expected NAME=RATE with NAME one of ${FAULTS.join(', ')}`);
  });
});

describe('FaultInjector', () => {
  const spec = parseChaos('s3-put-error=0.3,sqs-send-error=0.3,seed=7');

  it('makes the same decisions for the same seed and different ones for another seed', () => {
    const a = decisions(new FaultInjector(spec), 's3-put-error', 200);
    const b = decisions(new FaultInjector(spec), 's3-put-error', 200);
    const c = decisions(new FaultInjector(parseChaos('s3-put-error=0.3,seed=8')), 's3-put-error', 200);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("gives each kind its own stream: another kind's opportunities in between change nothing", () => {
    const alone = decisions(new FaultInjector(spec), 's3-put-error', 100);
    const mixed = new FaultInjector(spec);
    const interleaved = Array.from({ length: 100 }, (_, i) => {
      for (let k = 0; k < i % 3; k++) mixed.strike('sqs-send-error');
      return mixed.strike('s3-put-error');
    });
    expect(interleaved).toEqual(alone);
  });

  it('strikes about RATE of the opportunities and counts exactly the strikes', () => {
    const injector = new FaultInjector(spec);
    const struck = decisions(injector, 's3-put-error', 10_000).filter(Boolean).length;
    expect(injector.injected['s3-put-error']).toBe(struck);
    expect(struck / 10_000).toBeGreaterThan(0.28);
    expect(struck / 10_000).toBeLessThan(0.32);
    expect(decisions(injector, 'transform-crash', 1000).some(Boolean)).toBe(false);
    expect(injector.injected['transform-crash']).toBe(0);
    expect(decisions(new FaultInjector(parseChaos('transform-crash=1')), 'transform-crash', 50).every(Boolean)).toBe(true);
  });

  it('poisons a key for good, from the seed and the key alone, and counts it once', () => {
    const poison = parseChaos('poison-message=0.2,seed=3');
    const keys = Array.from({ length: 1000 }, (_, i) => `processed/rides-0badc0de-${String(i).padStart(6, '0')}.csv`);
    const first = new FaultInjector(poison);
    const poisoned = keys.filter((k) => first.poisoned(k));
    // Asked again, in another order, by another injector with the same spec: the same keys.
    const second = new FaultInjector(poison);
    expect([...keys].reverse().filter((k) => second.poisoned(k)).reverse()).toEqual(poisoned);
    expect(keys.filter((k) => first.poisoned(k))).toEqual(poisoned);
    expect(first.injected['poison-message']).toBe(poisoned.length);
    expect(poisoned.length).toBeGreaterThan(150);
    expect(poisoned.length).toBeLessThan(250);
    expect(keys.filter((k) => new FaultInjector(parseChaos('poison-message=0.2,seed=4')).poisoned(k))).not.toEqual(poisoned);
  });
});

describe('fault proxy in front of real s3rver and local-aws-sqs', () => {
  let servers: LocalServers;
  const opened: Array<{ destroy(): void }> = [];
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    servers = await startLocalServers({ buckets: [BUCKET] });
  });
  afterEach(async () => {
    for (const client of opened.splice(0)) client.destroy();
    for (const proxy of proxies.splice(0)) await proxy.close();
  });
  afterAll(() => servers.close());

  async function s3Through(faults: FaultSource): Promise<{ proxy: FaultProxy; s3: S3Client }> {
    const proxy = await startFaultProxy('S3', servers.s3Endpoint, faults);
    proxies.push(proxy);
    const s3 = createS3Client({ ...servers.env, AWS_ENDPOINT_URL_S3: proxy.url });
    opened.push(s3);
    return { proxy, s3 };
  }

  it('answers a struck PutObject with 503 and lets the SDK retry succeed', async () => {
    // Prepare
    const faults = scripted({ 's3-put-error': [1] });
    const { proxy, s3 } = await s3Through(faults);
    // Act
    const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'retried.txt', Body: 'second time lucky' }));
    // Assess
    expect(out.$metadata.attempts).toBe(2);
    expect(faults.seen['s3-put-error']).toBe(2);
    expect(proxy.stats.retries).toBe(1);
    expect(proxy.stats.requests.PUT).toBe(2);
    const direct = createS3Client(servers.env);
    opened.push(direct);
    const { Body } = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'retried.txt' }));
    expect((await readAll(Body)).toString()).toBe('second time lucky');
  });

  it(`gives up like the SDK does when every attempt is struck (${DEFAULT_MAX_ATTEMPTS} attempts, ${DEFAULT_MAX_ATTEMPTS - 1} retries)`, async () => {
    const struck = Array.from({ length: DEFAULT_MAX_ATTEMPTS }, (_, i) => i + 1);
    const { proxy, s3 } = await s3Through(scripted({ 's3-get-error': struck }));
    const get = s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'whatever.txt' }));
    await expect(get).rejects.toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503, attempts: DEFAULT_MAX_ATTEMPTS } });
    expect(proxy.stats.retries).toBe(DEFAULT_MAX_ATTEMPTS - 1);
  });

  it('refuses every PutObject of a poisoned processed/ key with 403, which the SDK does not retry', async () => {
    const key = 'processed/rides-0badc0de-000003.csv';
    const { proxy, s3 } = await s3Through(scripted({}, [key]));
    for (let i = 0; i < 3; i++) {
      await expect(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'a,b\n' }))).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    }
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'processed/rides-0badc0de-000004.csv', Body: 'a,b\n' }));
    expect(proxy.stats.retries).toBe(0);
  });

  it('stores exactly the bytes sent: buffered PutObject and a streamed multipart upload round-trip byte for byte', async () => {
    // Prepare
    const { proxy, s3 } = await s3Through(scripted({}));
    const direct = createS3Client(servers.env);
    opened.push(direct);
    const small = randomBytes(1_200_000);
    const large = randomBytes(12 * 1024 * 1024 + 12_345);
    // Act
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bytes/small.bin', Body: small }));
    const { etag } = await putObject(s3, BUCKET, 'bytes/large.bin', Readable.from([large.subarray(0, 7_000_000), large.subarray(7_000_000)]));
    // Assess: read back both through the proxy and directly.
    for (const [key, bytes] of [['bytes/small.bin', small], ['bytes/large.bin', large]] as const) {
      const viaProxy = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect((await readAll(viaProxy.Body)).equals(bytes)).toBe(true);
      const viaServer = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect((await readAll(viaServer.Body)).equals(bytes)).toBe(true);
    }
    const head = await direct.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'bytes/large.bin' }));
    expect(head.ETag).toBe(etag);
    // One PutObject, then CreateMultipartUpload, 3 parts of 5 MiB or less, CompleteMultipartUpload.
    expect(proxy.stats.requests).toMatchObject({ PUT: 4, POST: 2 });
  });

  it('answers a struck SendMessageBatch with 503; the SDK retry puts every entry on the queue once', async () => {
    // Prepare
    const faults = scripted({ 'sqs-send-error': [1] });
    const proxy = await startFaultProxy('SQS', servers.sqsEndpoint, faults);
    proxies.push(proxy);
    const sqs: SQSClient = createSqsClient({ ...servers.env, AWS_ENDPOINT_URL_SQS: proxy.url });
    const direct = createSqsClient(servers.env);
    opened.push(sqs, direct);
    const { QueueUrl } = await direct.send(new CreateQueueCommand({ QueueName: 'chaos-spec' }));
    // Act
    const out = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl, Entries: ['a', 'b', 'c'].map((body, i) => ({ Id: `m${i}`, MessageBody: body })) }),
    );
    // Assess
    expect(out.Successful).toHaveLength(3);
    expect(out.$metadata.attempts).toBe(2);
    expect(proxy.stats.retries).toBe(1);
    expect(proxy.stats.requests).toEqual({ SendMessageBatch: 2 });
    const { Messages = [] } = await direct.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(Messages.map((m) => m.Body).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('fault proxy forwarding', () => {
  it('passes header lines in order, case and number, the status line and the body both ways, and leaves nothing open', async () => {
    // Prepare: an upstream that echoes what it received, with its own odd headers.
    const upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(207, 'Partly Fine', ['X-Upstream', 'one', 'x-upstream', 'two', 'Content-Type', 'application/json']);
        res.end(JSON.stringify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('base64') }));
      });
    });
    const fromProxy: Socket[] = [];
    upstream.on('connection', (socket: Socket) => fromProxy.push(socket));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const proxy = await startFaultProxy('S3', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, scripted({}));
    const body = randomBytes(300_000);
    const host = new URL(proxy.url).host;
    // Keep-alive on both legs, as the SDK clients do: the proxy must end its upstream connection itself.
    const client = new Agent({ keepAlive: true });
    // Act
    const reply = await new Promise<{ status: number; message: string; rawHeaders: string[]; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = request(
        `${proxy.url}/bucket/some%20key?partNumber=2&uploadId=abc`,
        { method: 'PUT', agent: client, headers: ['Host', host, 'X-Amz-Meta-Case', 'Kept', 'x-dup', 'a', 'X-Dup', 'b', 'Content-Length', String(body.length)] },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, message: res.statusMessage ?? '', rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(parts).toString() }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    client.destroy();
    await proxy.close();
    // Its keep-alive connection to the upstream ends with it (else this waits into the test timeout).
    await Promise.all(fromProxy.map((socket) => socket.closed || once(socket, 'close')));
    const refused = await new Promise<string>((resolve) => {
      connect(Number(new URL(proxy.url).port), '127.0.0.1')
        .on('connect', function (this: Socket) {
          this.destroy();
          resolve('connected');
        })
        .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    // Assess
    expect(reply.status).toBe(207);
    expect(reply.message).toBe('Partly Fine');
    expect(reply.rawHeaders.slice(0, 6)).toEqual(['X-Upstream', 'one', 'x-upstream', 'two', 'Content-Type', 'application/json']);
    const seen = JSON.parse(reply.body) as { method: string; url: string; rawHeaders: string[]; body: string };
    expect(seen.method).toBe('PUT');
    expect(seen.url).toBe('/bucket/some%20key?partNumber=2&uploadId=abc');
    expect(seen.rawHeaders.slice(0, 10)).toEqual(['Host', host, 'X-Amz-Meta-Case', 'Kept', 'x-dup', 'a', 'X-Dup', 'b', 'Content-Length', String(body.length)]);
    expect(Buffer.from(seen.body, 'base64').equals(body)).toBe(true);
    expect(fromProxy).toHaveLength(1);
    expect(refused).toBe('ECONNREFUSED');
  });
});
