import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BundleNotFoundError } from '../errors';
import { DEPLOYED_NODE_MAJOR } from '../stack/names';
import { step, STEPS_ON } from '../run/steps';
import { HOST_DEFERRED_VAR, PROFILING_FLAG, type HostEnvironment, type HostReply, type InvokeRequest } from './protocol';

export interface FunctionConfig {
  /** Lambda function name, e.g. `rydes-transform`. */
  name: string;
  /** The built bundle, e.g. `dist/apps/transform-fn/main.js`. */
  bundle: string;
  /** The function's own environment (OUTPUT_BUCKET, …), as the stack sets it. */
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
  /** Execution environments that may run at once (Lambda's concurrency). */
  maxConcurrency: number;
  /** Where the environments' stdout/stderr go: a file descriptor (function log) or 'inherit'. */
  logFd: number | 'inherit';
  /**
   * Fault injection, asked once per invocation: true kills the environment when the handler has
   * finished, before its response is delivered (a crash Lambda would report as Runtime.ExitError).
   */
  crash?: () => boolean;
  /**
   * Environments forked before this function's variables were known ({@link forkEarly}): its
   * first cold starts take them (same bundle and memory size) instead of forking.
   */
  early?: EarlyEnvironment[];
}

/** An execution environment forked ahead of its function's configuration: see {@link forkEarly}. */
export interface EarlyEnvironment {
  child: ChildProcess;
  bundle: string;
  memoryMb: number;
}

/**
 * Forks an execution environment before its function's variables are known (the local stack's
 * servers not started yet: no endpoints): it boots Node and loads Node's own modules, then waits;
 * a {@link FunctionPool} given it in `early` sends it the function's whole environment at its cold
 * start, and only then does it load the bundle (the init), as Lambda starts it. Its stdout and
 * stderr go to `logFd` from the start; `name` (the function's) is in its environment from the start
 * too. One that no pool takes is ended by {@link endEarly}.
 * @example
 * const early = [forkEarly('dist/apps/ingest-fn/main.js', 1024, fd)];
 * new FunctionPool({ ...config, early }).prewarm(1);
 */
export function forkEarly(bundle: string, memoryMb: number, logFd: number | 'inherit', name?: string): EarlyEnvironment {
  const inherited = Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'NODE_OPTIONS'].flatMap((k) => (process.env[k] ? [[k, process.env[k] as string]] : [])));
  // What Node reads as it starts is what a pool's fork would give it; the rest comes with the environment message.
  // The function's name too (the same value its environment will hold): tools that tell the
  // processes apart by /proc/<pid>/environ, which keeps the variables of the fork, still can.
  const child = forkHost(memoryMb, logFd, {
    ...inherited,
    TZ: 'UTC',
    LANG: 'en_US.UTF-8',
    NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
    GLIBC_TUNABLES: LOCAL_MALLOC_TUNABLES,
    ...(name && { AWS_LAMBDA_FUNCTION_NAME: name }),
    [HOST_DEFERRED_VAR]: '1',
  });
  // A failure to start shows when a pool takes it (found dead), or never if none does.
  child.on('error', () => undefined);
  return { child, bundle, memoryMb };
}

