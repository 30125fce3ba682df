import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { startLocalServers, type LocalServers } from '../src/servers';

/** The SDK error's HTTP status and name (what code must decide on: HEAD errors have no body). */
async function failure(promise: Promise<unknown>): Promise<{ status?: number; name?: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    return { status: e.$metadata?.httpStatusCode, name: e.name };
  }
  throw new Error('expected the request to fail');
}

describe.each([false, true])('the local S3 enforces conditional requests as S3 does (strict front in s3rver; s3rver in a worker thread: %s)', (s3Thread) => {
  const Bucket = 'rides-strict';
  let local: LocalServers;
  let s3: S3Client;
  let etag: string;
  const other = '"0123456789abcdef0123456789abcdef"';
  beforeAll(async () => {
    local = await startLocalServers({ buckets: [Bucket], s3Thread });
    s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    etag = (await s3.send(new PutObjectCommand({ Bucket, Key: 'raw/a.json', Body: '[1,2,3]' }))).ETag ?? '';
  });
  afterAll(async () => {
    s3.destroy();
    await local.close();
  });

  describe('GetObject and HeadObject', () => {
    it('answer 412 PreconditionFailed to If-Match with a different ETag', async () => {
      expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'raw/a.json', IfMatch: other })))).toEqual({ status: 412, name: 'PreconditionFailed' });
      expect((await failure(s3.send(new HeadObjectCommand({ Bucket, Key: 'raw/a.json', IfMatch: other })))).status).toBe(412);
    });

    it('answer 412 to If-Match on a ranged GET too', async () => {
      expect((await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'raw/a.json', IfMatch: other, Range: 'bytes=2-' })))).status).toBe(412);
    });

    it('serve the object (ranged too) when If-Match holds the current ETag', async () => {
      const whole = await s3.send(new GetObjectCommand({ Bucket, Key: 'raw/a.json', IfMatch: etag }));
      expect(await whole.Body?.transformToString()).toBe('[1,2,3]');
      const ranged = await s3.send(new GetObjectCommand({ Bucket, Key: 'raw/a.json', IfMatch: etag, Range: 'bytes=3-' }));
      expect(await ranged.Body?.transformToString()).toBe('2,3]');
    });

    it('answer 304 Not Modified to If-None-Match with the same ETag (ranged too), and serve on a different one', async () => {
      expect((await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'raw/a.json', IfNoneMatch: etag })))).status).toBe(304);
      expect((await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'raw/a.json', IfNoneMatch: etag, Range: 'bytes=1-' })))).status).toBe(304);
      expect((await failure(s3.send(new HeadObjectCommand({ Bucket, Key: 'raw/a.json', IfNoneMatch: etag })))).status).toBe(304);
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'raw/a.json', IfNoneMatch: other }));
      expect(await got.Body?.transformToString()).toBe('[1,2,3]');
    });

    it('keep 404 for a missing key whatever the condition', async () => {
      expect((await failure(s3.send(new HeadObjectCommand({ Bucket, Key: 'raw/none.json', IfMatch: etag })))).status).toBe(404);
    });
  });

  describe('PutObject', () => {
    it('with If-None-Match: * creates a missing key and answers 412 when the key exists (never 304)', async () => {
      await s3.send(new PutObjectCommand({ Bucket, Key: 'manifests/once.json', Body: '{}', IfNoneMatch: '*' }));
      expect(await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'manifests/once.json', Body: '{"x":1}', IfNoneMatch: '*' })))).toEqual({ status: 412, name: 'PreconditionFailed' });
      const kept = await s3.send(new GetObjectCommand({ Bucket, Key: 'manifests/once.json' }));
      expect(await kept.Body?.transformToString()).toBe('{}');
    });

    it('with If-Match replaces only the ETag named: 412 on another, 404 when there is no object', async () => {
      const first = (await s3.send(new PutObjectCommand({ Bucket, Key: 'raw/b.json', Body: 'one' }))).ETag ?? '';
      expect((await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'raw/b.json', Body: 'two', IfMatch: other })))).status).toBe(412);
      await s3.send(new PutObjectCommand({ Bucket, Key: 'raw/b.json', Body: 'two', IfMatch: first }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'raw/b.json' }));
      expect(await got.Body?.transformToString()).toBe('two');
      expect((await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'raw/none.json', Body: 'x', IfMatch: first })))).status).toBe(404);
    });

    it('answers 409 ConditionalRequestConflict to a conditional write racing another on the same key', async () => {
      // The first write streams its body slowly, so the second arrives while it runs.
      const slow = Readable.from((async function* () {
        yield Buffer.from('a'.repeat(1024));
        await new Promise((resolve) => setTimeout(resolve, 300));
        yield Buffer.from('b'.repeat(1024));
      })());
      const first = s3.send(new PutObjectCommand({ Bucket, Key: 'manifests/race.json', Body: slow, ContentLength: 2048, IfNoneMatch: '*' }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'manifests/race.json', Body: 'second', IfNoneMatch: '*' })))).toEqual({ status: 409, name: 'ConditionalRequestConflict' });
      await first;
    });

    it('applies If-None-Match: * to a multipart upload (CompleteMultipartUpload)', async () => {
      await s3.send(new PutObjectCommand({ Bucket, Key: 'raw/multi.json', Body: 'exists' }));
      const upload = new Upload({ client: s3, params: { Bucket, Key: 'raw/multi.json', Body: Buffer.alloc(6 * 1024 * 1024, 1), IfNoneMatch: '*' }, partSize: 5 * 1024 * 1024 });
      expect((await failure(upload.done())).status).toBe(412);
    });

    it('refuses If-None-Match with an ETag (only * is implemented) instead of answering 304', async () => {
      expect((await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'raw/a.json', Body: 'x', IfNoneMatch: etag })))).status).toBe(501);
    });
  });
});

