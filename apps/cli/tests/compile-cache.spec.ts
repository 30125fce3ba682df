import { buildSync } from 'esbuild';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspaceRoot } from '../src/stack/bundles';

const COMPILE_CACHE = join(__dirname, '../src/compile-cache.ts');
const CLI = join(workspaceRoot(), 'dist/apps/cli/main.js');

/** Runs `script` in a fresh plain node (no loader hooks of its own, as the built CLI runs); its stdout as JSON. */
function runNode(script: string, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script], { timeout: 60_000, env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

describe('installCompileCache: CommonJS modules compile from V8 code cached by an earlier process', () => {
  let dir: string;
  let folder: string;
  let driver: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-compile-cache-'));
    folder = join(dir, 'cache');
    const pkg = join(dir, 'app');
    mkdirSync(join(pkg, 'node_modules/esm-only'), { recursive: true });
    // A CommonJS module using everything Node gives one: require (relative, a package, require(esm)),
    // require.resolve, __dirname, __filename, module.exports; one file with a hashbang.
    writeFileSync(
      join(pkg, 'a.js'),
      "const b = require('./b');\nconst esm = require('esm-only');\n" +
        "module.exports = { b: b.value(), esm: esm.twice(21), resolved: require.resolve('./b') === __dirname + '/b.js', file: __filename.endsWith('a.js'), cached: require.cache[__filename] === module };\n" +
        "module.exports.later = require('./c').later;\n",
    );
    // A module with an import(): left to Node (a vm.Script compiled from cached data loses its import()).
    writeFileSync(join(pkg, 'c.js'), "exports.later = () => import('esm-only').then((m) => m.twice(2));\n");
    writeFileSync(join(pkg, 'b.js'), "#!/usr/bin/env node\nexports.value = () => 'b1';\n");
    writeFileSync(join(pkg, 'node_modules/esm-only/package.json'), '{"name":"esm-only","type":"module","main":"index.js"}');
    writeFileSync(join(pkg, 'node_modules/esm-only/index.js'), 'export function twice(x) { return 2 * x; }\n');
    // compile-cache.ts as the CLI build bundles it (node builtins only), for a plain node to require
    const built = join(dir, 'compile-cache.js');
    buildSync({ entryPoints: [COMPILE_CACHE], outfile: built, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error' });
    driver = join(dir, 'driver.js');
    writeFileSync(
      driver,
      `const { installCompileCache } = require(${JSON.stringify(built)});\n` +
        `const stats = installCompileCache(process.env.CACHE_FOLDER, 'key-1');\n` +
        `const result = require(${JSON.stringify(join(pkg, 'a.js'))});\n` +
        'result.later().then((later) => process.stdout.write(JSON.stringify({ result: { ...result, later }, stats: stats && { hits: stats.hits, misses: stats.misses } })));\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles from source and writes the cache at exit, then compiles from it; a changed module alone from source again', async () => {
    // Act: three processes, the second like the first, before the third b.js changes
    const first = await runNode(driver, { ...process.env, CACHE_FOLDER: folder });
    const written = readdirSync(folder);
    const second = await runNode(driver, { ...process.env, CACHE_FOLDER: folder });
    writeFileSync(join(dir, 'app/b.js'), "#!/usr/bin/env node\nexports.value = () => 'b2';\n");
    const third = await runNode(driver, { ...process.env, CACHE_FOLDER: folder });

    // Assess: same results every time (import() too); the ES module and c.js are left to Node (not counted)
    const expected = { b: 'b1', esm: 42, later: 4, resolved: true, file: true, cached: true };
    expect(first.result).toEqual(expected);
    expect(first.stats).toEqual({ hits: 0, misses: 2 });
    expect(written).toEqual([expect.stringMatching(/^cli-[0-9a-f]{32}\.v8cache$/)]);
    expect(second.result).toEqual(expected);
    expect(second.stats).toEqual({ hits: 2, misses: 0 });
    expect(third.result).toEqual({ ...expected, b: 'b2' });
    expect(third.stats).toEqual({ hits: 1, misses: 1 });
  });

  it('keeps no copy of the cache file once the modules are compiled from it (each module\'s code is let go)', async () => {
    // Prepare: a module whose cached code is megabytes (every function run, so cached at exit)
    const big = join(dir, 'big');
    mkdirSync(big, { recursive: true });
    const functions = Array.from({ length: 20_000 }, (_, i) => `exports.f${i} = function (a) { return [a, ${i}, 'x${i}'].join('-'); };`).join('\n');
    writeFileSync(join(big, 'big.js'), `${functions}\nexports.all = () => { let n = 0; for (const k in exports) if (k !== 'all') n += exports[k](k).length; return n; };\n`);
    writeFileSync(join(big, 'small.js'), 'exports.one = () => 1;\n');
    const bigDriver = join(dir, 'big-driver.js');
    writeFileSync(
      bigDriver,
      `const { installCompileCache } = require(${JSON.stringify(join(dir, 'compile-cache.js'))});\n` +
        `const stats = installCompileCache(process.env.CACHE_FOLDER, 'key-big');\n` +
        `const small = require(${JSON.stringify(join(big, 'small.js'))}).one();\n` +
        'const heldBeforeBig = stats.heldBytes;\n' +
        `const sum = require(${JSON.stringify(join(big, 'big.js'))}).all();\n` +
        'global.gc(); global.gc();\n' +
        "const fs = require('node:fs');\nconst file = fs.existsSync(stats.file) ? fs.statSync(stats.file).size : 0;\n" +
        'process.stdout.write(JSON.stringify({ small, sum, hits: stats.hits, misses: stats.misses, heldBeforeBig, held: stats.heldBytes, arrayBuffers: process.memoryUsage().arrayBuffers, file }));\n',
    );
    const env = { ...process.env, CACHE_FOLDER: join(dir, 'cache-big'), NODE_OPTIONS: '--expose-gc' };

    // Act: the first process writes the cache, the second compiles from it
    const first = await runNode(bigDriver, env);
    const second = await runNode(bigDriver, env);

    // Assess: the second compiled both from the cache; the big module's code was held until it was
    // compiled, then nothing; the file's bytes are not kept (they were, as views of one Buffer)
    expect(first).toMatchObject({ hits: 0, misses: 2, held: 0 });
    expect(second).toMatchObject({ small: 1, sum: first.sum, hits: 2, misses: 0, held: 0 });
    expect(second.file).toBeGreaterThan(1_000_000);
    expect(second.arrayBuffers).toBeLessThan((second.file as number) / 4);
    expect(second.heldBeforeBig).toBeGreaterThan((second.file as number) * 0.9);
  });

  it('keeps one cache per place the program runs from (the same program in two folders loads other module files)', async () => {
    // Prepare: the same driver in another folder
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const copy = join(elsewhere, 'driver.js');
    writeFileSync(copy, readFileSync(driver));
    const cacheFolder = join(dir, 'cache-places');

    // Act
    await runNode(driver, { ...process.env, CACHE_FOLDER: cacheFolder });
    const fromOther = await runNode(copy, { ...process.env, CACHE_FOLDER: cacheFolder });
    const again = await runNode(driver, { ...process.env, CACHE_FOLDER: cacheFolder });

    // Assess: two files; each place compiles from its own
    expect(readdirSync(cacheFolder)).toHaveLength(2);
    expect(fromOther.stats).toEqual({ hits: 0, misses: 2 });
    expect(again.stats).toEqual({ hits: 2, misses: 0 });
  });

  it('uses no folder that another user could write to (compiled code is read from it)', async () => {
    // Prepare
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);

    // Act
    const run = await runNode(driver, { ...process.env, CACHE_FOLDER: open });

    // Assess: modules load as usual, nothing is cached
    expect(run.stats).toBeUndefined();
    expect((run.result as { b: string }).b).toMatch(/^b[12]$/);
    expect(readdirSync(open)).toEqual([]);
  });
});

describe('the built CLI starts from its code cache', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('build the CLI first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-cli-cache-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const rydes = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [CLI, ...args], { timeout: 60_000, env: { ...process.env, TMPDIR: dir } }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });

  it('runs a command that reaches the SDK\'s import() calls the same from the cache as on its first start', async () => {
    // Prepare: no credentials anywhere, so doctor stops in the SDK's credential chain (which uses import())
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const env = { PATH: process.env.PATH, HOME: home, TMPDIR: dir, AWS_REGION: 'eu-west-1', AWS_CONFIG_FILE: join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'), AWS_EC2_METADATA_DISABLED: 'true' };
    const doctor = () =>
      new Promise<{ code: number; err: string }>((resolve) => {
        execFile(process.execPath, [CLI, 'doctor'], { timeout: 60_000, env }, (error, _out, err) => resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, err }));
      });

    // Act: the first start writes the cache, the second compiles from it
    const first = await doctor();
    const second = await doctor();

    // Assess
    expect(first.code).toBe(78);
    expect(first.err).toMatch(/^rydes: no AWS credentials/);
    expect(second).toEqual(first);
  });

  it('writes one cache per command on the first start and answers the same from it', async () => {
    // Act
    const help = await rydes(['--help']);
    const helpAgain = await rydes(['--help']);
    const runHelp = await rydes(['run', '--help']);

    // Assess
    const caches = readdirSync(join(dir, `rydes-code-cache-${process.getuid?.() ?? 'user'}`, 'cli'));
    expect(caches.length).toBeGreaterThanOrEqual(2);
    expect(helpAgain).toBe(help);
    expect(runHelp).toMatch(/--rides-per-message <N>/);
  });
});
