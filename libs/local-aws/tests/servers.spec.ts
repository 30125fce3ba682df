import {
  CreateBucketCommand, DeleteBucketCommand, DeleteBucketCorsCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsCommand, PutBucketCorsCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { S3Event } from 'aws-lambda';
import { buildSync } from 'esbuild';
import { LEFTOVER_AGE_MS, S3_THREAD_YOUNG_GENERATION_MB, S3RVER_BUNDLE_VAR, startLocalServers, sweepLeftovers, type LocalServers } from '../src';

describe('startLocalServers', () => {
  let local: LocalServers;
  beforeAll(async () => {
    local = await startLocalServers({ buckets: ['rides-probe'] });
  });
  afterAll(() => local.close());

  const creds = () => ({ accessKeyId: local.env.AWS_ACCESS_KEY_ID, secretAccessKey: local.env.AWS_SECRET_ACCESS_KEY });

  it('serves S3 on loopback and reports object creation as an S3 event', async () => {
    const s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true, credentials: creds(),
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const events: S3Event[] = [];
    local.onObjectCreated((e) => events.push(e));
    await s3.send(new CreateBucketCommand({ Bucket: 'rides-other' }));
    await s3.send(new PutObjectCommand({ Bucket: 'rides-probe', Key: 'raw/a b.json', Body: '[]' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'rides-probe', Key: 'raw/a b.json' }));
    expect(await got.Body?.transformToString()).toBe('[]');
    expect(events).toHaveLength(1);
    expect(events[0].Records[0].s3.bucket.name).toBe('rides-probe');
    expect(events[0].Records[0].eventName).toMatch(/^ObjectCreated:/);
  });

  it('encodes keys in events the way S3 does (spaces as +, UTF-8 percent-escapes, / kept)', async () => {
    const s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true, credentials: creds(),
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const events: S3Event[] = [];
    const stop = local.onObjectCreated((e) => events.push(e));
    await s3.send(new PutObjectCommand({ Bucket: 'rides-probe', Key: 'raw/my rides é+1.json', Body: '[]' }));
    stop();
    expect(events[0].Records[0].s3.object.key).toBe('raw/my+rides+%C3%A9%2B1.json');
  });

  it('serves SQS on loopback with queue URLs that point back at it', async () => {
    const sqs = new SQSClient({ endpoint: local.sqsEndpoint, region: local.region, credentials: creds() });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'probe' }));
    expect(QueueUrl).toContain('/probe');
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['hello']);
  });

  describe.each([false, true])('with s3rver in a worker thread: %s', (s3Thread) => {
    it('serves S3 and reports object creation events', async () => {
      const servers = await startLocalServers({ buckets: ['rides-thread'], s3Thread });
      try {
        const s3 = new S3Client({
          endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
          requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
        });
        const events: S3Event[] = [];
        servers.onObjectCreated((e) => events.push(e));
        await s3.send(new PutObjectCommand({ Bucket: 'rides-thread', Key: 'raw/x y.json', Body: '[1]' }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'rides-thread', Key: 'raw/x y.json' }));
        expect(await got.Body?.transformToString()).toBe('[1]');
        // A worker's event arrives as a message, possibly after the GET's answer: wait for it (≤ 5 s).
        for (const deadline = Date.now() + 5000; events.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
        expect(events.map((e) => e.Records[0].s3.object.key)).toEqual(['raw/x+y.json']);
        // 200 PUTs at once (a worker gathers the events of one turn of its loop): each reported once, whole
        const keys = Array.from({ length: 200 }, (_, i) => `processed/k-${String(i).padStart(3, '0')}.csv`);
        await Promise.all(keys.map((key) => s3.send(new PutObjectCommand({ Bucket: 'rides-thread', Key: key, Body: key }))));
        for (const deadline = Date.now() + 5000; events.length < 201 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
        expect(events.slice(1).map((e) => e.Records[0].s3.object.key).sort()).toEqual(keys);
        expect(events.slice(1).map((e) => [e.Records.length, e.Records[0].eventName, e.Records[0].s3.object.size])).toEqual(keys.map((key) => [1, 'ObjectCreated:Put', key.length]));
        s3.destroy();
      } finally {
        await servers.close();
      }
    });
  });

  describe.each([false, true])('PUT bodies, with s3rver in a worker thread: %s', (s3Thread) => {
    it('stores small and large bodies byte for byte, and an upload cut off mid-body leaves the object it would have replaced as it was', async () => {
      // Prepare
      const servers = await startLocalServers({ buckets: ['rides-body'], s3Thread });
      const s3 = new S3Client({
        endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      });
      const read = async (key: string) => Buffer.from((await (await s3.send(new GetObjectCommand({ Bucket: 'rides-body', Key: key }))).Body?.transformToByteArray()) ?? []);
      const md5 = (bytes: Buffer) => `"${createHash('md5').update(bytes).digest('hex')}"`;
      // Around the size up to which a body is gathered in memory (1 MiB), and far beyond it.
      const bodies = [0, 1, 150, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3_000_000].map((n) => randomBytes(n));
      const first = Buffer.from('distance,name\n1,a\n');
      try {
        // Act
        const etags = await Promise.all(bodies.map((body, i) => s3.send(new PutObjectCommand({ Bucket: 'rides-body', Key: `b/${i}`, Body: body })).then((r) => r.ETag)));
        await s3.send(new PutObjectCommand({ Bucket: 'rides-body', Key: 'b/cut', Body: first }));
        // An anonymous PUT (s3rver accepts those) that promises 1,000 bytes, sends 500 and hangs up.
        const { hostname, port } = new URL(servers.s3Endpoint);
        await new Promise<void>((resolve) => {
          const req = httpRequest({ hostname, port, method: 'PUT', path: '/rides-body/b/cut', headers: { 'content-length': '1000' } });
          req.on('error', () => resolve());
          req.write(Buffer.alloc(500, 120), () => setTimeout(() => {
            req.destroy();
            resolve();
          }, 200));
        });
        await new Promise((r) => setTimeout(r, 200));
        // Assess
        for (const [i, body] of bodies.entries()) {
          const got = await read(`b/${i}`);
          expect([got.length, got.equals(body), etags[i]]).toEqual([body.length, true, md5(body)]);
        }
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'rides-body', Key: 'b/cut' }));
        expect([(await read('b/cut')).toString(), head.ETag, head.ContentLength]).toEqual([first.toString(), md5(first), first.length]);
      } finally {
        s3.destroy();
        await servers.close();
      }
    });
  });

  describe.each([false, true])('GET bodies read 1 MiB at a time, with s3rver in a worker thread: %s', (s3Thread) => {
    it('serves whole and ranged bodies of a multi-MiB object byte for byte (ranges across and inside the 1 MiB reads)', async () => {
      const servers = await startLocalServers({ buckets: ['rides-get'], s3Thread });
      const s3 = new S3Client({
        endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1,
      });
      const body = randomBytes(5 * 1024 * 1024 + 123);
      try {
        await s3.send(new PutObjectCommand({ Bucket: 'rides-get', Key: 'raw/big.json', Body: body }));
        const read = async (range?: string) => Buffer.from((await (await s3.send(new GetObjectCommand({ Bucket: 'rides-get', Key: 'raw/big.json', Range: range }))).Body?.transformToByteArray()) ?? []);
        expect((await read()).equals(body)).toBe(true);
        for (const [start, end] of [[0, 1], [1_048_575, 1_048_576], [1_500_000, 3_500_000], [65_535, 2_162_688], [body.length - 10, body.length - 1]]) {
          const got = await read(`bytes=${start}-${end}`);
          expect([start, end, got.length, got.equals(body.subarray(start, end + 1))]).toEqual([start, end, end - start + 1, true]);
        }
        expect((await read(`bytes=${4_000_000}-`)).equals(body.subarray(4_000_000))).toBe(true);
      } finally {
        s3.destroy();
        await servers.close();
      }
    });
  });

  describe.each([false, true])('putFile, with s3rver in a worker thread: %s', (s3Thread) => {
    it('stores a local file as a PutObject of its bytes does: the same object files, ETag and ObjectCreated:Put event; a file of another size stores nothing', async () => {
      // Prepare: the same bytes put both ways, small (one gathered body) and large (streamed into a partial file).
      const servers = await startLocalServers({ buckets: ['rides-file'], s3Thread });
      const s3 = new S3Client({
        endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1,
      });
      const dir = mkdtempSync(join(tmpdir(), 'rydes-put-file-'));
      const events: S3Event[] = [];
      servers.onObjectCreated((e) => events.push(e));
      const files = (key: string) => {
        const base = join(servers.directory, 'rides-file', `${key}._S3rver_object`);
        return [base, `${base}.md5`, `${base.slice(0, -'object'.length)}metadata.json`].map((file) => (existsSync(file) ? readFileSync(file).toString('base64') : 'missing'));
      };
      // What may differ between two events of the same object: the time, ids and the sequencer.
      const shape = (e: S3Event | undefined) => {
        const r = e?.Records[0];
        return r && { ...r, eventTime: typeof r.eventTime, userIdentity: typeof r.userIdentity.principalId, responseElements: { ...r.responseElements, 'x-amz-request-id': 'id' }, s3: { ...r.s3, bucket: { ...r.s3.bucket, ownerIdentity: 'id' }, object: { ...r.s3.object, key: 'key', sequencer: 'seq' } } };
      };
      try {
        for (const size of [0, 150, 3_000_000]) {
          const bytes = randomBytes(size);
          const path = join(dir, `f-${size}.json`);
          writeFileSync(path, bytes);
          const put = await s3.send(new PutObjectCommand({ Bucket: 'rides-file', Key: `http/${size}.json`, Body: readFileSync(path), ContentLength: size, ContentType: 'application/octet-stream' }));
          // Act
          const stored = await servers.putFile('rides-file', `file/${size}.json`, path, { bytes: size });
          for (const deadline = Date.now() + 5000; events.length < 2 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
          // Assess
          expect(stored).toEqual({ etag: put.ETag, size });
          expect(files(`file/${size}.json`)).toEqual(files(`http/${size}.json`));
          expect(events.map((e) => e.Records[0].s3.object.key)).toEqual([`http/${size}.json`, `file/${size}.json`]);
          expect(shape(events[1])).toEqual(shape(events[0]));
          events.length = 0;
        }
        // A file that is not the size it is said to have: refused, nothing stored or announced.
        const path = join(dir, 'changing.json');
        writeFileSync(path, '[]');
        await expect(servers.putFile('rides-file', 'file/shrank.json', path, { bytes: 27 })).rejects.toMatchObject({ name: 'LocalFileSizeError', expected: 27, read: 2 });
        writeFileSync(path, Buffer.alloc(3_000_000, 32));
        await expect(servers.putFile('rides-file', 'file/grew.json', path, { bytes: 27 })).rejects.toMatchObject({ name: 'LocalFileSizeError', expected: 27, read: undefined });
        await expect(servers.putFile('rides-file', 'file/gone.json', join(dir, 'gone.json'), { bytes: 2 })).rejects.toMatchObject({ code: 'ENOENT' });
        await expect(servers.putFile('rides-none', 'file/x.json', path)).rejects.toMatchObject({ code: 'NoSuchBucket' });
        await new Promise((r) => setTimeout(r, 200));
        expect(['shrank', 'grew', 'gone'].map((name) => files(`file/${name}.json`)[0])).toEqual(['missing', 'missing', 'missing']);
        expect(events).toEqual([]);
      } finally {
        s3.destroy();
        await servers.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe.each([false, true])('bucket-level answers kept between requests, with s3rver in a worker thread: %s', (s3Thread) => {
    it('sees a bucket created or deleted, a CORS configuration put or deleted and a folder removed through the API at the next request', async () => {
      // Prepare
      const servers = await startLocalServers({ buckets: ['rides-lean'], s3Thread });
      const s3 = new S3Client({
        endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
        // No retry: a request the server got wrong must show, not be repaired by a second attempt.
        maxAttempts: 1,
      });
      // A CORS preflight: answered from the bucket's cors.xml, which s3rver reads on every request.
      const preflight = () =>
        fetch(`${servers.s3Endpoint}/rides-lean/processed/a.csv`, { method: 'OPTIONS', headers: { origin: 'http://example.test', 'access-control-request-method': 'GET' } }).then((r) => r.status);
      try {
        // Act
        const missingBucket = await s3.send(new PutObjectCommand({ Bucket: 'rides-later', Key: 'a', Body: 'a' })).then(() => 'stored', (err: Error) => err.name);
        await s3.send(new CreateBucketCommand({ Bucket: 'rides-later' }));
        const afterCreate = await s3.send(new PutObjectCommand({ Bucket: 'rides-later', Key: 'a', Body: 'a' })).then(() => 'stored', (err: Error) => err.name);
        await s3.send(new DeleteObjectCommand({ Bucket: 'rides-later', Key: 'a' }));
        await s3.send(new DeleteBucketCommand({ Bucket: 'rides-later' }));
        const afterDelete = await s3.send(new PutObjectCommand({ Bucket: 'rides-later', Key: 'a', Body: 'a' })).then(() => 'stored', (err: Error) => err.name);
        const withoutCors = await preflight();
        await s3.send(new PutBucketCorsCommand({ Bucket: 'rides-lean', CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }] } }));
        const withCors = await preflight();
        await s3.send(new DeleteBucketCorsCommand({ Bucket: 'rides-lean' }));
        const corsDeleted = await preflight();
        // s3rver removes a folder left empty by a delete: the next PUT below it must make it again
        await s3.send(new PutObjectCommand({ Bucket: 'rides-lean', Key: 'deep/er/x', Body: 'x' }));
        await s3.send(new DeleteObjectCommand({ Bucket: 'rides-lean', Key: 'deep/er/x' }));
        const folderGone = existsSync(join(servers.directory, 'rides-lean', 'deep'));
        await s3.send(new PutObjectCommand({ Bucket: 'rides-lean', Key: 'deep/er/y', Body: 'y' }));
        const y = await s3.send(new GetObjectCommand({ Bucket: 'rides-lean', Key: 'deep/er/y' }));

        // Assess
        expect([missingBucket, afterCreate, afterDelete]).toEqual(['NoSuchBucket', 'stored', 'NoSuchBucket']);
        expect([withoutCors, withCors, corsDeleted]).toEqual([403, 200, 403]);
        expect(folderGone).toBe(false);
        expect(await y.Body?.transformToString()).toBe('y');
      } finally {
        s3.destroy();
        await servers.close();
      }
    });
  });

  it('objectFile names the file that holds an object\'s bytes, and nothing outside the bucket', async () => {
    // Prepare
    const s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true, credentials: creds(),
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      const keys = ['processed/a b-000000.csv', 'top.json', 'deep/er/still/x.ndjson', 'processed/é+1.csv'];
      for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: 'rides-probe', Key: key, Body: `bytes of ${key}` }));

      // Act
      const read = keys.map((key) => readFileSync(local.objectFile('rides-probe', key) ?? '', 'utf8'));

      // Assess
      expect(read).toEqual(keys.map((key) => `bytes of ${key}`));
      expect(local.objectFile('rides-probe', '../rides-other/x')).toBeUndefined();
      expect(local.objectFile('rides-probe', 'a/../../../etc/passwd')).toBeUndefined();
    } finally {
      s3.destroy();
    }
  });

  it('runs s3rver\'s worker thread with a small young generation, which stays small under PUT traffic', async () => {
    // Prepare
    const threaded = await startLocalServers({ buckets: ['rides-young'], s3Thread: true });
    const s3 = new S3Client({
      endpoint: threaded.s3Endpoint, region: threaded.region, forcePathStyle: true, credentials: { accessKeyId: threaded.env.AWS_ACCESS_KEY_ID, secretAccessKey: threaded.env.AWS_SECRET_ACCESS_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      // Act: enough requests for V8 to grow a default young generation (16 MB of new space) to its limit
      const body = randomBytes(256 * 1024);
      for (let i = 0; i < 40; i++) await s3.send(new PutObjectCommand({ Bucket: 'rides-young', Key: `processed/y-${i}.csv`, Body: body }));
      const heap = await threaded.s3ThreadHeap();

      // Assess: the limit is the configured one, and the new space (two semi-spaces) stays within it
      expect(S3_THREAD_YOUNG_GENERATION_MB).toBeLessThanOrEqual(8);
      expect(heap?.youngGenerationMb).toBe(S3_THREAD_YOUNG_GENERATION_MB);
      expect(heap?.spacesMb.new_space).toBeGreaterThan(0);
      expect(heap?.spacesMb.new_space).toBeLessThanOrEqual(S3_THREAD_YOUNG_GENERATION_MB);
      expect(await local.s3ThreadHeap()).toBeUndefined();
    } finally {
      s3.destroy();
      await threaded.close();
    }
  });

  it('loads s3rver in its worker thread from a bundle when given one (s3rverBundle), with every patch of the local S3 applied', async () => {
    // Prepare: s3rver and the modules the local S3 patches or uses, bundled into one file, its class marking every answer
    const dir = mkdtempSync(join(tmpdir(), 'rydes-s3rver-bundle-'));
    const bundle = join(dir, 's3rver-bundle.js');
    buildSync({
      stdin: {
        contents:
          "const S3rver = require('s3rver');\n" +
          "class Marked extends S3rver { constructor(options) { super(options); this.middleware.unshift(async (ctx, next) => { await next(); ctx.set('x-from-bundle', '1'); }); } }\n" +
          "module.exports = { S3rver: Marked, utils: require('s3rver/lib/utils'), filesystem: require('s3rver/lib/stores/filesystem'), object: require('s3rver/lib/models/object'),\n" +
          "  account: require('s3rver/lib/models/account'), event: require('s3rver/lib/models/event') };\n",
        resolveDir: __dirname,
      },
      outfile: bundle, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error',
    });
    const servers = await startLocalServers({ buckets: ['rides-bundle'], s3Thread: true, s3rverBundle: bundle });
    const s3 = new S3Client({
      endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: servers.env.AWS_ACCESS_KEY_ID, secretAccessKey: servers.env.AWS_SECRET_ACCESS_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const events: S3Event[] = [];
    servers.onObjectCreated((e) => events.push(e));
    try {
      // Act
      const body = randomBytes(300 * 1024);
      const put = await s3.send(new PutObjectCommand({ Bucket: 'rides-bundle', Key: 'raw/b.json', Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'rides-bundle', Key: 'raw/b.json' }));
      const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      const stale = await s3.send(new GetObjectCommand({ Bucket: 'rides-bundle', Key: 'raw/b.json', IfMatch: '"0123"' })).catch((err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode);
      const marked = await new Promise<string | undefined>((resolve, reject) => {
        httpRequest(`${servers.s3Endpoint}/rides-bundle/raw/b.json`, { method: 'HEAD' }, (res) => resolve(res.headers['x-from-bundle'] as string | undefined)).on('error', reject).end();
      });

      // Assess: the bundle's class served; bytes, the strict front (412), the object events and the raw/ read tally as without it
      expect(marked).toBe('1');
      expect(bytes.equals(body)).toBe(true);
      expect(put.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
      expect(stale).toBe(412);
      for (let waited = 0; events.length === 0 && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events[0].Records[0].s3.object.key).toBe('raw/b.json');
      // The tally reaches this thread every RAW_READS_INTERVAL_MS, part of a body at a time.
      for (let waited = 0; (servers.rawReads()['raw/b.json']?.served ?? 0) < body.length && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(servers.rawReads()['raw/b.json']?.served).toBe(body.length);
      expect(S3RVER_BUNDLE_VAR).toBe('RYDES_S3RVER_BUNDLE');
    } finally {
      s3.destroy();
      await servers.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close() leaves no temp folder of its own behind: gone when close returns, its renamed copy deleted by a detached rm; a given folder is kept', async () => {
    // Prepare: objects in a temp folder of the servers' own and in a folder the caller gives
    const own = await startLocalServers({ buckets: ['rides-gone'], s3Thread: true });
    const given = mkdtempSync(join(tmpdir(), 'rydes-given-'));
    const kept = await startLocalServers({ buckets: ['rides-kept'], directory: given });
    const put = async (servers: LocalServers, bucket: string) => {
      const s3 = new S3Client({
        endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: servers.env.AWS_ACCESS_KEY_ID, secretAccessKey: servers.env.AWS_SECRET_ACCESS_KEY },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      });
      for (let i = 0; i < 50; i++) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `processed/x-${i}.csv`, Body: `row ${i}\n` }));
      s3.destroy();
    };
    await put(own, 'rides-gone');
    await put(kept, 'rides-kept');
    const ownFile = own.objectFile('rides-gone', 'processed/x-7.csv') ?? '';
    expect(readFileSync(ownFile, 'utf8')).toBe('row 7\n');

    // Act
    await own.close();
    await kept.close();

    // Assess: the own folder is gone at once; its renamed copy within seconds (the detached rm)
    try {
      expect(existsSync(own.directory)).toBe(false);
      const aside = `${own.directory}.removing`;
      for (let waited = 0; existsSync(aside) && waited < 20_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(existsSync(aside)).toBe(false);
      expect(readFileSync(kept.objectFile('rides-kept', 'processed/x-7.csv') ?? '', 'utf8')).toBe('row 7\n');
    } finally {
      rmSync(given, { recursive: true, force: true });
    }
  });

  describe.each([false, true])('ListObjects (markers, as the CLI pages) with s3rver in a worker thread: %s', (s3Thread) => {
    it('pages through every key once, in S3 order, honouring prefix, delimiter and start-after, and sees writes and deletes made between pages', async () => {
      // Prepare: keys whose folder order differs from key order ('a-c' < 'a/b': '-' sorts before '/')
      const servers = await startLocalServers({ buckets: ['rides-list'], s3Thread });
      const s3 = new S3Client({
        endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      });
      // ListObjects (v1) with markers: s3rver's v2 continuation tokens are DES, which OpenSSL 3 refuses.
      const list = async (input: { Prefix?: string; Delimiter?: string; Marker?: string }, pageSize = 2) => {
        const keys: string[] = [];
        const prefixes: string[] = [];
        let marker = input.Marker;
        for (;;) {
          const page = await s3.send(new ListObjectsCommand({ Bucket: 'rides-list', MaxKeys: pageSize, ...input, Marker: marker }));
          keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
          prefixes.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
          if (!page.IsTruncated) return { keys, prefixes };
          marker = page.NextMarker ?? keys[keys.length - 1];
        }
      };
      try {
        const keys = ['z', 'processed/x-000001.csv', 'a/b', 'a-c', 'processed/sub/y-000000.csv', 'processed/x-000000.csv', 'manifests/m.json', 'a/b/c', 'é', 'processed/x-000002.csv'];
        for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: 'rides-list', Key: key, Body: key }));

        // Act
        const all = await list({});
        const processed = await list({ Prefix: 'processed/x' }, 1);
        const folders = await list({ Delimiter: '/' }, 100);
        const after = await list({ Marker: 'manifests/m.json' }, 3);
        // a write and a delete between two pages of one walk
        const first = await s3.send(new ListObjectsCommand({ Bucket: 'rides-list', Prefix: 'processed/', MaxKeys: 1 }));
        await s3.send(new PutObjectCommand({ Bucket: 'rides-list', Key: 'processed/x-000003.csv', Body: '3' }));
        await s3.send(new DeleteObjectCommand({ Bucket: 'rides-list', Key: 'processed/x-000001.csv' }));
        const rest = await s3.send(new ListObjectsCommand({ Bucket: 'rides-list', Prefix: 'processed/', Marker: first.Contents?.[0]?.Key }));

        // Assess
        expect(all.keys).toEqual([...keys].sort());
        expect(all.keys.slice(0, 3)).toEqual(['a-c', 'a/b', 'a/b/c']);
        expect(processed.keys).toEqual(['processed/x-000000.csv', 'processed/x-000001.csv', 'processed/x-000002.csv']);
        expect(folders).toEqual({ keys: ['a-c', 'z', 'é'], prefixes: ['a/', 'manifests/', 'processed/'] });
        expect(after.keys).toEqual(['processed/sub/y-000000.csv', 'processed/x-000000.csv', 'processed/x-000001.csv', 'processed/x-000002.csv', 'z', 'é']);
        expect(first.Contents?.map((o) => [o.Key, o.Size])).toEqual([['processed/sub/y-000000.csv', 'processed/sub/y-000000.csv'.length]]);
        expect(rest.Contents?.map((o) => o.Key)).toEqual(['processed/x-000000.csv', 'processed/x-000002.csv', 'processed/x-000003.csv']);
        // Each entry says what HEAD says (ETag, Size, LastModified): small objects keep no .md5 (their ETag is the MD5 of their bytes)
        expect(existsSync(`${servers.objectFile('rides-list', 'z')}.md5`)).toBe(false);
        const entries = (await s3.send(new ListObjectsCommand({ Bucket: 'rides-list' }))).Contents ?? [];
        expect(entries).toHaveLength(keys.length);
        for (const entry of entries) {
          const head = await s3.send(new HeadObjectCommand({ Bucket: 'rides-list', Key: entry.Key }));
          expect([entry.Key, entry.ETag, entry.Size, entry.LastModified?.toISOString(), entry.StorageClass]).toEqual([entry.Key, head.ETag, head.ContentLength, head.LastModified?.toISOString(), 'STANDARD']);
        }
        expect(entries.find((e) => e.Key === 'z')?.ETag).toBe('"fbade9e36a3f36d3d676c1b808451dd7"');
      } finally {
        s3.destroy();
        await servers.close();
      }
    });
  });

  it('sweepLeftovers deletes (in the background) only renamed-aside folders older than LEFTOVER_AGE_MS, nothing else', async () => {
    // Prepare: a parent folder with an old leftover, a fresh one (its rm may still run), and an old folder of another name
    const parent = mkdtempSync(join(tmpdir(), 'rydes-sweep-'));
    const folder = (name: string, ageMs: number) => {
      const path = join(parent, name);
      mkdirSync(join(path, 'bucket', 'processed'), { recursive: true });
      writeFileSync(join(path, 'bucket', 'processed', 'x._S3rver_object'), 'row\n');
      const at = new Date(Date.now() - ageMs);
      utimesSync(path, at, at);
      return path;
    };
    const old = folder('rydes-s3-old.removing', LEFTOVER_AGE_MS + 60_000);
    const fresh = folder('rydes-s3-fresh.removing', 1_000);
    const other = folder('rydes-s3-live', LEFTOVER_AGE_MS + 60_000);
    try {
      // Act
      const found = sweepLeftovers(parent);
      // Assess
      expect(found).toBe(1);
      for (let waited = 0; existsSync(old) && waited < 20_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(existsSync(old)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
      expect(existsSync(other)).toBe(true);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('answers a long poll as soon as a message is there, like SQS, and waits the whole WaitTimeSeconds only on an empty queue', async () => {
    const sqs = new SQSClient({ endpoint: local.sqsEndpoint, region: local.region, credentials: creds() });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'long-poll' }));
      // Act: 3 messages waiting (fewer than the 10 asked for), then an empty queue
      await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: ['a', 'b', 'c'].map((body) => ({ Id: body, MessageBody: body })) }));
      let started = Date.now();
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20 }));
      const waitedWithMessages = Date.now() - started;
      started = Date.now();
      const empty = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const waitedEmpty = Date.now() - started;
      // a message sent while a receive waits ends that wait
      const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20 }));
      await new Promise((r) => setTimeout(r, 200));
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' }));
      const late = await waiting;
      // Assess: not the 20 s wait (a hang guard, not a speed claim), the whole 1 s on an empty queue
      expect(got.Messages?.map((m) => m.Body).sort()).toEqual(['a', 'b', 'c']);
      expect(waitedWithMessages).toBeLessThan(15_000);
      expect(empty.Messages ?? []).toEqual([]);
      expect(waitedEmpty).toBeGreaterThanOrEqual(1_000);
      expect(late.Messages?.map((m) => m.Body)).toEqual(['late']);
    } finally {
      sqs.destroy();
    }
  });

  it('holds sends while a queue is above the high-water mark and lets them through once consumers drain it', async () => {
    // Prepare: a high-water mark of 20 waiting messages, 20 already waiting
    const servers = await startLocalServers({ sqsHighWater: 20 });
    const sqs = new SQSClient({ endpoint: servers.sqsEndpoint, region: servers.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'gated' }));
      const batch = (from: number) => new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${from + i}`, MessageBody: String(from + i) })) });
      await sqs.send(batch(0));
      await sqs.send(batch(10));
      await new Promise((r) => setTimeout(r, 150)); // past the gate's 100 ms measuring interval

      // Act
      let sent = false;
      const held = sqs.send(batch(20)).then(() => (sent = true));
      await new Promise((r) => setTimeout(r, 300));
      const sentBeforeDrain = sent;
      for (let drained = 0; drained < 10; ) {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
        const messages = got.Messages ?? [];
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
        drained += messages.length;
      }
      await held;

      // Assess
      expect(sentBeforeDrain).toBe(false);
      expect(sent).toBe(true);
    } finally {
      sqs.destroy();
      await servers.close();
    }
  });
});
