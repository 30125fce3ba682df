import { parse } from 'csv-parse/sync';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DistanceCounts, ExactSum, PointSample, reasonKind, RejectCounts, rideRank } from '../src/report/aggregate';
import { escapeHtml, grouped } from '../src/report/escape';
import { histogramRange } from '../src/report/report-data';
import { FILE_CHUNK, fileChunks, readRideRows, type RideRow } from '../src/report/ride-rows';
import { evenlySpaced } from '../src/report/read-stack';
import { viewOf } from '../src/report/map';
import { timelineFromTimes } from '../src/report/timeline';

/** Seeded values in [0, 1). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    return a / 2 ** 31;
  };
}

describe('DistanceCounts: nearest-rank quantiles from per-metre counts', () => {
  it('equals the exact nearest-rank quantile of every value (sorted, brute force), truncated to the metre', () => {
    const next = random(7);
    const values = Array.from({ length: 20_001 }, () => next() * next() * 90);
    const counts = new DistanceCounts();
    values.forEach((v) => counts.add(v));
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.01, 0.5, 0.9, 0.99, 1]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1];
      expect(counts.quantiles([q])[0]).toBe(Math.floor(exact * 1000) / 1000);
    }
  });

  it('counts every ride once in the histogram, the tail in the overflow bin', () => {
    const counts = new DistanceCounts();
    [0, 0.5, 1.2, 9.99, 10, 25].forEach((v) => counts.add(v));
    expect(counts.histogram(10, 5)).toEqual([3, 0, 0, 0, 1, 2]);
  });

  it('stays exact when rides keep coming after a quantile was read (repeated values, many merges)', () => {
    const next = random(9);
    const counts = new DistanceCounts();
    const values: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 7_000; i++) {
        const v = round % 2 ? Math.floor(next() * 40) / 10 : next() * 5_000;
        values.push(v);
        counts.add(v);
      }
      const sorted = [...values].sort((a, b) => a - b);
      expect(counts.quantiles([0.5, 0.99])).toEqual([0.5, 0.99].map((q) => Math.floor(sorted[Math.ceil(q * sorted.length) - 1] * 1000 + 1e-9) / 1000));
      expect(counts.histogram(5_000, 10).reduce((a, b) => a + b, 0)).toBe(values.length);
    }
  });

  it('returns undefined quantiles when empty', () => {
    expect(new DistanceCounts().quantiles([0.5])).toEqual([undefined]);
  });
});

describe('histogramRange', () => {
  it.each([
    [64.8, 70.6, 70, 5],
    [3.2, 9, 3.4, 0.2],
    [0, 0, 0.001, 0.00005],
  ])('p99 %p km, max %p km: covers p99 with round bins (upper %p km, width %p km)', (p99, max, upper, width) => {
    const range = histogramRange(p99, max);
    expect(range.upperKm).toBeCloseTo(upper, 9);
    expect(range.upperKm / range.bins).toBeCloseTo(width, 9);
    expect(range.upperKm).toBeGreaterThanOrEqual(p99);
  });
});

describe('PointSample: a deterministic sample of the map points', () => {
  const rides = Array.from({ length: 5000 }, (_, i) => ({ source: i % 3 ? 'raw/a.json' : 'raw/b.json', index: i }));

  it('keeps the rides of lowest rank, like sorting every ride by rank (brute force)', () => {
    const sample = new PointSample(200);
    rides.forEach((r) => sample.add(rideRank(r.source, r.index), r.index, 0, r.source));
    const expected = rides
      .map((r) => rideRank(r.source, r.index))
      .sort((a, b) => a - b)
      .slice(0, 200);
    expect(sample.points().map((p) => p.rank)).toEqual(expected);
    expect(sample.seen).toBe(5000);
  });

  it('keeps the same points whatever order the rides arrive in', () => {
    const forward = new PointSample(100);
    const backward = new PointSample(100);
    rides.forEach((r) => forward.add(rideRank(r.source, r.index), r.index, 1, r.source));
    [...rides].reverse().forEach((r) => backward.add(rideRank(r.source, r.index), r.index, 1, r.source));
    expect(backward.points()).toEqual(forward.points());
  });

  it('spreads consecutive ride indexes over the whole rank range', () => {
    const ranks = Array.from({ length: 1000 }, (_, i) => rideRank('raw/rides.json', i));
    expect(new Set(ranks).size).toBe(1000);
    expect(ranks.filter((r) => r < 2 ** 31).length).toBeGreaterThan(400);
    expect(ranks.filter((r) => r < 2 ** 31).length).toBeLessThan(600);
  });
});

describe('PointSample: rides of equal rank', () => {
  it('keeps those first by source key, then ride_index, whatever order they arrive in', () => {
    // Six rides of one rank for three places: the order, not the arrival, decides.
    const tied = ['raw/b.json', 'raw/a.json', 'raw/c.json'].flatMap((source) => [0, 1].map((index) => ({ source, index })));
    const kept = (order: typeof tied) => {
      const sample = new PointSample(3);
      order.forEach((r, i) => sample.add(7, i, 0, `${r.source}#${r.index}`, r.source, r.index));
      return sample.points().map((p) => p.station).sort();
    };
    const expected = ['raw/a.json#0', 'raw/a.json#1', 'raw/b.json#0'];
    expect(kept(tied)).toEqual(expected);
    expect(kept([...tied].reverse())).toEqual(expected);
    expect(kept([tied[2], tied[5], tied[0], tied[3], tied[1], tied[4]])).toEqual(expected);
  });
});

/** A finite double as an exact integer multiple of 2^-1074. */
function scaled(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const magnitude = exponent === 0 ? fraction : (fraction | (1n << 52n)) << BigInt(exponent - 1);
  return bits >> 63n ? -magnitude : magnitude;
}

