/**
 * V8's code cache for the CLI's own process: the CommonJS modules a command loads (the CLI
 * bundle, the AWS SDK and the other packages it requires) are compiled from the cached code of an
 * earlier start of the same command instead of from source. Node 20 has no
 * `module.enableCompileCache` (22.1+); `v8-compile-cache` does this through the same hook but
 * compiles every `.js` as CommonJS, which breaks the ESM packages the CLI requires (rbush;
 * require(esm) of Node 20.19+), and caches only what V8 compiles eagerly. Here an ES module is left
 * to Node, and the cache is written at exit, so it also holds the functions the command ran.
 *
 * One file per build of the CLI, command and place (`cli-<hash of key and main module>.v8cache` in a private folder, `cli/`
 * inside the function environments' `<tmpdir>/rydes-code-cache-<uid>/`; 16 kept): a v8.serialize'd
 * map of module file → SHA-1 of its source and V8's cached data. A module whose source changed, or
 * whose data V8 refuses (another V8 version or flags), is compiled as usual and cached again.
 * Imports node builtins only: main.ts installs it before the CLI bundle loads.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { Script } from 'node:vm';
import { PROFILING_FLAG } from './lambda/protocol';
import { privateFolder } from './private-folder';

/** Caches kept in the folder (one per CLI build and command); the oldest are removed. */
export const CLI_CODE_CACHES_KEPT = 16;

interface CachedModule {
  sha1: string;
  data: Buffer;
}

/** The folder of the CLI's code caches (main.ts's and the report thread's). */
export function cliCodeCacheFolder(): string {
  return join(tmpdir(), `rydes-code-cache-${process.getuid?.() ?? 'user'}`, 'cli');
}

/**
 * A cache key for the code `bundle` loads to do `what` (a command, a thread): the bundle's bytes,
 * the node flags (without the profiling ones, which do not change what V8 compiles) and `what`.
 * @example
 * installCompileCache(cliCodeCacheFolder(), bundleCacheKey(__filename, 'report-worker'));
 */
export function bundleCacheKey(bundle: string, what: string): string {
  const flags = process.execArgv.filter((flag) => !PROFILING_FLAG.test(flag)).join(' ');
  return `${createHash('sha1').update(readFileSync(bundle)).digest('hex')}\0${flags}\0${what}`;
}

/** What the cache did in this process so far. */
export interface CompileCacheStats {
  /** Modules compiled from cached code. */
  hits: number;
  /** Modules compiled from source (no cached code for them, or V8 refused it). */
  misses: number;
  /** The cache file. */
  file: string;
  /**
   * Bytes of cached code still held for modules this process has not loaded (yet). Each module's
   * code is its own copy, let go once the module is compiled: the file as read (~18 MB for `run`)
   * is not kept for the whole command.
   */
  heldBytes: number;
}

type Compile = (this: Module, content: string, filename: string, format?: string) => unknown;

interface ModuleInternals {
  _resolveFilename(request: string, parent: Module, isMain: boolean, options?: { paths?: string[] }): string;
  _resolveLookupPaths(request: string, parent: Module): string[] | null;
  _extensions: NodeJS.RequireExtensions;
  _cache: NodeJS.Dict<Module>;
  prototype: { _compile: Compile };
}

let installed: CompileCacheStats | undefined;

