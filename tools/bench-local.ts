/**
 * Benchmark of `rydes run` (not a test): N = 200,000 generated rides through the embedded stack,
 * three workloads side by side — default stations; the 111k-station US catalogue
 * (STATIONS_URI); one ride per message (the workshop's fan-out, the baseline). Each run is the
 * built CLI in its own process; peak RSS sums the CLI and its function environments (sampled
 * from /proc every 100 ms). First, in the same run, the floor bench (tools/floor-bench.ts: the
 * same per-ride chain in one process, no AWS; the median of three processes' best passes, printed
 * with its spread at the end): every workload is printed with its process wall
 * time as a multiple of the floor's CPU seconds, its peak RSS per process (the CLI with its S3
 * worker thread, each function environment) and the load average when it started. With
 * `--against <other build's dist/apps/cli/main.js>` every workload alternates between that build
 * and this one, `--runs` times, so a before/after pair is measured in one sitting.
 * Run with `npx nx run cli:bench` (builds first) or
 * `npx tsx --tsconfig apps/cli/tsconfig.json tools/bench-local.ts [--rides N] [--only default,stations,rpm1] [--floor no] [--runs N] [--against PATH] [--cli PATH]`
 * (`--cli`: the build measured as "this", default this workspace's).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_RIDES_PER_MESSAGE } from '@rydes/ride-model';
import { args, CLI, formatBreakdown, runBuiltCli } from './cli-process';

const stations = resolve(__dirname, '../../shared/data/stations-us-111k.csv');
const flags = args({ rides: '200000', only: 'default,stations,rpm1', floor: 'yes', runs: '1', against: '', cli: '' });
const rides = Number(flags.rides);
const only = flags.only.split(',');
const cli = flags.cli ? resolve(flags.cli) : CLI;

const workloads = [
  { id: 'default', label: `default stations (11), ${DEFAULT_RIDES_PER_MESSAGE} rides/msg`, args: [] as string[] },
  { id: 'stations', label: `stations-us-111k.csv, ${DEFAULT_RIDES_PER_MESSAGE} rides/msg`, args: ['--stations', stations] },
  { id: 'rpm1', label: 'default stations, 1 ride/msg', args: ['--rides-per-message', '1', '--stall-timeout', '120'] },
].filter((w) => only.includes(w.id));

/** The floor bench in child processes: its printed lines and its summary (the median of its processes' best passes). */
function floor(): { cpuSeconds: number; ridesPerCoreSecond: number; stages: Record<string, number>; processes: number; passes: number; spread: [number, number]; load: [number, number] } | undefined {
  if (flags.floor === 'no') return undefined;
  const root = resolve(__dirname, '..');
  const out = execFileSync(process.execPath, [require.resolve('tsx/cli'), '--tsconfig', 'apps/transform-fn/tsconfig.json', 'tools/floor-bench.ts', '--rides', String(rides), '--processes', '3', '--passes', '3', '--baseline', 'no'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  for (const line of out.trim().split('\n')) if (!line.startsWith('floor-json')) console.log(line);
  const json = out.split('\n').find((l) => l.startsWith('floor-json '));
  return json ? JSON.parse(json.slice('floor-json '.length)) : undefined;
}

/** Longest wait for an earlier run's background delete (a folder left by a killed `rm` must not stall the bench). */
const DELETE_WAIT_MS = 300_000;

/**
 * Waits until no earlier run's bucket folder is still being deleted (`rydes-s3-*.removing` in the
 * temp dir, which each run's `rm -rf` leaves behind it): with one ride per message that `rm` removes
 * hundreds of thousands of files, and a run that starts beside it pays for its file-system work.
 */
async function deletesSettled(): Promise<number> {
  const started = Date.now();
  const removing = () => readdirSync(tmpdir()).some((name) => /^rydes-s3-.+\.removing$/.test(name));
  while (removing() && Date.now() - started < DELETE_WAIT_MS) await new Promise((resolve) => setTimeout(resolve, 200));
  return (Date.now() - started) / 1000;
}

async function runOnce(args: string[], build: string) {
  const waited = await deletesSettled();
  if (waited >= 1) console.log(`  (waited ${waited.toFixed(1)} s for an earlier run's background delete)`);
  const out = mkdtempSync(join(tmpdir(), 'rydes-bench-'));
  const load = loadavg()[0];
  const run = await runBuiltCli(['run', '--rides', String(rides), '--out', out, ...args], build);
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
    cpu: run.cpuSeconds,
    cliCpu: run.cliCpuSeconds,
    perProcess: formatBreakdown(run.processes),
    load,
    phases: stderr.match(/phases: (.*)/)?.[1] ?? '',
    status: stdout.trim().split('\n').pop() ?? '',
  };
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`no ${cli}: npx nx run-many -t build -p cli ingest-fn transform-fn`);
  if (only.includes('stations') && !existsSync(stations)) throw new Error(`no ${stations}`);
  if (flags.against && !existsSync(flags.against)) throw new Error(`no ${flags.against} (--against: another build's dist/apps/cli/main.js)`);
  const builds = flags.against ? [{ name: 'against', path: resolve(flags.against) }, { name: 'this', path: cli }] : [{ name: 'this', path: cli }];
  const base = floor();
  const ratio = (seconds: number) => (base ? `${(seconds / base.cpuSeconds).toFixed(1)}×` : '-');
  console.log(`rydes run, N = ${rides.toLocaleString('en-US')} generated rides (seed 1), ${require('node:os').availableParallelism()} cores`);
  const results = [];
  if (flags.against) console.log(`  against = ${builds[0].path}; this = ${cli}`);
  for (let run = 1; run <= Number(flags.runs); run++) {
    for (const w of workloads) {
      for (const build of builds) {
        const r = await runOnce(w.args, build.path);
        const label = flags.against ? `${build.name}: ${w.label}` : w.label;
        results.push({ workload: label, ...r });
        console.log(`  ${label}: exit ${r.code}, ${r.wall} s (process ${r.elapsed.toFixed(1)} s = ${ratio(r.elapsed)} the floor's CPU), ${r.rate} rides/s, load ${r.load.toFixed(1)}, CPU ${r.cpu.toFixed(1)} s (CLI ${r.cliCpu.toFixed(1)}), peak RSS ${r.peakMb} MB | ${r.phases}`);
        console.log(`    peak RSS per process, MB (at the tree's peak): ${r.perProcess}`);
      }
    }
  }
  console.log('');
  if (base) {
    console.log(
      `floor used (same run): ${base.cpuSeconds.toFixed(2)} s CPU for the per-ride chain in one process, ${base.ridesPerCoreSecond.toLocaleString('en-US')} rides/s/core — ` +
        `the median of ${base.processes} processes' best warm passes (${base.passes} passes each; spread ${base.spread[0].toFixed(2)}–${base.spread[1].toFixed(2)} s; load ${base.load[0]} → ${base.load[1]})`,
    );
  }
  console.log('| workload | exit | load | wall s (summary) | process s | process s / floor CPU s | CPU s (CLI + functions; CLI) | rides/s | rows | peak RSS MB (CLI + functions) | phases |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.workload} | ${r.code} | ${r.load.toFixed(1)} | ${r.wall} | ${r.elapsed.toFixed(1)} | ${ratio(r.elapsed)} | ${r.cpu.toFixed(1)}; ${r.cliCpu.toFixed(1)} | ${r.rate} | ${r.rows} | ${r.peakMb} | ${r.phases} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
