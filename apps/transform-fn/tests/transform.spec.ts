import { join } from 'node:path';
import { encodeMessage, CSV_COLUMNS, generateRides, type FanoutMessage, type Ride } from '@rydes/ride-model';
import { DEFAULT_STATIONS, type Station } from '@rydes/geo-index';
import { bruteForceNearest } from '@rydes/geo-index/testing';
import { lambdaContext, sqsEvent } from './helpers/lambda';
import { BUCKET, keysUnder, readBytes, readCsv, startStack, upload, type Stack, type TransformHandler } from './helpers/stack';

const MAIN = join(__dirname, '../src/main');
const SOURCE = { bucket: BUCKET, key: 'raw/rides.json', etag: '"0a1b2c3d4e5f60718293a4b5c6d7e8f9"' };
const rides = (count: number, seed: number): Ride[] => [...generateRides({ count, seed })];
const message = (chunk: number, firstIndex: number, list: Ride[], source = SOURCE): FanoutMessage => ({ v: 1, source, chunk, firstIndex, rides: list });

/** Every row of a processed/ object against the full-scan oracle and the ride it came from. */
function expectRows(rows: Record<string, string>[], m: FanoutMessage, stations: readonly Station[]) {
  expect(rows).toHaveLength(m.rides.length);
  rows.forEach((row, i) => {
    const ride = m.rides[i];
    const oracle = bruteForceNearest(stations, ride.latitude, ride.longitude);
    expect(row.groundstation).toBe(oracle.station.id);
    expect(Number(row.groundstation_distance_km)).toBe(oracle.distanceKm);
    expect(Number(row.ride_index)).toBe(m.firstIndex + i);
    expect(row.source).toBe(m.source.key);
    expect([Number(row.latitude), Number(row.longitude), row.name, row.statustime]).toEqual([ride.latitude, ride.longitude, ride.name, ride.statustime]);
  });
}

