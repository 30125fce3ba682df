import { Readable } from 'node:stream';
import { generateRides, parseRides, seededRandom, validateRecord, validateRide, writeRides, type RawRecord } from '../src';
import { newChunk, rideChecked, rideFromBytes } from '../src/ride-bytes';
import { collectRides, readAll } from '../src/testing';

// The parser checks the rides it reads straight from bytes against validateRide's rules
// (RawRecord.checked), so that validateRecord need not check them again. The oracle is
// validateRide's full checks on a copy: a record may be marked checked only when validateRide
// gives back exactly its values in its key order, and every such record the fast reader reads
// must be marked, or the work is done twice.

const FIELDS = ['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints', 'name', 'statustime', 'fieldservice'] as const;
const GOOD: Record<(typeof FIELDS)[number], string> = {
  distance: '29.212845',
  healthpoints: '217',
  latitude: '40.749444',
  longitude: '-73.985228',
  magicpoints: '4037',
  name: '"Blossom"',
  statustime: '"2018-06-16 04:10:30.488"',
  fieldservice: '1',
};
const EDGES: Record<(typeof FIELDS)[number], string[]> = {
  distance: ['0', '-0', '0.0', '-0.0', '-1', '0.0000001', '1.5', '1e5', '123456789012345', '1234567890123456', '"3"'],
  healthpoints: ['0', '-0', '1', '1.0', '1.5', '-1', '999999999999999', '9007199254740993', 'null'],
  latitude: ['0', '-0', '90', '-90', '90.0000001', '-90.000000000001', '45.5', '"45.5"'],
  longitude: ['0', '-0', '180', '-180', '-180.5', '180.00000000001', '12.25'],
  magicpoints: ['0', '-0', '7', '7.5', '-7', '1e3', 'true'],
  name: ['', ' ', '   ', '  x ', 'Shadowfax', '\t', 'a\u007f', 'Zoë', '🦄', 'x'.repeat(256), 'x'.repeat(257), ' '.repeat(256) + 'x', 'a"b', 'back\\slash'].map((s) => JSON.stringify(s)).concat(['5', 'null']),
  statustime: [
    '2018-05-07 20:11:04', '2018-05-07 20:11:04.247', '2018-02-29 00:00:00', '2020-02-29 23:59:59.123456789', '2000-02-29 12:00:00', '1900-02-29 12:00:00',
    '0000-02-29 00:00:00', '2018-04-31 10:00:00', '2018-04-30 10:00:00', '2018-05-07 24:00:00', '2018-05-07 23:60:00', '2018-05-07 23:59:60', '2018-13-07 20:11:04',
    '2018-00-07 20:11:04', '2018-05-00 20:11:04', '2018-05-07T20:11:04', '2018-05-07 20:11:04.', '2018-05-07 20:11:04.1234567890', '2018-05-07 20:11:04,5',
    '2018-5-07 20:11:04', '2018-05-07 20:11:04.12a', '2018-05-07 20:11:0', 'x', '',
  ].map((s) => JSON.stringify(s)).concat(['20180507']),
  fieldservice: ['', '0', '1', '-0', '0.0', '1.0', '2', '-1', 'null', 'true'],
};

/** A ride's JSON text with some fields at a rule's edge, compact or pretty-printed like a ride file. */
function recordText(r: () => number): string {
  const values = FIELDS.map((f) => (r() < 0.25 ? EDGES[f][Math.floor(r() * EDGES[f].length)] : GOOD[f]));
  const pretty = r() < 0.5;
  const members = FIELDS.map((f, i) => [f, values[i]] as const)
    .filter(([, v]) => v !== '')
    .map(([f, v]) => (pretty ? `\n    "${f}": ${v}` : `"${f}":${v}`));
  return pretty ? `{${members.join(',')}\n  }` : `{${members.join(',')}}`;
}

/** validateRide gives back exactly these values (Object.is: -0 too) in this key order. */
function passesUnchanged(text: string): boolean {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  // A null-prototype copy never takes acceptRide's path: the full checks decide.
  const result = validateRide(Object.assign(Object.create(null) as object, parsed));
  if (!result.ok || result.dropped.length > 0) return false;
  const ride = result.ride as unknown as Record<string, unknown>;
  return JSON.stringify(Object.keys(ride)) === JSON.stringify(Object.keys(parsed)) && Object.keys(parsed).every((k) => Object.is(ride[k], parsed[k]));
}

