import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { generateRides, type Manifest, objectKeys, writeRides } from '@rydes/ride-model';
import { mockClient } from 'aws-sdk-client-mock';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { StackNotFoundError, StackOutputMissingError, stackOutputs } from '../src/stack/connect';
import {
  formatSummary,
  IngestFailedError,
  type PipelineState,
  RideFileNameError,
  uploadRideFile,
  watchPipeline,
  WatchTimeoutError,
} from '../src/commands/upload';
import { InputFileError } from '../src/errors';
import { startStack } from '../src/stack/local-stack';
import { BUCKET } from '../src/stack/names';

const TEST_BUCKET = 'rydes-upload-test';
let local: LocalServers;
let s3: S3Client;
let dir: string;

beforeAll(async () => {
  local = await startLocalServers({ buckets: [TEST_BUCKET] });
  s3 = createS3Client(local.env);
  dir = mkdtempSync(join(tmpdir(), 'rydes-upload-'));
});

afterAll(async () => {
  s3.destroy();
  await local.close();
  rmSync(dir, { recursive: true, force: true });
});

const manifestFor = (key: string, etag: string, fields: Partial<Manifest>): Manifest => ({
  bucket: TEST_BUCKET,
  source: key,
  etag,
  total: 250,
  valid: 248,
  rejected: 2,
  chunks: 3,
  ridesPerMessage: 100,
  droppedFields: 0,
  startedAt: new Date().toISOString(),
  finishedAt: new Date().toISOString(),
  ...fields,
});

const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: TEST_BUCKET, Key: key, Body: body }));

describe('uploadRideFile (real local S3)', () => {
  it('uploads a 12 MiB file to raw/ in multipart, byte for byte', async () => {
    // Prepare: more than one 8 MiB part, so lib-storage goes multipart
    const file = join(dir, 'big.ndjson');
    const bytes = randomBytes(12 * 1024 * 1024);
    writeFileSync(file, bytes);
    const seen: number[] = [];
    const client = createS3Client(local.env);
    const commands: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize' },
    );
    // Act
    const uploaded = await uploadRideFile(client, { file, bucket: TEST_BUCKET, onBytes: (loaded) => seen.push(loaded) });
    // Assess
    expect(uploaded).toMatchObject({ bucket: TEST_BUCKET, key: 'raw/big.ndjson', bytes: bytes.length });
    expect(commands).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
      'HeadObjectCommand',
    ]);
    // s3rver reports a plain MD5 even for multipart objects; S3 appends "-<parts>".
    expect(uploaded.etag).toMatch(/^"[0-9a-f]{32}(-2)?"$/);
    client.destroy();
    const stored = await s3.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: 'raw/big.ndjson' }));
    expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? []).equals(bytes)).toBe(true);
    expect(seen.at(-1)).toBe(bytes.length);
  });

  it('refuses a name the S3 trigger would ignore, before uploading', async () => {
    const file = join(dir, 'rides.csv');
    writeFileSync(file, 'a,b\n');
    await expect(uploadRideFile(s3, { file, bucket: TEST_BUCKET })).rejects.toThrow(RideFileNameError);
    await expect(uploadRideFile(s3, { file, bucket: TEST_BUCKET })).rejects.toThrow('raw/rides.csv would not start an ingest');
  });

  it('names a missing input file', async () => {
    await expect(uploadRideFile(s3, { file: join(dir, 'nope.json'), bucket: TEST_BUCKET })).rejects.toThrow(InputFileError);
  });
});

