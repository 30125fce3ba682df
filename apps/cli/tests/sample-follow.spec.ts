import { HeadObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { readSampleRecord, SampleRecordMismatch, writeSampleRecord } from '../src/run/sample';
import { FollowedSample } from '../src/run/sample-follow';
import { uploadFollowedSample } from '../src/run/upload-input';
import type { LocalStack } from '../src/stack/local-stack';

const BUCKET = 'rides-follow-spec';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Resolves once `done()` holds (checked every 5 ms, for at most 10 s). */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !done() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Everything `body` gives until it ends or fails, and how it ended. */
function drain(body: Readable): { bytes: () => Buffer; ended: Promise<Error | undefined> } {
  const chunks: Buffer[] = [];
  body.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<Error | undefined>((resolve) => {
    body.once('end', () => resolve(undefined));
    body.once('error', resolve);
  });
  return { bytes: () => Buffer.concat(chunks), ended };
}

describe('FollowedSample: the sample file read as it is written, the last byte on the writer\'s hash', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rydes-follow-spec-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const content = Buffer.from(Array.from({ length: 3000 }, (_, i) => `{"ride":${i}}\n`).join(''));
  const parts = [content.subarray(0, 1000), content.subarray(1000, 20_000), content.subarray(20_000)];

  it('gives the bytes as the writer reports them, holds the last one until the hash matches, then ends', async () => {
    // Prepare
    const file = join(dir, 'rides.json');
    const followed = new FollowedSample({ bytes: content.length, sha256: sha256(content) });
    const body = drain(followed.body());

    // Act: the file grows in three writes, each reported after it is in the file
    let written = 0;
    writeFileSync(file, '');
    followed.wrote(file, 0);
    const seen: number[] = [];
    for (const part of parts) {
      appendFileSync(file, part);
      written += part.length;
      followed.wrote(file, written);
      await until(() => body.bytes().length >= Math.min(written, content.length - 1));
      await tick();
      seen.push(body.bytes().length);
    }
    followed.finished({ bytes: content.length, sha256: sha256(content) });

    // Assess: never ahead of the writer, one byte held until the verdict
    expect(seen).toEqual([1000, 20_000, content.length - 1]);
    expect(await body.ended).toBeUndefined();
    expect(body.bytes().equals(content)).toBe(true);
  });

  it('fails one byte short when the written sample is not the one recorded (a PUT of it stores nothing)', async () => {
    // Prepare: the record says other bytes of the same size
    const file = join(dir, 'rides.json');
    writeFileSync(file, content);
    const followed = new FollowedSample({ bytes: content.length, sha256: sha256(Buffer.from('other')) });
    const body = drain(followed.body());

    // Act
    followed.wrote(file, content.length);
    await until(() => body.bytes().length >= content.length - 1);
    followed.finished({ bytes: content.length, sha256: sha256(content) });

    // Assess
    expect(await body.ended).toBeInstanceOf(SampleRecordMismatch);
    expect(body.bytes().length).toBe(content.length - 1);
  });

  it('fails with the writer\'s own error, and on a size other than recorded before sending past it', async () => {
    // Prepare
    const file = join(dir, 'rides.json');
    writeFileSync(file, content);
    const failing = new FollowedSample({ bytes: content.length, sha256: sha256(content) });
    const failed = drain(failing.body());
    const shorter = new FollowedSample({ bytes: 100, sha256: sha256(content.subarray(0, 100)) });
    const short = drain(shorter.body());

    // Act
    failing.wrote(file, 500);
    failing.finished(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    shorter.wrote(file, content.length);
    await until(() => short.bytes().length >= 99);
    shorter.finished({ bytes: content.length, sha256: sha256(content) });

    // Assess
    expect(await failed.ended).toMatchObject({ code: 'ENOSPC' });
    expect(await short.ended).toBeInstanceOf(SampleRecordMismatch);
    expect(short.bytes().length).toBe(99);
  });
});

describe('the sample\'s record (size and hash of the last sample this build\'s worker wrote)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rydes-record-spec-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is found again for the same worker, count and seed only; none without a worker, a folder or an intact file', () => {
    // Prepare: two "builds" of the worker, the cache folder
    const worker = join(dir, 'sample-worker.js');
    const rebuilt = join(dir, 'sample-worker-2.js');
    writeFileSync(worker, '/* generator v1 */');
    writeFileSync(rebuilt, '/* generator v2 */');
    const folder = join(dir, 'cache');
    mkdirSync(folder);
    const written = { bytes: 46_613_061, sha256: '96c93d2cb3a4b24c7bb76bc65fa9a58e3c1e21c32858f02d2f30c84310342edd' };

    // Act
    const before = readSampleRecord(200_000, 1, worker, folder);
    writeSampleRecord(200_000, 1, written, worker, folder);

    // Assess
    expect(before).toBeUndefined();
    expect(readSampleRecord(200_000, 1, worker, folder)).toEqual(written);
    const others = [
      readSampleRecord(200_000, 2, worker, folder),
      readSampleRecord(199_999, 1, worker, folder),
      readSampleRecord(200_000, 1, rebuilt, folder),
      readSampleRecord(200_000, 1, undefined, folder),
      readSampleRecord(200_000, 1, worker, undefined),
    ];
    expect(others).toEqual([undefined, undefined, undefined, undefined, undefined]);
    const files = readdirSync(folder);
    expect(files).toHaveLength(1);
    writeFileSync(join(folder, files[0]), '{"bytes":46613061,"sha256":"not hex"}');
    expect(readSampleRecord(200_000, 1, worker, folder)).toBeUndefined();
  });
});