describe('rides checked while they are read (RawRecord.checked, validateRecord)', () => {
  it('marks a record read from bytes exactly when validateRide gives it back unchanged, on random rides near every rule\'s edge', () => {
    const r = seededRandom(11);
    let marked = 0;
    let read = 0;
    for (let i = 0; i < 4000; i++) {
      // Prepare
      const text = recordText(r);
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }

      // Act
      newChunk();
      const record = rideFromBytes(Buffer.from(text), 0, Buffer.byteLength(text));
      if (record === undefined) continue;

      // Assess
      read++;
      expect(parses).toBe(true);
      const expected = passesUnchanged(text);
      expect({ text, checked: rideChecked() }).toEqual({ text, checked: expected });
      if (expected) marked++;
    }
    // Both outcomes were exercised many times.
    expect(read).toBeGreaterThan(2000);
    expect(marked).toBeGreaterThan(300);
    expect(read - marked).toBeGreaterThan(300);
  });

  it('gives what validateRide gives for every record of a file, whichever path read it', async () => {
    // Prepare: the same random records in one chunk (fast path) and in 7-byte chunks (generic path).
    const r = seededRandom(12);
    const texts = Array.from({ length: 600 }, () => recordText(r)).filter((t) => {
      try {
        JSON.parse(t);
        return true;
      } catch {
        return false;
      }
    });
    const file = `[\n  ${texts.join(',\n  ')}\n]\n`;

    for (const chunkSize of [1 << 20, 7]) {
      // Act
      const { records, error } = await collectRides(file, chunkSize);

      // Assess
      expect(error).toBeUndefined();
      expect(records).toHaveLength(texts.length);
      for (const [i, raw] of records.entries()) {
        const got = validateRecord(raw);
        expect({ i, got }).toEqual({ i, got: validateRide(JSON.parse(texts[i])) });
        if (raw.checked) expect(got.ok && got.ride).toBe(raw.record);
      }
      const checked = records.filter((x) => x.checked).length;
      if (chunkSize === 7) expect(checked).toBe(0);
      else expect(checked).toBeGreaterThan(50);
    }
  });

  it('answers a checked record with no dropped fields as one shared, frozen empty array (no array per ride)', async () => {
    // Prepare
    const file = await readAll(writeRides(generateRides({ count: 3, seed: 1 }), { shape: 'array', gzip: false }));
    const { records } = await collectRides(file);

    // Act
    const results = records.map((raw) => validateRecord(raw));

    // Assess
    expect(records.every((raw) => raw.checked)).toBe(true);
    const dropped = results.map((r) => (r.ok ? r.dropped : undefined));
    expect(dropped[0]).toEqual([]);
    expect(Object.isFrozen(dropped[0])).toBe(true);
    expect(dropped[1]).toBe(dropped[0]);
    expect(dropped[2]).toBe(dropped[0]);
  });

  it('marks every ride of a generated file (the sample `rydes run` reads) but those cut by a chunk boundary', async () => {
    const chunk = 64 * 1024;
    const file = await readAll(writeRides(generateRides({ count: 2000, seed: 1 }), { shape: 'array', gzip: false }));
    const { records } = await collectRides(file, chunk);
    const cut = records.filter((x) => Math.floor((x.byteOffset ?? 0) / chunk) !== Math.floor(((x.endOffset ?? 0) - 1) / chunk));
    expect(records).toHaveLength(2000);
    expect(cut.length).toBeLessThan(10);
    expect(records.filter((x) => !x.checked).map((x) => x.index)).toEqual(cut.map((x) => x.index));
  });
});

describe('RideRecords.nextBatch', () => {
  async function viaNext(file: Buffer, chunkSize: number): Promise<{ records: RawRecord[]; error?: Error }> {
    const { records, error } = await collectRides(file, chunkSize);
    return error ? { records, error } : { records };
  }

  /** Reads with nextBatch, taking one record with next() now and then (the two may be mixed). */
  async function viaBatches(file: Buffer, chunkSize: number, r: () => number): Promise<{ records: RawRecord[]; error?: Error; batches: number }> {
    const chunks: Buffer[] = [];
    for (let i = 0; i < file.length; i += chunkSize) chunks.push(file.subarray(i, i + chunkSize));
    const it = parseRides(Readable.from(chunks));
    const records: RawRecord[] = [];
    let batches = 0;
    try {
      for (;;) {
        if (r() < 0.3) {
          const one = await it.next();
          if (one.done) break;
          records.push(one.value);
          continue;
        }
        const batch = await it.nextBatch();
        if (batch === undefined) break;
        expect(batch.length).toBeGreaterThan(0);
        batches++;
        records.push(...batch);
      }
      return { records, batches };
    } catch (e) {
      return { records, error: e as Error, batches };
    }
  }

  it.each([
    ['whole', 64 * 1024],
    ['in 97-byte chunks', 97],
    ['in 5-byte chunks', 5],
  ])('yields the same records as next(), mixed with next() or not (%s)', async (_label, chunkSize) => {
    // Prepare
    const file = await readAll(writeRides(generateRides({ count: 300, seed: 4 }), { shape: 'array', gzip: false }));

    // Act
    const one = await viaNext(file, chunkSize);
    const mixed = await viaBatches(file, chunkSize, seededRandom(chunkSize));
    const batched = await viaBatches(file, chunkSize, () => 1);

    // Assess
    expect(one.records).toHaveLength(300);
    expect(mixed.records).toEqual(one.records);
    expect(batched.records).toEqual(one.records);
    expect(batched.batches).toBeLessThanOrEqual(Math.ceil(file.length / chunkSize));
  });

  it('throws the parse error at the same point, after the same records', async () => {
    // Prepare: a file cut inside its 41st record.
    const whole = await readAll(writeRides(generateRides({ count: 60, seed: 4 }), { shape: 'array', gzip: false }));
    const cut = whole.subarray(0, whole.indexOf('{', whole.indexOf('{') + 1 + 40 * 150) + 30);

    // Act
    const one = await viaNext(cut, 64);
    const batched = await viaBatches(cut, 64, () => 1);

    // Assess
    expect(one.error).toBeDefined();
    expect(batched.error?.message).toBe(one.error?.message);
    expect(batched.records).toEqual(one.records);
  });
});
