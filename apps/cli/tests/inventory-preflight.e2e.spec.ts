import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** NOAA ghcnd-inventory.txt lines (ID 1-11, LATITUDE 13-20, LONGITUDE 22-30, ELEMENT 32-35, FIRSTYEAR 37-40, LASTYEAR 42-45). */
const CENTRAL_PARK = ['TMAX', 'TMIN', 'PRCP'].map((e) => `USW00094728  40.7789  -73.9692 ${e} 1869 2024`);

describe('rydes run --inventory (the built CLI): the inventory is checked before any server starts', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('build the CLI first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-inventory-preflight-'));
    const file = (name: string, lines: string[]) => writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'rides.json'), '[{"name":"Shadowfax","latitude":40.7,"longitude":-73.9,"distance":1,"healthpoints":1,"magicpoints":1,"statustime":"2019-05-07 20:11:04.247"}]');
    file('broken.txt', [...CENTRAL_PARK.slice(0, 2), 'USW00094728  40.7789  -73.9692 PRCP 1869 20x4']);
    file('broken.csv', ['id,element,firstyear,lastyear', 'USW00094728,TMAX,1869,2024', 'USW00094728,TMIN,,2024']);
    // Canadian ids: a real inventory, but not of the bundled NYC catalogue.
    file('foreign.txt', ['TMAX', 'TMIN', 'PRCP'].map((e) => `CA001012055  48.5833 -123.4167 ${e} 1898 2024`));
    file('partial.txt', [...CENTRAL_PARK, 'US1NYNY0074  40.7969  -73.9330 PRCP 2008 2024']);
    writeFileSync(join(dir, 'empty.txt'), '');
    writeFileSync(join(dir, 'afile'), 'x');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The data dir would hold s3/ and logs/ had the servers started.
  const neverStarted = () => expect(existsSync(join(dir, 'dd'))).toBe(false);

  it.each([
    ['a bad fixed-width line, naming file, line and field (exit 65)', ['--inventory', 'broken.txt'], 65, /--inventory broken\.txt line 3 field LASTYEAR \(columns 42-45\): value "20x4", expected a 4-digit year/],
    ['a bad CSV line, naming file, line and field (exit 65)', ['--inventory', 'broken.csv'], 65, /--inventory broken\.csv line 3 field firstyear: value empty, expected a 4-digit year/],
    ['a missing inventory (exit 66)', ['--inventory', 'none.txt'], 66, /--inventory none\.txt: no such file/],
    ['an empty inventory (exit 65)', ['--inventory', 'empty.txt'], 65, /--inventory empty\.txt line 1: cannot tell the inventory format/],
    [
      "an inventory of another catalogue's stations (exit 65)",
      ['--inventory', 'foreign.txt'],
      65,
      /--inventory foreign\.txt: none of the 11 stations of the bundled NYC stations reports all of TMIN, TMAX, PRCP in it \(of the inventory's 1 station\(s\) reporting any of them, 0 are in the catalogue\)/,
    ],
    ['an element no catalogue station reports (exit 65)', ['--inventory', 'partial.txt', '--elements', 'TMAX,TAVG'], 65, /--inventory partial\.txt: no station of the bundled NYC stations reports TAVG in it/],
    ['an element NOAA does not define (exit 64)', ['--inventory', 'partial.txt', '--elements', 'TMIN,TMNI'], 64, /--elements "TMIN,TMNI": expected comma-separated GHCN-Daily elements .*"TMNI" is not one/],
    ['an empty element list (exit 64)', ['--inventory', 'partial.txt', '--elements', ''], 64, /--elements "": expected comma-separated GHCN-Daily elements .*an empty element/],
    ['--elements without --inventory (exit 64)', ['--elements', 'TMIN'], 64, /--elements needs --inventory/],
  ])('refuses %s', async (_name, args, code, message) => {
    const result = await rydes(['run', 'rides.json', ...args, '--data-dir', 'dd'], dir);
    expect(result.err).toMatch(message);
    expect(result.code).toBe(code);
    expect(result.err).not.toMatch(/^\s+at /m);
    expect(result.err.trim().split('\n').length).toBeLessThanOrEqual(2);
    neverStarted();
  }, 120_000);

  it('accepts an inventory covering part of the catalogue with a note, and goes on to the next check', async () => {
    // --out naming a file stops the run right after the station preflight.
    const result = await rydes(['run', 'rides.json', '--inventory', 'partial.txt', '--out', 'afile', '--data-dir', 'dd'], dir);
    expect(result.err).toContain('rydes: note: --inventory partial.txt: 1 of 11 stations of the bundled NYC stations report TMIN, TMAX, PRCP');
    expect(result.err).toMatch(/afile: exists and is not a directory/);
    expect(result.code).toBe(73);
    neverStarted();
  }, 120_000);

  it('checks the inventory against --stations when given', async () => {
    writeFileSync(join(dir, 'stations.csv'), 'id,latitude,longitude\nCA001012055,48.5833,-123.4167\n');
    const result = await rydes(['run', 'rides.json', '--stations', 'stations.csv', '--inventory', 'foreign.txt', '--out', 'afile', '--data-dir', 'dd'], dir);
    expect(result.err).not.toContain('note: --inventory');
    expect(result.err).toMatch(/afile: exists and is not a directory/);
    expect(result.code).toBe(73);
    const other = await rydes(['run', 'rides.json', '--stations', 'stations.csv', '--inventory', 'partial.txt', '--data-dir', 'dd'], dir);
    expect(other.err).toMatch(/--inventory partial\.txt: none of the 1 stations of stations\.csv reports all of TMIN, TMAX, PRCP/);
    expect(other.code).toBe(65);
    neverStarted();
  }, 120_000);
});
