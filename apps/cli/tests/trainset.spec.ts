import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { encodeCsv, type ProcessedRow } from '@rydes/ride-model';
import { isTest } from '@rydes/training-set';
import { buildTrainingSet, type Coverage } from '../src/trainset/build-training-set';
import { TrainsetInputError } from '../src/trainset/errors';
import { describeWeatherFile } from '../src/trainset/inputs';

const HEADER = 'ID,DATE,ELEMENT,DATA_VALUE,M_FLAG,Q_FLAG,S_FLAG,OBS_TIME';

function ride(name: string, station: string, statustime: string, index: number, fieldservice: 0 | 1 = 1): ProcessedRow {
  return {
    distance: 10 + index,
    healthpoints: 100 + index,
    latitude: 40.7,
    longitude: -73.9,
    magicpoints: 200 + index,
    name,
    statustime,
    fieldservice,
    groundstation: station,
    ...(station && { groundstation_distance_km: 1.5 }),
    source: 'raw/rides.json',
    ride_index: index,
  };
}

type Row = Record<string, string>;
const readRows = (path: string): Row[] => parse(readFileSync(path), { columns: true }) as Row[];

describe('rydes trainset on generated GHCN-Daily files (DuckDB)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-trainset-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, content: string | Buffer): string {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  }

  /**
   * Five rides: A (2018, weather with a duplicate TMAX and a flagged TMIN), B (2019, weather in a
   * gzip file with a header), C (a station absent from the weather), D (no station), E (A's
   * station on a day with PRCP only), plus weather rows for days and stations nobody needs.
   */
  function fixture() {
    const rides = write(
      'rides.csv',
      encodeCsv([
        ride('A, "quoted"', 'USW00094728', '2018-01-05 08:00:00.000', 0),
        ride('B', 'USW00014732', '2019-07-04 23:59:59.999', 1, 0),
        ride('C', 'USC00305798', '2018-01-05 12:00:00.000', 2),
        ride('D', '', '2018-01-05 12:00:00.000', 3),
        ride('E', 'USW00094728', '2018-01-06 09:00:00.000', 4),
      ]),
    );
    const weather2018 = write(
      '2018.csv',
      [
        'USW00094728,20180105,TMIN,-56,,,W,0700',
        'USW00094728,20180105,TMIN,-999,,X,W,0700', // Q_FLAG set: ignored
        'USW00094728,20180105,TMAX,12,,,W,0700',
        'USW00094728,20180105,TMAX,15,,,7,0700', // duplicate: averaged with 12 → 1.35 °C
        'USW00094728,20180105,PRCP,33,,,W,0700',
        'USW00094728,20180105,SNOW,50,,,W,0700', // an element the set does not use
        'USW00094728,20180106,PRCP,0,T,,W,0700',
        'USW00094728,20180107,TMAX,99,,,W,0700', // a day no ride needs
        'USC00305799,20180105,TMAX,40,,,7,', // a station no ride has
        '',
      ].join('\n'),
    );
    const weather2019 = write(
      '2019.csv.gz',
      gzipSync(`${HEADER}\nUSW00014732,20190704,TMAX,301,,,W,\nUSW00014732,20190704,TMIN,215,,,W,\nUSW00014732,20190704,PRCP,5,,,W,\nUSW00014732,20190705,PRCP,7,,,W,\n`),
    );
    return { rides, weather: [weather2018, weather2019] };
  }

  it('joins, averages duplicates, ignores flagged values and converts units, exactly', async () => {
    const { rides, weather } = fixture();
    const out = join(dir, 'train');
    const coverage = await buildTrainingSet({ ridesPath: rides, weatherPaths: weather, outDir: out, seed: 0, testFraction: 0.1, dropIncomplete: false });

    const train = readRows(join(out, 'train.csv'));
    const test = readRows(join(out, 'test.csv'));
    expect(readFileSync(join(out, 'train.csv'), 'utf8').split('\n')[0]).toBe('fieldservice,distance,healthpoints,magicpoints,tmin_c,tmax_c,prcp_mm,name,statustime,groundstation');
    const all = [...train, ...test].sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(all).toEqual([
      { fieldservice: '1', distance: '10', healthpoints: '100', magicpoints: '200', tmin_c: '-5.6', tmax_c: '1.35', prcp_mm: '3.3', name: 'A, "quoted"', statustime: '2018-01-05 08:00:00.000', groundstation: 'USW00094728' },
      { fieldservice: '0', distance: '11', healthpoints: '101', magicpoints: '201', tmin_c: '21.5', tmax_c: '30.1', prcp_mm: '0.5', name: 'B', statustime: '2019-07-04 23:59:59.999', groundstation: 'USW00014732' },
      { fieldservice: '1', distance: '12', healthpoints: '102', magicpoints: '202', tmin_c: '', tmax_c: '', prcp_mm: '', name: 'C', statustime: '2018-01-05 12:00:00.000', groundstation: 'USC00305798' },
      { fieldservice: '1', distance: '13', healthpoints: '103', magicpoints: '203', tmin_c: '', tmax_c: '', prcp_mm: '', name: 'D', statustime: '2018-01-05 12:00:00.000', groundstation: '' },
      { fieldservice: '1', distance: '14', healthpoints: '104', magicpoints: '204', tmin_c: '', tmax_c: '', prcp_mm: '0.0', name: 'E', statustime: '2018-01-06 09:00:00.000', groundstation: 'USW00094728' },
    ]);
    // The split is the TypeScript hash's, ride by ride.
    expect(test.map((r) => r.name).sort()).toEqual(all.filter((_, i) => isTest(0, 'raw/rides.json', i, 0.1)).map((r) => r.name));

    const saved = JSON.parse(readFileSync(join(out, 'coverage.json'), 'utf8')) as Coverage;
    expect(saved).toEqual(coverage);
    expect({ ...coverage, weather: undefined, split: undefined }).toEqual({
      rides: 5,
      complete: 2,
      completeShare: 0.4,
      withoutStation: 1,
      missing: { tmin_c: 3, tmax_c: 3, prcp_mm: 2 },
      unlabelled: 0,
      written: { train: train.length, test: test.length },
      dropIncomplete: false,
      weather: undefined,
      split: undefined,
      stations: [
        { groundstation: '', rides: 1, tmin_missing: 1, tmax_missing: 1, prcp_missing: 1 },
        { groundstation: 'USC00305798', rides: 1, tmin_missing: 1, tmax_missing: 1, prcp_missing: 1 },
        { groundstation: 'USW00014732', rides: 1, tmin_missing: 0, tmax_missing: 0, prcp_missing: 0 },
        { groundstation: 'USW00094728', rides: 2, tmin_missing: 1, tmax_missing: 1, prcp_missing: 0 },
      ],
    });
    expect(coverage.weather.files.map((f) => [f.header, f.gzip])).toEqual([
      [false, false],
      [true, true],
    ]);
    expect(coverage.weather.bytes).toBe(weather.reduce((n, f) => n + readFileSync(f).length, 0));
  });

  it('reads the same weather the same way with or without a header, gzip or not', async () => {
    const { rides } = fixture();
    const lines = ['USW00094728,20180105,TMIN,-56,,,W,0700', 'USW00094728,20180105,TMAX,12,,,W,0700', 'USW00094728,20180105,PRCP,33,,,W,0700'];
    const variants = {
      plain: write('a.csv', `${lines.join('\n')}\n`),
      header: write('b.csv', `${HEADER}\r\n${lines.join('\r\n')}\r\n`),
      gzip: write('c.csv.gz', gzipSync(`${lines.join('\n')}\n`)),
      gzipHeaderNoSuffix: write('d.dat', gzipSync(`${HEADER}\n${lines.join('\n')}`)),
    };
    const results: Record<string, string> = {};
    for (const [name, path] of Object.entries(variants)) {
      const out = join(dir, name);
      await buildTrainingSet({ ridesPath: rides, weatherPaths: [path], outDir: out, seed: 0, testFraction: 0, dropIncomplete: true });
      results[name] = readFileSync(join(out, 'train.csv'), 'utf8');
    }
    expect(results.plain.split('\n')[1]).toBe('1,10,100,200,-5.6,1.2,3.3,"A, ""quoted""",2018-01-05 08:00:00.000,USW00094728');
    expect(new Set(Object.values(results)).size).toBe(1);
  });

  it('--drop-incomplete keeps only rides with all three values', async () => {
    const { rides, weather } = fixture();
    const out = join(dir, 'complete');
    const coverage = await buildTrainingSet({ ridesPath: rides, weatherPaths: weather, outDir: out, seed: 0, testFraction: 0.5, dropIncomplete: true });
    const names = [...readRows(join(out, 'train.csv')), ...readRows(join(out, 'test.csv'))].map((r) => r.name).sort();
    expect(names).toEqual(['A, "quoted"', 'B']);
    expect(coverage.written.train + coverage.written.test).toBe(2);
    expect(coverage.complete).toBe(2);
  });

  describe('split sizes and seed stability (2,000 rides)', () => {
    function manyRides(): string {
      return write('many.csv', encodeCsv(Array.from({ length: 2000 }, (_, i) => ride(`r${i}`, 'USW00094728', '2018-01-05 08:00:00.000', i))));
    }
    const run = async (rides: string, weather: string, name: string, seed: number, testFraction: number) => {
      const out = join(dir, name);
      const coverage = await buildTrainingSet({ ridesPath: rides, weatherPaths: [weather], outDir: out, seed, testFraction, dropIncomplete: false });
      return { coverage, train: readFileSync(join(out, 'train.csv'), 'utf8'), test: readFileSync(join(out, 'test.csv'), 'utf8') };
    };

    it('puts exactly the rides the hash names into test, and the same bytes for the same seed', async () => {
      const rides = manyRides();
      const weather = write('w.csv', 'USW00094728,20180105,TMIN,-56,,,W,0700\n');
      const a = await run(rides, weather, 'a', 3, 0.1);
      const again = await run(rides, weather, 'again', 3, 0.1);
      const other = await run(rides, weather, 'other', 4, 0.1);
      const expected = Array.from({ length: 2000 }, (_, i) => i).filter((i) => isTest(3, 'raw/rides.json', i, 0.1));
      const testNames = (csv: string) => (parse(csv, { columns: true }) as Row[]).map((r) => Number(r.name.slice(1))).sort((x, y) => x - y);
      expect(testNames(a.test)).toEqual(expected);
      expect(a.coverage.written).toEqual({ train: 2000 - expected.length, test: expected.length });
      expect(expected.length).toBeGreaterThan(160);
      expect(expected.length).toBeLessThan(240);
      expect([again.train, again.test]).toEqual([a.train, a.test]);
      expect(other.test).not.toEqual(a.test);
      // The order is a shuffle, not the input order.
      expect(testNames(a.test)).not.toEqual((parse(a.test, { columns: true }) as Row[]).map((r) => Number(r.name.slice(1))));
    });

    it('splits 0 and 1 to one side entirely', async () => {
      const rides = manyRides();
      const weather = write('w.csv', 'USW00094728,20180105,TMIN,-56,,,W,0700\n');
      expect((await run(rides, weather, 'none', 0, 0)).coverage.written).toEqual({ train: 2000, test: 0 });
      expect((await run(rides, weather, 'all', 0, 1)).coverage.written).toEqual({ train: 0, test: 2000 });
    });
  });

  describe('bad inputs are named before or while reading', () => {
    it('refuses a weather file whose first line is not GHCN-Daily, naming file and line', async () => {
      const { rides } = fixture();
      const bad = write('bad.csv', 'station;date;value\n');
      await expect(buildTrainingSet({ ridesPath: rides, weatherPaths: [bad], outDir: join(dir, 'o'), seed: 0, testFraction: 0.1, dropIncomplete: false })).rejects.toThrow(
        `${bad}: line 1 is "station;date;value": expected NOAA's GHCN-Daily CSV`,
      );
    });

    it('refuses a rides file without the processed/ header, and a missing file', async () => {
      const rides = write('rides.csv', 'a,b\n1,2\n');
      const weather = write('w.csv', 'USW00094728,20180105,TMIN,-56,,,W,0700\n');
      const options = { weatherPaths: [weather], outDir: join(dir, 'o'), seed: 0, testFraction: 0.1, dropIncomplete: false };
      await expect(buildTrainingSet({ ...options, ridesPath: rides })).rejects.toThrow(`${rides}: line 1 (the header) lacks distance, healthpoints`);
      await expect(buildTrainingSet({ ...options, ridesPath: join(dir, 'nope.csv') })).rejects.toThrow(TrainsetInputError);
    });

    it('names the line of a malformed value deep in a weather file', async () => {
      const { rides } = fixture();
      const bad = write('deep.csv', 'USW00094728,20180105,TMIN,-56,,,W,0700\nUSW00094728,20180105,TMAX,12,,,W,0700\nUSW00094728,20180105,PRCP,3x3,,,W,0700\n');
      await expect(buildTrainingSet({ ridesPath: rides, weatherPaths: [bad], outDir: join(dir, 'o'), seed: 0, testFraction: 0.1, dropIncomplete: false })).rejects.toThrow(
        /deep\.csv: DuckDB: .*(line|Line):? 3/s,
      );
    });
  });

  it('reads the first line of gzip weather files thousands of times without a stray stream error afterwards', async () => {
    // Reading stops after the first line and destroys the streams under a read in progress: an
    // error event nobody listens to would surface later as an uncaught exception (jest fails the test).
    const big = write('big.csv.gz', gzipSync(`${HEADER}\n${'USW00014732,20190704,TMAX,301,,,W,\n'.repeat(200_000)}`));
    const small = write('small.csv.gz', gzipSync('USW00014732,20190704,TMAX,301,,,W,\n'));
    for (let i = 0; i < 12_000; i++) {
      const described = await describeWeatherFile(i % 2 ? small : big);
      expect(described).toMatchObject({ gzip: true, header: i % 2 === 0 });
      if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }, 120_000);
});