describe('uploadFollowedSample (real s3rver in its worker thread)', () => {
  let servers: LocalServers;
  let s3: S3Client;
  let dir: string;
  const created: string[] = [];
  beforeAll(async () => {
    servers = await startLocalServers({ buckets: [BUCKET], s3Thread: true });
    s3 = createS3Client(servers.env);
    // s3rver reports deletions on the same channel: only creations count here.
    servers.onObjectCreated((event) => created.push(...event.Records.filter((r) => r.eventName.startsWith('ObjectCreated')).map((r) => r.s3.object.key)));
    dir = mkdtempSync(join(tmpdir(), 'rydes-follow-put-'));
  });
  afterAll(async () => {
    s3.destroy();
    await servers.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const stack = () => ({ s3, bucket: BUCKET }) as unknown as LocalStack;
  const content = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `{"ride":${i},"name":"unicorn ${i}"}\n`).join(''));

  it('stores the file under the recorded key once the writer\'s hash matches, uploading while it is written', async () => {
    // Prepare
    const file = join(dir, 'good.json');
    writeFileSync(file, content.subarray(0, 1 << 20));
    const followed = new FollowedSample({ bytes: content.length, sha256: sha256(content) });
    followed.wrote(file, 1 << 20);

    // Act: the upload starts with a part of the file; the rest comes later
    const uploading = uploadFollowedSample(stack(), 'raw/good.json', followed);
    await tick();
    appendFileSync(file, content.subarray(1 << 20));
    followed.wrote(file, content.length);
    followed.finished({ bytes: content.length, sha256: sha256(content) });
    const { etag } = await uploading;

    // Assess
    const stored = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'raw/good.json' }))).Body!.transformToByteArray());
    expect(stored.equals(content)).toBe(true);
    expect(etag).toBe(`"${createHash('md5').update(content).digest('hex')}"`);
  });

  it('stores nothing, and notifies nothing, when the sample is not the one recorded', async () => {
    // Prepare
    const file = join(dir, 'bad.json');
    writeFileSync(file, content);
    const followed = new FollowedSample({ bytes: content.length, sha256: sha256(Buffer.from('another generator')) });
    followed.wrote(file, content.length);

    // Act
    const uploading = uploadFollowedSample(stack(), 'raw/bad.json', followed);
    await tick();
    followed.finished({ bytes: content.length, sha256: sha256(content) });

    // Assess
    await expect(uploading).rejects.toBeInstanceOf(SampleRecordMismatch);
    await expect(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'raw/bad.json' }))).rejects.toMatchObject({ name: 'NotFound' });
    expect(created).not.toContain('raw/bad.json');
  });
});
