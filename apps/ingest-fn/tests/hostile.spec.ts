import { gzipSync } from 'node:zlib';
import { findControlCharacter, type Manifest } from '@rydes/ride-model';
import { lambdaContext, s3Event } from './helpers/lambda';
import { drainThroughTransform, loadTransform, processedRows, type Drained } from './helpers/pipeline';
import { BUCKET, keysUnder, rawRide, readManifest, readText, startStack, upload, type Stack } from './helpers/stack';

/** What one hostile file did, end to end: ingest on its S3 event, then the queue through transform. */
interface Outcome {
  thrown?: Error;
  manifest: Manifest;
  drained: Drained;
  rows: Record<string, string>[];
  rejects: Array<{ index: number; reasons: string[]; record: unknown }>;
  rejectsBytes: number;
}

const json = (value: unknown) => JSON.stringify(value);
const etag8 = (etag: string) => etag.replace(/"/g, '').slice(0, 8);
const ride = (i: number, extra: Record<string, unknown> = {}) => ({ ...rawRide(i), ...extra });
const bytes = (...parts: Array<string | Buffer>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
/** Byte offset of the first occurrence of `needle` in `body`. */
const at = (body: Buffer, needle: string | Buffer) => body.indexOf(needle);

/** Names that break naive CSV writers, spreadsheets or terminals; each must round-trip exactly. */
const HOSTILE_NAMES = [
  'comma, inside',
  'quote " inside "" twice',
  'CR\rinside',
  'LF\ninside',
  'CRLF\r\ninside',
  'unicorn emoji 🦄 and 𝔘𝔫𝔦𝔠𝔬𝔯𝔫',
  '=HYPERLINK("http://example.com","x")',
  '+cmd|" /C calc"!A0',
  '@SUM(1+1)',
  'tab\tNUL\u0000 SOH\u0001 US\u001f DEL\u007f',
  '  leading and trailing blanks  ',
  'backslash \\ and slash /',
  'right-to-left \u202e mark, zero width \u200b',
  '"',
];

describe('hostile ride files through the real pipeline (s3rver, local-aws-sqs, ingest handler, transform bundle)', () => {
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

  /** Uploads `body` as raw/<name>, runs the ingest handler on the event, drains through transform. */
  async function run(name: string, body: string | Buffer): Promise<Outcome> {
    const key = `raw/${name}`;
    const stem = name.replace(/\.(json\.gz|ndjson|json)$/, '');
    const etag = await upload(stack.s3, key, body);
    let thrown: Error | undefined;
    await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext()).catch((err: Error) => (thrown = err));
    const drained = await drainThroughTransform(stack, loadTransform(stack));
    const manifest = await readManifest(stack.s3, `manifests/${stem}-${etag8(etag)}.json`);
    const rejectsKey = `rejects/${stem}-${etag8(etag)}.ndjson`;
    const hasRejects = (await keysUnder(stack.s3, rejectsKey)).length > 0;
    const rejectsText = hasRejects ? await readText(stack.s3, rejectsKey) : '';
    const rejects = rejectsText === '' ? [] : rejectsText.trimEnd().split('\n').map((l) => JSON.parse(l));
    return { thrown, manifest, drained, rows: await processedRows(stack, stem), rejects, rejectsBytes: Buffer.byteLength(rejectsText) };
  }

  /** A file that ingests cleanly: no error, nothing thrown, no DLQ candidates, one row per valid ride. */
  function expectClean(o: Outcome, counts: Partial<Manifest>) {
    expect(o.thrown).toBeUndefined();
    expect(o.manifest.error).toBeUndefined();
    expect(o.manifest).toMatchObject(counts);
    expect(o.drained.failed).toEqual([]);
    expect(o.rows).toHaveLength(o.manifest.valid);
  }

  /** A file that breaks at `byteOffset`: manifest error there, the invocation throws, rides before it still flow. */
  function expectBroken(o: Outcome, byteOffset: number, counts: Partial<Manifest>) {
    expect(o.thrown?.message).toMatch(/ingesting s3:\/\/rides-ingest-test\/raw\/.* failed: .*see s3:\/\/rides-ingest-test\/manifests\//);
    expect(o.manifest.error).toEqual({ message: expect.any(String), byteOffset, lastGoodIndex: (counts.total ?? 0) - 1 });
    expect(o.manifest).toMatchObject(counts);
    expect(o.drained.failed).toEqual([]);
    expect(o.rows).toHaveLength(o.manifest.valid);
  }

  describe.each([
    ['an empty file', 'empty.json', ''],
    ['whitespace only', 'whitespace.ndjson', ' \n\t\r\n  \n'],
    ['an empty array', 'empty-array.json', '[]'],
    ['travel_data null', 'travel-null.json', '{"travel_data": null}'],
  ])('%s', (_what, name, body) => {
    it('finishes with an empty manifest: no rides, no messages, no rejects object, no error', async () => {
      const o = await run(name, body);
      expectClean(o, { total: 0, valid: 0, rejected: 0, chunks: 0 });
      expect(o.drained.messages).toEqual([]);
      expect(await keysUnder(stack.s3, `rejects/${name.split('.')[0]}-`)).toEqual([]);
    });
  });

  it('rejects {} as one ride with every field missing', async () => {
    const o = await run('empty-object.json', '{}');
    expectClean(o, { total: 1, valid: 0, rejected: 1, chunks: 0 });
    expect(o.rejects).toEqual([
      {
        index: 0,
        reasons: ['distance: missing', 'healthpoints: missing', 'latitude: missing', 'longitude: missing', 'magicpoints: missing', 'name: missing', 'statustime: missing'],
        record: {},
      },
    ]);
  });

  it('keeps the rides before a truncation mid-record and records the error at the unterminated record', async () => {
    // Prepare
    const body = bytes('[', json(ride(0)), ',', json(ride(1)), ',', json(ride(2)), ', {"Name": "Trunc', 'ated, "Latitude": 40.');
    // Act
    const o = await run('truncated.json', body);
    // Assess
    expectBroken(o, at(body, '{"Name": "Trunc'), { total: 3, valid: 3, rejected: 0, chunks: 1 });
    expect(o.rows.map((r) => r.ride_index)).toEqual(['0', '1', '2']);
  });

  it('sends every ride of a complete array, then fails at trailing garbage after it', async () => {
    const body = bytes('[', json(ride(0)), ',', json(ride(1)), ']\n', 'garbage, not JSON\n');
    const o = await run('trailing-garbage.json', body);
    expectBroken(o, at(body, 'garbage'), { total: 2, valid: 2, chunks: 1 });
  });

  it('fails at the first invalid UTF-8 byte inside a name, keeping the rides before it', async () => {
    const body = bytes('[', json(ride(0)), ',{"Name": "bad ', Buffer.from([0xff, 0xfe]), ' name", "Latitude": 40.7}]');
    const o = await run('bad-utf8-name.json', body);
    expectBroken(o, at(body, Buffer.from([0xff])), { total: 1, valid: 1, chunks: 1 });
  });

  it('fails at an invalid UTF-8 byte between records (in the structure)', async () => {
    const body = bytes(json(ride(0)), '\n', Buffer.from([0xc3, 0x28]), '\n', json(ride(1)), '\n');
    const o = await run('bad-utf8-structure.ndjson', body);
    expectBroken(o, at(body, Buffer.from([0xc3, 0x28])), { total: 1, valid: 1, chunks: 1 });
  });

  it('skips a UTF-8 byte order mark and ingests the file', async () => {
    const o = await run('bom.json', bytes('\uFEFF', json([ride(0), ride(1)])));
    expectClean(o, { total: 2, valid: 2, chunks: 1 });
    expect(o.rows.map((r) => r.name)).toEqual(['Unicorn 0', 'Unicorn 1']);
  });

  it('rejects a ride with a 20 MB string field without buffering it: a small reject line, the neighbours flow', async () => {
    // Prepare
    const big = json(ride(1, { Name: 'x'.repeat(20 * 1024 * 1024) }));
    const body = bytes('[', json(ride(0)), ',', big, ',', json(ride(2)), ']');
    // Act
    const o = await run('big-string.json', body);
    // Assess
    expectClean(o, { total: 3, valid: 2, rejected: 1 });
    const size = Buffer.byteLength(big);
    expect(o.rejects).toEqual([{ index: 1, reasons: [`record: ${size} bytes exceeds the 65536-byte limit`], record: { skipped: `record: ${size} bytes exceeds the 65536-byte limit`, bytes: size } }]);
    expect(o.rejectsBytes).toBeLessThan(1024);
    expect(o.rows.map((r) => r.ride_index)).toEqual(['0', '2']);
  }, 20_000);

  it('rejects a record nested 10,000 levels deep, without a stack overflow', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const body = bytes('[', json(ride(0)), ',', deep, ',', json(ride(2, { Extra: JSON.parse('['.repeat(50) + ']'.repeat(50)) })), ']');
    const o = await run('deep.json', body);
    expectClean(o, { total: 3, valid: 2, rejected: 1, droppedFields: 1 });
    expect(o.rejects).toEqual([{ index: 1, reasons: ['record: nested deeper than 64 levels'], record: expect.objectContaining({ skipped: 'record: nested deeper than 64 levels' }) }]);
  });

  it('rejects 1e400 and "NaN", accepts -0 as 0', async () => {
    const body = bytes(json(ride(0, { Distance: -0 })).replace('"Distance":0', '"Distance":-0'), '\n', json(ride(1)).replace(/"Latitude":[^,]+/, '"Latitude":1e400'), '\n', json(ride(2, { Distance: 'NaN' })), '\n');
    expect(body.toString()).toContain('"Distance":-0');
    const o = await run('numbers.ndjson', body);
    expectClean(o, { total: 3, valid: 1, rejected: 2 });
    expect(o.rejects.map((r) => [r.index, r.reasons])).toEqual([
      [1, ['latitude: Infinity is not a finite number']],
      [2, [expect.stringMatching(/^distance: expected a number, got string "NaN"/)]],
    ]);
    expect(o.rows.map((r) => [r.ride_index, r.distance])).toEqual([['0', '0']]);
  });

  it('rejects latitude 91 and longitude 181 with both reasons', async () => {
    const o = await run('out-of-range.json', json([ride(0, { Latitude: 91, Longitude: 181 }), ride(1, { Latitude: -90, Longitude: 180 })]));
    expectClean(o, { total: 2, valid: 1, rejected: 1 });
    expect(o.rejects.map((r) => r.reasons)).toEqual([['latitude: 91 is outside [-90, 90]', 'longitude: 181 is outside [-180, 180]']]);
    expect(o.rows.map((r) => [r.latitude, r.longitude])).toEqual([['-90', '180']]);
  });

  it('rejects missing fields by name and drops extra ones, counting them', async () => {
    const { StatusTime: _s, MagicPoints: _m, ...missing } = ride(0);
    const o = await run('fields.json', json([missing, ride(1, { Colour: 'pink', Wings: 2 })]));
    expectClean(o, { total: 2, valid: 1, rejected: 1, droppedFields: 2 });
    expect(o.rejects.map((r) => r.reasons)).toEqual([['magicpoints: missing', 'statustime: missing']]);
    expect(Object.keys(o.rows[0])).not.toContain('colour');
  });

  it('treats __proto__ and constructor keys as unknown fields: no prototype reached, values never taken from them', async () => {
    const body = '[' + json(ride(0)).replace('{', '{"__proto__": {"Latitude": 0, "polluted": true}, "constructor": {"prototype": {"polluted": true}}, ') + ',{"__proto__": ' + json(ride(1)) + '}]';
    const o = await run('proto.json', body);
    expectClean(o, { total: 2, valid: 1, rejected: 1, droppedFields: 2 });
    expect(Number(o.rows[0].latitude)).toBe(rawRide(0).Latitude);
    expect(o.rejects[0].reasons).toHaveLength(7);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('takes the last of duplicate keys, also across letter case, as JSON.parse does', async () => {
    const body = '[' + json(ride(0)).replace('{', '{"Name": "First", "latitude": 1, ').replace('"Latitude"', '"LATITUDE"') + ']';
    expect(JSON.parse(body)[0].Name).toBe('Unicorn 0');
    const o = await run('duplicates.json', body);
    expectClean(o, { total: 1, valid: 1 });
    expect([o.rows[0].name, Number(o.rows[0].latitude)]).toEqual(['Unicorn 0', rawRide(0).Latitude]);
  });

  it('round-trips CSV-breaking and any printable characters in names exactly into processed/ CSV, each record one physical line', async () => {
    // Prepare
    const printable = HOSTILE_NAMES.filter((name) => !findControlCharacter(name));
    const rides = printable.map((name, i) => ride(i, { Name: name }));
    // Act
    const o = await run('hostile-names.ndjson', rides.map(json).join('\n') + '\n');
    // Assess: csv-parse reads every name back byte for byte, and no record spans two lines
    expectClean(o, { total: printable.length, valid: printable.length });
    expect(o.rows.map((r) => r.name)).toEqual(printable);
    expect(o.rows.map((r) => Number(r.ride_index))).toEqual(printable.map((_, i) => i));
    const csv = await readText(stack.s3, (await keysUnder(stack.s3, 'processed/hostile-names-'))[0]);
    expect(csv.trimEnd().split('\n')).toHaveLength(printable.length + 1);
  });

  it('rejects names with a control character (CR, LF, tab, NUL, DEL…) naming it, so Athena reads each CSV record as one row', async () => {
    const controlled = HOSTILE_NAMES.filter((name) => findControlCharacter(name));
    const o = await run('control-names.ndjson', [...controlled, 'plain'].map((name, i) => json(ride(i, { Name: name }))).join('\n') + '\n');
    expectClean(o, { total: controlled.length + 1, valid: 1, rejected: controlled.length });
    expect(o.rows.map((r) => r.name)).toEqual(['plain']);
    expect(o.rejects.map((r) => r.reasons)).toEqual(controlled.map((name) => [expect.stringMatching(new RegExp(`^name: contains the control character ${findControlCharacter(name)?.codePoint.replace('+', '\\+')} at position ${findControlCharacter(name)?.index}`))]));
  });

  it('ingests a .json.gz that is plain JSON by its content (the shape comes from the bytes, not the name)', async () => {
    const o = await run('not-gzip-plain.json.gz', json([ride(0), ride(1)]));
    expectClean(o, { total: 2, valid: 2, chunks: 1 });
  });

  it('fails at byte 0 on a .json.gz that is neither gzip nor JSON', async () => {
    const o = await run('not-gzip-binary.json.gz', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]));
    expectBroken(o, 0, { total: 0, valid: 0, chunks: 0 });
  });

  it('keeps the rides of a truncated gzip stream read before the break, and records the error', async () => {
    const whole = gzipSync(Buffer.from(Array.from({ length: 300 }, (_, i) => json(ride(i))).join('\n') + '\n'));
    const o = await run('truncated-gzip.json.gz', whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(o.thrown).toBeDefined();
    expect(o.manifest.error?.message).toMatch(/gzip|unexpected end|truncated/i);
    expect(o.manifest.total).toBeGreaterThan(0);
    expect(o.manifest.total).toBeLessThan(300);
    expect(o.rows.map((r) => Number(r.ride_index))).toEqual(Array.from({ length: o.manifest.valid }, (_, i) => i));
  });
});
