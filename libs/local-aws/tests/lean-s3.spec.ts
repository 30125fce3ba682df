import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as stream from 'node:stream';
import type S3rver from 's3rver';
import { installLeanIds, installLeanRequests } from '../src/lean-s3';
import { strictConditionalRequests } from '../src/strict-s3';

const lib = path.dirname(require.resolve('s3rver'));
installLeanIds(require(path.join(lib, 'utils')), crypto);
const S3rverClass = require('s3rver') as typeof S3rver;

/** What a request did: the answer (status, headers but Date, body) and the requests the Koa chain saw. */
interface Seen {
  status?: number;
  headers?: Record<string, string>;
  error?: string;
}

/**
 * An s3rver with the lean requests and the strict front installed as servers.ts installs them,
 * with (`fast`) or without s3rver's account and event classes (without them every request goes
 * through Koa), and a probe first in its Koa chain that records every request the chain sees.
 */
async function startS3(fast: boolean) {
  const directory = fs.mkdtempSync(path.join(tmpdir(), 'rydes-lean-spec-'));
  const app = new S3rverClass({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: 'rides-lean', configs: [] }] });
  const models = { AWSAccount: require(path.join(lib, 'models', 'account')), S3Event: require(path.join(lib, 'models', 'event')) };
  installLeanRequests(app as unknown as Parameters<typeof installLeanRequests>[0], require(path.join(lib, 'stores', 'filesystem')), require(path.join(lib, 'models', 'object')), { fs, path, crypto, stream }, fast ? models : undefined);
  (app as unknown as { middleware: unknown[] }).middleware.unshift(strictConditionalRequests);
  const chain: string[] = [];
  (app as unknown as { middleware: unknown[] }).middleware.unshift((ctx: { method: string; path: string }, next: () => Promise<void>) => {
    chain.push(`${ctx.method} ${ctx.path}`);
    return next();
  });
  const events: unknown[] = [];
  (app as unknown as { on(name: string, listener: (event: unknown) => void): void }).on('event', (event) => events.push(event));
  const { port } = (await app.run()) as unknown as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = (extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}) => {
    const s3 = new S3Client({
      endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1, ...extra,
    });
    return s3;
  };
  const s3 = client();
  /** Sends a PutObject and returns its raw answer (or the SDK's error name). */
  const put = async (input: PutObjectCommandInput, s3Client = s3): Promise<Seen> => {
    const seen: Seen = {};
    const command = new PutObjectCommand(input);
    command.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const response = out.response as { statusCode: number; headers: Record<string, string> };
        seen.status = response.statusCode;
        seen.headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => name !== 'date'));
        return out;
      },
      { step: 'deserialize', priority: 'low' },
    );
    try {
      await s3Client.send(command);
    } catch (err) {
      const e = err as Error & { $metadata?: { httpStatusCode?: number } };
      seen.status = e.$metadata?.httpStatusCode;
      seen.error = e.name;
    }
    return seen;
  };
  /** An object's files as s3rver keeps them (no .md5 for one up to 1 MiB: lean-s3.ts). */
  const files = (key: string) => {
    const base = path.join(directory, 'rides-lean', `${key}._S3rver_object`);
    return [base, `${base}.md5`, `${base.slice(0, -'object'.length)}metadata.json`].map((file) => (fs.existsSync(file) ? fs.readFileSync(file).toString('base64') : 'missing'));
  };
  return {
    endpoint, chain, events, put, files, client, s3, directory,
    async close() {
      s3.destroy();
      await app.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * A signed PUT of `path` (the form the fast path takes; s3rver does not check v4 signatures) that
 * promises `promised` bytes, sends `sent` and hangs up: its answer's status, if any came.
 */
function hangUpMidBody(endpoint: string, target: string, promised: number, sent: number): Promise<number | undefined> {
  const { hostname, port } = new URL(endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d+/g, '');
  return new Promise<number | undefined>((resolve) => {
    const req = httpRequest({
      hostname, port, method: 'PUT', path: `${target}?x-id=PutObject`,
      headers: {
        'content-length': String(promised), 'x-amz-date': amzDate, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        authorization: `AWS4-HMAC-SHA256 Credential=S3RVER/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
      },
    });
    req.on('response', (res) => resolve(res.statusCode));
    req.on('error', () => resolve(undefined));
    req.write(Buffer.alloc(sent, 120), () => setTimeout(() => {
      req.destroy();
      resolve(undefined);
    }, 200));
  });
}

/** An object event without what differs between two runs by design (random ids, times, the host's hash). */
function stable(event: unknown) {
  const e = structuredClone(event) as { Records: Array<Record<string, unknown> & { s3: { bucket: Record<string, unknown>; object: Record<string, unknown> } }> };
  for (const r of e.Records) {
    for (const field of ['eventTime', 'userIdentity', 'responseElements']) r[field] = typeof r[field];
    r.s3.bucket.ownerIdentity = typeof r.s3.bucket.ownerIdentity;
    r.s3.object.sequencer = typeof r.s3.object.sequencer;
  }
  return e;
}

describe('the local S3 answers a plain PutObject in front of s3rver\'s Koa chain', () => {
  let fast: Awaited<ReturnType<typeof startS3>>;
  let koa: Awaited<ReturnType<typeof startS3>>;
  beforeAll(async () => {
    [fast, koa] = await Promise.all([startS3(true), startS3(false)]);
  });
  afterAll(async () => {
    await Promise.all([fast.close(), koa.close()]);
  });

  it('with the same answer, the same files (no .md5 up to 1 MiB) and the same event as the chain, and without the chain seeing it', async () => {
    // Prepare: content headers, user metadata, an encoded key, no content type, empty and streamed (> 1 MiB) bodies
    const inputs: PutObjectCommandInput[] = [
      { Bucket: 'rides-lean', Key: 'processed/a b+é-000001.csv', Body: 'distance,name\n1.5,a\n', ContentType: 'text/csv; charset=utf-8', CacheControl: 'no-cache', ContentDisposition: 'inline', ContentEncoding: 'identity', ContentLanguage: 'en', Metadata: { run: '7', who: 'spec' } },
      { Bucket: 'rides-lean', Key: 'top', Body: new Uint8Array([0, 1, 2, 255]) },
      { Bucket: 'rides-lean', Key: 'deep/er/empty.csv', Body: '' },
      { Bucket: 'rides-lean', Key: 'big/3mb.bin', Body: crypto.randomBytes(3_000_000) },
    ];

    // Act
    const answers = [];
    for (const input of inputs) answers.push([await fast.put(input), await koa.put(input)]);

    // Assess
    for (const [viaFast, viaKoa] of answers) {
      expect(viaFast.status).toBe(200);
      expect(viaFast).toEqual(viaKoa);
    }
    for (const { Key } of inputs) expect(fast.files(Key as string)).toEqual(koa.files(Key as string));
    expect(fast.events.map(stable)).toEqual(koa.events.map(stable));
    expect(fast.events).toHaveLength(inputs.length);
    expect(fast.chain).toEqual([]);
    expect(koa.chain).toHaveLength(inputs.length);
    const head = await fast.s3.send(new HeadObjectCommand({ Bucket: 'rides-lean', Key: inputs[0].Key }));
    expect([head.ContentType, head.CacheControl, head.Metadata]).toEqual(['text/csv; charset=utf-8', 'no-cache', { run: '7', who: 'spec' }]);
  });

  it('leaves to the chain what the chain would answer otherwise: an unknown bucket, a conditional write, a skewed clock, an unknown key id, a storage class', async () => {
    // Prepare
    const skewed = (server: typeof fast) => server.client({ systemClockOffset: -20 * 60_000 });
    const stranger = (server: typeof fast) => server.client({ credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'x' } });
    const cases: Array<[string, (server: typeof fast) => Promise<Seen>]> = [
      ['no bucket', (server) => server.put({ Bucket: 'rides-none', Key: 'a', Body: 'a' })],
      ['if-none-match on an existing key', async (server) => {
        await server.put({ Bucket: 'rides-lean', Key: 'cond', Body: 'first' });
        return server.put({ Bucket: 'rides-lean', Key: 'cond', Body: 'second', IfNoneMatch: '*' });
      }],
      ['clock 20 min behind', (server) => server.put({ Bucket: 'rides-lean', Key: 'late', Body: 'a' }, skewed(server))],
      ['unknown access key', (server) => server.put({ Bucket: 'rides-lean', Key: 'who', Body: 'a' }, stranger(server))],
      ['bad storage class', (server) => server.put({ Bucket: 'rides-lean', Key: 'sc', Body: 'a', StorageClass: 'NOPE' as never })],
    ];

    // Act
    const results = [];
    for (const [name, act] of cases) results.push([name, await act(fast), await act(koa)]);

    // Assess
    expect(results.map(([name, viaFast]) => [name, (viaFast as Seen).error])).toEqual([
      ['no bucket', 'NoSuchBucket'],
      ['if-none-match on an existing key', 'PreconditionFailed'],
      ['clock 20 min behind', 'RequestTimeTooSkewed'],
      ['unknown access key', 'InvalidAccessKeyId'],
      ['bad storage class', 'InvalidStorageClass'],
    ]);
    for (const [, viaFast, viaKoa] of results) expect(viaFast).toEqual(viaKoa);
    // Every refused request went through the chain; of the plain ones only the one before the conditional write did not.
    expect(fast.chain.filter((line) => line.startsWith('PUT'))).toEqual(['PUT /rides-none/a', 'PUT /rides-lean/cond', 'PUT /rides-lean/late', 'PUT /rides-lean/who', 'PUT /rides-lean/sc']);
    expect(fast.files('cond')).toEqual(koa.files('cond'));
    expect(await (await fast.s3.send(new GetObjectCommand({ Bucket: 'rides-lean', Key: 'cond' }))).Body?.transformToString()).toBe('first');
  });

  it('keeps the object a cut-off upload would have replaced, answers nothing for it and serves the next request', async () => {
    // Prepare
    await fast.put({ Bucket: 'rides-lean', Key: 'cut', Body: 'kept,bytes\n' });
    const before = fast.files('cut');
    const events = fast.events.length;

    // Act: a signed PUT (the form the fast path takes) that promises 1,000 bytes, sends 500 and hangs up
    const status = await hangUpMidBody(fast.endpoint, '/rides-lean/cut', 1000, 500);
    await new Promise((r) => setTimeout(r, 100));
    const next = await fast.put({ Bucket: 'rides-lean', Key: 'after', Body: 'next' });

    // Assess
    expect(status).toBeUndefined();
    expect(fast.files('cut')).toEqual(before);
    expect(fast.events.length).toBe(events + 1);
    expect(next.status).toBe(200);
    expect(fast.chain.filter((line) => line.includes('/cut') || line.includes('/after'))).toEqual([]);
  });

  it('stores nothing of a body over 1 MiB cut off half-way, through the fast path or the Koa chain: the old object stays whole, a new key stays absent', async () => {
    for (const server of [fast, koa]) {
      // Prepare
      await server.put({ Bucket: 'rides-lean', Key: 'cutoff/old.bin', Body: 'kept,bytes\n' });
      const before = server.files('cutoff/old.bin');
      const events = server.events.length;

      // Act: 2 MiB of a promised 3 MiB, then the client hangs up
      const replaced = await hangUpMidBody(server.endpoint, '/rides-lean/cutoff/old.bin', 3 << 20, 2 << 20);
      const created = await hangUpMidBody(server.endpoint, '/rides-lean/cutoff/new.bin', 3 << 20, 2 << 20);
      await new Promise((r) => setTimeout(r, 100));
      const next = await server.put({ Bucket: 'rides-lean', Key: 'cutoff/after.bin', Body: 'next' });

      // Assess
      expect(replaced).toBeUndefined();
      expect(created).toBeUndefined();
      expect(server.files('cutoff/old.bin')).toEqual(before);
      expect(server.files('cutoff/new.bin')).toEqual(['missing', 'missing', 'missing']);
      expect(fs.readdirSync(path.join(server.directory, 'rides-lean', 'cutoff')).filter((name) => !name.startsWith('old.bin') && !name.startsWith('after.bin'))).toEqual([]);
      expect(server.events.length).toBe(events + 1);
      expect(next.status).toBe(200);
    }
  });
});
