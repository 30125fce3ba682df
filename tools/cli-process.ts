/**
 * The built `rydes` CLI as a child process, for the benchmark scripts: its output, exit code,
 * time and the peak resident memory of its process tree (the CLI and its function execution
 * environments together, Linux /proc).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const CLI = join(resolve(__dirname, '..'), 'dist/apps/cli/main.js');

/**
 * The script's `--name value` options (node:util parseArgs, strict: an unknown option is an
 * error), each defaulting to its `defaults` entry.
 */
export function args<T extends Record<string, string>>(defaults: T): T {
  const options = Object.fromEntries(Object.entries(defaults).map(([name, value]) => [name, { type: 'string' as const, default: value }]));
  return parseArgs({ options }).values as T;
}

/** One process of a tree: its pid, parent, resident set (bytes) and CPU (clock ticks). */
interface ProcessRss {
  pid: number;
  ppid: number;
  rss: number;
  /** utime + stime of the process itself. */
  cpuTicks: number;
  /** cutime + cstime: its children that have ended and been waited for. */
  childCpuTicks: number;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

function processes(): Map<number, ProcessRss> {
  const all = new Map<number, ProcessRss>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      all.set(Number(entry), {
        pid: Number(entry),
        ppid: Number(fields[1]),
        rss: Number(fields[21]) * 4096,
        cpuTicks: Number(fields[11]) + Number(fields[12]),
        childCpuTicks: Number(fields[13]) + Number(fields[14]),
      });
    } catch {
      // the process ended while we looked
    }
  }
  return all;
}

/** A process and all its descendants (pids), from one /proc snapshot. */
function descendants(pid: number, all: Map<number, ProcessRss>): ProcessRss[] {
  const children = new Map<number, number[]>();
  for (const p of all.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const found: ProcessRss[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop() as number;
    const proc = all.get(p);
    if (proc) found.push(proc);
    stack.push(...(children.get(p) ?? []));
  }
  return found;
}

/** RSS of a process and all its descendants, bytes. */
export function treeRss(pid: number): number {
  return descendants(pid, processes()).reduce((n, p) => n + p.rss, 0);
}

/**
 * What a process of the CLI's tree is: `cli` (the CLI itself, its S3 worker thread included),
 * the Lambda function an execution environment runs (its AWS_LAMBDA_FUNCTION_NAME), else its
 * command name.
 */
function roleOf(pid: number, root: number): string {
  if (pid === root) return 'cli';
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    const name = env.find((v) => v.startsWith('AWS_LAMBDA_FUNCTION_NAME='));
    if (name) return name.slice(name.indexOf('=') + 1).replace(/^rydes-/, '');
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return 'gone';
  }
}

/** Peak resident memory of one process of the tree. */
export interface ProcessPeak {
  /** `cli`, `ingest`, `transform` (numbered in start order when there are several), or a command name. */
  label: string;
  pid: number;
  /** The process's own peak, bytes. */
  peakBytes: number;
  /** Its RSS at the moment the whole tree peaked, bytes. */
  atTreePeakBytes: number;
}

export interface RssSampler {
  /** Stops sampling: the tree's peak (summed at one moment), bytes. */
  stop(): number;
  /** Each process's peak and its share of the tree's peak, CLI first, then in start order. */
  breakdown(): ProcessPeak[];
  /**
   * CPU seconds of the whole tree at the last sample: the root's own and its ended children's,
   * plus the running descendants' (the last interval before the root ends is not seen).
   */
  cpuSeconds(): number;
  /** CPU seconds of the root process alone (its threads), at the last sample. */
  rootCpuSeconds(): number;
}

/** Samples the RSS of `pid` and each of its descendants every `intervalMs`. */
export function samplePeakRss(pid: number, intervalMs = 100): RssSampler {
  let peak = 0;
  let cpuTicks = 0;
  let rootTicks = 0;
  const own = new Map<number, { role: string; peak: number; atTreePeak: number }>();
  const sample = () => {
    const tree = descendants(pid, processes());
    const sum = tree.reduce((n, p) => n + p.rss, 0);
    const root = tree.find((p) => p.pid === pid);
    if (root) {
      cpuTicks = Math.max(cpuTicks, root.childCpuTicks + tree.reduce((n, p) => n + p.cpuTicks, 0));
      rootTicks = root.cpuTicks;
    }
    for (const p of tree) {
      let entry = own.get(p.pid);
      if (!entry) own.set(p.pid, (entry = { role: roleOf(p.pid, pid), peak: 0, atTreePeak: 0 }));
      entry.peak = Math.max(entry.peak, p.rss);
    }
    if (sum > peak) {
      peak = sum;
      const now = new Map(tree.map((p) => [p.pid, p.rss]));
      for (const [p, entry] of own) entry.atTreePeak = now.get(p) ?? 0;
    }
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
    cpuSeconds: () => cpuTicks / CLOCK_TICKS,
    rootCpuSeconds: () => rootTicks / CLOCK_TICKS,
    breakdown() {
      const counts = new Map<string, number>();
      for (const e of own.values()) counts.set(e.role, (counts.get(e.role) ?? 0) + 1);
      const seen = new Map<string, number>();
      return [...own.entries()]
        .sort(([a, x], [b, y]) => (x.role === 'cli' ? -1 : y.role === 'cli' ? 1 : a - b))
        .map(([p, e]) => {
          const n = (seen.get(e.role) ?? 0) + 1;
          seen.set(e.role, n);
          return { label: (counts.get(e.role) ?? 1) > 1 ? `${e.role}#${n}` : e.role, pid: p, peakBytes: e.peak, atTreePeakBytes: e.atTreePeak };
        });
    },
  };
}

/**
 * A breakdown as one line: `cli 310 (290), ingest 180 (170), …` — each process's own peak in MB,
 * in brackets its share of the tree's peak.
 * @example
 * formatBreakdown([{ label: 'cli', pid: 1, peakBytes: 300e6, atTreePeakBytes: 290e6 }]); // 'cli 286 (277)'
 */
export function formatBreakdown(peaks: ProcessPeak[]): string {
  const mb = (b: number) => Math.round(b / 1024 / 1024);
  return peaks.map((p) => `${p.label} ${mb(p.peakBytes)} (${mb(p.atTreePeakBytes)})`).join(', ');
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  peakBytes: number;
  /** Per process: its own peak and its share of `peakBytes`. */
  processes: ProcessPeak[];
  /** Process lifetime, s. */
  seconds: number;
  /** CPU of the CLI and its function environments together, s (see {@link RssSampler.cpuSeconds}). */
  cpuSeconds: number;
  /** CPU of the CLI process alone (main thread, S3 thread, GC and libuv threads), s. */
  cliCpuSeconds: number;
}

/** Runs `node dist/apps/cli/main.js …args` (or another build's `cli`) to its end. */
export async function runBuiltCli(args: string[], cli = CLI): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const sampler = samplePeakRss(child.pid ?? 0);
  const code: number = await new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
  return { code, stdout, stderr, peakBytes: sampler.stop(), processes: sampler.breakdown(), seconds: (Date.now() - started) / 1000, cpuSeconds: sampler.cpuSeconds(), cliCpuSeconds: sampler.rootCpuSeconds() };
}