/** An `import(` in a module's source (comments included: such a module is merely compiled as usual). */
const DYNAMIC_IMPORT = /\bimport\s*\(/;

/** The process's main module, for the `require.main` of the modules compiled here. */
const mainModule = require.main;

/**
 * Compiles the CommonJS modules loaded from now on in this thread through `vm.Script` with the
 * cached code of `key` (e.g. the CLI bundle's hash and the command), and writes the cache at exit
 * when a module was compiled from source. Returns undefined (and changes nothing) when `folder`
 * is not a folder only this user can write. Idempotent.
 * @example
 * installCompileCache(join(tmpdir(), 'rydes-code-cache-0'), `${bundleHash}\0run`);
 * require('./cli.js'); // the bundle and its packages compile from the cache of the last `run`
 */
export function installCompileCache(folder: string, key: string): CompileCacheStats | undefined {
  if (installed) return installed;
  const own = privateFolder(folder);
  if (!own) return undefined;
  // The main module's path is part of the file's name: the same CLI build in two folders (two
  // checkouts, worktrees) loads its packages from two places, and one shared file would gather
  // every folder's modules (1,040 entries, 22 MB, read at every start, where one folder has ~150).
  const installedAt = mainModule?.filename ?? '';
  const file = join(own, `cli-${createHash('sha256').update(`${process.version}\0${process.arch}\0${key}\0${installedAt}`).digest('hex').slice(0, 32)}.v8cache`);
  const cached = readCache(file);
  const stats: CompileCacheStats = { hits: 0, misses: 0, file, heldBytes: 0 };
  for (const entry of cached.values()) stats.heldBytes += entry.data.length;
  const compiledFromSource: Array<{ filename: string; sha1: string; script: Script }> = [];
  /** Modules compiled from the cache: their code is written again from the script if the cache is rewritten. */
  const compiledFromCache: Array<{ filename: string; sha1: string; script: Script }> = [];
  const internals = Module as unknown as ModuleInternals;
  const nodeCompile = internals.prototype._compile;

  internals.prototype._compile = function compileWithCache(this: Module, content: string, filename: string, format?: string) {
    // ES modules (require(esm)), anything not plain CommonJS JavaScript, and modules with an
    // `import()` (in a vm.Script it needs vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER, which
    // Node 20 does not keep for a script compiled from cached data): Node's own path. The CLI
    // bundle has none (built with esbuild's dynamic-import support off: `require` instead).
    if (format === 'module' || !filename.endsWith('.js') || DYNAMIC_IMPORT.test(content)) return nodeCompile.call(this, content, filename, format);
    const sha1 = createHash('sha1').update(content).digest('hex');
    const entry = cached.get(filename);
    const cachedData = entry?.sha1 === sha1 ? entry.data : undefined;
    let script: Script;
    try {
      // A hashbang is valid only at the very start of a script: a comment of the same length inside the wrapper.
      script = new Script(Module.wrap(content.startsWith('#!') ? `//${content.slice(2)}` : content), { filename, cachedData });
    } catch {
      // Not CommonJS after all (ESM syntax Node would detect): let Node compile and report it.
      return nodeCompile.call(this, content, filename, format);
    }
    if (entry) {
      // V8 has what it needs from it: the copy goes (see heldBytes).
      cached.delete(filename);
      stats.heldBytes -= entry.data.length;
    }
    if (cachedData && !script.cachedDataRejected) {
      stats.hits++;
      compiledFromCache.push({ filename, sha1, script });
    } else {
      stats.misses++;
      compiledFromSource.push({ filename, sha1, script });
    }
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, requireFor(this, internals), this, filename, dirname(filename));
  };

  process.once('exit', () => {
    if (compiledFromSource.length === 0) return;
    try {
      // After the command ran: the cached code also holds the functions it compiled lazily.
      for (const { filename, sha1, script } of [...compiledFromCache, ...compiledFromSource]) cached.set(filename, { sha1, data: script.createCachedData() });
      // Written aside and renamed: a CLI starting meanwhile never reads half a file.
      const partial = `${file}.${process.pid}.tmp`;
      writeFileSync(partial, serialize(cached));
      renameSync(partial, file);
      prune(own);
    } catch {
      // No cache next time: the modules compile from source as usual.
    }
  });
  installed = stats;
  return stats;
}

/**
 * The cache file's modules, each with its own copy of its cached code: `v8.deserialize` hands out
 * views of the one Buffer read, which would keep all of it alive as long as any module's entry is.
 * An unreadable file is an empty cache.
 */
function readCache(file: string): Map<string, CachedModule> {
  let read: unknown;
  try {
    read = deserialize(readFileSync(file));
  } catch {
    return new Map();
  }
  if (!(read instanceof Map)) return new Map();
  const cached = new Map<string, CachedModule>();
  for (const [filename, entry] of read as Map<string, CachedModule>) {
    if (typeof entry?.sha1 === 'string' && entry.data instanceof Uint8Array) cached.set(filename, { sha1: entry.sha1, data: Buffer.from(entry.data) });
  }
  return cached;
}

/** The `require` Node gives a module (resolve, resolve.paths, main, extensions, cache). */
function requireFor(mod: Module, internals: ModuleInternals): NodeJS.Require {
  const require = ((id: string) => mod.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: { paths?: string[] }) => internals._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => internals._resolveLookupPaths(request, mod);
  require.resolve = resolve;
  require.main = mainModule;
  require.extensions = internals._extensions;
  require.cache = internals._cache;
  return require;
}

/** Keeps the {@link CLI_CODE_CACHES_KEPT} most recently written CLI caches (each build and command adds one). */
function prune(folder: string): void {
  const files = readdirSync(folder)
    .filter((name) => name.startsWith('cli-') && name.endsWith('.v8cache'))
    .map((name) => ({ name, mtime: statSync(join(folder, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { name } of files.slice(CLI_CODE_CACHES_KEPT)) rmSync(join(folder, name), { force: true });
}
