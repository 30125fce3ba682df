/**
 * One Lambda execution environment: a child process that loads a built function bundle the way
 * the Node.js runtime does (CommonJS `require` semantics for LAMBDA_TASK_ROOT/main.js, init once,
 * then one invocation at a time with a fresh context). Started by FunctionPool with the
 * function's environment. Imports node builtins only, so it runs as plain JS after bundling and
 * under tsx in tests.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { HOST_DEFERRED_VAR, PROFILING_FLAG, type CodeCacheUse, type HostEnvironment, type HostReply, type InvokeRequest } from './protocol';
import { privateFolder } from '../private-folder';

// Read at init (main), after a deferred environment has received its variables.
let bundlePath = '';
let handlerName = 'handler';

type Handler = (event: unknown, context: unknown, callback: (err?: unknown, result?: unknown) => void) => unknown;

function send(reply: HostReply): void {
  process.send?.(reply);
}

function describeError(err: unknown): { errorType: string; errorMessage: string; stack?: string } {
  if (err instanceof Error) return { errorType: err.name, errorMessage: err.message, stack: err.stack };
  return { errorType: 'Error', errorMessage: String(err) };
}

function createContext(request: InvokeRequest) {
  const env = process.env;
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:123456789012:function:${functionName}`,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '1024',
    awsRequestId: request.awsRequestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local',
    getRemainingTimeInMillis: () => Math.max(0, request.deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function invoke(handler: Handler, request: InvokeRequest): Promise<void> {
  try {
    const result = await new Promise((resolve, reject) => {
      const callback = (err?: unknown, value?: unknown) => (err ? reject(err) : resolve(value));
      const returned = handler(request.event, createContext(request), callback);
      // Async handlers settle through their promise; callback-style ones through `callback`.
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(resolve, reject);
      }
    });
    // Lambda returns the handler's result as JSON: the same round trip here (the IPC channel
    // itself is structured clone, which would keep Dates and refuse functions).
    send({ type: 'result', id: request.id, result: result === undefined ? null : (JSON.parse(JSON.stringify(result) ?? 'null') as unknown) });
  } catch (err) {
    send({ type: 'error', id: request.id, ...describeError(err) });
  }
}

/** Cache files kept in the code cache folder (one per bundle build, Node version and flags). */
const CODE_CACHES_KEPT = 16;

interface LoadedBundle {
  exports: unknown;
  codeCache: CodeCacheUse;
  /** Writes V8's code cache of the bundle for the next environment, unless it started from a valid one. */
  saveCodeCache(): void;
}

/**
 * Loads a CommonJS bundle as `require` does (Node's module wrapper, a `module`, `exports` and a
 * `require` resolving from the bundle's folder, `require.cache` entry), but compiled through
 * `vm.Script` with V8's code cache of an earlier environment of the same bundle bytes: a cold
 * start then skips parsing and compiling the ~2 MB bundle (the AWS SDK inside it) again. Only the
 * local emulator does this; what the init phase runs, and when, is unchanged. The cache lives in
 * `<tmpdir>/rydes-code-cache-<uid>/` (this user's only), named by a hash of the bundle's bytes, the Node version and the
 * node flags but the profiling ones (V8 itself refuses a cache of another version or V8 flags); any failure to read or write
 * it only means compiling as usual.
 */
function loadBundle(path: string): LoadedBundle {
  const source = readFileSync(path, 'utf8');
  const folder = privateFolder(join(tmpdir(), `rydes-code-cache-${process.getuid?.() ?? 'user'}`));
  const flags = process.execArgv.filter((flag) => !PROFILING_FLAG.test(flag)).join(' ');
  const key = createHash('sha256').update(`${process.version}\0${process.arch}\0${flags}\0`).update(source).digest('hex').slice(0, 32);
  const cacheFile = folder && join(folder, `${key}.v8cache`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = cacheFile ? readFileSync(cacheFile) : undefined;
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(source), { filename: path, cachedData });
  const mod = new Module(path, module);
  mod.filename = path;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(path));
  const localRequire = createRequire(path);
  localRequire.cache[path] = mod;
  const compiled = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => void;
  compiled.call(mod.exports, mod.exports, localRequire, mod, path, dirname(path));
  mod.loaded = true;
  const valid = cachedData !== undefined && !script.cachedDataRejected;
  if (valid && cacheFile) touch(cacheFile);
  return {
    exports: mod.exports,
    codeCache: !cacheFile ? 'off' : cachedData === undefined ? 'miss' : valid ? 'hit' : 'rejected',
    saveCodeCache() {
      if (valid || !folder || !cacheFile) return;
      try {
        // Written aside and renamed: environments starting at the same time never read half a file.
        const partial = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(partial, script.createCachedData());
        renameSync(partial, cacheFile);
        pruneCodeCaches(folder);
      } catch {
        // No cache next time: the bundle is compiled as usual.
      }
    },
  };
}

