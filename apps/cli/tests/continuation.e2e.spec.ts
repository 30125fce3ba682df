import { parse } from 'csv-parse/sync';
import type { Manifest } from '@rydes/ride-model';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../src/run/run-pipeline';
import { defaultBundles } from '../src/stack/bundles';
import { localTimeouts } from '../src/stack/names';
import { runQuietly, writeInput, type InputFile } from './helpers/pipeline';

const bundlesBuilt = existsSync(defaultBundles().ingest) && existsSync(defaultBundles().transform);
/**
 * Each ingest part may run about this long before it hands the rest of the file on. A plain file
 * is picked up with a byte range; a gzip one is inflated again from the start (not parsed); one
 * ride per message makes sending the slow part, so every part gets well ahead on a loaded machine.
 */
const PART_MS = 400;

describe('rydes run with an ingest time limit short enough to force continuations (the BUILT bundles, local Lambda Invoke API)', () => {
  let dir: string;
  let inputs: InputFile[];
  let result: RunResult;
  let outDir: string;

  beforeAll(async () => {
    if (!bundlesBuilt) throw new Error('build the bundles first: npx nx run-many -t build -p ingest-fn transform-fn');
    dir = mkdtempSync(join(tmpdir(), 'rydes-continue-'));
    inputs = [
      await writeInput(dir, { shape: 'array', gzip: true, name: 'long.json.gz' }, 77, 5_000, 0.02),
      await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'plain.ndjson' }, 78, 5_000, 0.02),
    ];
    outDir = join(dir, 'out');
    ({ result } = await runQuietly({
      files: inputs.map((i) => i.path),
      outDir,
      dataDir: join(dir, 'data'),
      ridesPerMessage: 1,
      // The ingest hands off once less than this remains of its time limit: after ~PART_MS of work.
      extraEnvironment: { CONTINUE_BELOW_MS: String(localTimeouts().ingestSeconds * 1000 - PART_MS) },
      stallTimeoutSeconds: 60,
    }));
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('splits each file over at least three ingest invocations, each picking up after the last record read', () => {
    const logs = readdirSync(join(dir, 'data', 'logs')).filter((f) => f.startsWith('ingest'));
    const handOffs = logs
      .flatMap((f) => readFileSync(join(dir, 'data', 'logs', f), 'utf8').split('\n'))
      .filter((line) => line.includes('rest of the file handed to a continuation'))
      .map((line) => JSON.parse(line) as { source: string; part: number; nextIndex: number; byteOffset: number });
    for (const input of inputs) {
      const own = handOffs.filter((h) => h.source.endsWith(input.key)).sort((a, b) => a.part - b.part);
      expect({ key: input.key, parts: own.length + 1 >= 3 }).toEqual({ key: input.key, parts: true });
      expect(own.map((h) => h.part)).toEqual(own.map((_, i) => i + 1));
      const starts = own.map((h) => h.nextIndex);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      const offsets = own.map((h) => h.byteOffset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  });

  it('writes every valid ride exactly once and every invalid one to one rejects object per file, like one uninterrupted run', () => {
    expect(result.exitCode).toBe(0);
    const rows = parse(readFileSync(join(outDir, 'rides.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
    const rejectFiles = readdirSync(join(outDir, 'rejects'));
    expect(rejectFiles).toHaveLength(inputs.length);
    for (const input of inputs) {
      const indexes = rows.filter((r) => r.source === input.key).map((r) => Number(r.ride_index));
      const valid = Array.from({ length: input.total }, (_, i) => i).filter((i) => !input.invalid.has(i));
      expect(indexes).toEqual(valid);
      const stem = input.key.replace(/^raw\//, '').replace(/\.(json\.gz|ndjson)$/, '');
      const file = rejectFiles.find((f) => f.startsWith(`${stem}-`)) ?? '';
      const rejects = readFileSync(join(outDir, 'rejects', file), 'utf8').trim().split('\n').map((l) => JSON.parse(l).index);
      expect(rejects).toEqual([...input.invalid.keys()].sort((a, b) => a - b));
    }
  });

  it('writes one manifest per file with the totals and the chunks of the whole file', () => {
    const manifests = readdirSync(join(outDir, 'manifests')).map((name) => JSON.parse(readFileSync(join(outDir, 'manifests', name), 'utf8')) as Manifest);
    expect(manifests).toHaveLength(inputs.length);
    for (const input of inputs) {
      const manifest = manifests.find((m) => m.source === input.key) as Manifest;
      expect({ total: manifest.total, valid: manifest.valid, rejected: manifest.rejected, error: manifest.error }).toEqual({
        total: input.total,
        valid: input.total - input.invalid.size,
        rejected: input.invalid.size,
        error: undefined,
      });
    }
    expect(readdirSync(join(outDir, 'processed'))).toHaveLength(manifests.reduce((n, m) => n + m.chunks, 0));
  });
});
