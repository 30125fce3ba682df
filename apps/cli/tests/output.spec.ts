import { createS3Client, deleteKeys, putObject } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import type { S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '@rydes/ride-model';
import { OutputMirror, mergeRides } from '../src/run/output';

const BUCKET = 'rides-mirror-test';

describe('OutputMirror (real s3rver in its worker thread)', () => {
  let servers: LocalServers;
  let s3: S3Client;
  let outDir: string;
  beforeAll(async () => {
    servers = await startLocalServers({ buckets: [BUCKET], s3Thread: true });
    s3 = createS3Client(servers.env);
  });
  afterAll(async () => {
    s3.destroy();
    await servers.close();
  });
  beforeEach(() => {
    outDir = mkdtempSync(join(tmpdir(), 'rydes-mirror-'));
  });
  afterEach(async () => {
    rmSync(outDir, { recursive: true, force: true });
    await deleteKeys(s3, BUCKET, ['processed/a-1-000000.csv', 'processed/a-1-000001.csv', 'processed/gone-000000.csv', 'rejects/a-1.ndjson', 'manifests/a-1.json']);
  });
  const local = (key: string) => join(outDir, key);

  it('ends byte-equal to the bucket: chunks fetched early, the rest copied by finish', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n0\n');
    await putObject(s3, BUCKET, 'processed/a-1-000001.csv', 'h\n1\n');
    await putObject(s3, BUCKET, 'rejects/a-1.ndjson', '{"index":2}\n');
    await putObject(s3, BUCKET, 'manifests/a-1.json', '{}\n');
    const mirror = new OutputMirror(s3, BUCKET, outDir);

    // Act
    mirror.fetch('processed/a-1-000000.csv');
    const mirrored = await mirror.finish();

    // Assess
    expect(mirrored).toBe(4);
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\n0\n');
    expect(readFileSync(local('processed/a-1-000001.csv'), 'utf8')).toBe('h\n1\n');
    expect(readFileSync(local('rejects/a-1.ndjson'), 'utf8')).toBe('{"index":2}\n');
    expect(readFileSync(local('manifests/a-1.json'), 'utf8')).toBe('{}\n');
  });

  it('copies again a chunk rewritten after it was fetched, and ignores a fetch of a key that is gone', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nfirst\n');
    const mirror = new OutputMirror(s3, BUCKET, outDir);
    mirror.fetch('processed/a-1-000000.csv');
    mirror.fetch('processed/never-written-000000.csv');
    await mirror.finish();

    // Act
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nsecond, longer\n');
    await mirror.finish();

    // Assess
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\nsecond, longer\n');
    expect(existsSync(local('processed/never-written-000000.csv'))).toBe(false);
  });

  it('removes local files of keys the bucket no longer has (superseded chunks, an earlier run)', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/gone-000000.csv', 'h\nold\n');
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nkept\n');
    const mirror = new OutputMirror(s3, BUCKET, outDir);
    mirror.fetch('processed/gone-000000.csv');
    mkdirSync(local('processed/sub'), { recursive: true });
    writeFileSync(local('processed/sub/earlier-run.csv'), 'h\n');
    writeFileSync(local('rides.csv'), 'not a mirrored prefix\n');

    // Act
    await deleteKeys(s3, BUCKET, ['processed/gone-000000.csv']);
    await mirror.finish();

    // Assess
    expect(existsSync(local('processed/gone-000000.csv'))).toBe(false);
    expect(existsSync(local('processed/sub/earlier-run.csv'))).toBe(false);
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\nkept\n');
    expect(readFileSync(local('rides.csv'), 'utf8')).toBe('not a mirrored prefix\n');
  });
});

describe('mergeRides', () => {
  it('merges the chunks that are there when a stalled run never learnt which were missing', async () => {
    // Prepare: three chunks announced, chunk 1 never written, missingChunks unknown (queues not quiet)
    const dir = mkdtempSync(join(tmpdir(), 'rydes-merge-'));
    mkdirSync(join(dir, 'processed'), { recursive: true });
    writeFileSync(join(dir, 'processed/a-0123abcd-000000.csv'), 'h\nr0\n');
    writeFileSync(join(dir, 'processed/a-0123abcd-000002.csv'), 'h\nr2\nr3\n');
    const manifest = { bucket: 'b', source: 'raw/a.json', etag: '"0123abcd"', total: 4, valid: 4, rejected: 0, chunks: 3 } as Manifest;

    // Act
    const merged = await mergeRides(dir, [{ key: 'raw/a.json', manifestKey: 'manifests/a-0123abcd.json', manifest }]);

    // Assess
    expect(merged).toEqual({ rows: 3, bySource: { 'raw/a.json': 3 } });
    expect(readFileSync(join(dir, 'rides.csv'), 'utf8')).toBe('h\nr0\nr2\nr3\n');
    rmSync(dir, { recursive: true, force: true });
  });
});
