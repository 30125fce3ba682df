import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputFileError } from '../src/errors';
import { prepareInputs, sampleInput } from '../src/run/inputs';
import { builtSampleWorker, generateSample, SAMPLES_KEPT } from '../src/run/sample';
import { uploadInput } from '../src/run/upload-input';
import type { LocalStack } from '../src/stack/local-stack';

const BUCKET = 'rides-upload-spec';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('generateSample: the file and the hash of its bytes in one pass', () => {
  let dataDir: string;
  beforeAll(() => (dataDir = mkdtempSync(join(tmpdir(), 'rydes-sample-spec-'))));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('reports the SHA-256 and size of exactly the bytes it wrote, so the raw/ key is the one prepareInputs gives the file', async () => {
    // Act
    const sample = await generateSample(3000, 7, dataDir);

    // Assess
    const bytes = readFileSync(sample.file);
    expect(sample).toMatchObject({ rides: 3000, bytes: bytes.length, sha256: sha256(bytes) });
    const [prepared] = await prepareInputs([sample.file]);
    expect(sampleInput(sample)).toEqual(prepared);
    expect(JSON.parse(bytes.toString('utf8'))).toHaveLength(3000);
  });

  it('keeps the file in --data-dir and removes its temp folder otherwise', async () => {
    const kept = await generateSample(10, 1, dataDir);
    const temporary = await generateSample(10, 1);
    await kept.remove();
    await temporary.remove();
    expect(existsSync(kept.file)).toBe(true);
    expect(existsSync(temporary.file)).toBe(false);
    // The same seed, the same bytes: the same key in every run.
    expect(temporary.sha256).toBe(kept.sha256);
  });
});

