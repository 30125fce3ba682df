import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { generateRecords, generateRideFile, generateRides, GeneratorOptionsError, seededRandom, START, statusTimeOf, UNICORNS, validateRide, writeRides } from '../src';
import { collectRides, HOSTILE_NAMES, readAll } from '../src/testing';

/** Haversine distance in metres (R = 6371 km): an independent check of the walk. */
function metres(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(h));
}

/** Initial bearing in degrees from a to b. */
function bearing(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const y = Math.sin((b.longitude - a.longitude) * rad) * Math.cos(b.latitude * rad);
  const x = Math.cos(a.latitude * rad) * Math.sin(b.latitude * rad) - Math.sin(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.cos((b.longitude - a.longitude) * rad);
  return (Math.atan2(y, x) / rad + 360) % 360;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('generateRides', () => {
  const rides = [...generateRides({ count: 3000, seed: 2018 })];

  it('produces only valid rides, unchanged by validation', () => {
    for (const ride of rides) expect(validateRide(ride)).toEqual({ ok: true, ride, dropped: [] });
  });

  it('is deterministic: the same seed gives the same bytes, another seed other bytes', async () => {
    // Act
    const a = await readAll(generateRideFile({ count: 2000, seed: 7, shape: 'array', gzip: true }));
    const b = await readAll(generateRideFile({ count: 2000, seed: 7, shape: 'array', gzip: true }));
    const c = await readAll(generateRideFile({ count: 2000, seed: 8, shape: 'array', gzip: true }));

    // Assess
    expect(sha(a)).toBe(sha(b));
    expect(sha(a)).not.toBe(sha(c));
  });

  it('walks each unicorn from the workshop start on its own fixed bearing, 29–31 m per step', () => {
    for (const name of UNICORNS) {
      // Prepare
      const walk: Array<{ latitude: number; longitude: number; distance?: number }> = [START, ...rides.filter((r) => r.name === name)];
      expect(walk.length).toBeGreaterThan(100);
      const heading = bearing(walk[0], walk[1]);

      // Assess: each step's length is its distance; the heading stays put (rounding to 6 decimals
      // moves a point by < 0.1 m, so a 30 m step may turn by up to ~0.4°).
      for (let i = 1; i < walk.length; i++) {
        const step = metres(walk[i - 1], walk[i]);
        expect(step).toBeGreaterThan(28.8);
        expect(step).toBeLessThan(31.2);
        expect(Math.abs(step - (walk[i].distance ?? NaN))).toBeLessThan(0.2);
      }
      expect(Math.abs(bearing(walk[0], walk[walk.length - 1]) - heading)).toBeLessThan(1);
    }
  });

  it('uses every unicorn name, with different bearings', () => {
    const headings = new Set(UNICORNS.map((name) => Math.round(bearing(START, rides.find((r) => r.name === name) ?? START))));
    expect(new Set(rides.map((r) => r.name))).toEqual(new Set(UNICORNS));
    expect(headings.size).toBe(UNICORNS.length);
  });

  it('stamps a random millisecond of 2018 and draws points in 0–10,000', () => {
    for (const ride of rides) {
      expect(ride.statustime).toMatch(/^2018-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
      expect(Number.isInteger(ride.healthpoints) && ride.healthpoints >= 0 && ride.healthpoints <= 10000).toBe(true);
      expect(Number.isInteger(ride.magicpoints) && ride.magicpoints >= 0 && ride.magicpoints <= 10000).toBe(true);
    }
    const months = new Set(rides.map((r) => r.statustime.slice(5, 7)));
    expect(months.size).toBe(12);
  });

  it('sends low-health unicorns to field service more often', () => {
    const share = (list: typeof rides) => list.filter((r) => r.fieldservice === 1).length / list.length;
    const low = share(rides.filter((r) => r.healthpoints < 2000));
    const high = share(rides.filter((r) => r.healthpoints > 8000));
    expect(low).toBeGreaterThan(0.7);
    expect(high).toBeLessThan(0.3);
  });

  it('throws GeneratorOptionsError for a negative count, a fractional seed or a rate outside [0, 1]', () => {
    expect(() => [...generateRides({ count: -1, seed: 1 })]).toThrow(GeneratorOptionsError);
    expect(() => [...generateRides({ count: 1, seed: 1.5 })]).toThrow(GeneratorOptionsError);
    expect(() => [...generateRecords({ count: 1, seed: 1, invalidRate: 2 })]).toThrow(/invalidRate is 2/);
  });
});

describe('generateRecords with invalidRate', () => {
  it('breaks about that share of records, each with the reason validateRide gives, and leaves the rest as generateRides made them', () => {
    // Prepare
    const plain = [...generateRides({ count: 10_000, seed: 5 })];

    // Act
    const records = [...generateRecords({ count: 10_000, seed: 5, invalidRate: 0.05 })];

    // Assess
    const broken = records.filter((r) => r.reason !== undefined);
    expect(broken.length / records.length).toBeGreaterThan(0.04);
    expect(broken.length / records.length).toBeLessThan(0.06);
    expect(new Set(broken.map((r) => r.reason)).size).toBe(8);
    for (const r of records) {
      const result = validateRide(r.record);
      if (r.reason) expect(result).toEqual({ ok: false, reasons: [r.reason] });
      else expect(r.record).toEqual(plain[r.index]);
    }
  });

  it('gives generateRides the same records when it is asked for an invalidRate', () => {
    const viaRides = [...generateRides({ count: 2000, seed: 5, invalidRate: 0.1 })];
    const viaRecords = [...generateRecords({ count: 2000, seed: 5, invalidRate: 0.1 })].map((r) => r.record);
    expect(viaRides).toEqual(viaRecords);
    expect(viaRides.filter((r) => !validateRide(r).ok).length).toBeGreaterThan(150);
  });
});

describe('writeRides', () => {
  const rides = [...generateRides({ count: 300, seed: 9 })];

  it.each(['array', 'travel_data', 'concatenated', 'ndjson'] as const)('writes a %s file that parseRides reads back to the same rides', async (shape) => {
    for (const pretty of shape === 'ndjson' ? [false] : [true, false]) {
      const file = await readAll(writeRides(rides, { shape, pretty }));
      const { records, error } = await collectRides(file, 777);
      expect(error).toBeUndefined();
      expect(records.map((r) => r.record)).toEqual(rides);
    }
  });

  it('writes pretty arrays in the workshop layout and ndjson one record per line', async () => {
    const array = (await readAll(writeRides(rides.slice(0, 1), { shape: 'array' }))).toString();
    const ndjson = (await readAll(writeRides(rides.slice(0, 3), { shape: 'ndjson' }))).toString();
    expect(array).toBe(`[\n  ${JSON.stringify(rides[0], null, 2).replace(/\n/g, '\n  ')}\n]\n`);
    expect(ndjson).toBe(rides.slice(0, 3).map((r) => `${JSON.stringify(r)}\n`).join(''));
  });

  it('gzips when asked, to the same bytes as the plain file', async () => {
    const plain = await readAll(writeRides(rides, { shape: 'travel_data' }));
    const gz = await readAll(writeRides(rides, { shape: 'travel_data', gzip: true }));
    expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(gz)).toEqual(plain);
  });

  it('streams in batches instead of building one string', async () => {
    const chunks: number[] = [];
    for await (const chunk of writeRides(generateRides({ count: 5000, seed: 1 }), { shape: 'array' })) chunks.push(chunk.length);
    expect(chunks.length).toBeGreaterThan(10);
    expect(Math.max(...chunks)).toBeLessThan(80 * 1024);
  });

  it('writes valid empty files for zero rides', async () => {
    for (const shape of ['array', 'travel_data', 'concatenated', 'ndjson'] as const) {
      const { records, error } = await collectRides(await readAll(writeRides([], { shape })));
      expect(error).toBeUndefined();
      expect(records).toEqual([]);
    }
  });

  it('refuses pretty NDJSON and unknown shapes with GeneratorOptionsError', () => {
    expect(() => writeRides([], { shape: 'ndjson', pretty: true })).toThrow(GeneratorOptionsError);
    expect(() => writeRides([], { shape: 'csv' as 'array' })).toThrow(/shape is "csv"/);
  });

  /** What writeRides wrote before rides had a writer of their own: JSON.stringify, re-indented. */
  function stringified(records: object[], shape: 'array' | 'travel_data' | 'concatenated' | 'ndjson', pretty: boolean): string {
    const pad = pretty ? '\n' + '  '.repeat(shape === 'travel_data' ? 2 : 1) : '';
    const json = (r: object) => (pretty ? JSON.stringify(r, null, 2) : JSON.stringify(r));
    const items = records.map((r) => (pretty ? json(r).replace(/\n/g, pad) : json(r)));
    if (shape === 'ndjson') return records.map((r) => `${JSON.stringify(r)}\n`).join('');
    if (shape === 'concatenated') return `${records.map(json).join('')}\n`;
    const body = items.map((item, i) => `${i ? ',' : ''}${pad}${item}`).join('');
    if (shape === 'array') return `[${body}${pretty ? '\n]\n' : ']\n'}`;
    return pretty ? `{\n  "travel_data": [${body}\n  ]\n}\n` : `{"travel_data":[${body}]}\n`;
  }

  it('writes every shape byte for byte as JSON.stringify would, rides and any other record alike', async () => {
    // Prepare: generated rides (with broken ones), rides with names that need escaping, numbers
    // at the edges of the digit-by-digit path, and records that are not rides at all.
    const random = seededRandom(11);
    const odd: object[] = [
      ...HOSTILE_NAMES.map((name, i) => ({ ...rides[i], name })),
      { ...rides[0], latitude: -0, longitude: 1e-7, distance: 123456789.123456, healthpoints: 1e21, magicpoints: -5 },
      { ...rides[1], latitude: 0.1 + 0.2, longitude: -179.9999995, distance: random() * 1e6 },
      { ...rides[2], statustime: 'x"y\\z\u2028' },
      { ...rides[3], fieldservice: undefined },
      { ...rides[4], extra: 1 },
      { name: 'only a name' },
      { nested: { a: [1, { b: 2 }] } },
    ];
    const records = [...rides.slice(0, 500), ...odd, ...generateRides({ count: 500, seed: 3, invalidRate: 0.3 })];
    for (const shape of ['array', 'travel_data', 'concatenated', 'ndjson'] as const) {
      for (const pretty of shape === 'ndjson' ? [false] : [true, false]) {
        // Act
        const written = (await readAll(writeRides(records, { shape, pretty }))).toString('utf8');

        // Assess
        expect(written).toBe(stringified(records, shape, pretty));
      }
    }
  });

  it("generateRideFile writes a pretty array of generated rides (its own path, from the generator's numbers) byte for byte as writeRides writes generateRides", async () => {
    // Prepare: empty, one ride, 64 KiB batch boundaries crossed many times, and seeds whose walks go far.
    const cases = [
      [0, 1],
      [1, 1],
      [2, 5],
      [999, -3],
      [7755, 1],
      [40_000, 2 ** 31 - 1],
      ...Array.from({ length: 6 }, (_, i) => [300 + 17 * i, 1000 + i]),
    ];
    for (const [count, seed] of cases) {
      // Act
      const file = await readAll(generateRideFile({ count, seed, shape: 'array' }));

      // Assess
      expect(file.equals(await readAll(writeRides(generateRides({ count, seed }), { shape: 'array' })))).toBe(true);
    }
    // The gzip and the other shapes still come out as writeRides makes them.
    const gz = await readAll(generateRideFile({ count: 500, seed: 9, shape: 'array', gzip: true }));
    expect(gunzipSync(gz).equals(await readAll(writeRides(generateRides({ count: 500, seed: 9 }), { shape: 'array' })))).toBe(true);
    const ndjson = await readAll(generateRideFile({ count: 50, seed: 9, shape: 'ndjson' }));
    expect(ndjson.toString('utf8')).toBe([...generateRides({ count: 50, seed: 9 })].map((ride) => `${JSON.stringify(ride)}\n`).join(''));
  });

  it('formats statustime as toISOString does, for any instant of years 0–9999', () => {
    const random = seededRandom(5);
    const edges = [0, -1, 86_399_999, Date.UTC(2018, 0, 1), Date.UTC(2016, 1, 29, 23, 59, 59, 999), Date.UTC(2000, 2, 1), Date.UTC(1900, 1, 28), Date.UTC(0, 0, 1) - 31_622_400_000 * 1900, 253_402_300_799_999];
    const first = Date.UTC(0, 0, 1) - 1900 * 31_556_952_000;
    const instants = [...edges.filter((ms) => ms >= first), ...Array.from({ length: 100_000 }, () => first + Math.floor(random() * (253_402_300_799_999 - first)))];
    for (const ms of instants) expect(statusTimeOf(ms)).toBe(new Date(ms).toISOString().replace('T', ' ').slice(0, 23));
  });
});

