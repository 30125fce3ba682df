import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { ByteWriter, CSV_COLUMNS, csvField, csvLine, encodeCsv, ProcessedRow } from '../src';
import { aRide, HOSTILE_NAMES } from '../src/testing';

function row(overrides: Partial<ProcessedRow> = {}): ProcessedRow {
  return { ...aRide(), groundstation: 'USW00094728', groundstation_distance_km: 3.2845, source: 'raw/rides.json', ride_index: 7, ...overrides };
}

function cells(csv: string): string[][] {
  return parse(csv, { relax_column_count: false });
}

describe('encodeCsv', () => {
  it('writes the header of ARCHITECTURE.md, then one line per row, each ending in \\n', () => {
    // Act
    const csv = encodeCsv([row(), row({ ride_index: 8, fieldservice: 1 })]);

    // Assess
    expect(csv).toBe(
      'distance,healthpoints,latitude,longitude,magicpoints,name,statustime,fieldservice,groundstation,groundstation_distance_km,source,ride_index\n' +
        '29.212845,217,40.749167,-73.985184,112,Shadowfax,2018-05-07 20:11:04.247,0,USW00094728,3.2845,raw/rides.json,7\n' +
        '29.212845,217,40.749167,-73.985184,112,Shadowfax,2018-05-07 20:11:04.247,1,USW00094728,3.2845,raw/rides.json,8\n',
    );
    expect(CSV_COLUMNS.join(',')).toBe(csv.split('\n')[0]);
  });

  it('writes only the header for no rows', () => {
    expect(encodeCsv([])).toBe(`${CSV_COLUMNS.join(',')}\n`);
  });

  it('leaves fieldservice empty when the ride has none', () => {
    const [, values] = cells(encodeCsv([row({ fieldservice: undefined })]));
    expect(values[CSV_COLUMNS.indexOf('fieldservice')]).toBe('');
  });

  it('writes -0 as 0', () => {
    const [, values] = cells(encodeCsv([row({ latitude: -0 })]));
    expect(values[2]).toBe('0');
  });

  it('round-trips every hostile name exactly through csv-parse', () => {
    // Act
    const parsed = cells(encodeCsv(HOSTILE_NAMES.map((name, i) => row({ name, ride_index: i }))));

    // Assess
    expect(parsed.slice(1).map((values) => values[5])).toEqual(HOSTILE_NAMES);
    expect(parsed.slice(1).every((values) => values.length === CSV_COLUMNS.length)).toBe(true);
  });

  it('quotes fields holding a comma, a quote, CR or LF, and nothing else', () => {
    const csv = encodeCsv(['a,b', 'q"q', 'c\rr', 'l\nf', '=1+2', 'plain'].map((name) => row({ name })));
    for (const field of [',"a,b",', ',"q""q",', ',"c\rr",', ',"l\nf",', ',=1+2,', ',plain,']) expect(csv).toContain(`112${field}2018`);
  });

  it('writes floats losslessly: every printed number parses back to the same double', () => {
    // Prepare: random doubles of every magnitude, plus awkward ones.
    const values = [0.1 + 0.2, 1e-7, 1.5e-300, 123456789.12345679, 5e-324, 1e21, -73.985184, 2 ** 53 + 2];
    let x = 0.5;
    for (let i = 0; i < 500; i++) values.push((x = (x * 9301 + 49297) % 233280) / 233280 * 10 ** ((i % 40) - 20));
    const rows = values.map((v, i) => row({ distance: v, groundstation_distance_km: v / 3, ride_index: i }));

    // Act
    const parsed = cells(encodeCsv(rows)).slice(1);

    // Assess
    parsed.forEach((values, i) => {
      expect(Number(values[0])).toBe(rows[i].distance);
      expect(Number(values[9])).toBe(rows[i].groundstation_distance_km);
      expect(values[0]).toBe(String(rows[i].distance));
    });
  });
});

/** What encodeCsv wrote before it was hand-written: csv-stringify with the settings of ARCHITECTURE.md. */
function csvStringify(rows: ProcessedRow[]): string {
  const cells = rows.map((r) => [r.distance, r.healthpoints, r.latitude, r.longitude, r.magicpoints, r.name, r.statustime, r.fieldservice ?? '', r.groundstation, r.groundstation_distance_km, r.source, r.ride_index]);
  return stringify([CSV_COLUMNS as unknown as string[], ...cells], { record_delimiter: '\n', quoted_match: /\r/, cast: { number: (n) => String(n) } });
}