/** Ends the early environments no pool took (a pool removes those it takes from the list). */
export function endEarly(early: EarlyEnvironment[]): void {
  for (const { child } of early.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export type InvokeOutcome =
  | { ok: true; result: unknown; awsRequestId: string; durationMs: number }
  | { ok: false; errorType: string; errorMessage: string; awsRequestId: string; durationMs: number; stackTrace?: string[] };

interface Environment {
  child: ChildProcess;
  ready: Promise<void>;
  busy: boolean;
  /** The bundle this environment loaded at its cold start (see {@link FunctionPool.replaceBundle}). */
  bundle?: string;
  pending?: { id: number; crash: boolean; settle: (reply: Settled) => void };
}

/** How an exchange with an environment ended besides its reply: it exited, or never got the event. */
type Settled = HostReply | { type: 'exit' | 'undelivered'; reason: string };

/** Environments tried for one invocation whose event could not be delivered (each found dead). */
const UNDELIVERED_ATTEMPTS = 3;

let nodeMajorNoted = false;

/** How long a closing pool (or a replaced bundle) lets an idle environment exit by itself before SIGKILL, ms. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Says once per process that the execution environments run on this machine's Node, not the
 * deployed runtime's, when the majors differ. Silent under Jest (its workers and their children),
 * whose output is kept free of such notes.
 * @example
 * noteNodeMajor((line) => process.stderr.write(line), '20.20.2'); // true, once
 */
export function noteNodeMajor(write: (line: string) => void, version = process.versions.node, enabled = !process.env.JEST_WORKER_ID): boolean {
  const major = Number(version.split('.')[0]);
  if (!enabled || nodeMajorNoted || major === DEPLOYED_NODE_MAJOR) return false;
  nodeMajorNoted = true;
  write(`rydes: note: the functions run here on Node ${major}; deployed they run on Node.js ${DEPLOYED_NODE_MAJOR} (Lambda nodejs${DEPLOYED_NODE_MAJOR}.x).\n`);
  return true;
}

/**
 * The CLI's own profiling flags (`node --cpu-prof --cpu-prof-dir=prof main.js run`), passed on to
 * every execution environment so one command profiles the whole run (Node refuses --cpu-prof in
 * NODE_OPTIONS).
 */
export function profilingFlags(execArgv: string[] = process.execArgv): string[] {
  return execArgv.filter((flag) => PROFILING_FLAG.test(flag));
}

/** The host entry: the bundled host.js beside the CLI bundle, else the TypeScript source via tsx. */
/** Forks an execution environment's host process (a pool's, or an early one) with `env` as its whole environment. */
function forkHost(memoryMb: number, logFd: number | 'inherit', env: NodeJS.ProcessEnv): ChildProcess {
  const host = hostEntry();
  const logStdio = logFd === 'inherit' ? 2 : logFd;
  return fork(host.path, [], {
    execArgv: [...localHeapFlags(memoryMb), ...host.execArgv],
    stdio: ['ignore', logStdio, logStdio, 'ipc'],
    // V8's structured clone instead of JSON: an event's message bodies (up to 10 × 200 KiB of
    // JSON text) cross as raw strings, without escaping every quote on the way in and out.
    serialization: 'advanced',
    env,
  });
}

function hostEntry(): { path: string; execArgv: string[] } {
  for (const built of [join(__dirname, 'host.js'), join(__dirname, 'lambda', 'host.js')]) {
    if (existsSync(built)) return { path: built, execArgv: profilingFlags() };
  }
  return { path: join(__dirname, 'host.ts'), execArgv: ['--import', 'tsx', ...profilingFlags()] };
}

/**
 * Lambda's execution model for one function on this machine: each execution environment is a
 * child process that `require`s the built bundle once (cold start) and then runs one invocation
 * at a time; environments are created on demand up to `maxConcurrency` and reused while warm.
 * A timeout or crash kills the environment, as Lambda does.
 * @example
 * const pool = new FunctionPool({ name: 'rydes-transform', bundle, environment, timeoutSeconds: 30,
 *   memoryMb: 1024, maxConcurrency: 2, logFd: 'inherit' });
 * const outcome = await pool.invoke(sqsEvent);
 * await pool.close();
 */
export class FunctionPool {
  private readonly environments: Environment[] = [];
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;
  private closed = false;
  invocations = 0;
  coldStarts = 0;
  /** Environments ended by {@link retireIdle}. */
  retired = 0;
  /** Cold starts whose bundle code came from the code cache of an earlier environment (host.ts). */
  codeCacheHits = 0;

  constructor(readonly config: FunctionConfig) {
    if (!existsSync(config.bundle)) throw new BundleNotFoundError(config.name, config.bundle);
    noteNodeMajor((line) => process.stderr.write(line));
  }

  async invoke(event: unknown): Promise<InvokeOutcome> {
    const awsRequestId = randomUUID();
    this.invocations++;
    for (let attempt = 1; ; attempt++) {
      const environment = await this.acquire();
      let started = Date.now();
      try {
        // Lambda's timeout covers the invoke phase; init (the cold start) has its own budget.
        await environment.ready;
        started = Date.now();
        if (STEPS_ON) step(`${this.config.name} invoke #${this.invocations}`);
        const reply = await this.exchange(environment, event, awsRequestId, started + this.config.timeoutSeconds * 1000);
        const durationMs = Date.now() - started;
        if (STEPS_ON) step(`${this.config.name} invoke done ${durationMs} ms`);
        if (reply.type === 'result') return { ok: true, result: reply.result, awsRequestId, durationMs };
        if (reply.type === 'error') {
          return { ok: false, errorType: reply.errorType, errorMessage: reply.errorMessage, awsRequestId, durationMs, ...(reply.stack && { stackTrace: reply.stack.split('\n') }) };
        }
        // The environment died before the event reached it (killed from outside while idle, its
        // exit not seen yet): Lambda never routes an event to a dead environment, so neither do
        // we; the handler has not run, and the event goes to another environment.
        if (reply.type === 'undelivered' && attempt < UNDELIVERED_ATTEMPTS) continue;
        const errorMessage = reply.type === 'exit' || reply.type === 'undelivered' ? reply.reason : `unexpected reply ${reply.type}`;
        return { ok: false, errorType: 'Runtime.ExitError', errorMessage, awsRequestId, durationMs };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return { ok: false, errorType: 'Runtime.InitError', errorMessage: message, awsRequestId, durationMs: Date.now() - started };
      } finally {
        this.release(environment);
      }
    }
  }

  /**
   * Starts execution environments ahead of the first invocation (up to `count`, at most
   * `maxConcurrency`), as provisioned concurrency does: their init (the bundle's `require`) runs
   * while the caller does something else, instead of as a cold start on the first event's path.
   * Each still counts as a cold start.
   */
  prewarm(count = this.config.maxConcurrency): void {
    while (!this.closed && this.environments.length < Math.min(count, this.config.maxConcurrency)) this.spawn();
  }

  /** Invocations running right now. */
  get inFlight(): number {
    return this.environments.filter((e) => e.busy).length;
  }

  /**
   * Runs `bundle` from the next invocation on, like publishing new function code: invocations
   * already running finish on the code they started with and their environments are retired when
   * they finish; idle environments are retired now; the next invocation starts cold on `bundle`.
   * Nothing is invoked twice or dropped: only which environment serves the next invocation changes.
   * `bundle` must stay in place while environments may still load it (cold starts).
   * @example
   * pool.replaceBundle('/tmp/rydes-watch/transform-fn/2/main.js');
   */
  replaceBundle(bundle: string): void {
    if (!existsSync(bundle)) throw new BundleNotFoundError(this.config.name, bundle);
    this.config.bundle = bundle;
    for (const environment of [...this.environments]) if (!environment.busy) void this.kill(environment, CLOSE_GRACE_MS);
  }

  /**
   * Ends every environment that is not running an invocation, as Lambda reclaims idle execution
   * environments whenever it likes: their memory is given back, and the next invocation (if any)
   * starts cold. Running invocations are left alone. Returns how many were retired.
   * @example
   * pool.retireIdle(); // 1: the ingest's environment, its file done
   */
  retireIdle(): number {
    const idle = this.environments.filter((e) => !e.busy);
    for (const environment of idle) void this.kill(environment, CLOSE_GRACE_MS);
    this.retired += idle.length;
    return idle.length;
  }

  /** Execution environments alive right now (busy or warm), whatever bundle they run. */
  get environmentCount(): number {
    return this.environments.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.environments].map((e) => this.kill(e, CLOSE_GRACE_MS)));
    this.environments.length = 0;
  }

  private acquire(): Promise<Environment> {
    if (this.closed) return Promise.reject(new Error(`${this.config.name}: pool closed`));
    const idle = this.environments.find((e) => !e.busy);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    if (this.environments.length < this.config.maxConcurrency) {
      const created = this.spawn();
      created.busy = true;
      return Promise.resolve(created);
    }
    return new Promise((resolve) => this.waiting.push(() => resolve(this.acquire())));
  }

  private release(environment: Environment): void {
    environment.busy = false;
    // Loaded a bundle that has since been replaced: retired now that its invocation is over.
    if (environment.bundle !== this.config.bundle) void this.kill(environment, CLOSE_GRACE_MS);
    this.waiting.shift()?.();
  }

  /** An early environment of this function's bundle and memory size that is still alive, taken off the list. */
  private takeEarly(): ChildProcess | undefined {
    const early = this.config.early;
    if (!early) return undefined;
    for (let i = 0; i < early.length; i++) {
      const { child, bundle, memoryMb } = early[i];
      if (bundle !== this.config.bundle || memoryMb !== this.config.memoryMb) continue;
      early.splice(i--, 1);
      if (child.exitCode === null && child.signalCode === null && child.connected) return child;
      child.kill('SIGKILL');
    }
    return undefined;
  }

  private spawn(): Environment {
    const { config } = this;
    const env = { ...lambdaEnvironment(config), GLIBC_TUNABLES: LOCAL_MALLOC_TUNABLES };
    const early = this.takeEarly();
    // An early environment's init starts now, with the whole environment a fork would have had.
    if (early) early.send({ type: 'environment', env: env as Record<string, string> } satisfies HostEnvironment, () => undefined);
    const child = early ?? forkHost(config.memoryMb, config.logFd, env);
    this.coldStarts++;
    const environment: Environment = { child, busy: false, ready: Promise.resolve(), bundle: config.bundle };
    environment.ready = new Promise<void>((resolve, reject) => {
      const onReply = (reply: HostReply) => {
        if (reply.type === 'ready') {
          step(`${config.name} environment ready (${reply.codeCache})`);
          if (reply.codeCache === 'hit') this.codeCacheHits++;
          resolve();
        }
        else if (reply.type === 'init-error') reject(new Error(`${reply.errorType}: ${reply.errorMessage}`));
        else if ((reply.type === 'result' || reply.type === 'error') && environment.pending?.id === reply.id) {
          // An injected crash loses the response after every side effect happened: the hardest case for idempotency.
          if (environment.pending.crash) void this.kill(environment);
          else environment.pending.settle(reply);
        }
      };
      child.on('message', onReply);
      const ended = (reason: string) => {
        this.forget(environment);
        reject(new Error(`${config.name}: execution environment ${reason} during init`));
        environment.pending?.settle({ type: 'exit', reason: `execution environment ${reason}` });
      };
      child.once('exit', (code, signal) => ended(`exited (code ${code}, signal ${signal})`));
      // The process could not be started (or signalled): no 'exit' may follow, so end it here
      // rather than leave its invocation waiting. A failed send is handled where it is sent.
      child.on('error', (err) => ended(`failed (${err.message})`));
    });
    // An init failure is reported to the invocation that waits for it; keep Node quiet here.
    environment.ready.catch(() => undefined);
    this.environments.push(environment);
    return environment;
  }

  private exchange(environment: Environment, event: unknown, awsRequestId: string, deadlineMs: number) {
    return new Promise<Settled>((resolve) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        // Lambda stops the environment at the deadline; the next invocation starts cold.
        void this.kill(environment);
        settle({ type: 'exit', reason: `Task timed out after ${this.config.timeoutSeconds}.00 seconds` });
      }, Math.max(0, deadlineMs - Date.now()));
      const settle = (reply: Settled) => {
        clearTimeout(timer);
        environment.pending = undefined;
        resolve(reply);
      };
      environment.pending = { id, settle, crash: this.config.crash?.() ?? false };
      const request: InvokeRequest = { type: 'invoke', id, event, awsRequestId, deadlineMs };
      // A failed send (EPIPE, channel closed) means the environment is gone and the event never
      // reached it; without this callback the failure would be thrown as an 'error' event.
      environment.child.send(request, (err) => {
        if (!err || environment.pending?.id !== id) return;
        void this.kill(environment);
        settle({ type: 'undelivered', reason: `execution environment gone before the event was delivered (${err.message})` });
      });
    });
  }

  private forget(environment: Environment): void {
    const index = this.environments.indexOf(environment);
    if (index >= 0) this.environments.splice(index, 1);
  }

  /**
   * Stops an environment: at once (timeout, crash), or at close by closing its IPC channel, on
   * which the host exits by itself (so `--cpu-prof` profiles get written), SIGKILL after `graceMs`.
   */
  private kill(environment: Environment, graceMs = 0): Promise<void> {
    this.forget(environment);
    const { child } = environment;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = graceMs > 0 && child.connected ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (timer) child.disconnect();
      else child.kill('SIGKILL');
    });
  }
}

