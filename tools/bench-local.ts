/**
 * Benchmark of `rydes run` (not a test): N = 200,000 generated rides through the embedded stack,
 * three workloads side by side — default stations; the 111k-station US catalogue
 * (STATIONS_URI); one ride per message (the workshop's fan-out, the baseline). Each run is the
 * built CLI in its own process; peak RSS sums the CLI and its function environments (sampled
 * from /proc every 100 ms). Run with `npx nx run cli:bench` (builds first) or
 * `npx tsx tools/bench-local.ts [--rides N] [--only default,stations,rpm1]`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, CLI as cli, runBuiltCli } from './cli-process';

const stations = resolve(__dirname, '../../shared/data/stations-us-111k.csv');
const rides = Number(arg('--rides', '200000'));
const only = arg('--only', 'default,stations,rpm1').split(',');

const workloads = [
  { id: 'default', label: 'default stations (11), 100 rides/msg', args: [] as string[] },
  { id: 'stations', label: 'stations-us-111k.csv, 100 rides/msg', args: ['--stations', stations] },
  { id: 'rpm1', label: 'default stations, 1 ride/msg', args: ['--rides-per-message', '1', '--stall-timeout', '120'] },
].filter((w) => only.includes(w.id));

async function runOnce(args: string[]) {
  const out = mkdtempSync(join(tmpdir(), 'rydes-bench-'));
  const run = await runBuiltCli(['run', '--rides', String(rides), '--out', out, ...args]);
  const { code, stdout, stderr } = run;
  const elapsed = run.seconds;
  const peak = run.peakBytes;
  rmSync(out, { recursive: true, force: true });
  const field = (label: string) => stdout.match(new RegExp(`${label}\\s+([\\d,.]+)`))?.[1] ?? '?';
  return {
    code,
    elapsed,
    wall: field('wall time'),
    rate: field('rides/s'),
    rows: field('rows written'),
    peakMb: Math.round(peak / 1024 / 1024),
    phases: stderr.match(/phases: (.*)/)?.[1] ?? '',
    status: stdout.trim().split('\n').pop() ?? '',
  };
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`no ${cli}: npx nx run-many -t build -p cli ingest-fn transform-fn`);
  if (only.includes('stations') && !existsSync(stations)) throw new Error(`no ${stations}`);
  console.log(`rydes run, N = ${rides.toLocaleString('en-US')} generated rides (seed 1), ${require('node:os').availableParallelism()} cores`);
  const results = [];
  for (const w of workloads) {
    const r = await runOnce(w.args);
    results.push({ workload: w.label, ...r });
    console.log(`  ${w.label}: exit ${r.code}, ${r.wall} s (process ${r.elapsed.toFixed(1)} s), ${r.rate} rides/s, peak RSS ${r.peakMb} MB | ${r.phases}`);
  }
  console.log('');
  console.log('| workload | exit | wall s (summary) | process s | rides/s | rows | peak RSS MB (CLI + functions) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.workload} | ${r.code} | ${r.wall} | ${r.elapsed.toFixed(1)} | ${r.rate} | ${r.rows} | ${r.peakMb} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
