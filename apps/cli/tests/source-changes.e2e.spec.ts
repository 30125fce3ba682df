import { parse } from 'csv-parse/sync';
import type { Manifest } from '@rydes/ride-model';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultInjector, parseChaos } from '../src/chaos/spec';
import type { RunSummaryFile } from '../src/run/summary-file';
import { defaultBundles } from '../src/stack/bundles';
import { localTimeouts } from '../src/stack/names';
import { runQuietly, sha256, writeInput, type InputFile } from './helpers/pipeline';

const bundlesBuilt = existsSync(defaultBundles().ingest) && existsSync(defaultBundles().transform);
/** Each ingest part runs about this long before it hands the rest on (as in continuation.e2e.spec.ts). */
const PART_MS = 400;

type Row = Record<string, string>;

describe('rydes run while raw/ objects are replaced or deleted (real s3rver with the strict front + local-aws-sqs, change-source.js around the BUILT ingest, duplicate deliveries)', () => {
  let dir: string;
  let outDir: string;
  let replaced: InputFile;
  let replacement: InputFile;
  let deleted: InputFile;
  let gone: InputFile;
  let after: InputFile;
  let run: Awaited<ReturnType<typeof runQuietly>>;
  let rows: Row[];
  let summary: RunSummaryFile;
  const rowsOf = (input: InputFile) => rows.filter((r) => r.source === input.key);
  const indexes = (list: Row[]) => list.map((r) => Number(r.ride_index));
  const validUpTo = (input: InputFile, last: number) => Array.from({ length: last + 1 }, (_, i) => i).filter((i) => !input.invalid.has(i));
  const manifests = () => readdirSync(join(outDir, 'manifests')).map((f) => JSON.parse(readFileSync(join(outDir, 'manifests', f), 'utf8')) as Manifest);
  const stemOf = (input: InputFile) => input.key.replace(/^raw\//, '').replace(/\.(nd)?json$/, '');

  beforeAll(async () => {
    if (!bundlesBuilt) throw new Error('build the bundles first: npx nx run-many -t build -p ingest-fn transform-fn');
    dir = mkdtempSync(join(tmpdir(), 'rydes-e2e-changes-'));
    replaced = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'replaced.ndjson' }, 41, 5_000, 0.02);
    replacement = await writeInput(dir, { shape: 'array', gzip: false, name: 'replacement.json' }, 42, 300, 0.05);
    deleted = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'deleted.ndjson' }, 43, 5_000, 0.02);
    gone = await writeInput(dir, { shape: 'array', gzip: false, name: 'gone.json' }, 44, 120, 0);
    after = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'after.ndjson' }, 45, 300, 0.02);
    outDir = join(dir, 'out');
    process.env.RYDES_INGEST_BUNDLE = join(__dirname, 'fixtures/change-source.js');
    try {
      run = await runQuietly({
        files: [replaced.path, deleted.path, gone.path, after.path],
        outDir,
        ridesPerMessage: 1,
        stallTimeoutSeconds: 60,
        chaos: new FaultInjector(parseChaos('duplicate-delivery=0.3,seed=5')),
        extraEnvironment: {
          REAL_INGEST_BUNDLE: defaultBundles({}).ingest,
          CONTINUE_BELOW_MS: String(localTimeouts().ingestSeconds * 1000 - PART_MS),
          SOURCE_CHANGES: JSON.stringify([
            { match: 'replaced-', action: 'replace', at: 'part1', with: replacement.path },
            { match: 'deleted-', action: 'delete', at: 'part1' },
            { match: 'gone-', action: 'delete', at: 'start' },
            { match: 'after-', action: 'delete', at: 'manifest' },
          ]),
        },
      });
    } finally {
      delete process.env.RYDES_INGEST_BUNDLE;
    }
    rows = parse(readFileSync(join(outDir, 'rides.csv'), 'utf8'), { columns: true }) as Row[];
    summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as RunSummaryFile;
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('had redeliveries to survive, and nothing retried, nothing in a DLQ', () => {
    expect(summary.faults?.['duplicate-delivery']).toBeGreaterThan(0);
    expect(summary.retries.ingestInvocations).toBe(0);
    expect(summary.dlq).toMatchObject({ fanout: 0, ingest: 0 });
    expect(summary.totals.lostRides).toBe(0);
  });

  it('a file replaced while it was ingested in parts: only the new version\'s rides, once each, and nothing stale in processed/, rejects/ or manifests/', () => {
    expect(indexes(rowsOf(replaced))).toEqual(validUpTo(replacement, replacement.total - 1));
    const newEtag = manifests().find((m) => m.source.endsWith(replaced.key))?.etag.replace(/"/g, '').slice(0, 8);
    expect(newEtag).toMatch(/^[0-9a-f]{8}$/);
    const stem = stemOf(replaced);
    const left = ['processed', 'rejects', 'manifests'].flatMap((folder) => (existsSync(join(outDir, folder)) ? readdirSync(join(outDir, folder)) : []).filter((f) => f.startsWith(`${stem}-`)));
    expect(left.length).toBeGreaterThan(0);
    expect(left.filter((f) => !f.startsWith(`${stem}-${newEtag}`))).toEqual([]);
    expect(manifests().filter((m) => m.source.endsWith(replaced.key))).toHaveLength(1);
    expect(summary.files.find((f) => f.path === replaced.path)).toMatchObject({ status: 'done', rowsWritten: replacement.total - replacement.invalid.size });
    // The CLI read the user's file's bytes; the bucket held the replacement's.
    expect(sha256(replacement.path)).not.toBe(sha256(replaced.path));
  });

  it('a file deleted between two parts: every ride read is in processed/ once, the rest is "not read" (manifest "source deleted after N rides")', () => {
    const manifest = manifests().find((m) => m.source.endsWith(deleted.key));
    expect(manifest?.error).toMatchObject({ code: 'source-deleted', message: expect.stringMatching(/^source deleted after \d+ ride\(s\) were read/) });
    const read = manifest?.total ?? 0;
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(deleted.total);
    expect(indexes(rowsOf(deleted))).toEqual(validUpTo(deleted, manifest?.error?.lastGoodIndex ?? -1));
    expect(summary.files.find((f) => f.path === deleted.path)).toMatchObject({ status: 'source-deleted', notRead: deleted.total - read, rowsWritten: manifest?.valid });
    expect(run.output.out).toContain(
      `${deleted.path} → ${deleted.key}: source deleted: ${(manifest?.valid ?? 0).toLocaleString('en-US')} rides written (${(manifest?.rejected ?? 0).toLocaleString('en-US')} rejected); ` +
        `not read: ${(deleted.total - read).toLocaleString('en-US')} rides (source deleted after ride ${manifest?.error?.lastGoodIndex})`,
    );
  });

  it('a file deleted before the ingest read it: no row, all of it "not read"', () => {
    const manifest = manifests().find((m) => m.source.endsWith(gone.key));
    expect(manifest?.error?.message).toMatch(/^source deleted before ingest read any ride/);
    expect(rowsOf(gone)).toEqual([]);
    expect(summary.files.find((f) => f.path === gone.path)).toMatchObject({ status: 'source-deleted', notRead: gone.total });
  });

  it('a file deleted once its manifest was written: every ride fanned out is in processed/ once (deleting a source never deletes results)', () => {
    expect(indexes(rowsOf(after))).toEqual(validUpTo(after, after.total - 1));
    expect(summary.files.find((f) => f.path === after.path)).toMatchObject({ status: 'done' });
  });

  it('ends INCOMPLETE with exit 66, the unread rides counted as not read, not as lost', () => {
    const notRead = deleted.total - (manifests().find((m) => m.source.endsWith(deleted.key))?.total ?? 0) + gone.total;
    expect(run.result.exitCode).toBe(66);
    expect(summary).toMatchObject({ ok: false, exitCode: 66, notRead });
    expect(run.output.out).toMatch(/^ {2}lost rides +0$/m);
    expect(run.output.out).toMatch(new RegExp(`^ {2}not read +${notRead.toLocaleString('en-US')} rides \\(source deleted mid-run: not lost, not in a DLQ\\)$`, 'm'));
    expect(run.output.out).toMatch(/^INCOMPLETE: not read: .*; every ride read was written, DLQs empty\.$/m);
  });

  it('shows in its progress lines how far the ingest has read, and records it in the timeline', () => {
    expect(run.output.err).toMatch(/^\[[\d.]+ s\] read [\d.]+ (B|kB|MB) of [\d.]+ (kB|MB), ingested \d+, written \d+/m);
    expect(summary.timeline.some((p) => (p.bytesRead ?? 0) > 0)).toBe(true);
  });
});
