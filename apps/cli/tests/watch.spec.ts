import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nxBuild, nxBuildSync } from '../bin/nx-build.cjs';
import { FunctionPool } from '../src/lambda/pool';
import { buildErrorSummary, builtBundle, bundleSources, type ProjectGraphFile } from '../src/stack/watch';

/** A test bundle that answers with its version and pid, after `sleepMs` when asked. */
function versionBundle(dir: string, version: string): string {
  const file = join(dir, `${version}.js`);
  writeFileSync(
    file,
    `exports.handler = async (event) => {
      if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
      return { version: ${JSON.stringify(version)}, pid: process.pid };
    };\n`,
  );
  return file;
}

type Answer = { version: string; pid: number };
const answer = (outcome: Awaited<ReturnType<FunctionPool['invoke']>>): Answer => {
  if (!outcome.ok) throw new Error(`${outcome.errorType}: ${outcome.errorMessage}`);
  return outcome.result as Answer;
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('FunctionPool.replaceBundle (child processes running test bundles)', () => {
  let dir: string;
  let pool: FunctionPool;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-swap-'));
    pool = new FunctionPool({ name: 'swap', bundle: versionBundle(dir, 'v1'), environment: {}, timeoutSeconds: 20, memoryMb: 128, maxConcurrency: 2, logFd: 'inherit' });
  });
  afterEach(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a running invocation finish on the old code, starts the next on the new one and retires the old environment when it is done', async () => {
    // Prepare: a warm v1 environment, then a long v1 invocation in flight
    const warm = answer(await pool.invoke({}));
    const running = pool.invoke({ sleepMs: 1500 });
    await new Promise((r) => setTimeout(r, 300));
    // Act
    pool.replaceBundle(versionBundle(dir, 'v2'));
    const next = answer(await pool.invoke({}));
    const finished = answer(await running);
    await new Promise((r) => setTimeout(r, 200));
    // Assess
    expect(warm.version).toBe('v1');
    expect(finished).toEqual({ version: 'v1', pid: warm.pid });
    expect(next.version).toBe('v2');
    expect(next.pid).not.toBe(warm.pid);
    expect(alive(warm.pid)).toBe(false);
    expect(pool.environmentCount).toBe(1);
    expect(pool.invocations).toBe(3);
    expect(pool.coldStarts).toBe(2);
  });

  it('retires idle environments at once and runs every later invocation on the new bundle', async () => {
    // Prepare: two warm v1 environments
    const [a, b] = (await Promise.all([pool.invoke({ sleepMs: 200 }), pool.invoke({ sleepMs: 200 })])).map(answer);
    expect(pool.environmentCount).toBe(2);
    // Act
    pool.replaceBundle(versionBundle(dir, 'v2'));
    await new Promise((r) => setTimeout(r, 200));
    const later = (await Promise.all([pool.invoke({}), pool.invoke({}), pool.invoke({})])).map(answer);
    // Assess
    expect([a.version, b.version]).toEqual(['v1', 'v1']);
    expect(alive(a.pid) || alive(b.pid)).toBe(false);
    expect(later.map((l) => l.version)).toEqual(['v2', 'v2', 'v2']);
    expect(pool.environmentCount).toBeLessThanOrEqual(2);
  });

  it('refuses a bundle that does not exist and keeps running the old one', async () => {
    // Act / Assess
    expect(() => pool.replaceBundle(join(dir, 'missing.js'))).toThrow(/missing\.js/);
    expect(answer(await pool.invoke({})).version).toBe('v1');
  });
});

describe('bundleSources / builtBundle (the Nx project graph decides what a bundle is made of)', () => {
  const node = (root: string, outputPath?: string) => ({
    type: 'lib',
    data: { root, sourceRoot: `${root}/src`, ...(outputPath && { targets: { build: { options: { outputPath } } } }) },
  });
  const graph: ProjectGraphFile = {
    graph: {
      nodes: { fn: node('apps/fn', 'dist/apps/fn'), other: node('apps/other'), a: node('libs/a'), b: node('libs/b'), c: node('libs/c') },
      dependencies: {
        fn: [
          { target: 'a', type: 'static' },
          { target: 'other', type: 'implicit' },
          { target: 'npm:rbush', type: 'static' },
        ],
        a: [{ target: 'b', type: 'dynamic' }],
        b: [{ target: 'a', type: 'static' }],
        other: [{ target: 'c', type: 'static' }],
      },
    },
  };

  it('follows import edges transitively, not implicit ones (a project it runs) or npm packages', () => {
    expect(bundleSources(graph, 'fn')).toEqual(['apps/fn/src', 'libs/a/src', 'libs/b/src']);
  });

  it('names the build output and refuses an unknown project', () => {
    expect(builtBundle(graph, 'fn')).toBe(join('dist/apps/fn', 'main.js'));
    expect(() => bundleSources(graph, 'nope')).toThrow(/no project "nope"/);
    expect(() => builtBundle(graph, 'a')).toThrow(/no build target/);
  });
});

