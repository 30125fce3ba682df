import { createHash } from 'node:crypto';
import { PIVOT_SQL, QUALITY_FILTER_SQL, RIDE_DATE_SQL, SPLIT_BUCKETS, TRAINING_COLUMNS, athenaTrainingSql, duckdbTrainingSql, isTest, splitBucket, splitKey, testBuckets } from '../src/index';

describe('the split', () => {
  it('hashes "seed:source:ride_index" with md5 and reads the first 8 hex digits mod 1000', () => {
    expect(splitKey(0, 'raw/a.json', 5)).toBe('0:raw/a.json:5');
    // md5("0:raw/a.json:5") = 9022ff81…; 0x9022ff81 = 2418212737
    expect(createHash('md5').update('0:raw/a.json:5').digest('hex').slice(0, 8)).toBe('9022ff81');
    expect(splitBucket(0, 'raw/a.json', 5)).toBe(2418212737 % SPLIT_BUCKETS);
  });

  it('sends about the asked fraction to test, and the same rides for the same seed', () => {
    const test = (seed: number) => Array.from({ length: 20_000 }, (_, i) => isTest(seed, 'raw/rides.json', i, 0.1));
    const a = test(0);
    const share = a.filter(Boolean).length / a.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
    expect(test(0)).toEqual(a);
    const b = test(1);
    const moved = a.filter((t, i) => t !== b[i]).length;
    expect(moved).toBeGreaterThan(2000); // another seed, another split
  });

  it('turns a fraction into buckets, to 0.001', () => {
    expect([0, 0.1, 0.25, 0.0004, 1].map(testBuckets)).toEqual([0, 100, 250, 0, 1000]);
    expect(() => testBuckets(1.5)).toThrow('not in [0, 1]');
  });
});

describe('one SQL for two engines', () => {
  const local = duckdbTrainingSql({
    ridesPath: "/tmp/it's/rides.csv",
    weather: [{ path: '/w/2018.csv.gz', header: false, gzip: true }, { path: '/w/USW.csv', header: true, gzip: false }],
    trainPath: '/o/train.csv',
    testPath: '/o/test.csv',
    seed: 7,
    testFraction: 0.2,
  });
  const athena = athenaTrainingSql({ database: 'rides_db', weatherTable: 'ghcn_daily', years: [2018, 2019], seed: 7, testFraction: 0.2 });
  const localText = [...local.prepare, ...local.write].join('\n');

  it.each([
    ['the ride date', RIDE_DATE_SQL],
    ['the quality filter', QUALITY_FILTER_SQL],
    ['the pivot and its units', PIVOT_SQL],
    ['the split key', `concat('7', ':', source, ':', CAST(ride_index AS VARCHAR))`],
    ['the test buckets', 'split_bucket < 200'],
    ['the elements', `element IN ('TMIN', 'TMAX', 'PRCP')`],
    ['the order', 'ORDER BY shuffle_key, source, ride_index'],
  ])('both contain %s', (_, fragment) => {
    expect(localText).toContain(fragment);
    expect(athena).toContain(fragment);
  });

  it('selects the training columns in order in both', () => {
    expect(athena).toContain(`SELECT ${TRAINING_COLUMNS.join(', ')},`);
    expect(local.write[0]).toContain(`SELECT ${TRAINING_COLUMNS.join(', ')} FROM training WHERE NOT is_test`);
    expect(local.write[1]).toContain('WHERE is_test ORDER BY');
  });

  it('reads every weather file with its own header and compression, and quotes paths', () => {
    expect(local.weatherStep).toContain("read_csv('/w/2018.csv.gz', columns = ");
    expect(local.weatherStep).toMatch(/'\/w\/2018\.csv\.gz'.*header = false.*compression = 'gzip'/);
    expect(local.weatherStep).toMatch(/'\/w\/USW\.csv'.*header = true.*compression = 'none'/);
    expect(localText).toContain("read_csv('/tmp/it''s/rides.csv'");
  });

  it('prunes Athena to the ride years and reads the named tables', () => {
    expect(athena).toContain('year IN (2018, 2019)');
    expect(athena).toContain('FROM "rides_db"."ridetelemetry"');
    expect(athena).toContain('FROM "rides_db"."ghcn_daily"');
  });

  it('keeps only complete rows when asked, in both', () => {
    const complete = 'tmin_c IS NOT NULL AND tmax_c IS NOT NULL AND prcp_mm IS NOT NULL';
    expect(athenaTrainingSql({ database: 'd', weatherTable: 'w', years: [2018], dropIncomplete: true })).toContain(`WHERE ${complete}`);
    expect(duckdbTrainingSql({ ridesPath: 'r', weather: [{ path: 'w', header: false, gzip: false }], trainPath: 't', testPath: 's', dropIncomplete: true }).write[0]).toContain(
      `NOT is_test AND ${complete}`,
    );
  });

  it('refuses names that could break out of the SQL', () => {
    expect(() => athenaTrainingSql({ database: 'd"; DROP', weatherTable: 'w', years: [2018] })).toThrow('is not a Glue name');
    expect(() => athenaTrainingSql({ database: 'd', weatherTable: 'w', years: [] })).toThrow('at least one ride year');
  });
});
