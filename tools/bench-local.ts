/**
 * Benchmark of `rydes run` (not a test): N = 200,000 generated rides through the embedded stack,
 * three workloads side by side — default stations; the 111k-station US catalogue
 * (STATIONS_URI); one ride per message (the workshop's fan-out, the baseline). Each run is the
 * built CLI in its own process; peak RSS sums the CLI and its function environments (sampled
 * from /proc every 100 ms). Run with `npx nx run cli:bench` (builds first) or
 * `npx tsx tools/bench-local.ts [--rides N] [--only default,stations,rpm1]`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/apps/cli/main.js');
const stations = resolve(root, '../shared/data/stations-us-111k.csv');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const rides = Number(arg('--rides', '200000'));
const only = arg('--only', 'default,stations,rpm1').split(',');

const workloads = [
  { id: 'default', label: 'default stations (11), 100 rides/msg', args: [] as string[] },
  { id: 'stations', label: 'stations-us-111k.csv, 100 rides/msg', args: ['--stations', stations] },
  { id: 'rpm1', label: 'default stations, 1 ride/msg', args: ['--rides-per-message', '1', '--stall-timeout', '120'] },
].filter((w) => only.includes(w.id));

/** RSS of a process and all its descendants, bytes (Linux /proc). */
function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  let rss = 0;
  const rssOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      rssOf.set(Number(entry), Number(fields[21]) * 4096);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop() as number;
    rss += rssOf.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return rss;
}

async function runOnce(args: string[]) {
  const out = mkdtempSync(join(tmpdir(), 'rydes-bench-'));
  const started = Date.now();
  const child = spawn(process.execPath, [cli, 'run', '--rides', String(rides), '--out', out, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRss(child.pid ?? 0))), 100);
  const code: number = await new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
  clearInterval(sampler);
  const elapsed = (Date.now() - started) / 1000;
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