describe('buildErrorSummary (a failed rebuild in one or two lines)', () => {
  it("keeps tsc's first error (colours stripped) and its count", () => {
    const output = [
      '> nx run transform-fn:build',
      '',
      '\u001b[4m\u001b[34mapps/transform-fn/src/main.ts:17:6\u001b[39m\u001b[24m - \u001b[31merror\u001b[39m \u001b[90mTS1005\u001b[39m: \';\' expected.',
      '> 17 | this is not code',
      'apps/transform-fn/src/main.ts:17:9 - error TS2304: Cannot find name \'not\'.',
      'Found 2 errors.',
      ' NX   Running target build for project transform-fn failed',
    ].join('\n');
    expect(buildErrorSummary(output)).toEqual(["apps/transform-fn/src/main.ts:17:6 - error TS1005: ';' expected.", 'Found 2 errors.']);
  });

  it("keeps esbuild's error with its place", () => {
    const output = '✘ [ERROR] Could not resolve "./gone"\n\n    apps/transform-fn/src/main.ts:3:26:\n      3 │ import { x } from "./gone";\n';
    expect(buildErrorSummary(output)).toEqual(['✘ [ERROR] Could not resolve "./gone" (apps/transform-fn/src/main.ts:3:26)']);
  });
});

describe('nx-build.cjs (the build `npx rydes` and the watch share; a stand-in nx in a temp workspace)', () => {
  let root: string;
  /** A workspace whose node_modules/.bin/nx runs `body` (Node) with its arguments in process.argv. */
  function fakeNx(body: string): void {
    root = mkdtempSync(join(tmpdir(), 'rydes-nxbuild-'));
    mkdirSync(join(root, 'node_modules/.bin'), { recursive: true });
    writeFileSync(join(root, 'node_modules/.bin/nx'), `#!${process.execPath}\n${body}\n`, { mode: 0o755 });
  }
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("runs the workspace's nx with run-many -t build for the projects and reports its output", async () => {
    fakeNx("console.log(process.argv.slice(2).join(' ')); console.log('daemon=' + process.env.NX_DAEMON);");
    const result = await nxBuild(root, ['transform-fn']);
    expect(result.ok).toBe(true);
    expect(result.output).toContain('run-many -t build -p transform-fn --outputStyle=static');
    expect(result.output).toContain('daemon=false');
    expect(nxBuildSync(root, ['cli', 'ingest-fn']).output).toContain('-p cli ingest-fn');
  });

  it('reports a failed build with what Nx printed', async () => {
    fakeNx("console.error('✘ [ERROR] broken'); process.exit(1);");
    const result = await nxBuild(root, ['transform-fn']);
    expect(result).toMatchObject({ ok: false, output: expect.stringContaining('[ERROR] broken') });
    expect(nxBuildSync(root, ['transform-fn']).ok).toBe(false);
  });

  it('stops a running build with SIGINT when aborted (a closing watch leaves no build behind)', async () => {
    fakeNx("process.on('SIGINT', () => { require('fs').writeFileSync(__filename + '.sigint', ''); process.exit(130); }); setTimeout(() => {}, 60000);");
    const stop = new AbortController();
    const running = nxBuild(root, ['transform-fn'], process.env, stop.signal);
    await new Promise((r) => setTimeout(r, 1000));
    stop.abort();
    const result = await running;
    await new Promise((r) => setTimeout(r, 300));
    expect(result.ok).toBe(false);
    expect(existsSync(join(root, 'node_modules/.bin/nx.sigint'))).toBe(true);
  });
});