describe.each([false, true])('the local S3 counts the bytes it serves per raw/ key (s3rver in a worker thread: %s)', (s3Thread) => {
  const Bucket = 'rides-counted';
  let local: LocalServers;
  let s3: S3Client;
  const body = Buffer.from('x'.repeat(100_000));
  beforeAll(async () => {
    local = await startLocalServers({ buckets: [Bucket], s3Thread });
    s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await s3.send(new PutObjectCommand({ Bucket, Key: 'raw/big file.json', Body: body }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'processed/a.csv', Body: 'x\n' }));
  });
  afterAll(async () => {
    s3.destroy();
    await local.close();
  });

  /** The tally once it holds `served` bytes for `key` (a worker thread reports it every RAW_READS_INTERVAL_MS). */
  async function readsOf(key: string, served: number) {
    const deadline = Date.now() + 5000;
    while ((local.rawReads()[key]?.served ?? 0) < served && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return local.rawReads()[key];
  }

  it('counts a whole GetObject, then a ranged continuation from its start offset; HEAD, 412s and other prefixes count nothing', async () => {
    const whole = await s3.send(new GetObjectCommand({ Bucket, Key: 'raw/big file.json' }));
    expect((await whole.Body?.transformToByteArray())?.length).toBe(100_000);
    expect(await readsOf('raw/big file.json', 100_000)).toEqual({ served: 100_000, furthest: 100_000 });

    const ranged = await s3.send(new GetObjectCommand({ Bucket, Key: 'raw/big file.json', Range: 'bytes=60000-' }));
    expect((await ranged.Body?.transformToByteArray())?.length).toBe(40_000);
    expect(await readsOf('raw/big file.json', 140_000)).toEqual({ served: 140_000, furthest: 100_000 });

    await s3.send(new HeadObjectCommand({ Bucket, Key: 'raw/big file.json' }));
    await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'raw/big file.json', IfMatch: '"0123456789abcdef0123456789abcdef"' })));
    await (await s3.send(new GetObjectCommand({ Bucket, Key: 'processed/a.csv' }))).Body?.transformToString();
    await new Promise((r) => setTimeout(r, 500));
    expect(local.rawReads()).toEqual({ 'raw/big file.json': { served: 140_000, furthest: 100_000 } });
  });

  it('counts only what a reader took before it stopped, and places a ranged read at its offset', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'raw/huge.json', Body: Buffer.alloc(8 * 1024 * 1024, 32) }));
    const part = await s3.send(new GetObjectCommand({ Bucket, Key: 'raw/huge.json', Range: 'bytes=1000-' }));
    const stream = part.Body as Readable;
    for await (const _ of stream) break; // one chunk, then the reader hangs up
    await new Promise((r) => setTimeout(r, 500));
    const reads = local.rawReads()['raw/huge.json'];
    expect(reads.served).toBeGreaterThan(0);
    expect(reads.served).toBeLessThan(8 * 1024 * 1024 - 1000);
    expect(reads.furthest).toBe(1000 + reads.served);
  });
});
