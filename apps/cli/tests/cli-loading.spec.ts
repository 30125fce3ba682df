import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspaceRoot } from '../src/stack/bundles';

const CLI = join(workspaceRoot(), 'dist/apps/cli/main.js');

/** Packages only some commands need: the AWS SDK, the local servers, the event source, the report. */
const HEAVY = /node_modules\/(@aws-sdk|@smithy|local-aws-sqs|s3rver|sqs-consumer|pino|cli-progress|echarts)\//;

describe('the built CLI loads what the command it runs needs (commands import their implementation when they run)', () => {
  let dir: string;
  let recorder: string;
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('build the CLI first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-cli-loading-'));
    recorder = join(dir, 'record-modules.js');
    // Preloaded into the CLI's process: at exit, writes the files of every CommonJS module it loaded.
    writeFileSync(recorder, "process.on('exit', () => require('node:fs').writeFileSync(process.env.RYDES_MODULES_OUT, JSON.stringify(Object.keys(require.cache))));\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the built CLI with `args`; its exit code, output and the module files it loaded. */
  function loaded(args: string[], name: string): Promise<{ code: number; out: string; modules: string[] }> {
    const out = join(dir, `${name}.json`);
    return new Promise((resolve) => {
      execFile(process.execPath, ['--require', recorder, CLI, ...args], { cwd: dir, timeout: 60_000, env: { ...process.env, RYDES_MODULES_OUT: out } }, (error, stdout) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, out: stdout, modules: JSON.parse(readFileSync(out, 'utf8')) as string[] });
      });
    });
  }

  it.each([
    ['--help', ['--help']],
    ['run --help', ['run', '--help']],
    ['doctor --help', ['doctor', '--help']],
    ['a mistyped option of run', ['run', '--ridez', '5']],
  ])('%s: no AWS SDK, local server or report module loaded (and --help lists every command)', async (name, args) => {
    // Act
    const run = await loaded(args, name.replace(/\W+/g, '-'));

    // Assess
    expect(run.modules.length).toBeGreaterThan(0);
    expect(run.modules.filter((file) => HEAVY.test(file))).toEqual([]);
    if (name === '--help') {
      expect(run.code).toBe(0);
      for (const command of ['run', 'up', 'generate', 'upload', 'doctor', 'report', 'smoke', 'trainset']) expect(run.out).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('generate writes its rides without loading the AWS SDK', async () => {
    // Act
    const run = await loaded(['generate', '-o', join(dir, 'rides.json'), '--rides', '3'], 'generate');

    // Assess
    expect(run.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'rides.json'), 'utf8'))).toHaveLength(3);
    expect(run.modules.filter((file) => HEAVY.test(file))).toEqual([]);
  });

  it('run with stderr not a terminal loads no progress-bar package (its lines are plain)', async () => {
    // Act: a small sample; execFile's stderr is a pipe
    const run = await loaded(['run', '--rides', '50', '--out', join(dir, 'out-50')], 'run-50');

    // Assess
    expect(run.code).toBe(0);
    expect(run.modules.some((file) => /node_modules\/@aws-sdk\/client-sqs\//.test(file))).toBe(true);
    expect(run.modules.filter((file) => /node_modules\/cli-progress\//.test(file))).toEqual([]);
  });

  it('a command that needs the SDK loads it when it runs (doctor against a stack that is not up)', async () => {
    // Act: --local with endpoints nobody serves; the checks fail, but only after the SDK loaded
    const run = await loaded(['doctor', '--local', '--s3-endpoint', 'http://127.0.0.1:9', '--sqs-endpoint', 'http://127.0.0.1:9'], 'doctor');

    // Assess
    expect(run.modules.some((file) => /node_modules\/@aws-sdk\/client-s3\//.test(file))).toBe(true);
  });
});