describe('ExactSum: the sum of doubles rounded once', () => {
  it('gives the exact sum where a running sum loses it', () => {
    const sum = (values: number[]) => {
      const s = new ExactSum();
      values.forEach((v) => s.add(v));
      return s.value();
    };
    expect(sum([1e16, 1, -1e16])).toBe(1);
    expect(sum(Array.from({ length: 10 }, () => 0.1))).toBe(1);
    expect(sum([])).toBe(0);
    expect(sum([2 ** 53, 1, 1e-30])).toBe(2 ** 53 + 2);
    expect(sum([2 ** 53, 1])).toBe(2 ** 53);
  });

  it('is the correctly rounded sum of 20,000 distances (checked in integers), in any order', () => {
    const next = random(11);
    const values = Array.from({ length: 20_000 }, () => Number((next() ** 4 * 20_000).toPrecision(17)));
    const exact = values.reduce((n, v) => n + scaled(v), 0n);
    const forward = new ExactSum();
    values.forEach((v) => forward.add(v));
    const result = forward.value();
    // Nearest: no double between the result and the exact sum, and the neighbour on the other side is not nearer.
    const error = exact - scaled(result);
    const toward = error > 0n ? Infinity : -Infinity;
    const gap = scaled(nextToward(result, toward)) - scaled(result);
    const abs = (n: bigint) => (n < 0n ? -n : n);
    expect(2n * abs(error) <= abs(gap)).toBe(true);
    const shuffled = [...values].sort(() => next() - 0.5);
    const backward = new ExactSum();
    shuffled.forEach((v) => backward.add(v));
    expect(backward.value()).toBe(result);
  });
});

