import { parse } from 'csv-parse/sync';
import { DEFAULT_STATIONS } from '@rydes/geo-index';
import { bruteForceNearest } from '@rydes/geo-index/testing';
import { CSV_COLUMNS, type Manifest, type RideFileShape } from '@rydes/ride-model';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../src/run/run-pipeline';
import { defaultBundles } from '../src/stack/bundles';
import { runQuietly, writeInput, type InputFile } from './helpers/pipeline';

const SHAPES: Array<{ shape: RideFileShape; gzip: boolean; name: string }> = [
  { shape: 'array', gzip: true, name: 'a-array.json.gz' },
  { shape: 'travel_data', gzip: false, name: 'b-travel.json' },
  { shape: 'concatenated', gzip: false, name: 'c-concatenated.json' },
  { shape: 'ndjson', gzip: false, name: 'd-lines.ndjson' },
];
const RIDES_PER_FILE = 1500;

const bundlesBuilt = existsSync(defaultBundles().ingest) && existsSync(defaultBundles().transform);

describe('rydes run end to end (real s3rver + local-aws-sqs, the BUILT ingest and transform bundles)', () => {
  let dir: string;
  let inputs: InputFile[];
  let result: RunResult;
  let outDir: string;
  let output: { out: string; err: string };

  beforeAll(async () => {
    if (!bundlesBuilt) throw new Error('build the bundles first: npx nx run-many -t build -p ingest-fn transform-fn');
    dir = mkdtempSync(join(tmpdir(), 'rydes-e2e-'));
    inputs = await Promise.all(SHAPES.map((s, i) => writeInput(dir, s, 100 + i, RIDES_PER_FILE)));
    outDir = join(dir, 'out');
    ({ result, output } = await runQuietly({ files: inputs.map((i) => i.path), outDir, ridesPerMessage: 100 }));
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and says every valid ride was written', () => {
    expect(result.exitCode).toBe(0);
    expect(output.out).toContain('OK: every valid ride was written, DLQs empty.');
    expect(result.figures).toMatchObject({ files: 4, ridesRead: 4 * RIDES_PER_FILE, fanoutDlq: 0, ingestDlq: 0 });
  });

  it('writes one manifest per file with the exact totals', () => {
    const manifests = readdirSync(join(outDir, 'manifests')).map(
      (name) => JSON.parse(readFileSync(join(outDir, 'manifests', name), 'utf8')) as Manifest,
    );
    expect(manifests).toHaveLength(4);
    for (const input of inputs) {
      const manifest = manifests.find((m) => m.source === input.key);
      expect(manifest).toMatchObject({ total: input.total, rejected: input.invalid.size, valid: input.total - input.invalid.size });
      const stem = input.key.replace(/^raw\//, '').replace(/\.(json\.gz|ndjson|json)$/, '');
      const chunkFiles = readdirSync(join(outDir, 'processed')).filter((name) => name.startsWith(`${stem}-`));
      expect(manifest?.chunks).toBe(chunkFiles.length);
    }
  });

  it('writes every rejected ride to rejects/ with its index and the reason', () => {
    for (const input of inputs) {
      const stem = input.key.replace(/^raw\//, '').replace(/\.(json\.gz|ndjson|json)$/, '');
      const file = readdirSync(join(outDir, 'rejects')).find((name) => name.startsWith(`${stem}-`));
      const lines = readFileSync(join(outDir, 'rejects', file ?? 'missing'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.index)).toEqual([...input.invalid.keys()]);
      for (const line of lines) expect(line.reasons.join(' ')).toContain(input.invalid.get(line.index));
    }
  });

  it('merges rides.csv: one header, every valid ride once, ordered by source and ride_index', () => {
    const text = readFileSync(join(outDir, 'rides.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe(CSV_COLUMNS.join(','));
    const rows = parse(text, { columns: true }) as Array<Record<string, string>>;
    const valid = inputs.reduce((n, i) => n + i.total - i.invalid.size, 0);
    expect(rows).toHaveLength(valid);
    expect(result.figures.rowsWritten).toBe(valid);
    const order = rows.map((r) => [r.source, Number(r.ride_index)] as const);
    const sorted = [...order].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    expect(order).toEqual(sorted);
    expect(new Set(order.map(([s, i]) => `${s}#${i}`)).size).toBe(valid);
    for (const input of inputs) {
      const indexes = rows.filter((r) => r.source === input.key).map((r) => Number(r.ride_index));
      const expected = Array.from({ length: input.total }, (_, i) => i).filter((i) => !input.invalid.has(i));
      expect(indexes).toEqual(expected);
    }
  });

  it('joins every ride with the station brute force finds nearest', () => {
    const rows = parse(readFileSync(join(outDir, 'rides.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    let mismatches = 0;
    for (const row of rows) {
      const nearest = bruteForceNearest(DEFAULT_STATIONS, Number(row.latitude), Number(row.longitude));
      if (nearest.station.id !== row.groundstation) mismatches++;
      expect(Number(row.groundstation_distance_km)).toBeCloseTo(nearest.distanceKm, 3);
    }
    expect(mismatches).toBe(0);
  });
});

describe('rydes run with a transform that fails one message on purpose (test-only wrapper of the built bundle)', () => {
  let dir: string;
  let result: RunResult;
  let output: { out: string; err: string };
  let input: InputFile;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-e2e-poison-'));
    input = await writeInput(dir, SHAPES[3], 7, RIDES_PER_FILE);
    process.env.RYDES_TRANSFORM_BUNDLE = join(__dirname, 'fixtures/poison-transform.js');
    try {
      ({ result, output } = await runQuietly({
        files: [input.path],
        outDir: join(dir, 'out'),
        ridesPerMessage: 100,
        // 3 s, not 1: on a loaded machine a healthy batch could outlast a 1 s transform timeout.
        visibilityTimeoutSeconds: 3,
        extraEnvironment: { REAL_TRANSFORM_BUNDLE: defaultBundles({}).transform, POISON_SOURCE: 'd-lines', POISON_CHUNK: '3' },
      }));
    } finally {
      delete process.env.RYDES_TRANSFORM_BUNDLE;
    }
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('moves the failing message to the DLQ after 5 receives and writes every other chunk', () => {
    const valid = input.total - input.invalid.size;
    expect(result.figures.fanoutDlq).toBe(1);
    const lost = valid - result.figures.rowsWritten;
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThanOrEqual(100);
    expect(result.figures.transformRedeliveries).toBeGreaterThanOrEqual(3);
    expect(result.check.sources[0].missingChunks).toEqual([3]);
    expect(result.figures.valid).toBe(valid);
  });

  it('accounts for the lost work: the rides missing from rides.csv are exactly the rides of the DLQ message', () => {
    const rows = parse(readFileSync(join(dir, 'out', 'rides.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    const written = new Set(rows.map((r) => Number(r.ride_index)));
    const missing = Array.from({ length: input.total }, (_, i) => i).filter((i) => !input.invalid.has(i) && !written.has(i));
    expect(result.figures.lost).toMatchObject({ rides: missing.length, dlqRides: missing.length, dlqMessages: 1, unaccounted: [], accounted: true });
    expect(result.figures.lost.dlqChunks).toEqual([`${input.key} chunks 3`]);
    expect(output.out).toMatch(new RegExp(`lost rides +${missing.length} = ${missing.length} rides in 1 fan-out DLQ message\\(s\\) \\(${input.key.replace(/\./g, '\\.')} chunks 3\\): the DLQs hold exactly the lost work`));
  });

  it('exits non-zero with a line saying why', () => {
    expect(result.exitCode).toBe(1);
    expect(output.out).toMatch(/FAILED: 1 of 1 file\(s\) not fully processed: see the files above; rows written \(\d+\) ≠ valid rides \(\d+\); 1 fan-out message\(s\) in the DLQ.*; lost work: \d+ rides, exactly the rides the DLQs hold$/m);
    expect(output.out).toMatch(/d-lines\.ndjson → raw\/d-lines-[0-9a-f]{12}\.ndjson: failed: 1 of \d+ chunks missing from processed\/ \(chunk 3\)/);
  });
});
