/**
 * Benchmark of the run report (not a test): for N = 200,000 and 4,000,000 rides, a synthetic
 * `out/` (rides.csv, manifests/, rejects/, summary.json with a timeline; written directly, not by
 * the pipeline) and then:
 *   - baseline: one plain read of rides.csv counting lines (the floor of any one-pass report);
 *   - `rydes report OUT_DIR` with the BUILT CLI in its own process: wall time and peak RSS;
 *   - the HTML's size;
 *   - headless Chromium opening the page from disk: navigation start → load event, beside the
 *     same browser opening a one-line page (baseline).
 * Run with `npx nx run cli:bench-report` (builds first) or `npx tsx --tsconfig apps/cli/tsconfig.json tools/bench-report.ts
 * [--rides 200000,4000000] [--keep yes]`; the generated folders live in tmp/bench-report/ and
 * are reused when present (--keep yes leaves them for the next run).
 */
import { createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeSyntheticOut } from '../apps/cli/src/report/synthetic-out';
import { closeBrowser, launchBrowser, visit } from '../apps/cli/tests/helpers/browser';
import { args, runBuiltCli } from './cli-process';

const root = resolve(__dirname, '..');
const flags = args({ rides: '200000,4000000', keep: 'no' });
const sizes = flags.rides.split(',').map(Number);
const keep = flags.keep === 'yes';
const MiB = 1024 * 1024;

async function countLines(file: string): Promise<{ lines: number; seconds: number }> {
  const started = performance.now();
  let lines = 0;
  for await (const chunk of createReadStream(file)) for (const byte of chunk as Buffer) if (byte === 10) lines++;
  return { lines, seconds: (performance.now() - started) / 1000 };
}

async function outDirFor(rides: number): Promise<{ dir: string; generatedSeconds?: number }> {
  const dir = join(root, 'tmp', 'bench-report', String(rides));
  const summary = join(dir, 'summary.json');
  if (existsSync(summary) && (JSON.parse(readFileSync(summary, 'utf8')) as { totals: { valid: number } }).totals.valid === rides) return { dir };
  rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  await writeSyntheticOut(dir, {
    rides,
    seed: 1,
    rejects: Array.from({ length: 200 }, (_, i) => ({ reasons: [i % 2 ? 'latitude: 95 is outside [-90, 90]' : 'name: missing'], record: { latitude: 95, i } })),
  });
  return { dir, generatedSeconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const blank = join(root, 'tmp', 'bench-report', 'blank.html');
  const results: Array<{ rides: number; dir: string; generatedSeconds?: number; floor: number; cli: Awaited<ReturnType<typeof runBuiltCli>>; bytes: number }> = [];
  for (const rides of sizes) {
    const { dir, generatedSeconds } = await outDirFor(rides);
    const floor = await countLines(join(dir, 'rides.csv'));
    const cli = await runBuiltCli(['report', dir]);
    if (cli.code !== 0) throw new Error(`rydes report ${dir} exited ${cli.code}: ${cli.stderr}`);
    results.push({ rides, dir, generatedSeconds, floor: floor.seconds, cli, bytes: statSync(join(dir, 'report.html')).size });
    process.stderr.write(`${rides}: ${cli.stdout.trim()}\n`);
  }
  writeFileSync(blank, '<!doctype html><title>blank</title><p>blank</p>\n');
  const browser = await launchBrowser();
  try {
    // A first visit warms the browser up (its first page pays for process start-up).
    await (await visit(browser, blank)).page.close();
    const blankVisit = await visit(browser, blank);
    await blankVisit.page.close();
    for (const r of results) {
      const loads: number[] = [];
      for (let i = 0; i < 3; i++) {
        const v = await visit(browser, join(r.dir, 'report.html'));
        loads.push(v.loadMs);
        if (v.problems.length || v.requests.length !== 1) throw new Error(`${r.rides}: ${v.problems.join('; ')} ${v.requests.join(' ')}`);
        await v.page.close();
      }
      const csvBytes = statSync(join(r.dir, 'rides.csv')).size;
      rows.push([
        r.rides.toLocaleString('en-US'),
        `${(csvBytes / MiB).toFixed(0)} MiB`,
        `${r.floor.toFixed(2)} s`,
        `${r.cli.seconds.toFixed(2)} s`,
        `${(r.cli.seconds / r.floor).toFixed(1)}×`,
        `${(r.cli.peakBytes / MiB).toFixed(0)} MiB`,
        `${(r.bytes / MiB).toFixed(2)} MiB`,
        `${loads.map((ms) => (ms / 1000).toFixed(2)).join(' / ')} s`,
        `${(blankVisit.loadMs / 1000).toFixed(3)} s`,
      ]);
    }
  } finally {
    await closeBrowser(browser);
    if (!keep) rmSync(join(root, 'tmp', 'bench-report'), { recursive: true, force: true });
  }
  const header = ['rides', 'rides.csv', 'baseline: read rides.csv', 'rydes report (process)', 'ratio', 'peak RSS', 'report.html', 'browser load (3 visits)', 'baseline: blank page load'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  process.stdout.write(`report bench (targets at 4,000,000 rides: report.html ≤ 5 MiB, browser load ≤ 2 s)\n${line(header)}\n${rows.map(line).join('\n')}\n`);
}

void main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
