import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { nxBuild, nxBuildCommand, nxBuildEnv, type NxBuildResult } from '../../bin/nx-build.cjs';
import type { BundlePaths } from './bundles';

/** The part of `nx graph --file=…json` the watch reads. */
export interface ProjectGraphFile {
  graph: {
    nodes: Record<string, { type: string; data: { root: string; sourceRoot?: string; targets?: Record<string, { options?: { outputPath?: string; main?: string } }> } }>;
    dependencies: Record<string, Array<{ target: string; type: string }>>;
  };
}

/** The stack's functions and the Nx projects that build their bundles. */
export const FUNCTION_PROJECTS: Record<keyof BundlePaths, string> = { ingest: 'ingest-fn', transform: 'transform-fn' };

/** What the watch needs of a running function: FunctionPool's `replaceBundle`. */
export interface ReplaceableFunction {
  replaceBundle(bundle: string): void;
}

/**
 * The folders whose files can end up in `project`'s bundle: its own source root and those of
 * every project it imports, transitively. Import edges only (`static`, `dynamic`): an implicit
 * dependency says "runs the other's built bundle" (ingest-fn's specs drain through transform-fn),
 * not "bundles its code". The graph's import edges also count test files, so a lib only the
 * function's tests import is watched too; its rebuild then yields the same bytes and nothing is
 * replaced.
 * @example
 * bundleSources(graph, 'transform-fn'); // ['apps/transform-fn/src', 'libs/aws-adapters/src', 'libs/geo-index/src', …]
 */
export function bundleSources(graphFile: ProjectGraphFile, project: string): string[] {
  const { nodes, dependencies } = graphFile.graph;
  if (!nodes[project]) throw new Error(`the Nx project graph has no project "${project}"`);
  const seen = new Set<string>([project]);
  const queue = [project];
  while (queue.length) {
    const current = queue.shift() as string;
    for (const edge of dependencies[current] ?? []) {
      if (edge.type === 'implicit' || !nodes[edge.target] || seen.has(edge.target)) continue;
      seen.add(edge.target);
      queue.push(edge.target);
    }
  }
  return [...seen].map((name) => nodes[name].data.sourceRoot ?? nodes[name].data.root).sort();
}

/** Where Nx's build of `project` writes its bundle (the build target's outputPath + main.js). */
export function builtBundle(graphFile: ProjectGraphFile, project: string): string {
  const outputPath = graphFile.graph.nodes[project]?.data.targets?.build?.options?.outputPath;
  if (!outputPath) throw new Error(`project "${project}" has no build target with an outputPath`);
  return join(outputPath, 'main.js');
}