/**
 * The heap limits Lambda's Node.js runtime starts node with for a function's memory size (its
 * bootstrap: a tenth of the memory for the young generation, half of that per semi-space, the
 * rest for the old generation).
 * @example
 * lambdaHeapFlags(512); // ['--max-semi-space-size=25', '--max-old-space-size=461']
 */
export function lambdaHeapFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}

/**
 * Semi-space of the local execution environments, MB. On Lambda each environment has its memory
 * to itself; here all of them share one machine with the CLI, and a young generation sized for
 * 1,024 MB (51 MB semi-spaces) mostly holds garbage: with 4 MB the three environments of a
 * 200,000-ride run peak ~90 MB lower together at the same CPU (README, "Local vs AWS").
 */
export const LOCAL_SEMI_SPACE_MB = 4;

/**
 * The node flags of a local execution environment: Lambda's old-generation limit for the memory
 * size (a function that outgrows its memory fails here as it would there), with a young
 * generation of at most {@link LOCAL_SEMI_SPACE_MB} per semi-space.
 * @example
 * localHeapFlags(512); // ['--max-semi-space-size=4', '--max-old-space-size=461']
 */
export function localHeapFlags(memoryMb: number): string[] {
  const [semiSpace, oldSpace] = lambdaHeapFlags(memoryMb);
  const lambdaSemiSpace = Number(semiSpace.split('=')[1]);
  return [`--max-semi-space-size=${Math.min(lambdaSemiSpace, LOCAL_SEMI_SPACE_MB)}`, oldSpace];
}

