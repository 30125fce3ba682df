import { DEFAULT_RIDES_PER_MESSAGE, rideIndexes, validateRide, type FanoutMessage, type Ride } from '@rydes/ride-model';
import { lambdaContext, s3Event } from './helpers/lambda';
import { BUCKET, drainQueue, gzip, keysUnder, rawRide, readManifest, readText, rideFile, startStack, upload, type Shape, type Stack } from './helpers/stack';

const etag8 = (etag: string) => etag.replace(/"/g, '').slice(0, 8);
const expectedRide = (i: number): Ride => {
  const result = validateRide(rawRide(i));
  if (!result.ok) throw new Error(`fixture ${i} is invalid: ${result.reasons.join('; ')}`);
  return result.ride;
};
/** ride_index → ride, from messages, checking `firstIndex + i` never repeats an index. */
const ridesByIndex = (messages: FanoutMessage[]) => {
  const byIndex = new Map<number, Ride>();
  for (const m of messages) {
    const indexes = rideIndexes(m);
    m.rides.forEach((ride, i) => {
      expect(byIndex.has(indexes[i])).toBe(false);
      byIndex.set(indexes[i], ride);
    });
  }
  return byIndex;
};

describe('ingest-fn handler (real s3rver and local-aws-sqs)', () => {
  let stack: Stack;
  let stdout: jest.SpyInstance;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    // EMF lines go to stdout; keep them for assertions and out of the test output.
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(async () => {
    stdout.mockRestore();
    await drainQueue(stack.sqs, stack.queueUrl);
  });
  const emfLines = () => stdout.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));

  describe.each<[Shape, boolean, string]>([
    ['array', false, 'json'],
    ['travel_data', false, 'json'],
    ['concatenated', false, 'json'],
    ['ndjson', false, 'ndjson'],
    ['array', true, 'json.gz'],
    ['ndjson', true, 'json.gz'],
  ])('a %s file (gzip: %s)', (shape, gzipped, ext) => {
    it('fans every ride out in chunks of RIDES_PER_MESSAGE=100 and writes a manifest, no rejects', async () => {
      // Prepare
      const records = Array.from({ length: 250 }, (_, i) => rawRide(i));
      const text = rideFile(records, shape);
      const key = `raw/shape-${shape}-${gzipped}.${ext}`;
      const etag = await upload(stack.s3, key, gzipped ? gzip(text) : text);
      const handler = stack.loadHandler({ RIDES_PER_MESSAGE: '100' });
      // Act
      const manifests = await handler(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
      // Assess
      const messages = await drainQueue(stack.sqs, stack.queueUrl);
      expect(messages.map((m) => [m.chunk, m.firstIndex, m.rides.length])).toEqual([[0, 0, 100], [1, 100, 100], [2, 200, 50]]);
      expect(messages[0].source).toEqual({ bucket: BUCKET, key, etag });
      const byIndex = ridesByIndex(messages);
      for (let i = 0; i < 250; i++) expect(byIndex.get(i)).toEqual(expectedRide(i));
      const manifest = await readManifest(stack.s3, `manifests/shape-${shape}-${gzipped}-${etag8(etag)}.json`);
      expect(manifest).toMatchObject({ bucket: BUCKET, source: key, etag, total: 250, valid: 250, rejected: 0, chunks: 3, ridesPerMessage: 100 });
      expect(manifest.error).toBeUndefined();
      expect(manifests).toEqual([manifest]);
      expect(await keysUnder(stack.s3, `rejects/shape-${shape}-${gzipped}`)).toEqual([]);
    });
  });

  it('sends DEFAULT_RIDES_PER_MESSAGE (1,000) rides per message without RIDES_PER_MESSAGE', async () => {
    // Prepare
    const key = 'raw/default-chunks.ndjson';
    const etag = await upload(stack.s3, key, rideFile(Array.from({ length: 2_500 }, (_, i) => rawRide(i)), 'ndjson'));
    // Act
    const [manifest] = await stack.loadHandler({ RIDES_PER_MESSAGE: undefined })(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    // Assess
    const messages = await drainQueue(stack.sqs, stack.queueUrl);
    expect(messages.map((m) => [m.chunk, m.firstIndex, m.rides.length])).toEqual([[0, 0, 1000], [1, 1000, 1000], [2, 2000, 500]]);
    expect(manifest).toMatchObject({ valid: 2_500, chunks: 3, ridesPerMessage: DEFAULT_RIDES_PER_MESSAGE });
    expect(DEFAULT_RIDES_PER_MESSAGE).toBe(1000);
  });

  it('ingests every record of a multi-record event, not only the last', async () => {
    // Prepare
    const a = await upload(stack.s3, 'raw/multi-a.json', rideFile([rawRide(0), rawRide(1)], 'array'));
    const b = await upload(stack.s3, 'raw/multi-b.ndjson', rideFile([rawRide(2), rawRide(3), rawRide(4)], 'ndjson'));
    const handler = stack.loadHandler();
    // Act
    const manifests = await handler(s3Event(BUCKET, [{ key: 'raw/multi-a.json', eTag: a }, { key: 'raw/multi-b.ndjson', eTag: b }]), lambdaContext());
    // Assess
    expect(manifests.map((m) => [m.source, m.valid])).toEqual([['raw/multi-a.json', 2], ['raw/multi-b.ndjson', 3]]);
    const messages = await drainQueue(stack.sqs, stack.queueUrl);
    expect(messages.map((m) => [m.source.key, m.rides.length])).toEqual([['raw/multi-a.json', 2], ['raw/multi-b.ndjson', 3]]);
  });

  it('decodes keys with spaces and unicode the way S3 encodes them in events', async () => {
    // Prepare: the event carries raw/my+rides+%C3%A9+%2B1.json
    const key = 'raw/my rides é +1.json';
    const etag = await upload(stack.s3, key, rideFile([rawRide(7)], 'array'));
    const event = s3Event(BUCKET, [{ key, eTag: etag }]);
    expect(event.Records[0].s3.object.key).toBe('raw/my+rides+%C3%A9+%2B1.json');
    // Act
    await stack.loadHandler()(event, lambdaContext());
    // Assess
    const manifest = await readManifest(stack.s3, `manifests/my rides é +1-${etag8(etag)}.json`);
    expect(manifest.source).toBe(key);
    const [message] = await drainQueue(stack.sqs, stack.queueUrl);
    expect(message.source.key).toBe(key);
  });

  it('ignores keys outside raw/ and other suffixes, writing nothing', async () => {
    await upload(stack.s3, 'raw/notes.txt', 'not rides');
    const manifests = await stack.loadHandler()(s3Event(BUCKET, [{ key: 'raw/notes.txt' }, { key: 'processed/x-00000000-000000.csv' }]), lambdaContext());
    expect(manifests).toEqual([]);
    expect(await keysUnder(stack.s3, 'manifests/notes')).toEqual([]);
    expect(await drainQueue(stack.sqs, stack.queueUrl)).toEqual([]);
  });

  it('sends one ride per message with RIDES_PER_MESSAGE=1 (the workshop mode)', async () => {
    // Prepare
    const key = 'raw/one-per-message.json';
    const etag = await upload(stack.s3, key, rideFile(Array.from({ length: 23 }, (_, i) => rawRide(i)), 'array'));
    const handler = stack.loadHandler({ RIDES_PER_MESSAGE: '1' });
    // Act
    const [manifest] = await handler(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    // Assess
    const messages = await drainQueue(stack.sqs, stack.queueUrl);
    expect(messages).toHaveLength(23);
    expect(messages.map((m) => [m.chunk, m.firstIndex, m.rides.length])).toEqual(Array.from({ length: 23 }, (_, i) => [i, i, 1]));
    expect(manifest).toMatchObject({ chunks: 23, ridesPerMessage: 1, valid: 23 });
  });

  it('writes invalid rides to rejects/, keeps ride_index of the valid ones, and counts both', async () => {
    // Prepare: rides 3 and 10 invalid, 11 has an unknown field
    const records: unknown[] = Array.from({ length: 15 }, (_, i) => rawRide(i));
    records[3] = { ...rawRide(3), Latitude: 123 };
    records[10] = 'not a ride';
    records[11] = { ...rawRide(11), Colour: 'pink' };
    const key = 'raw/some-invalid.json';
    const etag = await upload(stack.s3, key, rideFile(records, 'array'));
    // Act
    const [manifest] = await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    // Assess
    expect(manifest).toMatchObject({ total: 15, valid: 13, rejected: 2, droppedFields: 1, chunks: 1 });
    const lines = (await readText(stack.s3, `rejects/some-invalid-${etag8(etag)}.ndjson`)).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { index: 3, reasons: ['latitude: 123 is outside [-90, 90]'], record: records[3] },
      { index: 10, reasons: [expect.stringMatching(/^record: expected a JSON object/)], record: 'not a ride' },
    ]);
    const messages = await drainQueue(stack.sqs, stack.queueUrl);
    // The rejected rides do not close the message (v2): it records them as gaps.
    expect(messages.map((m) => [m.v, m.firstIndex, m.gaps, m.rides.length])).toEqual([[2, 0, [[3, 1], [9, 1]], 13]]);
    const byIndex = ridesByIndex(messages);
    expect([...byIndex.keys()].sort((x, y) => x - y)).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]);
    expect(byIndex.get(12)).toEqual(expectedRide(12));
    expect(emfLines()).toEqual([expect.objectContaining({ Function: 'ingest-fn', RidesIngested: 13, RidesRejected: 2, source: key })]);
  });

  it('writes every reject of a file with 30,000 invalid rides (about 10 MB of reject lines)', async () => {
    // Prepare: 30,000 invalid rides, about 7 MB of reject lines (parts are 5 MiB)
    const records = Array.from({ length: 30_000 }, (_, i) => ({ ...rawRide(i), Latitude: 100 + (i % 50), Note: 'x'.repeat(100) }));
    const key = 'raw/all-invalid.ndjson';
    const etag = await upload(stack.s3, key, rideFile(records, 'ndjson'));
    // Act
    const [manifest] = await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    // Assess
    expect(manifest).toMatchObject({ total: 30_000, valid: 0, rejected: 30_000, chunks: 0 });
    const text = await readText(stack.s3, `rejects/all-invalid-${etag8(etag)}.ndjson`);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(30_000);
    expect(JSON.parse(lines[29_999])).toEqual({ index: 29_999, reasons: [`latitude: ${100 + (29_999 % 50)} is outside [-90, 90]`], record: records[29_999] });
  }, 30_000);

  it('on a malformed file sends the chunks before the break, writes the manifest with the error, and throws', async () => {
    // Prepare: 250 good NDJSON lines, then a broken one
    const good = rideFile(Array.from({ length: 250 }, (_, i) => rawRide(i)), 'ndjson');
    const key = 'raw/broken.ndjson';
    const etag = await upload(stack.s3, key, good + '{"Name": "half a ride", "Latitude": \n');
    // Act
    const invocation = stack.loadHandler({ RIDES_PER_MESSAGE: '100' })(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    // Assess
    await expect(invocation).rejects.toThrow(/ingesting s3:\/\/rides-ingest-test\/raw\/broken\.ndjson failed: .*see s3:\/\/.*manifests\/broken-/);
    const manifest = await readManifest(stack.s3, `manifests/broken-${etag8(etag)}.json`);
    expect(manifest).toMatchObject({ total: 250, valid: 250, chunks: 3, error: { lastGoodIndex: 249 } });
    expect(manifest.error?.byteOffset).toBeGreaterThanOrEqual(Buffer.byteLength(good));
    const messages = await drainQueue(stack.sqs, stack.queueUrl);
    expect(messages.map((m) => [m.chunk, m.firstIndex, m.rides.length])).toEqual([[0, 0, 100], [1, 100, 100], [2, 200, 50]]);
  });

  it('still ingests the other files of an event when one is broken, then throws', async () => {
    const bad = await upload(stack.s3, 'raw/bad-one.json', '[{"Name": ');
    const ok = await upload(stack.s3, 'raw/good-one.json', rideFile([rawRide(1)], 'array'));
    const invocation = stack.loadHandler()(s3Event(BUCKET, [{ key: 'raw/bad-one.json', eTag: bad }, { key: 'raw/good-one.json', eTag: ok }]), lambdaContext());
    await expect(invocation).rejects.toThrow(/1 ride file\(s\) of the event failed/);
    expect((await readManifest(stack.s3, `manifests/good-one-${etag8(ok)}.json`)).valid).toBe(1);
    expect((await drainQueue(stack.sqs, stack.queueUrl)).map((m) => m.source.key)).toEqual(['raw/good-one.json']);
  });

  it('records a missing object in a "source deleted" manifest named by the event ETag, without throwing (no retry can help)', async () => {
    const etag = '"0123456789abcdef0123456789abcdef"';
    await expect(stack.loadHandler()(s3Event(BUCKET, [{ key: 'raw/vanished.json', eTag: etag }]), lambdaContext())).resolves.toHaveLength(1);
    const manifest = await readManifest(stack.s3, 'manifests/vanished-01234567.json');
    expect(manifest).toMatchObject({ total: 0, chunks: 0, error: { code: 'source-deleted', message: expect.stringMatching(/^source deleted before ingest read any ride/) } });
  });

  it('refuses a raw key holding a control character with a manifest error, sending nothing (the CSV source column must be one line)', async () => {
    const key = 'raw/two\nlines.json';
    const etag = await upload(stack.s3, key, rideFile([rawRide(1)], 'array'));
    const [manifest] = await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    expect(manifest).toMatchObject({ source: key, total: 0, error: { message: expect.stringMatching(/control character U\+000A at position 7/) } });
    expect(await drainQueue(stack.sqs, stack.queueUrl)).toEqual([]);
  });

  it('is deterministic: a retried invocation sends the same messages and rewrites the same objects', async () => {
    const key = 'raw/retried.json';
    const etag = await upload(stack.s3, key, rideFile(Array.from({ length: 120 }, (_, i) => (i === 5 ? {} : rawRide(i))), 'array'));
    const handler = stack.loadHandler();
    await handler(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext('first'));
    const first = await drainQueue(stack.sqs, stack.queueUrl);
    const rejects = await readText(stack.s3, `rejects/retried-${etag8(etag)}.ndjson`);
    await handler(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext('second'));
    expect(await drainQueue(stack.sqs, stack.queueUrl)).toEqual(first);
    expect(await readText(stack.s3, `rejects/retried-${etag8(etag)}.ndjson`)).toBe(rejects);
  });

  it('fails at load, naming the variable, when OUTPUT_QUEUE is unset', () => {
    expect(() => stack.loadHandler({ OUTPUT_QUEUE: undefined })).toThrow('OUTPUT_QUEUE is required');
    expect(() => stack.loadHandler({ RIDES_PER_MESSAGE: 'ten' })).toThrow('RIDES_PER_MESSAGE must be a positive integer, got "ten"');
  });
});