describe('transform-fn handler (real s3rver)', () => {
  let stack: Stack;
  let stdout: jest.SpyInstance;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => stdout.mockRestore());
  const handlerWith = (env: Record<string, string | undefined> = {}) => stack.load<{ handler: TransformHandler }>(MAIN, env).handler;
  const emfLines = () => stdout.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));

  it('writes one CSV per message at its deterministic key, each groundstation equal to brute force', async () => {
    // Prepare
    const batch = [message(0, 0, rides(100, 1)), message(1, 100, rides(37, 2)), message(7, 812, rides(1, 3))];
    const handler = handlerWith();
    // Act
    const response = await handler(sqsEvent(batch.map((m, i) => ({ messageId: `id-${i}`, body: encodeMessage(m) }))), lambdaContext());
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await keysUnder(stack.s3, 'processed/rides-0a1b2c3d-')).toEqual([
      'processed/rides-0a1b2c3d-000000.csv',
      'processed/rides-0a1b2c3d-000001.csv',
      'processed/rides-0a1b2c3d-000007.csv',
    ]);
    const text = (await readBytes(stack.s3, 'processed/rides-0a1b2c3d-000001.csv')).toString('utf8');
    expect(text.split('\n')[0]).toBe(CSV_COLUMNS.join(','));
    expect(text.endsWith('\n')).toBe(true);
    for (const m of batch) expectRows(await readCsv(stack.s3, `processed/rides-0a1b2c3d-${String(m.chunk).padStart(6, '0')}.csv`), m, DEFAULT_STATIONS);
    expect(emfLines()).toEqual([expect.objectContaining({ Function: 'transform-fn', RidesProcessed: 138 })]);
  });

  it('rewrites the same object with the same bytes when a message is delivered twice', async () => {
    // Prepare
    const body = encodeMessage(message(3, 300, rides(50, 4)));
    const handler = handlerWith();
    await handler(sqsEvent([{ messageId: 'first', body }]), lambdaContext());
    const before = await readBytes(stack.s3, 'processed/rides-0a1b2c3d-000003.csv');
    // Act
    const response = await handler(sqsEvent([{ messageId: 'again', body }]), lambdaContext('redelivery'));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect((await readBytes(stack.s3, 'processed/rides-0a1b2c3d-000003.csv')).equals(before)).toBe(true);
    expect((await keysUnder(stack.s3, 'processed/rides-0a1b2c3d-000003')).length).toBe(1);
  });

  it('reports exactly the undecodable messages as batch item failures and writes the others', async () => {
    // Prepare
    const source = { ...SOURCE, key: 'raw/mixed.json' };
    const good = [message(0, 0, rides(5, 5), source), message(1, 5, rides(5, 6), source)];
    const event = sqsEvent([
      { messageId: 'good-0', body: encodeMessage(good[0]) },
      { messageId: 'not-json', body: '{"v":1,' },
      { messageId: 'good-1', body: encodeMessage(good[1]) },
      { messageId: 'wrong-version', body: encodeMessage(good[1]).replace('"v":1', '"v":2') },
    ]);
    // Act
    const response = await handlerWith()(event, lambdaContext());
    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['not-json', 'wrong-version']);
    expect(await keysUnder(stack.s3, 'processed/mixed-')).toEqual(['processed/mixed-0a1b2c3d-000000.csv', 'processed/mixed-0a1b2c3d-000001.csv']);
  });

  it('reports S3 write failures per message instead of failing the batch', async () => {
    const response = await handlerWith({ OUTPUT_BUCKET: 'no-such-bucket' })(
      sqsEvent([{ messageId: 'a', body: encodeMessage(message(0, 0, rides(2, 7))) }, { messageId: 'b', body: encodeMessage(message(1, 2, rides(2, 8))) }]),
      lambdaContext(),
    );
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['a', 'b']);
  });

  it('uses a station catalogue from STATIONS_URI (CSV on S3)', async () => {
    // Prepare: three stations a few hundred metres apart around the generator's start (Midtown), none bundled
    const stations: Station[] = [
      { id: 'TEST0000001', latitude: 40.7475, longitude: -73.9875 },
      { id: 'TEST0000002', latitude: 40.7515, longitude: -73.9830 },
      { id: 'TEST0000003', latitude: 40.7495, longitude: -73.9850 },
    ];
    await upload(stack.s3, 'stations/three.csv', 'id,latitude,longitude\n' + stations.map((s) => `${s.id},${s.latitude},${s.longitude}`).join('\n') + '\n');
    const m = message(0, 0, rides(60, 9), { ...SOURCE, key: 'raw/custom-stations.json' });
    // Act
    const response = await handlerWith({ STATIONS_URI: `s3://${BUCKET}/stations/three.csv` })(sqsEvent([{ messageId: 'm', body: encodeMessage(m) }]), lambdaContext());
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const rows = await readCsv(stack.s3, 'processed/custom-stations-0a1b2c3d-000000.csv');
    expectRows(rows, m, stations);
    expect(new Set(rows.map((r) => r.groundstation)).size).toBeGreaterThan(1);
  });

  it.each([
    ['a catalogue that does not parse', 'stations/broken.csv', /station catalogue s3:\/\/rides-transform-test\/stations\/broken\.csv is unusable: .*unset STATIONS_URI/],
    ['a missing catalogue object', 'stations/missing.csv', /stations\/missing\.csv is unusable: GetObject .* failed: NoSuchKey/],
  ])('fails the whole batch, loudly, with %s', async (_what, key, reason) => {
    // Prepare
    await upload(stack.s3, 'stations/broken.csv', 'id,latitude,longitude\nX1,91.5,-74\n');
    const handler = handlerWith({ STATIONS_URI: `s3://${BUCKET}/${key}` });
    const event = sqsEvent([{ messageId: 'm', body: encodeMessage(message(0, 0, rides(1, 10), { ...SOURCE, key: 'raw/never.json' })) }]);
    // Act / Assess
    await expect(handler(event, lambdaContext())).rejects.toThrow(reason);
    expect(await keysUnder(stack.s3, 'processed/never-')).toEqual([]);
  });

  it('fails at load, naming the variable, when OUTPUT_BUCKET is unset', () => {
    expect(() => handlerWith({ OUTPUT_BUCKET: undefined })).toThrow('OUTPUT_BUCKET is required');
  });
});
