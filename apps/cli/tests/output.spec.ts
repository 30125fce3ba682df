import { createS3Client, deleteKeys, putObject } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import type { S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CSV_COLUMNS, type Manifest } from '@rydes/ride-model';
import { OutputMirror, countRows, mergeRides } from '../src/run/output';
import { OutputFolder } from '../src/run/out-folder';

const BUCKET = 'rides-mirror-test';

/** Counts the GetObject requests `s3` sends from now on. */
function countGets(s3: S3Client, command = 'GetObjectCommand'): () => number {
  let gets = 0;
  s3.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === command) gets++;
      return next(args);
    },
    { step: 'initialize', name: `countGets${Math.random()}` },
  );
  return () => gets;
}

describe('OutputMirror (real s3rver in its worker thread)', () => {
  let servers: LocalServers;
  let s3: S3Client;
  let outDir: string;
  let out: OutputFolder;
  beforeAll(async () => {
    servers = await startLocalServers({ buckets: [BUCKET], s3Thread: true });
    s3 = createS3Client(servers.env);
  });
  afterAll(async () => {
    s3.destroy();
    await servers.close();
  });
  beforeEach(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'rydes-mirror-'));
    out = await OutputFolder.claim(outDir);
  });
  afterEach(async () => {
    await out.release();
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
    const mirror = new OutputMirror(s3, BUCKET, out);

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
    const mirror = new OutputMirror(s3, BUCKET, out);
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

  it('removes the files rydes wrote for keys the bucket no longer has (superseded chunks, an earlier run)', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/gone-000000.csv', 'h\nold\n');
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nkept\n');
    const mirror = new OutputMirror(s3, BUCKET, out);
    mirror.fetch('processed/gone-000000.csv');
    mkdirSync(local('processed/sub'), { recursive: true });
    writeFileSync(local('processed/sub/earlier-run.csv'), 'h\n');
    out.record('processed/sub/earlier-run.csv');

    // Act
    await deleteKeys(s3, BUCKET, ['processed/gone-000000.csv']);
    await mirror.finish();

    // Assess
    expect(existsSync(local('processed/gone-000000.csv'))).toBe(false);
    expect(existsSync(local('processed/sub/earlier-run.csv'))).toBe(false);
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\nkept\n');
  });

  it('copies from the local bucket\'s files, with no GET, when the bucket runs on this machine', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n0\n');
    await putObject(s3, BUCKET, 'processed/a-1-000001.csv', 'h\n1\n');
    await putObject(s3, BUCKET, 'rejects/a-1.ndjson', '{"index":2}\n');
    await putObject(s3, BUCKET, 'manifests/a-1.json', '{}\n');
    const gets = countGets(s3);
    const mirror = new OutputMirror(s3, BUCKET, out, { localFile: (key) => servers.objectFile(BUCKET, key) });

    // Act
    mirror.fetch('processed/a-1-000000.csv');
    const mirrored = await mirror.finish();

    // Assess
    expect(mirrored).toBe(4);
    expect(gets()).toBe(0);
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\n0\n');
    expect(readFileSync(local('processed/a-1-000001.csv'), 'utf8')).toBe('h\n1\n');
    expect(readFileSync(local('rejects/a-1.ndjson'), 'utf8')).toBe('{"index":2}\n');
    expect(readFileSync(local('manifests/a-1.json'), 'utf8')).toBe('{}\n');
    // Copies, not links, unless linkLocalFiles says the bucket's folder is nobody's after the run.
    expect(statSync(local('processed/a-1-000001.csv')).ino).not.toBe(statSync(servers.objectFile(BUCKET, 'processed/a-1-000001.csv') as string).ino);
  });

  it('links the local bucket\'s files into --out when allowed (the same file, no GET, no copy), and links anew a key deleted and written again after its link', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n0\n');
    await putObject(s3, BUCKET, 'processed/a-1-000001.csv', 'h\n1\n');
    await putObject(s3, BUCKET, 'rejects/a-1.ndjson', '{"index":2}\n');
    await putObject(s3, BUCKET, 'manifests/a-1.json', '{}\n');
    const gets = countGets(s3);
    const mirror = new OutputMirror(s3, BUCKET, out, { localFile: (key) => servers.objectFile(BUCKET, key), linkLocalFiles: true });
    const sameFile = (key: string) => statSync(local(key)).ino === statSync(servers.objectFile(BUCKET, key) as string).ino;

    // Act
    mirror.fetch('processed/a-1-000000.csv');
    for (const deadline = Date.now() + 5000; !existsSync(local('processed/a-1-000000.csv')) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    const linkedEarly = sameFile('processed/a-1-000000.csv');
    // A new file for the key (s3rver deletes the old one): the early link now holds the old bytes.
    await deleteKeys(s3, BUCKET, ['processed/a-1-000000.csv']);
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nrewritten\n');
    const mirrored = await mirror.finish();

    // Assess
    expect(linkedEarly).toBe(true);
    expect(mirrored).toBe(4);
    expect(gets()).toBe(0);
    const keys = ['processed/a-1-000000.csv', 'processed/a-1-000001.csv', 'rejects/a-1.ndjson', 'manifests/a-1.json'];
    expect(keys.map(sameFile)).toEqual([true, true, true, true]);
    expect(keys.map((key) => readFileSync(local(key), 'utf8'))).toEqual(['h\nrewritten\n', 'h\n1\n', '{"index":2}\n', '{}\n']);
  });

  it('with listLocal, finish reads the bucket\'s folder instead of listing it (no ListObjectsV2): a key written anew is linked anew, one never fetched is linked, one gone is removed', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n0\n');
    await putObject(s3, BUCKET, 'processed/a-1-000001.csv', 'h\n1\n');
    await putObject(s3, BUCKET, 'processed/gone-000000.csv', 'h\ngone\n');
    await putObject(s3, BUCKET, 'manifests/a-1.json', '{}\n');
    const lists = countGets(s3, 'ListObjectsV2Command');
    const gets = countGets(s3);
    const mirror = new OutputMirror(s3, BUCKET, out, {
      localFile: (key) => servers.objectFile(BUCKET, key),
      linkLocalFiles: true,
      listLocal: (prefix) => servers.listObjectFiles(BUCKET, prefix),
    });
    const sameFile = (key: string) => statSync(local(key)).ino === statSync(servers.objectFile(BUCKET, key) as string).ino;
    mirror.fetch('processed/a-1-000000.csv');
    mirror.fetch('processed/gone-000000.csv');
    await mirror.finish();
    // The key written anew (a new file in the bucket), one deleted, one added since.
    await deleteKeys(s3, BUCKET, ['processed/a-1-000000.csv', 'processed/gone-000000.csv']);
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nrewritten\n');
    await putObject(s3, BUCKET, 'rejects/a-1.ndjson', '{"index":2}\n');

    // Act
    const mirrored = await mirror.finish();

    // Assess
    expect(mirrored).toBe(4);
    expect([lists(), gets()]).toEqual([0, 0]);
    const keys = ['processed/a-1-000000.csv', 'processed/a-1-000001.csv', 'rejects/a-1.ndjson', 'manifests/a-1.json'];
    expect(keys.map(sameFile)).toEqual([true, true, true, true]);
    expect(keys.map((key) => readFileSync(local(key), 'utf8'))).toEqual(['h\nrewritten\n', 'h\n1\n', '{"index":2}\n', '{}\n']);
    expect(existsSync(local('processed/gone-000000.csv'))).toBe(false);
  });

  it('with listLocal and copies (no links), a copy whose bytes differ from the bucket\'s is copied again', async () => {
    // Prepare
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n0\n');
    const mirror = new OutputMirror(s3, BUCKET, out, { localFile: (key) => servers.objectFile(BUCKET, key), listLocal: (prefix) => servers.listObjectFiles(BUCKET, prefix) });
    mirror.fetch('processed/a-1-000000.csv');
    await mirror.finish();
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n9\n');

    // Act
    await mirror.finish();

    // Assess
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\n9\n');
    expect(statSync(local('processed/a-1-000000.csv')).ino).not.toBe(statSync(servers.objectFile(BUCKET, 'processed/a-1-000000.csv') as string).ino);
  });

  it('links over an earlier run\'s files of the same keys (an --out run into again), each key once even when fetched twice at once', async () => {
    // Prepare: an earlier run's files recorded in --out at the keys this run writes again
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n0\n');
    await putObject(s3, BUCKET, 'processed/a-1-000001.csv', 'h\n1\n');
    mkdirSync(local('processed'), { recursive: true });
    for (const key of ['processed/a-1-000000.csv', 'processed/a-1-000001.csv']) {
      out.record(key);
      writeFileSync(local(key), 'h\nearlier run\n');
    }
    const gets = countGets(s3);
    const mirror = new OutputMirror(s3, BUCKET, out, { localFile: (key) => servers.objectFile(BUCKET, key), linkLocalFiles: true });
    const sameFile = (key: string) => statSync(local(key)).ino === statSync(servers.objectFile(BUCKET, key) as string).ino;

    // Act: chunk 0 offered twice at once (a redelivered message's report), as the run may
    mirror.fetch('processed/a-1-000000.csv');
    mirror.fetch('processed/a-1-000000.csv');
    mirror.fetch('processed/a-1-000001.csv');
    await mirror.finish();

    // Assess
    expect(gets()).toBe(0);
    expect(['processed/a-1-000000.csv', 'processed/a-1-000001.csv'].map(sameFile)).toEqual([true, true]);
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\n0\n');
    expect(readdirSync(local('processed')).sort()).toEqual(['a-1-000000.csv', 'a-1-000001.csv']);
  });

  it('never writes through a link into the bucket\'s file: a linked file that turns out wrong is replaced, not overwritten', async () => {
    // Prepare: a "local file" of another size than the object's
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nright\n');
    const wrong = join(outDir, '..', `${basename(outDir)}-wrong.csv`);
    writeFileSync(wrong, 'h\nwrong, and longer\n');
    const mirror = new OutputMirror(s3, BUCKET, out, { localFile: () => wrong, linkLocalFiles: true });

    // Act
    mirror.fetch('processed/a-1-000000.csv');
    await mirror.finish();
    const left = readFileSync(wrong, 'utf8');
    rmSync(wrong, { force: true });

    // Assess
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\nright\n');
    expect(left).toBe('h\nwrong, and longer\n');
  });

  it('fetches with a GET what the local file gets wrong: other bytes of the same size, a missing file', async () => {
    // Prepare: a "local file" that is not the object's (as a torn read of a rewrite would be)
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\nright\n');
    await putObject(s3, BUCKET, 'processed/a-1-000001.csv', 'h\n1\n');
    const wrong = join(outDir, '..', `${basename(outDir)}-wrong.csv`);
    writeFileSync(wrong, 'h\nwrong\n');
    const gets = countGets(s3);
    const mirror = new OutputMirror(s3, BUCKET, out, {
      localFile: (key) => (key === 'processed/a-1-000000.csv' ? wrong : join(outDir, '..', 'no-such-file')),
    });

    // Act
    mirror.fetch('processed/a-1-000000.csv');
    await mirror.finish();
    rmSync(wrong, { force: true });

    // Assess
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('h\nright\n');
    expect(readFileSync(local('processed/a-1-000001.csv'), 'utf8')).toBe('h\n1\n');
    expect(gets()).toBe(2);
  });

  it('never deletes or overwrites a file it did not write, even inside processed/ (a conflict instead)', async () => {
    // Prepare: the user's files, there before rydes claimed the folder (--force)
    await out.release();
    mkdirSync(local('processed/2019'), { recursive: true });
    writeFileSync(local('processed/2019/thesis.txt'), 'my thesis\n');
    writeFileSync(local('processed/a-1-000000.csv'), 'someone else\n');
    writeFileSync(local('processed/a-1-000001.csv'), 'h\n1\n');
    out = await OutputFolder.claim(outDir, { force: true });
    await putObject(s3, BUCKET, 'processed/a-1-000000.csv', 'h\n0\n');
    await putObject(s3, BUCKET, 'processed/a-1-000001.csv', 'h\n1\n');
    const mirror = new OutputMirror(s3, BUCKET, out);

    // Act
    mirror.fetch('processed/a-1-000000.csv');
    await mirror.finish();
    await out.release();

    // Assess
    expect(readFileSync(local('processed/2019/thesis.txt'), 'utf8')).toBe('my thesis\n');
    expect(readFileSync(local('processed/a-1-000000.csv'), 'utf8')).toBe('someone else\n');
    expect([...mirror.conflicts]).toEqual(['processed/a-1-000000.csv']);
    expect(mirror.readable('processed/a-1-000000.csv')).toBe(false);
    expect(mirror.readable('processed/a-1-000001.csv')).toBe(true); // the same bytes: counted, still not rydes's
    const marker = JSON.parse(readFileSync(local('.rydes-output.json'), 'utf8')) as { files: string[] };
    expect(marker.files).not.toContain('processed/2019/thesis.txt');
    expect(marker.files).not.toContain('processed/a-1-000001.csv');
    expect(readdirSync(local('processed')).sort()).toEqual(['2019', 'a-1-000000.csv', 'a-1-000001.csv']);
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

    const out = await OutputFolder.claim(dir, { force: true });

    // Act
    const merged = await mergeRides(out, [{ key: 'raw/a.json', manifestKey: 'manifests/a-0123abcd.json', manifest }], () => true);

    // Assess
    expect(merged).toEqual({ rows: 3, bySource: { 'raw/a.json': 3 } });
    expect(readFileSync(join(dir, 'rides.csv'), 'utf8')).toBe('h\nr0\nr2\nr3\n');
    await out.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('merges many small chunks and a large one (over 1 MiB, streamed) in source then chunk order, each row once', async () => {
    // Prepare: source b (3,000 one-row chunks, one of them 1.5 MiB of rows) sorts after source a (2 chunks)
    const dir = mkdtempSync(join(tmpdir(), 'rydes-merge-'));
    mkdirSync(join(dir, 'processed'), { recursive: true });
    const big = Array.from({ length: 20_000 }, (_, i) => `b-big-${i},${'x'.repeat(70)}\n`).join('');
    expect(big.length).toBeGreaterThan(1 << 20);
    const expected: string[] = [];
    for (let chunk = 0; chunk < 2; chunk++) {
      writeFileSync(join(dir, `processed/a-0123abcd-00000${chunk}.csv`), `h\na-${chunk}\n`);
      expected.push(`a-${chunk}\n`);
    }
    for (let chunk = 0; chunk < 3_000; chunk++) {
      const body = chunk === 1_234 ? big : `b-${chunk}\n`;
      writeFileSync(join(dir, `processed/b-4567cdef-${String(chunk).padStart(6, '0')}.csv`), `h\n${body}`);
      expected.push(body);
    }
    const manifest = (source: string, etag: string, chunks: number) => ({ bucket: 'b', source, etag, total: chunks, valid: chunks, rejected: 0, chunks }) as Manifest;
    const out = await OutputFolder.claim(dir, { force: true });

    // Act
    const merged = await mergeRides(
      out,
      [
        { key: 'raw/b.json', manifest: manifest('raw/b.json', '"4567cdef"', 3_000), missingChunks: [] },
        { key: 'raw/a.json', manifest: manifest('raw/a.json', '"0123abcd"', 2), missingChunks: [] },
      ],
      () => true,
    );

    // Assess
    expect(merged).toEqual({ rows: 2 + 2_999 + 20_000, bySource: { 'raw/a.json': 2, 'raw/b.json': 2_999 + 20_000 } });
    expect(readFileSync(join(dir, 'rides.csv'), 'utf8')).toBe(`h\n${expected.join('')}`);
    await out.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies the chunks\' bytes as they are (UTF-8 names, quoted commas, quotes and line breaks) and counts rows as the CSV has them', async () => {
    // Prepare: rows whose names hold multi-byte characters, a quoted comma, a doubled quote and a quoted line break
    const dir = mkdtempSync(join(tmpdir(), 'rydes-merge-'));
    mkdirSync(join(dir, 'processed'), { recursive: true });
    const bodies = ['1,Zoë 🦄,x\n2,"Smith, Jo",y\n', '3,"say ""hi""",z\n4,"two\nlines",w\n\n', '5,Ünïcörn,v'];
    bodies.forEach((body, chunk) => writeFileSync(join(dir, `processed/a-0123abcd-00000${chunk}.csv`), `id,name,x\n${body}`));
    const manifest = { bucket: 'b', source: 'raw/a.json', etag: '"0123abcd"', total: 5, valid: 5, rejected: 0, chunks: 3 } as Manifest;
    const out = await OutputFolder.claim(dir, { force: true });

    // Act
    const merged = await mergeRides(out, [{ key: 'raw/a.json', manifestKey: 'manifests/a-0123abcd.json', manifest, missingChunks: [] }], () => true);

    // Assess: five rows (the empty line and the quoted line break are none), the bytes unchanged
    expect(merged).toEqual({ rows: 5, bySource: { 'raw/a.json': 5 } });
    expect(readFileSync(join(dir, 'rides.csv'))).toEqual(Buffer.from(`id,name,x\n${bodies.join('')}`, 'utf8'));
    expect(bodies.map(countRows)).toEqual([2, 2, 1]);
    await out.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the CSV header even when no ride was written', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'rydes-merge-'));
    const out = await OutputFolder.claim(dir);
    const manifest = { bucket: 'b', source: 'raw/a.json', etag: '"0123abcd"', total: 2, valid: 0, rejected: 2, chunks: 0 } as Manifest;

    // Act
    const merged = await mergeRides(out, [{ key: 'raw/a.json', manifestKey: 'manifests/a-0123abcd.json', manifest, missingChunks: [] }]);

    // Assess
    expect(merged).toEqual({ rows: 0, bySource: {} });
    expect(readFileSync(join(dir, 'rides.csv'), 'utf8')).toBe(`${CSV_COLUMNS.join(',')}\n`);
    await out.release();
    rmSync(dir, { recursive: true, force: true });
  });
});
