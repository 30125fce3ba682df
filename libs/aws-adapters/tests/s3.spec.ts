import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { copyObject, countRequests, createS3Client, listKeys, openObject, parseS3Uri, putObject, readManifest, S3ObjectError, S3UriError } from '../src';

const BUCKET = 'adapters-s3';

describe('S3 adapters against s3rver', () => {
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

  async function readAll(key: string): Promise<Buffer> {
    const { body } = await openObject(s3, BUCKET, key);
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it('round-trips a buffered upload byte for byte', async () => {
    // Prepare
    const bytes = randomBytes(1_200_000);
    // Act
    await putObject(s3, BUCKET, 'rt/buffered.bin', bytes);
    const got = await readAll('rt/buffered.bin');
    // Assess
    expect(got.length).toBe(bytes.length);
    expect(sha(got)).toBe(sha(bytes));
  });

  it('round-trips a streamed upload of unknown length byte for byte (no aws-chunked frames)', async () => {
    const bytes = randomBytes(1_200_000);
    await putObject(s3, BUCKET, 'rt/streamed.bin', Readable.from(chunks(bytes, 64 * 1024)));
    const got = await readAll('rt/streamed.bin');
    expect(got.length).toBe(bytes.length);
    expect(sha(got)).toBe(sha(bytes));
  });

  it('round-trips a multipart upload (three parts of >= 5 MiB) byte for byte', async () => {
    // Prepare
    const bytes = randomBytes(12 * 1024 * 1024 + 12_345);
    const counts = countRequests(s3, {});
    // Act
    await putObject(s3, BUCKET, 'rt/multipart.bin', Readable.from(chunks(bytes, 1024 * 1024)));
    const got = await readAll('rt/multipart.bin');
    // Assess
    expect(counts.UploadPartCommand).toBe(3);
    expect(counts.CompleteMultipartUploadCommand).toBe(1);
    expect(sha(got)).toBe(sha(bytes));
  });

  it('reports the ETag and length of an opened object and streams from a byte offset', async () => {
    const { etag } = await putObject(s3, BUCKET, 'rt/text.txt', 'hello, rides', 'text/plain');
    const opened = await openObject(s3, BUCKET, 'rt/text.txt');
    opened.body.resume();
    expect(opened.etag).toBe(etag);
    expect(opened.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(opened.contentLength).toBe(12);
    const tail = await openObject(s3, BUCKET, 'rt/text.txt', { start: 7 });
    let text = '';
    for await (const part of tail.body) text += part.toString();
    expect(text).toBe('rides');
  });

  it('copies an object on the server side, keys with spaces and non-ASCII names included', async () => {
    // Prepare
    const bytes = randomBytes(70_000);
    await putObject(s3, BUCKET, 'copy/from dir/rides é.ndjson', bytes);
    // Act
    await copyObject(s3, BUCKET, 'copy/from dir/rides é.ndjson', 'copy/to/rides é+1.ndjson');
    // Assess
    expect(sha(await readAll('copy/to/rides é+1.ndjson'))).toBe(sha(bytes));
    await expect(copyObject(s3, BUCKET, 'copy/missing', 'copy/x')).rejects.toThrow(/CopyObject s3:\/\/adapters-s3\/copy\/missing failed/);
  });

  it('names the bucket and key when an object is missing', async () => {
    await expect(openObject(s3, BUCKET, 'rt/missing.json')).rejects.toThrow(S3ObjectError);
    await expect(openObject(s3, BUCKET, 'rt/missing.json')).rejects.toThrow(/GetObject s3:\/\/adapters-s3\/rt\/missing\.json failed: NoSuchKey/);
  });

  it('lists every key across pages, in order', async () => {
    // Prepare: 1,050 keys, written with a few requests in flight
    const keys = Array.from({ length: 1050 }, (_, i) => `many/k-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }))));
    }
    const counts = countRequests(s3, {});
    // Act
    const listed: string[] = [];
    for await (const key of listKeys(s3, BUCKET, 'many/')) listed.push(key);
    // Assess
    expect(listed).toEqual(keys);
    expect(counts.ListObjectsCommand).toBe(2);
  }, 120_000);

  it('follows markers page by page with a small page size', async () => {
    await Promise.all(['p/a', 'p/b', 'p/c', 'p/d', 'p/e'].map((key) => putObject(s3, BUCKET, key, key)));
    const listed: string[] = [];
    for await (const key of listKeys(s3, BUCKET, 'p/', { pageSize: 2 })) listed.push(key);
    expect(listed).toEqual(['p/a', 'p/b', 'p/c', 'p/d', 'p/e']);
  });

  it('reads a manifest, and answers undefined for a missing key or an object that is not a manifest', async () => {
    // Prepare
    const manifest = { source: 'raw/a b.json', etag: '"0123456789abcdef"', total: 3, valid: 2, rejected: 1, chunks: 1 };
    await putObject(s3, BUCKET, 'manifests/a b-01234567.json', JSON.stringify(manifest));
    await putObject(s3, BUCKET, 'manifests/not-json-01234567.json', '{"source":');
    await putObject(s3, BUCKET, 'manifests/no-etag-01234567.json', JSON.stringify({ source: 'raw/x.json' }));

    // Act
    const read = await readManifest(s3, BUCKET, 'manifests/a b-01234567.json');

    // Assess
    expect(read).toEqual(manifest);
    await expect(readManifest(s3, BUCKET, 'manifests/missing-01234567.json')).resolves.toBeUndefined();
    await expect(readManifest(s3, BUCKET, 'manifests/not-json-01234567.json')).resolves.toBeUndefined();
    await expect(readManifest(s3, BUCKET, 'manifests/no-etag-01234567.json')).resolves.toBeUndefined();
  });

  it('throws S3ObjectError when the bucket does not exist, rather than calling the manifest missing', async () => {
    await expect(readManifest(s3, 'no-such-bucket-here', 'manifests/a-01234567.json')).rejects.toThrow(S3ObjectError);
  });

  it('with cacheMiddleware, resolves PutObject\'s middleware once and still stores 40 concurrent PUTs each with its own bytes and ETag', async () => {
    // Prepare
    const cached = createS3Client(local.env, { cacheMiddleware: true });
    const resolve = jest.spyOn(PutObjectCommand.prototype, 'resolveMiddleware');
    const bodies = Array.from({ length: 40 }, (_, i) => randomBytes(100 + i * 37));
    try {
      // Act
      const etags = await Promise.all(bodies.map((body, i) => putObject(cached, BUCKET, `cache/${i}.bin`, body).then((r) => r.etag)));
      // Assess
      expect(resolve).toHaveBeenCalledTimes(1);
      for (const [i, body] of bodies.entries()) {
        expect(etags[i]).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
        expect(sha(await readAll(`cache/${i}.bin`))).toBe(sha(body));
      }
    } finally {
      resolve.mockRestore();
      cached.destroy();
    }
  });
});

describe('parseS3Uri', () => {
  it('splits bucket and key, keeping slashes in the key', () => {
    expect(parseS3Uri('s3://rides-local/stations/ghcn/ghcnd-stations.txt')).toEqual({ bucket: 'rides-local', key: 'stations/ghcn/ghcnd-stations.txt' });
  });

  it.each([
    ['https://rides-local/x.csv', /does not start with s3:\/\//],
    ['s3://rides-local', /bucket or the key is missing/],
    ['s3://rides-local/', /bucket or the key is missing/],
    ['s3://Rides_Local/x.csv', /not a valid bucket name/],
  ])('rejects %s and says how to write it', (uri, reason) => {
    expect(() => parseS3Uri(uri)).toThrow(S3UriError);
    expect(() => parseS3Uri(uri)).toThrow(reason);
    expect(() => parseS3Uri(uri)).toThrow(/s3:\/\/<bucket>\/<key>/);
  });
});

function* chunks(bytes: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
