import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspaceRoot } from '../src/stack/bundles';

const CLI = join(workspaceRoot(), 'dist/apps/cli/main.js');

/** The BUILT CLI in its own process: exit code, stdout, stderr. */
function rydes(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, out, err });
    });
  });
}

/** One or two lines on stderr, no stack trace. */
function expectShortError(err: string): void {
  expect(err).not.toMatch(/^\s+at /m);
  expect(err.trim().split('\n').length).toBeLessThanOrEqual(2);
}

describe('rydes (the built CLI): a user mistake costs one or two lines and a distinct exit code, before any server starts', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('build the CLI first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-cli-errors-'));
    writeFileSync(join(dir, 'rides.json'), '[{"name":"Shadowfax","latitude":40.7,"longitude":-73.9,"distance":1,"healthpoints":1,"magicpoints":1,"statustime":"2019-05-07 20:11:04.247"}]');
    writeFileSync(join(dir, 'rides.txt'), '[]');
    writeFileSync(join(dir, 'stations.csv'), 'id,latitude,longitude\nA,40.7,-74\nB,north,-73\n');
    writeFileSync(join(dir, 'afile'), 'x');
    mkdirSync(join(dir, 'theirs'));
    writeFileSync(join(dir, 'theirs/thesis.txt'), 'mine');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The data dir would hold s3/ and logs/ had the servers started.
  const neverStarted = () => expect(existsSync(join(dir, 'dd'))).toBe(false);

  it.each([
    ['a .txt input (exit 64, naming the accepted suffixes)', ['run', 'rides.txt', 'rides.json'], 64, /rides\.txt: not a ride file name; rydes reads files ending \.ndjson\.gz, \.json\.gz, \.ndjson, \.json/],
    ['a missing input (exit 66)', ['run', 'nope.json'], 66, /nope\.json: no such file/],
    ['a broken --stations, with its line and field (exit 65)', ['run', 'rides.json', '--stations', 'stations.csv'], 65, /--stations stations\.csv line 3 field latitude: value "north"/],
    ['a missing --stations (exit 66)', ['run', 'rides.json', '--stations', 'none.csv'], 66, /--stations none\.csv: no such file/],
    ['--out naming a file (exit 73)', ['run', 'rides.json', '--out', 'afile'], 73, /afile: exists and is not a directory/],
    ['--out under a file (exit 73)', ['run', 'rides.json', '--out', 'afile/out'], 73, /afile\/out: a parent of it is a file/],
    ['--out / (exit 73)', ['run', 'rides.json', '--out', '/'], 73, /\/: the root of the file system is no place for run outputs/],
    ['--out a folder of someone else\'s files (exit 73)', ['run', 'rides.json', '--out', 'theirs'], 73, /theirs: not empty and not a rydes output folder/],
    ['a bad option value (exit 64)', ['run', '--rides', 'many'], 64, /--rides "many": expected an integer/],
  ])('refuses %s', async (_name, args, code, message) => {
    const result = await rydes([...args, '--data-dir', 'dd'], dir);
    expect(result.err).toMatch(message);
    expect(result.code).toBe(code);
    expectShortError(result.err);
    neverStarted();
  }, 120_000);

  it('refuses generate -o into a folder that does not exist (exit 73), without a stack trace', async () => {
    const result = await rydes(['generate', '-o', '/nonexistent/x.json', '--rides', '10'], dir);
    expect(result.err).toMatch(/\/nonexistent\/x\.json: cannot write: no such file/);
    expect(result.code).toBe(73);
    expectShortError(result.err);
  }, 120_000);

  it('shows the stack only with --verbose', async () => {
    const result = await rydes(['run', 'rides.json', '--stations', 'stations.csv', '--verbose'], dir);
    expect(result.code).toBe(65);
    expect(result.err).toMatch(/^\s+at /m);
  }, 120_000);
});
