import { parse } from 'csv-parse/sync';
import { Readable } from 'node:stream';
import { DENSE_METRES, DistanceCounts } from '../src/report/aggregate';
import { decimalAt } from '../src/report/decimal';
import { ReportCollector } from '../src/report/report-data';
import { readRideRows, rideRowReader, type RideRow } from '../src/report/ride-rows';

/** Seeded values in [0, 1). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    return a / 2 ** 31;
  };
}

/** decimalAt of a text, or Number's value when decimalAt leaves it to Number (as the reader does). */
function read(text: string): { value: number; decided: boolean } {
  const bytes = Buffer.from(text);
  const value = decimalAt(bytes, 0, bytes.length);
  return value === value ? { value, decided: true } : { value: Number(text), decided: false };
}

/** The exact decimal text of the midpoint between a positive double and the next one up. */
function midpointText(x: number): string | undefined {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const significand = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  // x = significand * 2^(exponent - 1075); the midpoint = (2 significand + 1) * 2^(exponent - 1076).
  const power = exponent - 1076;
  if (power >= 0) return undefined;
  const digits = ((2n * significand + 1n) * 5n ** BigInt(-power)).toString();
  const whole = digits.length + power;
  return whole > 0 ? `${digits.slice(0, whole)}.${digits.slice(whole)}` : `0.${'0'.repeat(-whole)}${digits}`;
}

describe('decimalAt: plain decimals to the double Number gives, from bytes', () => {
  it('gives Number\'s double (bit for bit, -0 included) for shortest round-trip doubles, random digit strings and odd texts', () => {
    // Prepare: distances as the transform writes them (String of a double), coordinates, digit strings of every length.
    const next = random(11);
    const texts: string[] = ['0', '-0', '0.0', '-0.000', '.5', '5.', '007', '00012.5000', '1e5', '+1', ' 1', '1 ', '', '-', '.', '-.', '1.2.3', '0x10', '9007199254740993', '9007199254740993.0', '18446744073709551615', '99999999999999999999', '0.000000000000000000001', '123456789012345678.9'];
    for (let i = 0; i < 60_000; i++) {
      const x = next() * 10 ** Math.floor(next() * 8 - 3) * (next() < 0.2 ? -1 : 1);
      texts.push(String(x).includes('e') ? x.toFixed(10) : String(x), x.toFixed(6));
      let digits = '';
      const n = 1 + Math.floor(next() * 20);
      for (let k = 0; k < n; k++) digits += Math.floor(next() * 10);
      const point = Math.floor(next() * (n + 1));
      texts.push(`${digits.slice(0, point)}.${digits.slice(point)}`, digits);
    }

    // Act
    const wrong = texts.filter((text) => !Object.is(read(text).value, Number(text)));
    const decided = texts.filter((text) => read(text).decided).length;

    // Assess: every text as Number reads it; nearly all decided without Number.
    expect(wrong).toEqual([]);
    expect(decided / texts.length).toBeGreaterThan(0.95);
  });

  it('gives Number\'s double for texts cut from exact midpoints between two doubles (the hardest roundings), or leaves them to Number', () => {
    // Prepare: midpoints of random doubles written exactly, cut to 16-19 significant digits, and one unit up.
    const next = random(5);
    const texts: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const exact = midpointText(next() * 10 ** Math.floor(next() * 8 - 3));
      if (!exact) continue;
      const first = exact.search(/[1-9]/);
      for (const significant of [16, 17, 18, 19]) {
        let end = first;
        for (let count = 0; end < exact.length && count < significant; end++) if (exact[end] !== '.') count++;
        texts.push(exact.slice(0, end));
      }
      texts.push(exact);
    }

    // Act
    const wrong = texts.filter((text) => !Object.is(read(text).value, Number(text)));

    // Assess
    expect(texts.length).toBeGreaterThan(50_000);
    expect(wrong).toEqual([]);
  });
});

