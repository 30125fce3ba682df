import { parse } from 'csv-parse/sync';
import { CSV_COLUMNS } from '@rydes/ride-model';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../src/run/run-pipeline';
import type { RunSummaryFile } from '../src/run/summary-file';
import { defaultBundles } from '../src/stack/bundles';
import { runQuietly, writeInput, type InputFile } from './helpers/pipeline';

const bundlesBuilt = existsSync(defaultBundles().ingest) && existsSync(defaultBundles().transform);
const rowsOf = (file: string) => parse(readFileSync(file, 'utf8'), { columns: true }) as Array<Record<string, string>>;
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunSummaryFile;

describe('rydes run keeps every file apart and the user\'s files safe (real s3rver + local-aws-sqs, the BUILT bundles)', () => {
  let dir: string;
  let out: string;
  let a: InputFile;
  let b: InputFile;
  let gz: InputFile;
  let first: { result: RunResult; output: { out: string; err: string } };

  beforeAll(async () => {
    if (!bundlesBuilt) throw new Error('build the bundles first: npx nx run-many -t build -p ingest-fn transform-fn');
    dir = mkdtempSync(join(tmpdir(), 'rydes-e2e-safety-'));
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    a = await writeInput(join(dir, 'a'), { shape: 'array', gzip: false, name: 'rides.json' }, 1, 700);
    b = await writeInput(join(dir, 'b'), { shape: 'array', gzip: false, name: 'rides.json' }, 2, 600);
    // What `rydes generate --shape ndjson --gzip -o x.ndjson.gz` writes.
    gz = await writeInput(dir, { shape: 'ndjson', gzip: true, name: 'x.ndjson.gz' }, 3, 500);
    out = join(dir, 'out');
    first = await runQuietly({ files: [a.path, b.path, a.path, gz.path], outDir: out, ridesPerMessage: 100 });
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a/rides.json and b/rides.json their own raw/ keys and writes every valid ride of each exactly once', () => {
    expect(first.result.exitCode).toBe(0);
    expect(a.key).not.toBe(b.key);
    const rows = rowsOf(join(out, 'rides.csv'));
    const valid = [a, b, gz].reduce((n, i) => n + i.total - i.invalid.size, 0);
    expect(rows).toHaveLength(valid);
    expect(new Set(rows.map((r) => `${r.source}#${r.ride_index}`)).size).toBe(valid);
    for (const input of [a, b, gz]) {
      expect(rows.filter((r) => r.source === input.key)).toHaveLength(input.total - input.invalid.size);
    }
  });

  it('processes the same file given twice once and says so', () => {
    expect(first.result.figures).toMatchObject({ files: 3, duplicates: 1 });
    expect(first.output.out).toContain(`${a.path} → ${a.key}: duplicate: same bytes as ${a.path}, processed once`);
    const summary = summaryOf(out);
    expect(summary.files.map((f) => [f.key, f.status])).toEqual([
      [a.key, 'done'],
      [b.key, 'done'],
      [a.key, 'duplicate'],
      [gz.key, 'done'],
    ]);
    expect(summary.files[2]).toMatchObject({ duplicateOf: a.path, rowsWritten: 0 });
  });

  it('ingests a .ndjson.gz file end to end', () => {
    expect(gz.key).toMatch(/^raw\/x-[0-9a-f]{12}\.ndjson\.gz$/);
    expect(summaryOf(out).files[3]).toMatchObject({ status: 'done', valid: gz.total - gz.invalid.size, rowsWritten: gz.total - gz.invalid.size });
  });

  it('writes summary.json with the counts, the files and a timeline sampled while it ran', () => {
    const summary = summaryOf(out);
    expect(summary).toMatchObject({ version: 1, ok: true, reasons: [], exitCode: 0, settings: { ridesPerMessage: 100, concurrency: 2, stations: 'bundled', stationCount: 11 } });
    expect(summary.totals).toMatchObject({ files: 3, ridesRead: a.total + b.total + gz.total, lostRides: 0, rowsWritten: first.result.figures.rowsWritten });
    expect(summary.dlq).toEqual({ fanout: 0, ingest: 0, fanoutMessages: [], ingestFiles: [] });
    expect(summary.timeline.length).toBeGreaterThan(1);
    expect(summary.timeline.at(-1)?.written).toBe(summary.totals.valid);
    expect(Object.keys(summary.phases)).toEqual(['start', 'upload', 'pipeline', 'download', 'merge']);
  });

  it('on a second run into the same --out keeps a file it did not write inside processed/ and removes only its own stale files', async () => {
    mkdirSync(join(out, 'processed/2019'), { recursive: true });
    writeFileSync(join(out, 'processed/2019/thesis.txt'), 'my thesis');
    writeFileSync(join(out, 'notes.md'), 'mine too');

    const second = await runQuietly({ files: [b.path], outDir: out, ridesPerMessage: 100 });

    expect(second.result.exitCode).toBe(0);
    expect(readFileSync(join(out, 'processed/2019/thesis.txt'), 'utf8')).toBe('my thesis');
    expect(readFileSync(join(out, 'notes.md'), 'utf8')).toBe('mine too');
    const stems = new Set(readdirSync(join(out, 'processed')).filter((f) => f.endsWith('.csv')).map((f) => f.replace(/-[0-9a-f]{8}-\d{6}\.csv$/, '')));
    expect([...stems]).toEqual([b.key.replace(/^raw\/|\.json$/g, '')]);
    expect(rowsOf(join(out, 'rides.csv'))).toHaveLength(b.total - b.invalid.size);
  }, 300_000);
});

