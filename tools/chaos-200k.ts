/**
 * Chaos run of `rydes run` at N = 200,000 generated rides (not a test): the built CLI in its own
 * process with the transient faults, then the exactly-once invariants checked here from
 * out/rides.csv, out/manifests/ and out/rejects/ — not taken from the CLI's word:
 * rows = valid rides of the manifests, no duplicate (source, ride_index), every valid index
 * present, DLQs empty (as the CLI's summary reports them), exit 0, some faults injected.
 * Prints faults and retries by kind, wall time, peak RSS of the process tree (CLI + function
 * environments) and a final PASS/FAIL line; exits 1 on FAIL.
 *
 *   npx nx run cli:chaos            (builds cli, ingest-fn, transform-fn first)
 *   npx tsx tools/chaos-200k.ts [--rides N] [--chaos SPEC]
 */
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { objectKeys, type Manifest } from '../libs/ride-model/src';
import { args, CLI, runBuiltCli } from './cli-process';

const flags = args({ rides: '200000', chaos: 's3-put-error=0.1,s3-get-error=0.05,sqs-send-error=0.05,transform-crash=0.05,duplicate-delivery=0.05,seed=7' });
const rides = Number(flags.rides);
const spec = flags.chaos;

/** (source, ride_index) of every row of rides.csv, streamed: rows, duplicates and the indexes by source. */
async function readRides(path: string) {
  const seen = new Map<string, Set<number>>();
  let rows = 0;
  let duplicates = 0;
  for await (const row of createReadStream(path).pipe(parse({ columns: true })) as AsyncIterable<Record<string, string>>) {
    rows++;
    const indexes = seen.get(row.source) ?? new Set<number>();
    seen.set(row.source, indexes);
    const index = Number(row.ride_index);
    if (indexes.has(index)) duplicates++;
    indexes.add(index);
  }
  return { rows, duplicates, seen };
}

/** Every manifest in `out/manifests/`. */
function readManifests(out: string): Manifest[] {
  return readdirSync(join(out, 'manifests')).map((name) => JSON.parse(readFileSync(join(out, 'manifests', name), 'utf8')) as Manifest);
}

/** Valid ride indexes absent from rides.csv: 0..total-1 minus the indexes in the source's rejects. */
function missingIndexes(out: string, manifests: Manifest[], seen: Map<string, Set<number>>): number {
  let missing = 0;
  for (const m of manifests) {
    // out/ mirrors the bucket's keys; ride-model names the source version's rejects object.
    const rejectsFile = join(out, objectKeys({ bucket: m.bucket, key: m.source, etag: m.etag }).rejects);
    const lines = existsSync(rejectsFile) ? readFileSync(rejectsFile, 'utf8').split('\n').filter(Boolean) : [];
    const rejected = new Set(lines.map((line) => (JSON.parse(line) as { index: number }).index));
    const written = seen.get(m.source) ?? new Set<number>();
    for (let i = 0; i < m.total; i++) if (!rejected.has(i) && !written.has(i)) missing++;
  }
  return missing;
}

/** A labelled line of the CLI's summary table, or '?' when absent. */
function summaryLine(stdout: string, label: string): string {
  return stdout.match(new RegExp(`^\\s+${label}\\s+(.*)$`, 'm'))?.[1] ?? '?';
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`no ${CLI}: npx nx run-many -t build -p cli ingest-fn transform-fn`);
  const out = mkdtempSync(join(tmpdir(), 'rydes-chaos-'));
  try {
    console.log(`rydes run --chaos, N = ${rides.toLocaleString('en-US')} generated rides (seed 1), ${require('node:os').availableParallelism()} cores`);
    console.log(`  spec: ${spec}`);
    const run = await runBuiltCli(['run', '--rides', String(rides), '--chaos', spec, '--out', out]);
    const manifests = readManifests(out);
    const valid = manifests.reduce((n, m) => n + m.valid, 0);
    const csv = await readRides(join(out, 'rides.csv'));
    const missing = missingIndexes(out, manifests, csv.seen);
    const dlq = summaryLine(run.stdout, 'DLQ messages');
    const faults = summaryLine(run.stdout, 'faults injected');
    const faultTotal = [...faults.matchAll(/ (\d[\d,]*)/g)].reduce((n, m) => n + Number(m[1].replace(/,/g, '')), 0);
    const checks: Array<[string, boolean]> = [
      ['exit 0', run.code === 0],
      ['rows = valid rides of the manifests', csv.rows === valid && manifests.length > 0],
      ['no duplicate (source, ride_index)', csv.duplicates === 0],
      ['every valid ride index present', missing === 0],
      ['DLQs empty', /^0 \(fan-out 0, ingest 0\)$/.test(dlq)],
      ['faults injected', faultTotal > 0],
    ];
    console.log(`  faults injected: ${faults}`);
    console.log(`  retries:         ${summaryLine(run.stdout, 'retries')}`);
    console.log(`  wall time:       ${summaryLine(run.stdout, 'wall time')} (summary), ${run.seconds.toFixed(1)} s (process)`);
    console.log(`  peak RSS:        ${Math.round(run.peakBytes / 1024 / 1024)} MB (CLI + function environments)`);
    console.log(`  manifests:       ${manifests.length}, rides read ${manifests.reduce((n, m) => n + m.total, 0)}, valid ${valid}, rejected ${manifests.reduce((n, m) => n + m.rejected, 0)}`);
    console.log(`  rows:            ${csv.rows} in rides.csv, ${csv.duplicates} duplicate (source, ride_index), ${missing} valid indexes missing`);
    console.log(`  DLQ messages:    ${dlq}`);
    console.log(`  lost rides:      ${summaryLine(run.stdout, 'lost rides')}`);
    console.log(`  phases:          ${run.stderr.match(/phases: (.*)/)?.[1] ?? '?'}`);
    const failed = checks.filter(([, ok]) => !ok).map(([name]) => name);
    if (failed.length) console.log(`\nCLI output:\n${run.stdout}${run.stderr.split('\n').filter((l) => !l.startsWith('[')).join('\n')}`);
    console.log(failed.length ? `FAIL: ${failed.join('; ')}` : `PASS: ${checks.map(([name]) => name).join(', ')}`);
    process.exitCode = failed.length ? 1 : 0;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