describe('the row reader and the collector, a batch at a time', () => {
  const header = 'distance,healthpoints,latitude,longitude,magicpoints,name,statustime,fieldservice,groundstation,groundstation_distance_km,source,ride_index';

  /** A CSV with what the fast path must leave alone: quoted names, blanks, odd numbers, sources that differ by a suffix, far and negative distances. */
  function hostileCsv(rows: number): string {
    const next = random(17);
    const sources = ['raw/a.json', 'raw/a.jsonx', 'raw/a.json', 'raw/b-ü.json', '', 'raw/a.js'];
    const names = ['Shadowfax', '"Shadow, ""fax"""', 'Épona', 'plain'];
    const lines = [header];
    for (let i = 0; i < rows; i++) {
      const source = sources[Math.floor(i / 7) % sources.length];
      const station = i % 9 === 0 ? '' : `US${String(Math.floor(next() * 40)).padStart(9, '0')}`;
      const far = i % 13 === 0 ? (DENSE_METRES / 1000) * (1 + next()) : i % 29 === 0 ? -next() : next() * 800;
      const distance = station === '' ? '' : i % 31 === 0 ? '1e3' : String(far);
      const latitude = i % 37 === 0 ? 'x' : (40 + next()).toFixed(6);
      const longitude = i % 41 === 0 ? '' : String(-74 + next());
      lines.push(`${next()},${i},${latitude},${longitude},3,${names[i % names.length]},2018-01-01 00:00:00,1,${station},${distance},${source},${i}`);
      if (i % 500 === 250) lines.push(header);
    }
    return `${lines.join('\n')}\n`;
  }

  it('gives the collector the aggregates addRow gives row by row (every chunk size; quoted names, blanks, suffixed sources, far and negative distances)', async () => {
    // Prepare
    const text = hostileCsv(6_000);
    const bytes = Buffer.from(text);
    const rowByRow = new ReportCollector();
    const rows: RideRow[] = [];
    await readRideRows(Readable.from([bytes]), 'rows.csv', (row) => {
      rows.push({ ...row });
      rowByRow.addRow(row);
    });

    for (const chunk of [97, 4093, bytes.length]) {
      // Act
      const batched = new ReportCollector();
      const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
      const count = await readRideRows(Readable.from(chunks), 'rows.csv', batched);

      // Assess
      expect(count).toBe(rows.length);
      expect(batched.rowData()).toEqual(rowByRow.rowData());
    }
    // Each row's source is its own, the one csv-parse reads (a source that extends the last one is not taken for it).
    const fields = (parse(text) as string[][]).slice(1).filter((f) => f[11] !== 'ride_index');
    expect(rows).toHaveLength(6_000);
    expect(rows.map((r) => r.source)).toEqual(fields.map((f) => f[10]));
    expect(rows.map((r) => r.station)).toEqual(fields.map((f) => f[8]));
  });

  it('reads many files with one reader (next), each from its header', () => {
    const text = hostileCsv(1_000);
    const seen: number[] = [];
    const reader = rideRowReader('a.csv', (row) => seen.push(row.rideIndex));
    reader.take(Buffer.from(text));
    expect(reader.end()).toBe(1_000);
    reader.next('b.csv');
    // The other file's header has its columns in another order.
    reader.take(Buffer.from('ride_index,source,latitude,longitude,groundstation,groundstation_distance_km\n7,raw/c.json,40.5,-73.9,USW00094728,1.25\n'));
    expect(reader.end()).toBe(1);
    expect(seen.slice(-2)).toEqual([999, 7]);
  });

  it('hands over the rows before a short line, then names its file and line', () => {
    const seen: number[] = [];
    const reader = rideRowReader('short.csv', (row) => seen.push(row.rideIndex));
    expect(() => reader.take(Buffer.from(`${header}\n1,2,40.5,-73.9,3,A,2018-01-01 00:00:00,1,S,1.5,raw/a.json,0\n1,2,40.5,-73.9,3,A,2018-01-01 00:00:00,1,S,1.5,raw/a.json,\n`))).toThrow(/short\.csv: line 3/);
    expect(seen).toEqual([0]);
  });
});

describe('DistanceCounts beyond the dense array', () => {
  it('counts a metre value past 2^32 rides exactly (the wrap is carried)', () => {
    // Prepare: 5 rides at 7 m, then the count of 7 m set just short of 2^32 (4 billion rides are not added one by one here).
    const counts = new DistanceCounts();
    for (let i = 0; i < 5; i++) counts.add(0.007);
    counts.add(1.5);
    (counts as unknown as { dense: Uint32Array }).dense[7] = 2 ** 32 - 1;
    (counts as unknown as { count: number }).count = 2 ** 32;

    // Act
    counts.add(0.007);
    counts.add(0.007);

    // Assess: 2^32 + 1 rides at 7 m, one at 1,500 m.
    expect(counts.histogram(2, 2)).toEqual([2 ** 32 + 1, 1, 0]);
  });
});