/** The workspace's project graph, from `nx graph --file` (Nx computes it; nothing is hand-listed). */
export async function readProjectGraph(root: string, env: NodeJS.ProcessEnv = process.env): Promise<ProjectGraphFile> {
  const dir = mkdtempSync(join(tmpdir(), 'rydes-graph-'));
  const file = join(dir, 'graph.json');
  try {
    const output = await new Promise<string>((done, fail) => {
      const child = spawn('npx', ['nx', 'graph', `--file=${file}`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: nxBuildEnv(env) });
      let text = '';
      child.stdout.on('data', (chunk) => (text += chunk));
      child.stderr.on('data', (chunk) => (text += chunk));
      child.once('error', fail);
      child.once('close', (code) => (code === 0 ? done(text) : fail(new Error(`nx graph failed (exit ${code}): ${firstLines(text, 2)}`))));
    });
    if (!existsSync(file)) throw new Error(`nx graph wrote no ${file}: ${firstLines(output, 2)}`);
    return JSON.parse(readFileSync(file, 'utf8')) as ProjectGraphFile;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The one or two lines of a failed build's output that say what is wrong: esbuild's
 * `✘ [ERROR] …` with its `file:line:col`, or tsc's first `file:line:col - error TS…` and its
 * `Found N errors.` (Nx's esbuild build type-checks first).
 * @example
 * buildErrorSummary('✘ [ERROR] Expected ";"\n\n    apps/x/src/main.ts:3:5:\n'); // ['✘ [ERROR] Expected ";" (apps/x/src/main.ts:3:5)']
 */
export function buildErrorSummary(output: string): string[] {
  // eslint-disable-next-line no-control-regex
  const lines = output.replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((line) => line.trim());
  const tsc = lines.find((line) => /error TS\d+/.test(line));
  if (tsc) return [tsc, ...lines.filter((line) => /^Found \d+ errors?/.test(line)).slice(0, 1)];
  const esbuild = lines.findIndex((line) => /\[ERROR\]/.test(line));
  if (esbuild >= 0) {
    const where = lines.slice(esbuild + 1, esbuild + 4).find((line) => /^\S+:\d+:\d+:?$/.test(line));
    return [`${lines[esbuild]}${where ? ` (${where.replace(/:$/, '')})` : ''}`];
  }
  const other = lines.find((line) => /error/i.test(line) && !/Failed tasks|Running target|NX\s/.test(line));
  return [other ?? lines.filter(Boolean).slice(-1)[0] ?? 'no output'];
}

function firstLines(text: string, count: number): string {
  return text.trim().split('\n').slice(0, count).join(' | ');
}

/** Ignored: editors' swap and backup files, specs (never bundled). */
function ignored(file: string): boolean {
  const name = basename(file);
  return /\.spec\.ts$|~$|\.sw[px]$|^\.#|^4913$/.test(name);
}

export interface WatchOptions {
  /** The workspace root (nx.json). */
  root: string;
  /** Status lines (one per rebuild: what was rebuilt, how long it took, what runs now). */
  write: (line: string) => void;
  /** Quiet time after the last change before a rebuild, ms. */
  debounceMs?: number;
  /** Functions not to watch (their bundle is not Nx's build output, e.g. RYDES_*_BUNDLE). */
  skip?: Array<keyof BundlePaths>;
  env?: NodeJS.ProcessEnv;
}

interface Watched {
  key: keyof BundlePaths;
  project: string;
  /** Nx's output, rewritten (deleted first) by every build. */
  built: string;
  sources: string[];
  /** The snapshot the stack runs now and its content hash. */
  running: { bundle: string; hash: string };
  generation: number;
  target?: ReplaceableFunction;
}

/**
 * `rydes up --watch`: watches the sources of each function bundle and of every lib it imports
 * (from the Nx project graph), rebuilds through Nx's cached build after a quiet moment (the same
 * build `npx rydes` runs), and hands the new bundle to the function's pool, which runs it from the
 * next invocation on while running invocations finish on the old code (FunctionPool.replaceBundle).
 *
 * The stack never runs Nx's dist/ directly: Nx deletes the output folder when a build starts, so
 * a cold start during a rebuild, or after a failed one, would find no bundle. It runs a snapshot
 * (a copy per successful build in a temp folder, removed on close) instead.
 * @example
 * const watcher = await BundleWatcher.prepare({ root: workspaceRoot(), write: (l) => process.stdout.write(l) });
 * const stack = await startStack({ ...options, bundles: watcher.bundles(defaultBundles()) });
 * watcher.start({ ingest: stack.ingestPool, transform: stack.transformPool });
 * await watcher.close();
 */
export class BundleWatcher {
  private readonly watchers: FSWatcher[] = [];
  private readonly dirty = new Set<Watched>();
  private timer?: NodeJS.Timeout;
  private building?: Promise<void>;
  private readonly stop = new AbortController();
  private closed = false;

  private constructor(
    private readonly options: WatchOptions,
    private readonly snapshots: string,
    private readonly functions: Watched[],
  ) {}

  /** Reads the project graph and snapshots the current bundles (built beforehand, e.g. by `npx rydes`). */
  static async prepare(options: WatchOptions): Promise<BundleWatcher> {
    const graph = await readProjectGraph(options.root, options.env);
    const snapshots = mkdtempSync(join(tmpdir(), 'rydes-watch-'));
    const functions: Watched[] = [];
    try {
      for (const key of Object.keys(FUNCTION_PROJECTS) as Array<keyof BundlePaths>) {
        if (options.skip?.includes(key)) continue;
        const project = FUNCTION_PROJECTS[key];
        const built = resolve(options.root, builtBundle(graph, project));
        const watched: Watched = { key, project, built, sources: bundleSources(graph, project).map((dir) => resolve(options.root, dir)), running: { bundle: '', hash: '' }, generation: 0 };
        watched.running = snapshot(snapshots, watched);
        functions.push(watched);
      }
    } catch (err) {
      rmSync(snapshots, { recursive: true, force: true });
      throw err;
    }
    return new BundleWatcher(options, snapshots, functions);
  }

  /** The bundles the stack starts with: the watched functions' snapshots, `fallback` for the others. */
  bundles(fallback: BundlePaths): BundlePaths {
    const paths = { ...fallback };
    for (const f of this.functions) paths[f.key] = f.running.bundle;
    return paths;
  }

  /** What is watched, one line per function (for `rydes up`'s banner). */
  describe(): string[] {
    return this.functions.map((f) => `${f.project} ← ${f.sources.map((dir) => relative(this.options.root, dir)).join(', ')}`);
  }

  /** Starts watching; a change rebuilds and replaces the bundle of every function it reaches. */
  start(targets: Partial<Record<keyof BundlePaths, ReplaceableFunction>>): void {
    for (const f of this.functions) f.target = targets[f.key];
    const byDir = new Map<string, Watched[]>();
    for (const f of this.functions) for (const dir of f.sources) byDir.set(dir, [...(byDir.get(dir) ?? []), f]);
    // fs.watch is recursive on Linux since Node 20 (and natively on macOS/Windows): it reports new
    // subfolders, writes and editors' write-then-rename saves, which is all a rebuild trigger needs.
    for (const [dir, reached] of byDir) {
      if (!existsSync(dir)) continue;
      const watcher = watch(dir, { recursive: true }, (_event, file) => {
        if (file && ignored(String(file))) return;
        for (const f of reached) this.dirty.add(f);
        this.schedule();
      });
      watcher.on('error', (err) => this.options.write(`watch: ${relative(this.options.root, dir)}: ${err.message}; no longer watched\n`));
      this.watchers.push(watcher);
    }
  }

  /** Stops watching, stops a running build, removes the snapshots. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    this.stop.abort();
    await this.building;
    rmSync(this.snapshots, { recursive: true, force: true });
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      // One build at a time; changes during a build are picked up by the next one.
      if (this.building) return;
      this.building = this.rebuildWhileDirty().finally(() => (this.building = undefined));
    }, this.options.debounceMs ?? 300);
  }

  private async rebuildWhileDirty(): Promise<void> {
    while (this.dirty.size && !this.closed) {
      const batch = [...this.dirty];
      this.dirty.clear();
      const projects = batch.map((f) => f.project);
      this.options.write(`${projects.join(', ')}: sources changed, rebuilding (${nxBuildCommand(projects)})…\n`);
      const result = await nxBuild(this.options.root, projects, this.options.env, this.stop.signal);
      if (this.closed) return;
      this.apply(batch, result);
    }
  }

  private apply(batch: Watched[], result: NxBuildResult): void {
    const { write } = this.options;
    const seconds = (result.ms / 1000).toFixed(1);
    if (!result.ok) {
      const names = batch.map((f) => f.project).join(', ');
      write(`${names}: the build failed after ${seconds} s; the old code keeps running.\n`);
      for (const line of buildErrorSummary(result.output)) write(`  ${line}\n`);
      return;
    }
    for (const f of batch) {
      if (!existsSync(f.built)) {
        write(`${f.project}: the build wrote no ${relative(this.options.root, f.built)}; the old code keeps running.\n`);
        continue;
      }
      const hash = hashFile(f.built);
      if (hash === f.running.hash) {
        write(`${f.project} rebuilt in ${seconds} s; same bundle, nothing to replace.\n`);
        continue;
      }
      f.generation++;
      // Earlier snapshots stay until close: an environment of the old code may still be starting.
      f.running = snapshot(this.snapshots, f);
      f.target?.replaceBundle(f.running.bundle);
      write(`${f.project} rebuilt in ${seconds} s; new invocations run it (running ones finish on the old code).\n`);
    }
  }
}

function hashFile(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Copies Nx's output folder of `f` to `<snapshots>/<project>/<generation>/`; the copy's main.js and hash. */
function snapshot(snapshots: string, f: Watched): { bundle: string; hash: string } {
  if (!existsSync(f.built)) throw new Error(`${f.built} is missing: build it first (${nxBuildCommand([f.project])})`);
  const dir = join(snapshots, f.project, String(f.generation));
  cpSync(dirname(f.built), dir, { recursive: true });
  const bundle = join(dir, basename(f.built));
  return { bundle, hash: hashFile(bundle) };
}