describe('watchPipeline (real local S3; the functions simulated by writing their manifest and CSV objects)', () => {
  async function uploadSmall(name: string) {
    const file = join(dir, name);
    writeFileSync(file, `[${'{"name":"x"},'.repeat(10)}{"name":"y"}]`);
    return uploadRideFile(s3, { file, bucket: TEST_BUCKET });
  }

  it('follows the run until every announced chunk is written, then summarises it', async () => {
    // Prepare
    const uploaded = await uploadSmall('rides.json');
    const keys = objectKeys(uploaded);
    const states: PipelineState[] = [];
    let polls = 0;
    // Act: the "functions" write one CSV per poll, the manifest after the first
    const done = await watchPipeline(s3, {
      uploaded,
      intervalMs: 10,
      timeoutMs: 10_000,
      onUpdate: async (state) => {
        states.push(state);
        if (polls < 3) await put(keys.processed(polls), 'distance\n1\n');
        if (polls === 1) await put(keys.manifest, JSON.stringify(manifestFor(uploaded.key, uploaded.etag, {})));
        polls++;
      },
    });
    // Assess
    expect(done).toMatchObject({ processed: 3, manifest: { chunks: 3, valid: 248, rejected: 2 } });
    expect(states[0]).toEqual({ manifest: undefined, processed: 0 });
    expect(states.map((s) => s.processed)).toEqual([...states.map((s) => s.processed)].sort((a, b) => a - b));
    const summary = formatSummary(uploaded, done);
    expect(summary).toContain('raw/rides.json: 250 rides, 248 valid, 2 rejected');
    expect(summary).toContain(`(s3://${TEST_BUCKET}/${keys.rejects})`);
    expect(summary).toContain(`3 fan-out messages of up to 100 rides → 3 CSV objects in s3://${TEST_BUCKET}/processed/`);
  });

  it('does not count CSV objects of another upload of the same name', async () => {
    const uploaded = await uploadSmall('other.json');
    const keys = objectKeys(uploaded);
    await put(keys.manifest, JSON.stringify(manifestFor(uploaded.key, uploaded.etag, { chunks: 1 })));
    await put(objectKeys({ ...uploaded, etag: '"ffffffff00000000"' }).processed(0), 'x\n');
    await expect(watchPipeline(s3, { uploaded, intervalMs: 10, timeoutMs: 100 })).rejects.toThrow(WatchTimeoutError);
    await put(keys.processed(0), 'x\n');
    await expect(watchPipeline(s3, { uploaded, intervalMs: 10, timeoutMs: 100 })).resolves.toMatchObject({ processed: 1 });
  });

  it('stops with the byte offset when the manifest reports an ingest error', async () => {
    const uploaded = await uploadSmall('broken.json');
    const error = { message: 'Unexpected token } in JSON', byteOffset: 1234, lastGoodIndex: 9 };
    await put(objectKeys(uploaded).manifest, JSON.stringify(manifestFor(uploaded.key, uploaded.etag, { error })));
    await expect(watchPipeline(s3, { uploaded, intervalMs: 10, timeoutMs: 1000 })).rejects.toThrow(IngestFailedError);
    await expect(watchPipeline(s3, { uploaded, intervalMs: 10, timeoutMs: 1000 })).rejects.toThrow('ingest stopped at byte 1234 (last good ride 9)');
  });

  it('gives up after the timeout and says what is missing', async () => {
    const uploaded = await uploadSmall('never.json');
    await expect(watchPipeline(s3, { uploaded, intervalMs: 20, timeoutMs: 60 })).rejects.toThrow(/no manifest at manifests\/never-[0-9a-f]{8}\.json yet, 0 CSV objects/);
  });
});

describe('the bucket from the stack outputs (mocked CloudFormation)', () => {
  const cloudformation = mockClient(CloudFormationClient);
  afterAll(() => cloudformation.restore());

  it('reads BucketName and the other outputs of the stack', async () => {
    cloudformation.on(DescribeStacksCommand, { StackName: 'rides-dev' }).resolves({
      Stacks: [
        {
          StackName: 'rides-dev',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: ['BucketName', 'FanoutQueueUrl', 'FanoutDlqUrl', 'IngestDlqUrl', 'IngestFunctionName', 'TransformFunctionName'].map((k) => ({
            OutputKey: k,
            OutputValue: `${k}-value`,
          })),
        },
      ],
    });
    await expect(stackOutputs(new CloudFormationClient({}), 'rides-dev')).resolves.toMatchObject({ BucketName: 'BucketName-value' });
  });

  it('says to redeploy when an output is missing, and to deploy when the stack is', async () => {
    cloudformation.reset();
    cloudformation.on(DescribeStacksCommand, { StackName: 'old' }).resolves({ Stacks: [{ StackName: 'old', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [] }] });
    cloudformation.on(DescribeStacksCommand, { StackName: 'gone' }).rejects(Object.assign(new Error('Stack with id gone does not exist'), { name: 'ValidationError' }));
    await expect(stackOutputs(new CloudFormationClient({}), 'old')).rejects.toThrow(StackOutputMissingError);
    await expect(stackOutputs(new CloudFormationClient({}), 'gone')).rejects.toThrow(StackNotFoundError);
  });
});

describe('rydes upload against the embedded stack (real bundles, real local S3 and SQS)', () => {
  it('uploads a generated file and waits until every chunk is in processed/', async () => {
    // Prepare
    const file = join(dir, 'generated.ndjson');
    await pipeline(writeRides(generateRides({ count: 1_050, seed: 7, invalidRate: 0.01 }), { shape: 'ndjson', gzip: false }), createWriteStream(file));
    const stack = await startStack({ concurrency: 2, ridesPerMessage: 100 });
    try {
      // Act
      const uploaded = await uploadRideFile(stack.s3, { file, bucket: BUCKET });
      const done = await watchPipeline(stack.s3, { uploaded, intervalMs: 200, timeoutMs: 60_000 });
      // Assess
      expect(done.manifest.total).toBe(1_050);
      expect(done.manifest.valid + done.manifest.rejected).toBe(1_050);
      expect(done.processed).toBe(done.manifest.chunks);
      // Rejected rides are gaps inside a message (v2), not chunk ends: full chunks of 100 valid rides.
      expect(done.manifest.chunks).toBe(Math.ceil(done.manifest.valid / 100));
      expect(readFileSync(file).length).toBe(uploaded.bytes);
      let rows = 0;
      for (let chunk = 0; chunk < done.manifest.chunks; chunk++) {
        const csv = await stack.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: objectKeys(uploaded).processed(chunk) }));
        rows += ((await csv.Body?.transformToString()) ?? '').trimEnd().split('\n').length - 1;
      }
      expect(rows).toBe(done.manifest.valid);
    } finally {
      await stack.close();
    }
  }, 90_000);
});