describe('encodeCsv against csv-stringify (seeded fuzz)', () => {
  // Text drawn from the characters that matter to CSV and JSON, plus non-ASCII and surrogate pairs.
  const ALPHABET = ['a', 'Z', '0', ' ', ',', '"', '\r', '\n', '\t', '=', '-', '+', '@', "'", '\\', ';', 'é', '🦄', '\u2028', 'ﬁ', '\u0000'];

  it('writes the same bytes as csv-stringify for 5,000 random rows, and csv-parse reads back every value', () => {
    // Prepare: a seeded PRNG (mulberry32) draws names, station ids, source keys and doubles of every magnitude
    let state = 13;
    const random = () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const text = (max: number) => Array.from({ length: 1 + Math.floor(random() * max) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join('');
    const double = () => 0 + (random() < 0.5 ? Math.round(random() * 1e6) / 1e6 : random()) * 10 ** Math.floor(random() * 12 - 4) * (random() < 0.3 ? -1 : 1);
    const rows: ProcessedRow[] = Array.from({ length: 5_000 }, (_, i) => {
      const row: ProcessedRow = {
        distance: Math.abs(double()), healthpoints: Math.floor(random() * 10_001), latitude: (random() - 0.5) * 180, longitude: 0 + (double() % 180),
        magicpoints: Math.floor(random() * 1e9), name: text(12), statustime: '2018-05-07 20:11:04.247', groundstation: random() < 0.9 ? 'USW00094728' : text(6),
        groundstation_distance_km: double(), source: random() < 0.9 ? 'raw/rides.json' : `raw/${text(8)}.json`, ride_index: i,
      };
      if (random() < 0.8) row.fieldservice = random() < 0.5 ? 0 : 1;
      return row;
    });

    // Act
    const ours = encodeCsv(rows);

    // Assess
    expect(ours).toBe(csvStringify(rows));
    const cells: string[][] = parse(ours);
    expect(cells).toHaveLength(rows.length + 1);
    cells.slice(1).forEach((values, i) => {
      const r = rows[i];
      expect([values[5], values[8], values[10], values[7]]).toEqual([r.name, r.groundstation, r.source, r.fieldservice === undefined ? '' : String(r.fieldservice)]);
      expect([Number(values[0]), Number(values[2]), Number(values[3]), Number(values[9]), Number(values[11])]).toEqual([r.distance, r.latitude, r.longitude, r.groundstation_distance_km, r.ride_index]);
    });
  });

  it('leaves groundstation and its distance empty when there is no station', () => {
    const line = csvLine(aRide(), '', undefined, 'raw/rides.json', 3);
    expect(line).toBe('29.212845,217,40.749167,-73.985184,112,Shadowfax,2018-05-07 20:11:04.247,0,,,raw/rides.json,3\n');
  });

  it('quotes a source key holding a comma in every line, even when keys alternate', () => {
    const lines = ['raw/a,b.json', 'raw/plain.json', 'raw/a,b.json'].map((key) => csvLine(aRide(), 'X', 1, key, 0));
    expect(lines.map((l) => l.trimEnd().split(',').slice(-3).join(','))).toEqual(['"raw/a,b.json",0', '1,raw/plain.json,0', '"raw/a,b.json",0']);
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
  });
});

/** Park–Miller's minimal standard generator from `seed`: the same values in (0, 1) on every run. */
const seededRandom = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;

const ulpBits = new DataView(new ArrayBuffer(8));
/** `x` moved by `ulps` units in the last place (of the same sign). */
const step = (x: number, ulps: number) => {
  ulpBits.setFloat64(0, x);
  ulpBits.setBigUint64(0, ulpBits.getBigUint64(0) + BigInt(ulps));
  return ulpBits.getFloat64(0);
};

/** The values that ByteWriter.number prints otherwise than String does. */
const printedUnlikeString = (values: number[]) => {
  const w = new ByteWriter(16);
  return values.filter((x) => {
    w.number(x);
    return w.take() !== String(x);
  });
};

describe('ByteWriter', () => {
  it('prints every double exactly as String does (360,000 seeded doubles: short decimals, random bits, neighbours)', () => {
    // Prepare
    const random = seededRandom(1);
    const bits = new DataView(new ArrayBuffer(8));
    const values = [0, -0, 1e-5, 1e-6, 9.999999999999999e-6, 1e15, 999999999999999.9, 0.1 + 0.2, 5e-324, 1e21, 123456789.12345679, -73.985184, 2 ** 53 + 2];
    for (let i = 0; i < 60_000; i++) {
      const short = Math.floor(random() * 10 ** (1 + Math.floor(random() * 15))) / 10 ** Math.floor(random() * 16);
      bits.setUint32(0, Math.floor(random() * 2 ** 32));
      bits.setUint32(4, Math.floor(random() * 2 ** 32));
      values.push(short, -short, short * (1 + Number.EPSILON), short * (1 - Number.EPSILON), random() * 10 ** (Math.floor(random() * 30) - 10), bits.getFloat64(0));
    }

    // Act
    const mismatches = printedUnlikeString(values);

    // Assess
    expect(values.length).toBeGreaterThan(360_000);
    expect(mismatches).toEqual([]);
  });

  it('prints decimals of up to six places below 1e9 (coordinates, ride distances) exactly as String does: 300,000 seeded values, their neighbours, the edges near integers and 1e9', () => {
    // Prepare
    const random = seededRandom(3);
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const places = 1 + Math.floor(random() * 6);
      const x = Math.floor(random() * 10 ** (1 + Math.floor(random() * 15))) / 10 ** places;
      values.push(x, -x, step(x, 1), step(x, -1), Math.round(random() * 1e6) / 1e6, Math.round((random() * 360 - 180) * 1e6) / 1e6);
    }
    for (const k of [0, 1, 9, 10, 99, 12345, 99999999, 999999999, 1e9]) {
      for (const d of [1e-6, 2e-6, 5e-6, 1e-5, 0.5, 0.999999, 0.9999995]) values.push(k - d, k + d, -(k - d), step(k - d, 1), step(k + d, -1));
    }

    // Act
    const mismatches = printedUnlikeString(values);

    // Assess
    expect(values.length).toBeGreaterThan(300_000);
    expect(mismatches).toEqual([]);
  });

  it('prints full-precision doubles in [0.1, 1e5) (station distances) exactly as String does: 400,000 seeded values, their neighbours, powers of two and ten', () => {
    // Prepare: values that need 16 or 17 digits, one ulp either side, the edges of every binade and decade
    const random = seededRandom(7);
    const bits = new DataView(new ArrayBuffer(8));
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const x = 10 ** (random() * 6 - 1) * (1 + random());
      values.push(x, -x, step(x, 1), step(x, -1), 2 * 6371.0088 * Math.asin(Math.sqrt(random() * 1e-4)), Math.floor(random() * 1e16) / 10 ** (11 + Math.floor(random() * 6)));
      bits.setUint32(0, 0x3fb99999 + Math.floor(random() * (0x40f86a00 - 0x3fb99999)));
      bits.setUint32(4, Math.floor(random() * 2 ** 32));
      values.push(bits.getFloat64(0), step(bits.getFloat64(0), 1));
    }
    for (let e = -3; e <= 16; e++) for (let u = -3; u <= 3; u++) values.push(step(2 ** e, u));
    for (let d = -1; d <= 5; d++) for (let u = -40; u <= 40; u++) values.push(step(10 ** d, u));

    // Act
    const mismatches = printedUnlikeString(values);

    // Assess
    expect(values.length).toBeGreaterThan(400_000);
    expect(mismatches).toEqual([]);
  });

  it('writes strings as JSON.stringify does and as UTF-8 as Buffer.from does (seeded code units, surrogates included)', () => {
    // Prepare
    const random = seededRandom(7);
    const units = [0x00, 0x09, 0x0a, 0x1f, 0x20, 0x22, 0x2c, 0x41, 0x5c, 0x7e, 0x7f, 0x80, 0xe9, 0x7ff, 0x800, 0x2028, 0xd83e, 0xdd84, 0xfffd, 0xffff];
    const texts = ['', 'Shadowfax', '2018-05-07 20:11:04.247', '🦄', '\ud83e', 'x'.repeat(300)];
    for (let i = 0; i < 5_000; i++) texts.push(String.fromCharCode(...Array.from({ length: Math.floor(random() * 12) }, () => (random() < 0.5 ? 0x61 : units[Math.floor(random() * units.length)]))));
    const w = new ByteWriter(4);

    // Act
    const json = texts.map((t) => {
      w.jsonString(t);
      return w.take();
    });
    const utf8 = texts.map((t) => {
      w.utf8(t);
      const bytes = Buffer.from(w.bytes.subarray(0, w.length));
      w.length = 0;
      return bytes;
    });

    // Assess
    expect(json).toEqual(texts.map((t) => JSON.stringify(t)));
    expect(utf8).toEqual(texts.map((t) => Buffer.from(t, 'utf8')));
  });
});
