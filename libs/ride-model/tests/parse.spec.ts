import { gzipSync } from 'node:zlib';
import { generateRides, parseRides, RideParseError, SkippedRecord, validateRide, writeRides } from '../src';
import { aRide, collectRides, readAll, SHAPES_AND_GZIP } from '../src/testing';
import { Readable } from 'node:stream';

const rides = [...generateRides({ count: 25, seed: 11 })];

async function fileOf(shape: 'array' | 'travel_data' | 'concatenated' | 'ndjson', gzip = false, pretty?: boolean): Promise<Buffer> {
  return readAll(writeRides(rides, { shape, gzip, pretty }));
}

describe('parseRides: input shapes', () => {
  describe.each(SHAPES_AND_GZIP)('%s, gzip %s', (shape, gzip) => {
    it.each([1, 7, 64 * 1024])('yields every ride in order with its index, in chunks of %i bytes', async (chunkSize) => {
      // Prepare
      const file = await fileOf(shape, gzip);

      // Act
      const { records, error } = await collectRides(file, chunkSize);

      // Assess
      expect(error).toBeUndefined();
      expect(records.map((r) => r.record)).toEqual(rides);
      expect(records.map((r) => r.index)).toEqual(rides.map((_, i) => i));
    });
  });

  it('yields identical records from the array, travel_data, concatenated and NDJSON forms of the same rides', async () => {
    // Prepare
    const shapes = ['array', 'travel_data', 'concatenated', 'ndjson'] as const;

    // Act
    const results = await Promise.all(shapes.map(async (shape) => (await collectRides(await fileOf(shape))).records.map((r) => r.record)));

    // Assess
    for (const result of results) expect(result).toEqual(results[0]);
    expect(results[0]).toHaveLength(rides.length);
  });

  it('accepts compact (not pretty) array, travel_data and concatenated files', async () => {
    for (const shape of ['array', 'travel_data', 'concatenated'] as const) {
      const { records, error } = await collectRides(await fileOf(shape, false, false), 5);
      expect(error).toBeUndefined();
      expect(records.map((r) => r.record)).toEqual(rides);
    }
  });

  it('gives each record the byte offset of its first byte in the decompressed stream', async () => {
    // Prepare
    const file = await fileOf('array');

    // Act
    const { records } = await collectRides(gzipSync(file), 3);

    // Assess
    for (const r of records) {
      const at = r.byteOffset as number;
      const text = file.subarray(at, at + 200).toString();
      expect(text.startsWith('{')).toBe(true);
      expect(JSON.parse(file.subarray(at, file.indexOf('}', at) + 1).toString())).toEqual(r.record);
    }
  });

  it('reads the workshop wrapper with the key in any case and other members after the array', async () => {
    const text = `{ "Travel_Data" : [${JSON.stringify(aRide())}], "exported": {"by": ["x", {"y": "]}"}]}, "n": null }`;
    const { records, error } = await collectRides(text, 2);
    expect(error).toBeUndefined();
    expect(records.map((r) => r.record)).toEqual([aRide()]);
  });

  it('treats a first object whose first key is not travel_data as the first record of a stream', async () => {
    const text = `{"name": "a", "travel_data": [1]}{"name": "b"}`;
    const { records } = await collectRides(text, 4);
    expect(records.map((r) => r.record)).toEqual([{ name: 'a', travel_data: [1] }, { name: 'b' }]);
  });

  it('detects gzip from the content, whatever the name would say', async () => {
    const plain = await fileOf('ndjson');
    expect((await collectRides(gzipSync(plain))).records).toHaveLength(rides.length);
    expect((await collectRides(plain)).records).toHaveLength(rides.length);
  });
});