describe('generateSample in its worker thread (the built dist/apps/cli/run/sample-worker.js, as `rydes run` uses it)', () => {
  // The cli's test target builds the CLI first; the worker is its bundle of the generator.
  const worker = join(__dirname, '../../../dist/apps/cli/run/sample-worker.js');
  let dataDir: string;
  beforeAll(() => (dataDir = mkdtempSync(join(tmpdir(), 'rydes-sample-worker-spec-'))));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is found beside the built CLI bundle, and not beside the TypeScript sources', () => {
    expect(builtSampleWorker(join(__dirname, '../../../dist/apps/cli'))).toBe(worker);
    expect(builtSampleWorker(join(__dirname, '../src/run'))).toBeUndefined();
  });

  it('writes the same bytes, size and hash as this thread does', async () => {
    // Act
    const threaded = await generateSample(5000, 3, join(dataDir, 'threaded'), { worker });
    const here = await generateSample(5000, 3, join(dataDir, 'here'), { worker: false });

    // Assess
    const bytes = readFileSync(threaded.file);
    expect(bytes.equals(readFileSync(here.file))).toBe(true);
    expect(threaded).toMatchObject({ rides: 5000, bytes: bytes.length, sha256: sha256(bytes) });
    expect(threaded.sha256).toBe(here.sha256);
  });

  it('writes the 200,000-ride default sample under the key every run has given it (raw/rides-200000-seed1-96c93d2cb3a4.json)', async () => {
    const sample = await generateSample(200_000, 1, join(dataDir, 'default'), { worker });
    expect(sampleInput(sample)).toMatchObject({ key: 'raw/rides-200000-seed1-96c93d2cb3a4.json', bytes: 46_613_061 });
    expect(sha256(readFileSync(sample.file))).toBe(sample.sha256);
  });

  it("throws the worker's file-system error with its code, as it would be on this thread", async () => {
    // Prepare: the sample's file name is taken by a folder.
    const blocked = join(dataDir, 'blocked');
    mkdirSync(join(blocked, 'sample', 'rides-10-seed1.json'), { recursive: true });

    // Act + Assess
    await expect(generateSample(10, 1, blocked, { worker })).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(generateSample(10, 1, '/dev/null/not-a-dir', { worker })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('the sample cache: a generated sample kept for the next run of the same generator, count and seed', () => {
  const worker = join(__dirname, '../../../dist/apps/cli/run/sample-worker.js');
  let cache: string;
  beforeEach(() => (cache = mkdtempSync(join(tmpdir(), 'rydes-sample-cache-spec-'))));
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('writes the sample once, keeps it after the run, and gives the next run the same file, size and hash without writing it again', async () => {
    // Act
    const first = await generateSample(2000, 5, undefined, { worker, cache });
    await first.remove();
    const written = statSync(first.file, { bigint: true });
    const second = await generateSample(2000, 5, undefined, { worker, cache });

    // Assess
    expect(first.reused).toBeFalsy();
    expect(second).toMatchObject({ file: first.file, bytes: first.bytes, sha256: first.sha256, reused: true });
    const bytes = readFileSync(second.file);
    expect(second).toMatchObject({ bytes: bytes.length, sha256: sha256(bytes) });
    // Not written again: the same inode, untouched.
    const now = statSync(second.file, { bigint: true });
    expect([now.ino, now.mtimeNs, now.ctimeNs]).toEqual([written.ino, written.mtimeNs, written.ctimeNs]);
    // The key every run of that sample has: the file name is the generated one.
    const [prepared] = await prepareInputs([second.file]);
    expect(sampleInput(second)).toEqual(prepared);
    expect(prepared.key).toMatch(/^raw\/rides-2000-seed5-[0-9a-f]{12}\.json$/);
  });

  it.each([
    ['a byte appended', (file: string) => appendFileSync(file, ' ')],
    ['the same bytes written again', (file: string) => writeFileSync(file, readFileSync(file))],
    ['a byte changed in place, size and times kept', (file: string) => {
      const bytes = readFileSync(file);
      const { atime, mtime } = statSync(file);
      bytes[10] = bytes[10] === 0x20 ? 0x0a : 0x20;
      writeFileSync(file, bytes);
      utimesSync(file, atime, mtime);
    }],
    ['its mode changed', (file: string) => chmodSync(file, 0o600)],
    ['removed', (file: string) => rmSync(file)],
  ])('does not believe a kept sample that was touched since it was hashed (%s): it writes it again, with the true hash', async (_what, touch) => {
    // Prepare
    const first = await generateSample(1500, 2, undefined, { worker, cache });
    touch(first.file);

    // Act
    const again = await generateSample(1500, 2, undefined, { worker, cache });

    // Assess
    expect(again.reused).toBeFalsy();
    const bytes = readFileSync(again.file);
    expect(again).toMatchObject({ file: first.file, bytes: first.bytes, sha256: first.sha256 });
    expect(sha256(bytes)).toBe(first.sha256);
    // ... and the rewritten one is believed the next time.
    expect((await generateSample(1500, 2, undefined, { worker, cache })).reused).toBe(true);
  });

  it('does not believe a record of another generator (a rebuilt worker): each build keeps its own', async () => {
    // Prepare: the same generator in a bundle with other bytes.
    const other = join(cache, 'other-worker.js');
    writeFileSync(other, `${readFileSync(worker, 'utf8')}\n// another build\n`);
    const first = await generateSample(1000, 1, undefined, { worker, cache });

    // Act
    const rebuilt = await generateSample(1000, 1, undefined, { worker: other, cache });

    // Assess
    expect(rebuilt.reused).toBeFalsy();
    expect(rebuilt.file).not.toBe(first.file);
    expect(rebuilt.sha256).toBe(first.sha256);
  });

  it(`keeps the ${SAMPLES_KEPT} most recently used samples, and leaves no temp file behind`, async () => {
    // Act
    const samples = [];
    for (let seed = 1; seed <= SAMPLES_KEPT + 2; seed++) samples.push(await generateSample(100, seed, undefined, { worker, cache }));
    // The first one used again before the next is written: it is among the most recent.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const kept = await generateSample(100, SAMPLES_KEPT + 2, undefined, { worker, cache });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await generateSample(100, SAMPLES_KEPT + 3, undefined, { worker, cache });

    // Assess
    expect(kept.reused).toBe(true);
    const entries = readdirSync(cache);
    expect(entries).toHaveLength(SAMPLES_KEPT);
    expect(existsSync(kept.file)).toBe(true);
    expect(existsSync(samples[0].file)).toBe(false);
    for (const entry of entries) expect(readdirSync(join(cache, entry)).sort()).toEqual(['record.json', expect.stringMatching(/^rides-100-seed\d+\.json$/)]);
  });

  it('is not used with a data dir (the sample is kept there) or with RYDES_NO_SAMPLE_CACHE, nor without the built worker', async () => {
    const dataDir = join(cache, 'data');
    const inDataDir = await generateSample(100, 1, dataDir, { worker });
    expect(inDataDir.file).toBe(join(dataDir, 'sample', 'rides-100-seed1.json'));
    process.env.RYDES_NO_SAMPLE_CACHE = '1';
    try {
      const temporary = await generateSample(100, 1, undefined, { worker });
      await temporary.remove();
      expect(existsSync(temporary.file)).toBe(false);
    } finally {
      delete process.env.RYDES_NO_SAMPLE_CACHE;
    }
    const onThisThread = await generateSample(100, 1, undefined, { worker: false, cache });
    await onThisThread.remove();
    expect(existsSync(onThisThread.file)).toBe(false);
    expect(readdirSync(cache)).toEqual(['data']);
  });

  it('fails with the file-system error when the cache cannot hold the sample', async () => {
    // Prepare: the sample's entry cannot be created (the cache is a file).
    const blocked = join(cache, 'blocked');
    writeFileSync(blocked, '');

    // Act + Assess
    await expect(generateSample(10, 1, undefined, { worker, cache: blocked })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('uploadInput: the file stored by the real local S3 (s3rver in its worker thread) as a PutObject of the preflight size', () => {
  let servers: LocalServers;
  let s3: S3Client;
  let stack: LocalStack;
  let dir: string;
  const created: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-upload-input-'));
    servers = await startLocalServers({ buckets: [BUCKET], s3Thread: true });
    servers.onObjectCreated((event) => created.push(...event.Records.map((r) => `${r.eventName} ${r.s3.object.key}`)));
    s3 = createS3Client(servers.env);
    // Only what uploadInput uses of a stack: its servers, bucket and multipart fallback (s3 for the checks below).
    stack = { s3, servers, bucket: BUCKET, upload: () => Promise.reject(new Error('multipart is for files over 5 GiB')) } as unknown as LocalStack;
  });
  afterAll(async () => {
    s3?.destroy();
    await servers?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // The SDK warns on the console when a streamed request fails (it cannot retry a stream): expected below.
  let warn: jest.SpyInstance;
  beforeEach(() => (warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined)));
  afterEach(() => warn.mockRestore());

  const fileOf = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it('stores the file byte for byte under its key (12 MB: more than two multipart parts) and announces it as ObjectCreated:Put', async () => {
    // Prepare
    const bytes = Buffer.alloc(12 * 1024 * 1024 + 17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 10)) & 0xff;
    const [input] = await prepareInputs([fileOf('big.json', bytes)]);

    // Act
    const { key, etag } = await uploadInput(stack, input);

    // Assess
    expect(key).toBe(input.key);
    const { Body } = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const stored = Buffer.from((await Body?.transformToByteArray()) ?? []);
    expect(stored.length).toBe(bytes.length);
    expect(sha256(stored)).toBe(input.sha256);
    // One part: the ETag is the MD5 of the bytes.
    expect(etag.replace(/"/g, '')).toBe(createHash('md5').update(bytes).digest('hex'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(created).toContain(`ObjectCreated:Put ${key}`);
  });

  it('refuses a file that shrank or grew since the preflight, naming it, instead of a truncated or hanging upload (exit 66)', async () => {
    const path = fileOf('changing.json', Buffer.from('[{"name":"a"},{"name":"b"}]'));
    const [input] = await prepareInputs([path]);
    writeFileSync(path, '[]');
    const shrank = uploadInput(stack, input);
    await expect(shrank).rejects.toThrow(InputFileError);
    await expect(shrank).rejects.toThrow(/changing\.json: it shrank while rydes uploaded it \(2 of 27 bytes\)/);

    writeFileSync(path, `[${'{"name":"a"},'.repeat(1000)}{}]`);
    await expect(uploadInput(stack, input)).rejects.toThrow(/changing\.json: it grew while rydes uploaded it \(from 27 bytes\)/);
    // Nothing stored and nothing announced under its key.
    await expect(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: input.key }))).rejects.toMatchObject({ name: 'NotFound' });
    expect(created).not.toContain(`ObjectCreated:Put ${input.key}`);
  });

  it('names a file deleted since the preflight (exit 66)', async () => {
    const path = fileOf('gone.json', Buffer.from('[]'));
    const [input] = await prepareInputs([path]);
    rmSync(path);
    const attempt = uploadInput(stack, input);
    await expect(attempt).rejects.toThrow(InputFileError);
    await expect(attempt).rejects.toThrow(/gone\.json: no such file/);
    expect(statSync(dir).isDirectory()).toBe(true);
  });
});