/** The next double after `x` toward `direction`. */
function nextToward(x: number, direction: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, (direction > x) === x >= 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

describe('reject reasons', () => {
  it.each([
    ['latitude: 95.3 is outside [-90, 90]', 'latitude: … is outside [-90, 90]'],
    ['statustime: "2018-13-01 00:00:00" is not a real calendar time', 'statustime: … is not a real calendar time'],
    ['distance: expected a number, got string "abc"', 'distance: expected a number, got string …'],
    ['name: missing', 'name: missing'],
    ['name: is empty or blank', 'name: is empty or blank'],
  ])('groups %p as %p', (reason, kind) => {
    expect(reasonKind(reason)).toBe(kind);
  });

  it('counts each reason kind, keeps the first example in full and counts unreadable lines', () => {
    const counts = new RejectCounts();
    counts.add('rejects/a.ndjson', JSON.stringify({ index: 3, reasons: ['latitude: 95 is outside [-90, 90]', 'name: missing'], record: { latitude: 95 } }));
    counts.add('rejects/a.ndjson', JSON.stringify({ index: 9, reasons: ['latitude: -100 is outside [-90, 90]'], record: { latitude: -100 } }));
    counts.add('rejects/a.ndjson', '{"index": 12, "reas');
    expect(counts.rides).toBe(2);
    expect(counts.unreadable).toBe(1);
    expect(counts.reasons()).toEqual([
      { reason: 'latitude: … is outside [-90, 90]', count: 2, example: { file: 'rejects/a.ndjson', index: 3, reason: 'latitude: 95 is outside [-90, 90]', record: '{"latitude":95}' } },
      { reason: 'name: missing', count: 1, example: { file: 'rejects/a.ndjson', index: 3, reason: 'name: missing', record: '{"latitude":95}' } },
    ]);
  });
});

describe('readRideRows', () => {
  const header = 'distance,healthpoints,latitude,longitude,magicpoints,name,statustime,fieldservice,groundstation,groundstation_distance_km,source,ride_index';

  /** The rows csv-parse reads from `text` (header skipped), in the shape readRideRows gives. */
  function csvParseRows(text: string): RideRow[] {
    return (parse(text) as string[][]).slice(1).map((f) => ({
      latitude: Number(f[2]),
      longitude: Number(f[3]),
      station: f[8],
      distanceKm: Number(f[9]),
      source: f[10],
      rideIndex: Number(f[11]),
    }));
  }

  async function rows(text: string, chunkSize = 7): Promise<RideRow[]> {
    const out: RideRow[] = [];
    const chunks = Array.from({ length: Math.ceil(text.length / chunkSize) }, (_, i) => Buffer.from(text.slice(i * chunkSize, (i + 1) * chunkSize)));
    await readRideRows(Readable.from(chunks), 'test.csv', (row) => out.push({ ...row }));
    return out;
  }

  it('reads quoted names with commas and quotes, lines split across chunks, a repeated header and an empty station', async () => {
    const text = [
      header,
      '1,2,40.5,-73.9,3,"Shadow, ""fax""",2018-01-01 00:00:00,,USW00094728,1.25,raw/a.json,0',
      '1,2,40.6,-73.8,3,</script><img src=x onerror=alert(1)>,2018-01-01 00:00:00,1,US1NYNY0074,0.5,raw/a.json,1',
      header,
      '1,2,40.7,-73.7,3,Plain,2018-01-01 00:00:00,0,,,raw/b.json,7',
      '',
    ].join('\n');
    expect(await rows(text)).toEqual([
      { latitude: 40.5, longitude: -73.9, station: 'USW00094728', distanceKm: 1.25, source: 'raw/a.json', rideIndex: 0 },
      { latitude: 40.6, longitude: -73.8, station: 'US1NYNY0074', distanceKm: 0.5, source: 'raw/a.json', rideIndex: 1 },
      { latitude: 40.7, longitude: -73.7, station: '', distanceKm: NaN, source: 'raw/b.json', rideIndex: 7 },
    ]);
  });

  it('reads every row as csv-parse and Number would (coordinates of every length, exponents, blanks, CRLF, quoted and non-ASCII names)', async () => {
    // Prepare: rows with the numbers of real runs and odd ones, in chunks that cut lines anywhere.
    const next = random(3);
    const odd = ['-0', '0.5', '.5', '5.', '1e-7', '-1.5E3', ' 7 ', '', '-', 'x', '123456789012345.6', '1234567890123456', '0.000001', '+2'];
    const numberText = () => {
      const x = (next() - 0.5) * 360;
      const pick = Math.floor(next() * 5);
      return pick === 0 ? x.toFixed(6) : pick === 1 ? String(x) : pick === 2 ? x.toFixed(14) : pick === 3 ? x.toFixed(1) : odd[Math.floor(next() * odd.length)];
    };
    const names = ['Shadowfax', '"Shadow, ""fax"""', 'Épona', '"a\rb"'];
    const lines = [header];
    for (let i = 0; i < 3000; i++) {
      const source = i < 1500 ? 'raw/a.json' : i % 3 ? 'raw/b-ü.json' : 'raw/a.json';
      const station = i % 5 ? 'USW00094728' : '';
      const distance = i % 7 ? String(next() * 10) : numberText();
      lines.push(`1,2,${numberText()},${numberText()},3,${names[i % 4]},2018-01-01 00:00:00,1,${station},${distance},${source},${i}${i % 11 ? '' : '\r'}`);
    }
    const text = `${lines.join('\n')}\n`;
    const expected = (parse(text, { relax_column_count: true }) as string[][]).slice(1).map((f) => ({
      latitude: Number(f[2]),
      longitude: Number(f[3]),
      station: f[8],
      distanceKm: f[9] === '' ? NaN : Number(f[9]),
      source: f[10],
      rideIndex: Number(f[11]),
    }));

    // Act
    const read = await rows(text, 4093);

    // Assess
    expect(read).toHaveLength(3000);
    expect(read).toEqual(expected);
  });

  it('finds a rare quoted line among plain ones, whatever the chunks (also as the last line, without a newline)', async () => {
    // Prepare: 2,000 plain rows, a quoted name every 397th, the last row quoted and unterminated.
    const lines = [header];
    for (let i = 0; i < 2000; i++) {
      const name = i % 397 === 5 || i === 1999 ? '"Shadow, ""fax"""' : 'Shadowfax';
      lines.push(`1,2,40.${i},-73.${i},3,${name},2018-01-01 00:00:00,1,USW00094728,${i / 7},raw/a.json,${i}`);
    }
    const text = lines.join('\n');
    const expected = csvParseRows(text);

    for (const chunkSize of [97, 4093, 65536, text.length]) expect(await rows(text, chunkSize)).toEqual(expected);
  });

  it('reads a file of several read buffers (fileChunks) as csv-parse does, the lines cut at the buffers\' ends intact', async () => {
    // Prepare: ~2.6 read buffers of rows of varying length, a quoted name now and then, so lines straddle each buffer end.
    const dir = mkdtempSync(join(tmpdir(), 'rydes-report-rows-'));
    try {
      const lines = [header];
      let length = header.length;
      for (let i = 0; length < FILE_CHUNK * 2.6; i++) {
        const name = i % 1009 === 3 ? '"Shadow, ""fax"""' : `Rider${'x'.repeat(i % 37)}`;
        const line = `1,2,40.${i % 9973},-73.${i % 7919},3,${name},2018-01-01 00:00:00,1,USW${String(i % 97).padStart(8, '0')},${i / 7},raw/${i < 9000 ? 'a' : 'b'}.json,${i}`;
        lines.push(line);
        length += line.length + 1;
      }
      const text = `${lines.join('\n')}\n`;
      const file = join(dir, 'rides.csv');
      writeFileSync(file, text);
      const expected = csvParseRows(text);

      // Act
      const read: RideRow[] = [];
      const count = await readRideRows(fileChunks(file), file, (row) => read.push({ ...row }));

      // Assess
      expect(count).toBe(expected.length);
      expect(read).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a line short of a used column as csv-parse does (the column absent), whatever line came before it', async () => {
    // ride_index first: a line can hold it and still end before the station and distance columns.
    const text = [
      'ride_index,source,latitude,longitude,groundstation,groundstation_distance_km,name',
      '0,raw/a.json,40.5,-73.9,USW00094728,1.25,Plain',
      '1,raw/a.json,40.6,-73.8',
      '2,raw/a.json,40.7,-73.7,US1NYNY0074,0.5,Plain',
    ].join('\n');
    expect(await rows(text)).toEqual([
      { latitude: 40.5, longitude: -73.9, station: 'USW00094728', distanceKm: 1.25, source: 'raw/a.json', rideIndex: 0 },
      { latitude: 40.6, longitude: -73.8, station: '', distanceKm: NaN, source: 'raw/a.json', rideIndex: 1 },
      { latitude: 40.7, longitude: -73.7, station: 'US1NYNY0074', distanceKm: 0.5, source: 'raw/a.json', rideIndex: 2 },
    ]);
  });

  it('names the file and line of a row with missing columns', async () => {
    await expect(rows(`${header}\n1,2,40.5\n`)).rejects.toThrow(/test\.csv: line 2: expected latitude, .* found 3 fields/);
  });

  it('names the missing column of a foreign header', async () => {
    await expect(rows('a,b,c\n1,2,3\n')).rejects.toThrow(/test\.csv: line 1: no "latitude" column/);
  });
});

describe('helpers', () => {
  it('groups the digits of a count as toLocaleString(en-US) does (integers of every length and sign; fractions, -0 and non-finite through it)', () => {
    const next = random(11);
    const values = [0, -0, 1, -1, 999, 1000, -1000, 999_999, 1_000_000, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 1e21, 0.5, 1234.5678, -1234.5, NaN, Infinity];
    for (let digits = 1; digits <= 16; digits++) for (let k = 0; k < 20; k++) values.push(Math.floor(next() * 10 ** digits) * (k % 2 ? -1 : 1));
    for (const n of values) expect([n, grouped(n)]).toEqual([n, n.toLocaleString('en-US')]);
  });

  it('escapes every HTML-significant character', () => {
    expect(escapeHtml(`</script><img src=x onerror="alert('1')">&`)).toBe('&lt;/script&gt;&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;');
  });

  it('spreads a --sample evenly over the listing', () => {
    expect(evenlySpaced(10, 3)).toEqual([0, 3, 6]);
    expect(evenlySpaced(3, 10)).toEqual([0, 1, 2]);
  });

  it('fits the view to a city, and to the world for world-wide rides', () => {
    const nyc = viewOf({ west: -74.1, south: 40.6, east: -73.8, north: 40.9 }, []);
    expect(nyc.west).toBeLessThanOrEqual(-74.1);
    expect(nyc.east).toBeGreaterThanOrEqual(-73.8);
    expect(nyc.east - nyc.west).toBeLessThan(2);
    const world = viewOf({ west: -170, south: -50, east: 175, north: 70 }, []);
    expect(world).toEqual({ west: -180, south: -60, east: 180, north: 85 });
  });

  it('rebuilds a timeline from manifest times and object times', () => {
    const manifest = { startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:10.000Z', valid: 1000 };
    const points = timelineFromTimes([manifest as never], [
      { at: Date.parse('2026-01-01T00:00:05.000Z'), rides: 400 },
      { at: Date.parse('2026-01-01T00:00:20.000Z'), rides: 600 },
    ]);
    expect(points[0]).toEqual({ t: 0, ingested: 0, written: 0 });
    expect(points[points.length - 1]).toEqual({ t: 20, ingested: 1000, written: 1000 });
    expect(points.find((p) => p.t === 10)).toMatchObject({ ingested: 1000, written: 400 });
  });
});
