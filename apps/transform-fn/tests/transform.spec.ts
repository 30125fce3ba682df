import { join } from 'node:path';
import { countRequests, createLogger, createObjectWriter, createS3Client, deleteKeys } from '@rydes/aws-adapters';
import { encodeMessage, CSV_COLUMNS, generateRides, rideIndexes, type FanoutMessage, type Ride, type SourceRef } from '@rydes/ride-model';
import { DEFAULT_STATIONS, StationLookup, type Station } from '@rydes/geo-index';
import { bruteForceNearest } from '@rydes/geo-index/testing';
import { lambdaContext, sqsEvent } from './helpers/lambda';
import { transformBatch } from '../src/transform-batch';
import { BUCKET, keysUnder, readBytes, readCsv, startStack, upload, type Stack, type TransformHandler } from './helpers/stack';

const MAIN = join(__dirname, '../src/main');
const rides = (count: number, seed: number): Ride[] => [...generateRides({ count, seed })];
const message = (chunk: number, firstIndex: number, list: Ride[], source: SourceRef): FanoutMessage => ({ v: 1, source, chunk, firstIndex, rides: list });
const etag8 = (source: SourceRef) => source.etag.replace(/"/g, '').slice(0, 8);

/** Every row of a processed/ object against the full-scan oracle and the ride it came from. */
function expectRows(rows: Record<string, string>[], m: FanoutMessage, stations: readonly Station[]) {
  expect(rows).toHaveLength(m.rides.length);
  rows.forEach((row, i) => {
    const ride = m.rides[i];
    const oracle = bruteForceNearest(stations, ride.latitude, ride.longitude);
    expect(row.groundstation).toBe(oracle.station.id);
    expect(Number(row.groundstation_distance_km)).toBe(oracle.distanceKm);
    expect(Number(row.ride_index)).toBe(rideIndexes(m)[i]);
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
  /** Messages name a source object that must exist (transform checks its ETag): upload one. */
  const sourceAt = async (key: string, content = `[] ${key}`): Promise<SourceRef> => ({ bucket: BUCKET, key, etag: await upload(stack.s3, key, content) });
  const handlerWith = (env: Record<string, string | undefined> = {}) => stack.load<{ handler: TransformHandler }>(MAIN, env).handler;
  const emfLines = () => stdout.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));

  it('writes one CSV per message at its deterministic key, each groundstation equal to brute force', async () => {
    // Prepare
    const source = await sourceAt('raw/rides.json');
    const prefix = `processed/rides-${etag8(source)}-`;
    const batch = [message(0, 0, rides(100, 1), source), message(1, 100, rides(37, 2), source), message(7, 812, rides(1, 3), source)];
    const handler = handlerWith();
    // Act
    const response = await handler(sqsEvent(batch.map((m, i) => ({ messageId: `id-${i}`, body: encodeMessage(m) }))), lambdaContext());
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await keysUnder(stack.s3, prefix)).toEqual([`${prefix}000000.csv`, `${prefix}000001.csv`, `${prefix}000007.csv`]);
    const text = (await readBytes(stack.s3, `${prefix}000001.csv`)).toString('utf8');
    expect(text.split('\n')[0]).toBe(CSV_COLUMNS.join(','));
    expect(text.endsWith('\n')).toBe(true);
    for (const m of batch) expectRows(await readCsv(stack.s3, `${prefix}${String(m.chunk).padStart(6, '0')}.csv`), m, DEFAULT_STATIONS);
    expect(emfLines()).toEqual([expect.objectContaining({ Function: 'transform-fn', RidesProcessed: 138, MessagesSuperseded: 0 })]);
  });

  it('numbers the rows of a version-2 message with its gaps (rejected rides between its rides)', async () => {
    // Prepare: rides 500, 501, 505, 506, 507 and 520 (the others were rejected)
    const source = await sourceAt('raw/gaps.json');
    const m: FanoutMessage = { v: 2, source, chunk: 5, firstIndex: 500, gaps: [[2, 3], [5, 12]], rides: rides(6, 21) };
    // Act
    const response = await handlerWith()(sqsEvent([{ messageId: 'v2', body: encodeMessage(m) }]), lambdaContext());
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const rows = await readCsv(stack.s3, `processed/gaps-${etag8(source)}-000005.csv`);
    expect(rows.map((r) => Number(r.ride_index))).toEqual([500, 501, 505, 506, 507, 520]);
    expectRows(rows, m, DEFAULT_STATIONS);
  });

  it('rewrites the same object with the same bytes when a message is delivered twice', async () => {
    // Prepare
    const source = await sourceAt('raw/twice.json');
    const key = `processed/twice-${etag8(source)}-000003.csv`;
    const body = encodeMessage(message(3, 300, rides(50, 4), source));
    const handler = handlerWith();
    await handler(sqsEvent([{ messageId: 'first', body }]), lambdaContext());
    const before = await readBytes(stack.s3, key);
    // Act
    const response = await handler(sqsEvent([{ messageId: 'again', body }]), lambdaContext('redelivery'));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect((await readBytes(stack.s3, key)).equals(before)).toBe(true);
    expect(await keysUnder(stack.s3, 'processed/twice-')).toEqual([key]);
  });

  it('reports exactly the undecodable messages as batch item failures and writes the others', async () => {
    // Prepare
    const source = await sourceAt('raw/mixed.json');
    const good = [message(0, 0, rides(5, 5), source), message(1, 5, rides(5, 6), source)];
    const event = sqsEvent([
      { messageId: 'good-0', body: encodeMessage(good[0]) },
      { messageId: 'not-json', body: '{"v":1,' },
      { messageId: 'good-1', body: encodeMessage(good[1]) },
      { messageId: 'wrong-version', body: encodeMessage(good[1]).replace('"v":1', '"v":3') },
    ]);
    // Act
    const response = await handlerWith()(event, lambdaContext());
    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['not-json', 'wrong-version']);
    expect(await keysUnder(stack.s3, 'processed/mixed-')).toEqual([`processed/mixed-${etag8(source)}-000000.csv`, `processed/mixed-${etag8(source)}-000001.csv`]);
  });

  it('acknowledges a message whose source was overwritten since as superseded, leaving no output and nothing for the DLQ', async () => {
    // Prepare: a message of the first version, then the key overwritten by a second version
    const old = await sourceAt('raw/replaced.json', '[] first version');
    const current = await sourceAt('raw/replaced.json', '[] second version');
    const event = sqsEvent([
      { messageId: 'late', body: encodeMessage(message(0, 0, rides(3, 11), old)) },
      { messageId: 'fresh', body: encodeMessage(message(0, 0, rides(3, 12), current)) },
    ]);
    // Act
    const response = await handlerWith()(event, lambdaContext());
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(await keysUnder(stack.s3, 'processed/replaced-')).toEqual([`processed/replaced-${etag8(current)}-000000.csv`]);
    expect(emfLines()).toEqual([expect.objectContaining({ RidesProcessed: 3, MessagesSuperseded: 1 })]);
  });

  it('checks each source version once per batch, after its writes: one HeadObject for ten messages of a file', async () => {
    // Prepare: ten messages of one file and two of a file replaced since, through a counting client
    const kept = await sourceAt('raw/once.json');
    const old = await sourceAt('raw/once-replaced.json', '[] v1');
    await sourceAt('raw/once-replaced.json', '[] v2');
    const s3 = createS3Client(stack.local.env);
    const counts = countRequests(s3);
    const batch = [
      ...Array.from({ length: 10 }, (_, i) => ({ messageId: `kept-${i}`, body: encodeMessage(message(i, i * 5, rides(5, 40 + i), kept)) })),
      ...[0, 1].map((i) => ({ messageId: `old-${i}`, body: encodeMessage(message(i, i * 5, rides(5, 60 + i), old)) })),
    ];
    const metrics = jest.fn();
    // Act
    const response = await transformBatch(sqsEvent(batch), {
      s3,
      config: { outputBucket: BUCKET },
      stations: async () => new StationLookup(DEFAULT_STATIONS),
      logger: createLogger({ level: 'silent' }),
      metrics,
    });
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(counts).toEqual({ PutObjectCommand: 12, HeadObjectCommand: 2, DeleteObjectsCommand: 1 });
    expect(await keysUnder(stack.s3, `processed/once-${etag8(kept)}-`)).toHaveLength(10);
    expect(await keysUnder(stack.s3, 'processed/once-replaced-')).toEqual([]);
    expect(metrics).toHaveBeenCalledWith(expect.objectContaining({ values: { RidesProcessed: 50, RidesWithoutStation: 0, MessagesSuperseded: 2 } }));
    s3.destroy();
  });

  it('writes every processed/ object and checks the source version through the ObjectWriter when given one (the handler does), the same bytes as the SDK path', async () => {
    // Prepare: the same two messages once through the SDK client, once through a writer over it
    const source = await sourceAt('raw/writer.json');
    const s3 = createS3Client(stack.local.env);
    const writer = createObjectWriter(s3);
    const sdkCounts = countRequests(s3);
    const writerCounts = countRequests(writer);
    const batch = [0, 1].map((i) => ({ messageId: `w-${i}`, body: encodeMessage(message(i, i * 4, rides(4, 80 + i), source)) }));
    const deps = { s3, config: { outputBucket: BUCKET }, stations: async () => new StationLookup(DEFAULT_STATIONS), logger: createLogger({ level: 'silent' }), metrics: jest.fn() };
    const keys = [0, 1].map((i) => `processed/writer-${etag8(source)}-00000${i}.csv`);
    // Act
    expect(await transformBatch(sqsEvent(batch), deps)).toEqual({ batchItemFailures: [] });
    const viaSdk = await Promise.all(keys.map((key) => readBytes(stack.s3, key)));
    await deleteKeys(stack.s3, BUCKET, keys);
    expect(await transformBatch(sqsEvent(batch), { ...deps, writer })).toEqual({ batchItemFailures: [] });
    // Assess
    expect(writerCounts).toEqual({ PutObjectCommand: 2, HeadObjectCommand: 1 }); // the second batch's PUTs and version check
    expect(sdkCounts).toEqual({ PutObjectCommand: 2, HeadObjectCommand: 1 }); // the first batch's
    const viaWriter = await Promise.all(keys.map((key) => readBytes(stack.s3, key)));
    expect(viaWriter.map((b, i) => b.equals(viaSdk[i]))).toEqual([true, true]);
    writer.destroy();
    s3.destroy();
  });

  it('keeps the output of a message whose source object was only deleted: deleting a source never deletes results', async () => {
    const source = await sourceAt('raw/deleted.json');
    await deleteKeys(stack.s3, BUCKET, ['raw/deleted.json']);
    const response = await handlerWith()(sqsEvent([{ messageId: 'orphan', body: encodeMessage(message(0, 0, rides(2, 13), source)) }]), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(await keysUnder(stack.s3, 'processed/deleted-')).toEqual([`processed/deleted-${etag8(source)}-000000.csv`]);
    expect(emfLines()).toEqual([expect.objectContaining({ RidesProcessed: 2, MessagesSuperseded: 0 })]);
  });

  it('removes a late message\'s output when its source was replaced and the newer version then deleted (the newer manifest decides)', async () => {
    // Prepare: version 1's message was sent; version 2 was ingested (its manifest exists), then deleted
    const old = await sourceAt('raw/replaced-deleted.json', '[] v1');
    const newer = await sourceAt('raw/replaced-deleted.json', '[] v2');
    const manifest = { bucket: BUCKET, source: newer.key, etag: newer.etag, total: 0, valid: 0, rejected: 0, chunks: 0, ridesPerMessage: 100, droppedFields: 0, startedAt: new Date(1_767_225_700_000).toISOString(), finishedAt: new Date(1_767_225_700_000).toISOString() };
    await upload(stack.s3, `manifests/replaced-deleted-${etag8(newer)}.json`, JSON.stringify(manifest));
    await deleteKeys(stack.s3, BUCKET, ['raw/replaced-deleted.json']);
    // Act: the old version's message, sent (SentTimestamp) before the newer version's ingest started
    const response = await handlerWith()(sqsEvent([{ messageId: 'late', body: encodeMessage(message(0, 0, rides(2, 14), old)) }]), lambdaContext());
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(await keysUnder(stack.s3, 'processed/replaced-deleted-')).toEqual([]);
    expect(emfLines()).toEqual([expect.objectContaining({ RidesProcessed: 0, MessagesSuperseded: 1 })]);
  });

  it('reports S3 write failures per message instead of failing the batch', async () => {
    const source = await sourceAt('raw/unwritable.json');
    const response = await handlerWith({ OUTPUT_BUCKET: 'no-such-bucket' })(
      sqsEvent([{ messageId: 'a', body: encodeMessage(message(0, 0, rides(2, 7), source)) }, { messageId: 'b', body: encodeMessage(message(1, 2, rides(2, 8), source)) }]),
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
    const source = await sourceAt('raw/custom-stations.json');
    const m = message(0, 0, rides(60, 9), source);
    // Act
    const response = await handlerWith({ STATIONS_URI: `s3://${BUCKET}/stations/three.csv` })(sqsEvent([{ messageId: 'm', body: encodeMessage(m) }]), lambdaContext());
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const rows = await readCsv(stack.s3, `processed/custom-stations-${etag8(source)}-000000.csv`);
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
    const event = sqsEvent([{ messageId: 'm', body: encodeMessage(message(0, 0, rides(1, 10), await sourceAt('raw/never.json'))) }]);
    // Act / Assess
    await expect(handler(event, lambdaContext())).rejects.toThrow(reason);
    expect(await keysUnder(stack.s3, 'processed/never-')).toEqual([]);
  });

  it('fails at load, naming the variable, when OUTPUT_BUCKET is unset', () => {
    expect(() => handlerWith({ OUTPUT_BUCKET: undefined })).toThrow('OUTPUT_BUCKET is required');
  });
});
