import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from './helpers/processes';

const CLI = join(__dirname, '../../../dist/apps/cli/main.js');

/** Pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

/** Resolves once `predicate` holds, polling every 100 ms; rejects after `ms`. */
async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('rydes up / run stopped by a signal (the BUILT cli as a real process)', () => {
  let dir: string;
  // A spec that fails before its signal must not leave its CLI running (nor jest waiting on its pipes).
  const spawned: ChildProcess[] = [];
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('build the cli first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-signals-'));
  });
  afterEach(() => {
    for (const child of spawned.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('run: %s mid-pipeline exits %i, ends every function environment and closes both servers', async (signal, code) => {
    // Prepare: a sample big enough to be mid-flight when the signal comes.
    const cli = spawn(process.execPath, [CLI, 'run', '--rides', '100000', '--out', join(dir, `out-${signal}`), '--data-dir', join(dir, `data-${signal}`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    spawned.push(cli);
    let err = '';
    cli.stderr?.on('data', (c) => (err += c));
    cli.stdout?.resume();
    const done = exited(cli);
    await until(() => childrenOf(cli.pid as number).length >= 2, 30_000, 'the function environments to start');
    const environments = childrenOf(cli.pid as number);
    const ports = portsOf(cli.pid as number);

    // Act
    cli.kill(signal);
    const result = await done;

    // Assess
    expect(result).toEqual({ code, signal: null });
    expect(err).toContain(`${signal}: stopping pollers and functions, closing the local servers`);
    expect(environments.filter(alive)).toEqual([]);
    expect(ports.length).toBeGreaterThanOrEqual(2);
    for (const port of ports) expect(await listening(port)).toBe(false);
  }, 60_000);

  it('up: SIGINT after the stack is up exits 130 and closes the endpoints it printed', async () => {
    // Prepare
    const cli = spawn(process.execPath, [CLI, 'up', '--data-dir', join(dir, 'up')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    spawned.push(cli);
    let out = '';
    cli.stdout?.on('data', (c) => (out += c));
    cli.stderr?.resume();
    const done = exited(cli);
    await until(() => /Ctrl-C/.test(out) && /s3 cp/.test(out), 30_000, 'the "is up" banner');
    const ports = [...new Set([...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
    expect(ports.length).toBeGreaterThanOrEqual(2);
    for (const port of ports) expect(await listening(port)).toBe(true);

    // Act
    cli.kill('SIGINT');
    const result = await done;

    // Assess
    expect(result).toEqual({ code: 130, signal: null });
    for (const port of ports) expect(await listening(port)).toBe(false);
  }, 60_000);
});

/** TCP ports `pid` listens on, from /proc/net/tcp and the process's socket inodes. */
function portsOf(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // st 0A = LISTEN; local address is HEX_IP:HEX_PORT; inode is column 10.
      if (cols.length > 9 && cols[3] === '0A' && inodes.has(cols[9])) ports.push(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}