/**
 * Marks a cache as just used: pruning keeps the most recently written or used ones, so the cache
 * of the bundle being run survives other builds' caches written since (several worktrees, bench
 * variants).
 */
function touch(file: string): void {
  try {
    const now = new Date();
    utimesSync(file, now, now);
  } catch {
    // another environment pruned it meanwhile: it is written again after its first invocation
  }
}

/** Keeps the {@link CODE_CACHES_KEPT} most recently written or used caches (every rebuild adds one). */
function pruneCodeCaches(folder: string): void {
  const files = readdirSync(folder)
    .filter((name) => name.endsWith('.v8cache'))
    .map((name) => ({ name, mtime: statSync(join(folder, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { name } of files.slice(CODE_CACHES_KEPT)) rmSync(join(folder, name), { force: true });
}

/**
 * Node's modules that the function bundles load at their init (the AWS SDK's HTTP stack, crypto,
 * zlib, …): loading one reads no variable of the function's environment and has no effect a
 * bundle could see, so an environment forked before its variables are known loads them meanwhile.
 */
const PRELOADED_BUILTINS = [
  'node:assert', 'node:crypto', 'node:diagnostics_channel', 'node:fs/promises', 'node:http', 'node:http2', 'node:https', 'node:net', 'node:os',
  'node:readline', 'node:stream', 'node:stream/promises', 'node:string_decoder', 'node:tls', 'node:url', 'node:worker_threads', 'node:zlib',
];

/** Makes `env` the whole of process.env (variables not in it are removed). */
function replaceEnvironment(env: Record<string, string>): void {
  for (const name of Object.keys(process.env)) if (!(name in env)) delete process.env[name];
  Object.assign(process.env, env);
}

/**
 * Starts the environment: at once, or (HOST_DEFERRED_VAR) once its variables arrive, having
 * loaded Node's modules meanwhile. Either way the bundle's init runs with the function's whole
 * environment in place, as Lambda starts it.
 */
function start(): void {
  // The CLI owns shutdown: Ctrl-C reaches the whole process group, the parent then stops us.
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => process.exit(0));
  if (process.env[HOST_DEFERRED_VAR] !== '1') return main();
  const builtins = createRequire(process.execPath);
  for (const name of PRELOADED_BUILTINS) builtins(name);
  process.once('message', (message: HostEnvironment) => {
    replaceEnvironment(message.type === 'environment' ? message.env : {});
    main();
  });
}

function main(): void {
  bundlePath = process.env.RYDES_LAMBDA_BUNDLE ?? '';
  handlerName = (process.env._HANDLER ?? 'main.handler').split('.').pop() ?? 'handler';
  let handler: Handler;
  let bundle: LoadedBundle;
  try {
    bundle = loadBundle(bundlePath);
    const mod = bundle.exports as Record<string, unknown>;
    handler = mod[handlerName] as Handler;
    if (typeof handler !== 'function') throw new TypeError(`${bundlePath} exports no function "${handlerName}"`);
  } catch (err) {
    const { errorType, errorMessage, stack } = describeError(err);
    // Lambda's runtime writes an init failure to the function's log as well.
    process.stderr.write(`${JSON.stringify({ level: 60, time: new Date().toISOString(), msg: `init failed: ${errorType}`, reason: errorMessage, stack })}\n`);
    send({ type: 'init-error', errorType: `Runtime.ImportModuleError: ${errorType}`, errorMessage });
    return;
  }
  let cacheSaved = false;
  process.on('message', (request: InvokeRequest) => {
    if (request.type !== 'invoke') return;
    void invoke(handler, request).then(() => {
      // After the first invocation the cache also holds the handler's lazily compiled functions.
      if (!cacheSaved) bundle.saveCodeCache();
      cacheSaved = true;
    });
  });
  send({ type: 'ready', codeCache: bundle.codeCache });
}

start();
