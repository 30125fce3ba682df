import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputFileError } from '../src/errors';
import { prepareInputs, sampleInput } from '../src/run/inputs';
import { builtSampleWorker, generateSample } from '../src/run/sample';
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

describe('uploadInput: one streamed PutObject of the preflight size into the real local S3 (s3rver in its worker thread)', () => {
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
    // Only what uploadInput uses of a stack: its S3 client, bucket and multipart fallback.
    stack = { s3, bucket: BUCKET, upload: () => Promise.reject(new Error('multipart is for files over 5 GiB')) } as unknown as LocalStack;
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
