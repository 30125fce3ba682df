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

/** RSS of a process and all its descendants, bytes. */
export function treeRss(pid: number): number {
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

/** Samples {@link treeRss} of `pid` every `intervalMs`; `stop()` returns the peak in bytes. */
export function samplePeakRss(pid: number, intervalMs = 100): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, treeRss(pid))), intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  peakBytes: number;
  /** Process lifetime, s. */
  seconds: number;
}

/** Runs `node dist/apps/cli/main.js …args` to its end. */
export async function runBuiltCli(args: string[]): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const sampler = samplePeakRss(child.pid ?? 0);
  const code: number = await new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
  return { code, stdout, stderr, peakBytes: sampler.stop(), seconds: (Date.now() - started) / 1000 };
}