describe('rydes run when things fail: a broken file, a broken function, a stall (real servers; test-only bundles named in each)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-e2e-failures-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('marks a file that failed as a whole "lost" with its manifest\'s error, and shows a transform\'s failed cold start with its kept log (broken-transform.js)', async () => {
    const good = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'good.ndjson' }, 5, 200, 0);
    const cut = await writeInput(dir, { shape: 'array', gzip: false, name: 'cut.json' }, 6, 300, 0);
    const text = readFileSync(cut.path, 'utf8');
    writeFileSync(cut.path, text.slice(0, Math.floor(text.length / 2))); // truncated: malformed JSON half-way
    const outDir = join(dir, 'out-broken');
    process.env.RYDES_TRANSFORM_BUNDLE = join(__dirname, 'fixtures/broken-transform.js');
    let run: Awaited<ReturnType<typeof runQuietly>>;
    try {
      run = await runQuietly({ files: [good.path, cut.path], outDir, ridesPerMessage: 100, visibilityTimeoutSeconds: 1, ingestRetryDelaysMs: [10, 10] });
    } finally {
      delete process.env.RYDES_TRANSFORM_BUNDLE;
    }

    expect(run.result.exitCode).toBe(1);
    const summary = summaryOf(outDir);
    const cutFile = summary.files.find((f) => f.path === cut.path);
    expect(cutFile?.status).toBe('failed');
    expect(cutFile?.error).toMatch(/./);
    expect(run.output.out).toMatch(new RegExp(`${cut.path.replace(/[.]/g, '\\.')} → raw/cut-[0-9a-f]{12}\\.json: lost: in the ingest DLQ: IngestEventError: .*the file is truncated.*\\(RetriesExhausted after 3 attempt\\(s\\)\\)`));
    const transform = summary.functionErrors?.find((e) => e.function === 'transform-fn');
    expect(transform?.firstError).toContain('cannot load the station index: test fixture broken on purpose');
    expect(run.output.out).toMatch(/transform-fn errors +\d+ failed invocation\(s\); first: .*cannot load the station index.*\(full log: .*out-broken\/logs\/transform-fn\.log\)/);
    // The temp dir is gone; the log is kept in --out.
    expect(readFileSync(join(outDir, 'logs/transform-fn.log'), 'utf8')).toContain('test fixture broken on purpose');
  }, 300_000);

  it('when it stalls, names each file once with its status: done with counts, still running (hang-ingest.js)', async () => {
    const done = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'fine.ndjson' }, 7, 300, 0);
    const hang = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'hang.ndjson' }, 8, 300, 0);
    process.env.RYDES_INGEST_BUNDLE = join(__dirname, 'fixtures/hang-ingest.js');
    let run: Awaited<ReturnType<typeof runQuietly>>;
    try {
      run = await runQuietly({
        files: [done.path, hang.path],
        outDir: join(dir, 'out-stall'),
        ridesPerMessage: 100,
        stallTimeoutSeconds: 45,
        extraEnvironment: { REAL_INGEST_BUNDLE: defaultBundles({}).ingest, HANG_SOURCE: 'hang-' },
      });
    } finally {
      delete process.env.RYDES_INGEST_BUNDLE;
    }

    expect(run.result.exitCode).toBe(1);
    const all = `${run.output.out}\n${run.output.err}`;
    expect(all.split(hang.key).length - 1).toBe(1);
    expect(all.split(done.key).length - 1).toBe(1);
    expect(run.output.out).toContain(`${hang.key}: incomplete: no manifest yet: ingest still running`);
    expect(run.output.out).toContain(`${done.key}: done: 300 rides written (0 rejected)`);
    expect(run.output.out).toMatch(/^FAILED: no progress for 45 s \(--stall-timeout\); 1 of 2 file\(s\) not fully processed: see the files above/m);
    expect(readFileSync(join(dir, 'out-stall', 'rides.csv'), 'utf8').split('\n')[0]).toBe(CSV_COLUMNS.join(','));
  }, 300_000);
});