/**
 * glibc's malloc settings of a local execution environment (GLIBC_TUNABLES; other C libraries
 * ignore it). By default glibc raises its mmap threshold to the size of each large block freed
 * (up to 32 MiB): after the first ~1 MiB IPC event or SendMessageBatch body, such blocks come from
 * the heap arenas, where freed memory mostly stays in the process. An event's bodies, a batch
 * sent, a CSV object are garbage within an invocation, so each environment kept the high-water
 * mark of them resident. A fixed 128 KiB threshold (glibc's default start, no raising) maps every
 * larger block on its own and unmaps it when freed: at 200,000 rides the three environments
 * peaked ~25 MB lower together (README, "Memory and cold starts"). A function sees the variable
 * in its environment, as it sees the heap flags in `process.execArgv`.
 */
export const LOCAL_MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=131072';

/** The variables Lambda's Node.js runtime sets, plus the function's own. */
function lambdaEnvironment(config: FunctionConfig): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    ['PATH', 'HOME', 'TMPDIR', 'NODE_OPTIONS'].flatMap((k) => (process.env[k] ? [[k, process.env[k] as string]] : [])),
  );
  return {
    ...inherited,
    AWS_LAMBDA_FUNCTION_NAME: config.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: join(config.bundle, '..'),
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: 'main.handler',
    TZ: 'UTC',
    LANG: 'en_US.UTF-8',
    NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...config.environment,
    RYDES_LAMBDA_BUNDLE: config.bundle,
  };
}
