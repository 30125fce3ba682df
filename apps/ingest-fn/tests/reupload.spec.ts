import { countRequests, createLogger, createS3Client, putObject } from '@rydes/aws-adapters';
import type { Manifest } from '@rydes/ride-model';
import { ingestEvent } from '../src/ingest-event';
import { lambdaContext, s3Event } from './helpers/lambda';
import { drainThroughTransform, loadTransform, outputsOf, processedRows } from './helpers/pipeline';
import { BUCKET, keysUnder, rawRide, rideFile, startStack, upload, type Stack } from './helpers/stack';

const etag8 = (etag: string) => etag.replace(/"/g, '').slice(0, 8);
/**
 * `count` rides as an array file, rides 3 and 120 invalid; `variant` changes every name, so the
 * bytes and the ETag differ. Rejects do not close a chunk (messages carry their gaps): 250 rides
 * make 3 chunks ([0-100] [101-201] [202-249]), 130 make 2, 60, 40, 20 and 10 make 1.
 */
const version = (variant: string, count = 250) =>
  rideFile(Array.from({ length: count }, (_, i) => (i === 3 || i === 120 ? { ...rawRide(i), Latitude: 95 } : { ...rawRide(i), Name: `${variant} ${i}` })), 'array');

describe('re-uploads and idempotency (real s3rver and local-aws-sqs, transform bundle)', () => {
  let stack: Stack;
  let stdout: jest.SpyInstance;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => stdout.mockRestore());
  const emfLines = () => stdout.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));

  /** Uploads `body` to `key` and runs ingest on its event, then the queue through transform. */
  async function uploadAndRun(key: string, body: string, options: { drain?: boolean } = {}) {
    const etag = await upload(stack.s3, key, body);
    // Several chunks per version (what supersedes what is the point here), whatever the default.
    await stack.loadHandler({ RIDES_PER_MESSAGE: '100' })(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    const drained = options.drain === false ? undefined : await drainThroughTransform(stack, loadTransform(stack));
    return { etag, drained };
  }

  it('leaves processed/, rejects/ and manifests/ byte-identical when the same object is uploaded again (manifest keeps the first run\'s times)', async () => {
    // Prepare
    const body = version('Same');
    await uploadAndRun('raw/same.json', body);
    const first = await outputsOf(stack, 'same');
    // Act
    await new Promise((resolve) => setTimeout(resolve, 5));
    const { etag } = await uploadAndRun('raw/same.json', body);
    // Assess
    const second = await outputsOf(stack, 'same');
    expect(Object.keys(first)).toEqual([
      ...[0, 1, 2].map((chunk) => `processed/same-${etag8(etag)}-00000${chunk}.csv`),
      `rejects/same-${etag8(etag)}.ndjson`,
      `manifests/same-${etag8(etag)}.json`,
    ]);
    expect(second).toEqual(first);
    expect(await processedRows(stack, 'same')).toHaveLength(248);
  });

  it('replaces a changed object\'s outputs: only the new version remains, each valid ride once', async () => {
    // Prepare
    const v1 = await uploadAndRun('raw/changed.json', version('Old', 250));
    // Act
    const v2 = await uploadAndRun('raw/changed.json', version('New', 130));
    // Assess
    const outputs = await outputsOf(stack, 'changed');
    expect(Object.keys(outputs)).toEqual([
      ...[0, 1].map((chunk) => `processed/changed-${etag8(v2.etag)}-00000${chunk}.csv`),
      `rejects/changed-${etag8(v2.etag)}.ndjson`,
      `manifests/changed-${etag8(v2.etag)}.json`,
    ]);
    expect(etag8(v1.etag)).not.toBe(etag8(v2.etag));
    const rows = await processedRows(stack, 'changed');
    expect(rows.map((r) => Number(r.ride_index))).toEqual(Array.from({ length: 130 }, (_, i) => i).filter((i) => i !== 3 && i !== 120));
    expect(rows.every((r) => r.name.startsWith('New '))).toBe(true);
  });

  it('never touches other sources that share the stem (raw/a.json vs raw/a.ndjson) or extend it (raw/a-b.json)', async () => {
    // Prepare: neighbours first, then two versions of raw/a.json
    const ndjson = await uploadAndRun('raw/a.ndjson', rideFile([rawRide(1), rawRide(2)], 'ndjson'));
    const ab = await uploadAndRun('raw/a-b.json', version('AB', 20));
    await uploadAndRun('raw/a.json', version('A1', 10));
    // Act
    const a2 = await uploadAndRun('raw/a.json', version('A2', 10));
    // Assess
    expect(await keysUnder(stack.s3, 'manifests/a-')).toEqual(
      [`manifests/a-${etag8(a2.etag)}.json`, `manifests/a-${etag8(ndjson.etag)}.json`, `manifests/a-b-${etag8(ab.etag)}.json`].sort(),
    );
    expect((await keysUnder(stack.s3, `processed/a-${etag8(ndjson.etag)}-`)).length).toBe(1);
    expect((await keysUnder(stack.s3, `processed/a-b-${etag8(ab.etag)}-`)).length).toBe(1);
    expect(await keysUnder(stack.s3, `rejects/a-b-${etag8(ab.etag)}.ndjson`)).toHaveLength(1);
  });

  it('acknowledges late messages of the old version as superseded: no stale output resurrected, nothing left for the DLQ', async () => {
    // Prepare: version 1 ingested but its messages not yet transformed; then version 2 ingested
    const v1 = await uploadAndRun('raw/late.json', version('Old', 250), { drain: false });
    const v2 = await uploadAndRun('raw/late.json', version('New', 60), { drain: false });
    // Act: every message of both versions reaches transform, the old ones late
    const drained = await drainThroughTransform(stack, loadTransform(stack));
    // Assess
    expect(drained.failed).toEqual([]);
    const received = drained.messages.map((m) => `${etag8(m.source.etag)}:${m.chunk}`).sort();
    expect(received).toEqual([...[0, 1, 2].map((c) => `${etag8(v1.etag)}:${c}`), `${etag8(v2.etag)}:0`].sort());
    expect(await keysUnder(stack.s3, 'processed/late-')).toEqual([`processed/late-${etag8(v2.etag)}-000000.csv`]);
    const superseded = emfLines().filter((l) => l.Function === 'transform-fn').reduce((sum, l) => sum + l.MessagesSuperseded, 0);
    expect(superseded).toBe(3);
  });

  it('removes its own outputs when the object is overwritten while it is being ingested', async () => {
    // Prepare: the key is overwritten just before version 1 writes its manifest
    const key = 'raw/overtaken.json';
    const v1 = await upload(stack.s3, key, version('Old', 150));
    const s3 = createS3Client(stack.local.env);
    let v2 = '';
    (s3.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input?: { Key?: string } }) => {
        if (context.commandName === 'PutObjectCommand' && args.input?.Key?.startsWith('manifests/overtaken-') && !v2) {
          v2 = (await putObject(stack.s3, BUCKET, key, version('New', 40))).etag;
        }
        return next(args);
      },
      { step: 'initialize', name: 'overwriteBeforeManifest' },
    );
    // Act
    const [manifest] = await ingestEvent(s3Event(BUCKET, [{ key, eTag: v1 }]), {
      s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage: 100, continueBelowMs: 60_000 },
      logger: createLogger({ level: 'silent' }), metrics: () => undefined,
    });
    const drained = await drainThroughTransform(stack, loadTransform(stack));
    s3.destroy();
    // Assess: version 1 wrote, noticed the overwrite, and removed all of it; its messages were superseded
    expect(manifest.etag).toBe(v1);
    expect(v2).not.toBe('');
    expect(drained.failed).toEqual([]);
    expect(await outputsOf(stack, 'overtaken')).toEqual({});
  });

  it('costs ingest one GetObject (manifest), one HeadObject and one ListObjects per file when there is no older version', async () => {
    // Prepare
    const key = 'raw/counted.json';
    const etag = await upload(stack.s3, key, version('Counted', 250));
    const s3 = createS3Client(stack.local.env);
    const counts = countRequests(s3, {});
    // Act
    const [manifest] = await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), {
      s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage: 100, continueBelowMs: 60_000 },
      logger: createLogger({ level: 'silent' }), metrics: () => undefined,
    });
    await drainThroughTransform(stack, loadTransform(stack));
    s3.destroy();
    // Assess: GetObject = the file + the previous manifest; PutObject = rejects + manifest
    expect(manifest).toMatchObject<Partial<Manifest>>({ valid: 248, rejected: 2, chunks: 3 });
    expect(counts).toEqual({ GetObjectCommand: 2, PutObjectCommand: 2, HeadObjectCommand: 1, ListObjectsCommand: 1 });
  });
});