describe('parseRides: hostile inputs and their defined outcomes', () => {
  it.each([
    ['an empty file', ''],
    ['whitespace only', ' \n\t\r\n '],
    ['an empty array', '[]'],
    ['an empty array with blanks', ' [ \n ] \n'],
    ['a null travel_data', '{"travel_data": null}'],
    ['an empty travel_data', '{"travel_data": []}'],
    ['a BOM alone', '\uFEFF'],
    ['a BOM and an empty array', '\uFEFF[]'],
  ])('yields no records for %s', async (_label, text) => {
    for (const chunkSize of [1, 2, 1024]) {
      const { records, error } = await collectRides(text, chunkSize);
      expect(error).toBeUndefined();
      expect(records).toEqual([]);
    }
  });

  it('yields {} as one record, which validation rejects with every field missing', async () => {
    const { records, error } = await collectRides('{}');
    expect(error).toBeUndefined();
    expect(records.map((r) => r.record)).toEqual([{}]);
    const result = validateRide(records[0].record);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reasons).toHaveLength(7);
  });

  it('skips a UTF-8 BOM and counts it in byte offsets', async () => {
    const { records } = await collectRides(`\uFEFF[${JSON.stringify(aRide())}]`, 1);
    expect(records).toEqual([{ index: 0, byteOffset: 4, endOffset: 4 + JSON.stringify(aRide()).length, record: aRide(), checked: false }]);
  });

  const ride = JSON.stringify(aRide());
  it.each([
    ['trailing garbage after the array', `[${ride}] trailing`, 1, (t: string) => t.indexOf('trailing')],
    ['a second array after the first', '[{"a":1}][{"a":2}]', 1, () => 9],
    ['a record truncated mid-way', `[${ride}, {"name": "Sha`, 1, (t: string) => t.indexOf('{"name": "Sha')],
    ['an array missing its closing bracket', `[${ride}`, 1, (t: string) => t.length],
    ['a trailing comma', '[{"a":1},]', 1, () => 9],
    ['a missing comma between records', '[{"a":1} {"a":2}]', 1, () => 9],
    ['commas between concatenated objects', '{"a":1},{"a":2}', 1, () => 7],
    ['a travel_data that is not an array', '{"travel_data": 5}', 0, () => 16],
    ['a truncated travel_data wrapper', '{"travel_data": [{"a":1}]', 1, (t: string) => t.length],
    ['a truncated string at the end of an NDJSON file', '{"a":1}\n{"a":"x', 1, () => 8],
    ['a stray closing brace', '}', 0, () => 0],
    ['a bare word', 'hello', 0, () => 0],
  ])('throws RideParseError for %s, after the records before it', async (_label, text, before, offsetOf) => {
    for (const chunkSize of [1, 3, 1024]) {
      // Act
      const { records, error } = await collectRides(text, chunkSize);

      // Assess
      expect(error).toBeInstanceOf(RideParseError);
      expect(records).toHaveLength(before);
      expect(error?.byteOffset).toBe(offsetOf(text));
      expect(error?.lastGoodIndex).toBe(before - 1);
      expect(error?.message).toContain(`byte ${offsetOf(text)}`);
    }
  });

  it('yields every record before a missing quote in a large file and names the record where it breaks', async () => {
    // Prepare
    const k = 17;
    const parts = rides.map((r) => JSON.stringify(r));
    parts[k] = parts[k].replace('"name":"', '"name":');
    const text = `[${parts.join(',')}]`;
    const recordStart = text.indexOf(parts[k]);

    // Act
    const { records, error } = await collectRides(text, 100);

    // Assess
    expect(records.map((r) => r.record)).toEqual(rides.slice(0, k));
    expect(error).toBeInstanceOf(RideParseError);
    expect(error?.lastGoodIndex).toBe(k - 1);
    expect(error?.byteOffset).toBe(recordStart);
    expect(error?.message).toContain(`record ${k}, which starts at byte ${recordStart}`);
  });

  it('names the record and a byte inside it when a record is malformed but balanced', async () => {
    // Prepare
    const k = 9;
    const parts = rides.map((r) => JSON.stringify(r));
    parts[k] = parts[k].replace('"name":"', '"name":"x" "');
    const text = `[${parts.join(',')}]`;
    const recordStart = text.indexOf(parts[k]);

    // Act
    const { records, error } = await collectRides(text, 64);

    // Assess
    expect(records.map((r) => r.record)).toEqual(rides.slice(0, k));
    expect(error).toBeInstanceOf(RideParseError);
    expect(error?.lastGoodIndex).toBe(k - 1);
    expect(error?.byteOffset).toBeGreaterThanOrEqual(recordStart);
    expect(error?.byteOffset).toBeLessThan(recordStart + parts[k].length);
    expect(error?.message).toContain(`malformed JSON in record ${k} (starts at byte ${recordStart}`);
  });

  it('throws RideParseError naming the exact byte of invalid UTF-8, after the records before it', async () => {
    // Prepare
    const head = Buffer.from(`[${JSON.stringify(aRide())},{"name":"Sha`);
    const file = Buffer.concat([head, Buffer.from([0xc3, 0x28]), Buffer.from('dowfax"}]')]);

    // Act
    const { records, error } = await collectRides(file, 5);

    // Assess
    expect(records).toHaveLength(1);
    expect(error).toBeInstanceOf(RideParseError);
    expect(error?.byteOffset).toBe(head.length);
    expect(error?.message).toMatch(/not valid UTF-8/);
  });

  it.each([
    ['a lone continuation byte', [0x80]],
    ['a truncated 3-byte sequence', [0xe2, 0x82]],
    ['an overlong encoding of /', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('points at %s after valid multi-byte characters', async (_label, bad) => {
    // Prepare
    const head = Buffer.from('{"name":"é🦄€');
    const file = Buffer.concat([head, Buffer.from(bad), Buffer.from('"}')]);

    // Act
    const { error } = await collectRides(file, 3);

    // Assess
    expect(error).toBeInstanceOf(RideParseError);
    expect(error?.byteOffset).toBe(head.length);
  });

  it('accepts a genuine U+FFFD in a name', async () => {
    const { records, error } = await collectRides(JSON.stringify([aRide({ name: 'repl\uFFFDacement' })]), 4);
    expect(error).toBeUndefined();
    expect(records[0].record).toEqual(aRide({ name: 'repl\uFFFDacement' }));
  });

  it('accepts multi-byte UTF-8 split across chunk boundaries', async () => {
    const text = JSON.stringify([aRide({ name: '🦄 Ünïcödé' })]);
    const { records, error } = await collectRides(text, 1);
    expect(error).toBeUndefined();
    expect(records[0].record).toEqual(aRide({ name: '🦄 Ünïcödé' }));
  });

  it('throws RideParseError for content that starts like gzip but is not', async () => {
    const { records, error } = await collectRides(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]));
    expect(records).toEqual([]);
    expect(error).toBeInstanceOf(RideParseError);
    expect(error?.message).toMatch(/gzip stream is corrupt/);
  });

  it('throws RideParseError for a truncated gzip stream after yielding the records it held', async () => {
    // Prepare
    const gz = gzipSync(await fileOf('ndjson'));

    // Act
    const { records, error } = await collectRides(gz.subarray(0, gz.length - 12), 256);

    // Assess
    expect(error).toBeInstanceOf(RideParseError);
    expect(records.map((r) => r.record)).toEqual(rides.slice(0, records.length));
    expect(error?.lastGoodIndex).toBe(records.length - 1);
  });

  it('parses a .gz-named file that is plain JSON: the content decides', async () => {
    const { records, error } = await collectRides(JSON.stringify([aRide()]));
    expect(error).toBeUndefined();
    expect(records).toHaveLength(1);
  });

  it('skips a record with a 5 MB string field without parsing it and yields it as oversize', async () => {
    // Prepare
    const big = JSON.stringify(aRide({ name: 'x'.repeat(5 * 1024 * 1024) }));
    const text = `[${JSON.stringify(aRide())},${big},${JSON.stringify(aRide({ name: 'after' }))}]`;

    // Act
    const { records, error } = await collectRides(text, 64 * 1024);

    // Assess
    expect(error).toBeUndefined();
    expect(records).toHaveLength(3);
    expect(records[1].oversize).toBe(Buffer.byteLength(big));
    expect(records[1].record).toBeInstanceOf(SkippedRecord);
    expect(validateRide(records[1].record)).toEqual({ ok: false, reasons: [`record: ${Buffer.byteLength(big)} bytes exceeds the 65536-byte limit`] });
    expect(records[2].record).toEqual(aRide({ name: 'after' }));
  });

  it('streams past a 100 MB string field (never held whole, here or in the parser) and keeps its neighbours', async () => {
    // Prepare: the file is produced 64 KiB at a time, so neither the test nor the parser can
    // rely on having the 100 MB field in memory.
    const fieldBytes = 100 * 1024 * 1024;
    const piece = 'x'.repeat(64 * 1024);
    const open = '{"name":"';
    const close = '","latitude":40.7,"longitude":-73.9}';
    const head = `[${JSON.stringify(aRide())},${open}`;
    const tail = `${close},${JSON.stringify(aRide({ name: 'after' }))}]`;
    function* file(): Generator<Buffer> {
      yield Buffer.from(head);
      for (let sent = 0; sent < fieldBytes; sent += piece.length) yield Buffer.from(piece);
      yield Buffer.from(tail);
    }
    const bigRecordBytes = open.length + fieldBytes + close.length;

    // Act
    const records = [];
    for await (const raw of parseRides(Readable.from(file(), { objectMode: false }))) records.push(raw);

    // Assess
    expect(records.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(records[1].oversize).toBe(bigRecordBytes);
    expect(validateRide(records[1].record)).toEqual({ ok: false, reasons: [`record: ${bigRecordBytes} bytes exceeds the 65536-byte limit`] });
    expect(records[2].record).toEqual(aRide({ name: 'after' }));
  });

  it('honours maxRecordBytes: a record one byte over is skipped, one at the limit is parsed', async () => {
    const ride = JSON.stringify(aRide());
    const size = Buffer.byteLength(ride);
    const atLimit = await collectRides(`[${ride}]`, 7, { maxRecordBytes: size });
    const over = await collectRides(`[${ride}]`, 7, { maxRecordBytes: size - 1 });
    expect(atLimit.records[0].record).toEqual(aRide());
    expect(over.records[0].oversize).toBe(size);
  });

  it('survives 10,000 levels of nesting: the record is skipped and rejected, the next one parsed', async () => {
    // Prepare
    const deep = '['.repeat(10000) + ']'.repeat(10000);
    const deepObject = '{"a":'.repeat(10000) + '1' + '}'.repeat(10000);
    const text = `[${deep},${JSON.stringify(aRide())},${deepObject}]`;

    // Act
    const { records, error } = await collectRides(text, 1000);

    // Assess
    expect(error).toBeUndefined();
    expect(records.map((r) => validateRide(r.record))).toEqual([
      { ok: false, reasons: ['record: nested deeper than 64 levels'] },
      { ok: true, ride: aRide(), dropped: [] },
      { ok: false, reasons: ['record: nested deeper than 64 levels'] },
    ]);
  });

  it('yields non-object values as records for validation to reject', async () => {
    const { records } = await collectRides('[1, "two", null, true, [3], -0.5e3]', 2);
    expect(records.map((r) => r.record)).toEqual([1, 'two', null, true, [3], -500]);
    expect(validateRide(records[1].record)).toEqual({ ok: false, reasons: ['record: expected a JSON object, got string "two"'] });
  });

  it('keeps the last of duplicate keys, as JSON.parse does', async () => {
    const { records } = await collectRides('{"name": "first", "name": "last"}');
    expect(records[0].record).toEqual({ name: 'last' });
  });

  it('reads 1e400 as Infinity and -0 as -0, for validation to decide', async () => {
    const { records } = await collectRides('[{"distance": 1e400, "latitude": -0}]');
    const record = records[0].record as { distance: number; latitude: number };
    expect(record.distance).toBe(Infinity);
    expect(Object.is(record.latitude, -0)).toBe(true);
  });

  it('handles escapes, quotes and brackets inside strings across every chunk boundary', async () => {
    const nasty = ['\\', '\\"', '"}]', '{[', 'a\\\\"b', '\\\\\\', '\u0000', '"', '\\u0022'];
    const values = nasty.map((s, i) => ({ [`k${s}`]: s, i }));
    const text = values.map((v) => JSON.stringify(v)).join('');
    for (const chunkSize of [1, 2, 3, 5]) {
      const { records, error } = await collectRides(text, chunkSize);
      expect(error).toBeUndefined();
      expect(records.map((r) => r.record)).toEqual(values);
    }
  });

  it('stops reading and releases the input when the consumer stops early', async () => {
    // Prepare
    const input = writeRides(generateRides({ count: 10_000, seed: 1 }), { shape: 'ndjson' });
    let n = 0;

    // Act
    for await (const raw of parseRides(input)) {
      if (raw.index === 2) break;
      n++;
    }

    // Assess
    expect(n).toBe(2);
    expect(input.destroyed).toBe(true);
  });

  it('accepts string chunks as well as Buffers', async () => {
    const input = Readable.from(['[{"a"', ':1}]'], { objectMode: true });
    const out = [];
    for await (const raw of parseRides(input)) out.push(raw.record);
    expect(out).toEqual([{ a: 1 }]);
  });
});
