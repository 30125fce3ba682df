import { bodyCsv, type NearestStation } from '../src/body-csv';
import { ByteWriter } from '../src/byte-writer';
import { CSV_HEADER, writeCsvLine } from '../src/csv';
import { Chunker, decodeMessage, encodeMessage, rideIndexes } from '../src/envelope';
import { generateRides, seededRandom } from '../src/generate';
import { aRide, HOSTILE_NAMES } from '../src/testing';
import { FanoutMessage, Ride, SourceRef } from '../src/types';

const source: SourceRef = { bucket: 'rydes-local', key: 'raw/a, "b".json', etag: '"0123456789abcdef"' };

/** A stand-in station lookup: full-precision distances, ids that need CSV quoting, and no station for some rides. */
const nearest: NearestStation = (lat, lon, year) => {
  const k = Math.floor(Math.abs(lat * 7 + lon * 3)) % 5;
  if (k === 0 && year % 2 === 0) return undefined;
  return { station: { id: k === 1 ? 'ID,with "comma"' : `USW0000${k}` }, distanceKm: Math.abs(lat - lon) / 3 + year / 1e4 };
};

/** The CSV the generic path writes: decodeMessage, then every ride and its station (what transform-fn did before bodyCsv). */
function genericCsv(body: string): string {
  const m = decodeMessage(body);
  const indexes = rideIndexes(m);
  const w = new ByteWriter();
  w.ascii(CSV_HEADER);
  m.rides.forEach((ride, i) => {
    const match = nearest(ride.latitude, ride.longitude, Number(ride.statustime.slice(0, 4)));
    writeCsvLine(w, ride, match?.station.id ?? '', match?.distanceKm, m.source.key, indexes[i]);
  });
  return w.take();
}

function bodies(kept: Array<[number, Ride]>, version: 1 | 2, ridesPerMessage = 50): string[] {
  const chunker = new Chunker({ source, ridesPerMessage, version });
  const out: FanoutMessage[] = [];
  for (const [i, ride] of kept) out.push(...chunker.push(i, ride));
  const last = chunker.flush();
  if (last) out.push(last);
  return out.map(encodeMessage);
}

/** Rides of every kind the validator accepts: hostile names, numbers of every size and precision, -0. */
function mixedRides(seed: number, count: number): Array<[number, Ride]> {
  const random = seededRandom(seed);
  const kept: Array<[number, Ride]> = [];
  for (let i = 0; i < count; i++) {
    if (random() < 0.2) continue;
    const scale = 10 ** Math.floor(random() * 24 - 10);
    const pick = random();
    kept.push([
      i,
      aRide({
        name: random() < 0.1 ? HOSTILE_NAMES[Math.floor(random() * HOSTILE_NAMES.length)] : `u ${i}`,
        distance: pick < 0.8 ? Math.round(random() * 1e6) / 1e6 : pick < 0.85 ? 0 : random() * scale,
        latitude: pick < 0.9 ? Math.round((random() - 0.5) * 180 * 1e6) / 1e6 : (random() - 0.5) * 180,
        longitude: pick < 0.03 ? -0 : Math.round((random() - 0.5) * 360 * 10 ** Math.floor(random() * 9)) / 10 ** Math.floor(random() * 9),
        healthpoints: random() < 0.95 ? Math.floor(random() * 10001) : Math.floor(random() * 2 ** 53),
        statustime: random() < 0.5 ? `2016-02-29 23:59:59.${'123456789'.slice(0, 1 + Math.floor(random() * 9))}` : '2018-05-07 20:11:04',
        fieldservice: random() < 0.3 ? undefined : random() < 0.5 ? 0 : 1,
      }),
    ]);
  }
  return kept;
}

describe('bodyCsv', () => {
  it.each([1, 2] as const)('writes the CSV of every version-%i body of generated rides, byte for byte as the generic path', (version) => {
    // Prepare: generated rides with every 7th rejected (gaps)
    const kept = [...generateRides({ count: 3000, seed: 5 })].map((r, i) => [i, r] as [number, Ride]).filter(([i]) => i % 7 !== 3);

    // Act
    const all = bodies(kept, version, 100);
    const fast = all.map((b) => bodyCsv(b, nearest));

    // Assess: all of them on the fast path, equal to the generic CSV, head as decoded
    expect(fast.every((f) => f !== undefined)).toBe(true);
    fast.forEach((f, k) => {
      const m = decodeMessage(all[k]);
      expect(f?.csv).toEqual(Buffer.from(genericCsv(all[k])));
      expect(f).toMatchObject({ v: version, source, chunk: m.chunk, firstIndex: m.firstIndex, rides: m.rides.length });
      expect(f?.gaps).toEqual(m.gaps);
      expect(f?.unmatched).toBe(m.rides.filter((r) => nearest(r.latitude, r.longitude, Number(r.statustime.slice(0, 4))) === undefined).length);
    });
  });

  it.each([1, 2, 3, 4])('equals the generic path, or declines, on seeded rides of every kind (seed %i)', (seed) => {
    // Prepare
    const all = bodies(mixedRides(seed, 2000), seed % 2 === 0 ? 2 : 1, 4);

    // Act
    const fast = all.map((b) => bodyCsv(b, nearest));

    // Assess: whatever it accepts is exactly the generic CSV; plain bodies are accepted
    let accepted = 0;
    fast.forEach((f, k) => {
      if (f === undefined) return;
      accepted++;
      expect(f.csv).toEqual(Buffer.from(genericCsv(all[k])));
    });
    expect(accepted).toBeGreaterThan(0);
  });

  it('accepts only number texts that are String of their value, and reads them as JSON.parse does', () => {
    // Prepare: number texts of many forms in the latitude of one ride
    const random = seededRandom(9);
    const texts = ['0', '-0', '1', '-1', '0.5', '-0.5', '1.50', '1.', '.5', '01', '1e2', '1E2', '0.000001', '0.0000015', '0.0000001', '-0.000001', '45.123456789012', '45.1234567890123', '12345678901234.5', '90', '-90', '90.0000000000001', '7.00001'];
    for (let i = 0; i < 3000; i++) {
      const digits = 1 + Math.floor(random() * 17);
      const mantissa = String(Math.floor(random() * 10 ** digits));
      const point = Math.floor(random() * (mantissa.length + 6));
      const text = point >= mantissa.length ? `0.${'0'.repeat(point - mantissa.length)}${mantissa}` : `${mantissa.slice(0, mantissa.length - point) || '0'}${point > 0 ? '.' : ''}${mantissa.slice(mantissa.length - point)}`;
      texts.push(random() < 0.3 ? `-${text}` : text);
    }
    const body = (t: string) => encodeMessage({ v: 1, source, chunk: 0, firstIndex: 0, rides: [aRide()] }).replace('"latitude":40.749167', `"latitude":${t}`);

    // Act + Assess
    let accepted = 0;
    for (const t of texts) {
      const f = bodyCsv(body(t), nearest);
      let generic: string | undefined;
      try {
        generic = genericCsv(body(t));
      } catch {
        generic = undefined;
      }
      if (f === undefined) continue;
      accepted++;
      expect(String(JSON.parse(t))).toBe(t);
      expect(f.csv).toEqual(Buffer.from(generic ?? 'the generic path refused it'));
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('declines every edited body that decodeMessage refuses, and equals the generic CSV where it accepts one (seeded byte edits)', () => {
    // Prepare: valid bodies, then one random edit each: a character changed, inserted or removed
    const random = seededRandom(11);
    const base = [...bodies(mixedRides(7, 300), 2, 3), ...bodies(mixedRides(8, 300), 1, 3)];
    const alphabet = '{}[],:"\\ 0123456789.-+eE"abcdfghilmnopstuvwxyz\u00e9\n';
    let refused = 0;
    let equal = 0;
    for (let n = 0; n < 6000; n++) {
      const b = base[n % base.length];
      const at = Math.floor(random() * b.length);
      const c = alphabet[Math.floor(random() * alphabet.length)];
      const op = random();
      const edited = op < 0.4 ? b.slice(0, at) + c + b.slice(at + 1) : op < 0.8 ? b.slice(0, at) + c + b.slice(at) : b.slice(0, at) + b.slice(at + 1);

      // Act
      const f = bodyCsv(edited, nearest);
      let generic: string | undefined;
      try {
        generic = genericCsv(edited);
      } catch {
        generic = undefined;
      }

      // Assess
      if (generic === undefined) {
        expect(f).toBeUndefined();
        refused++;
      } else if (f !== undefined) {
        expect(f.csv).toEqual(Buffer.from(generic));
        equal++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
    expect(equal).toBeGreaterThan(100);
  });

  it('declines bad heads, bad gaps, invalid rides and names that need CSV quoting or JSON escapes', () => {
    const good = encodeMessage({ v: 2, source, chunk: 3, firstIndex: 10, gaps: [[1, 2]], rides: [aRide(), aRide({ name: 'Rocinante' })] });
    expect(bodyCsv(good, nearest)?.csv).toEqual(Buffer.from(genericCsv(good)));
    const edits: Array<[string, string]> = [
      ['"v":2', '"v":3'],
      ['"gaps":[[1,2]]', '"gaps":[[2,2]]'],
      ['"gaps":[[1,2]]', '"gaps":[[1,0]]'],
      ['"gaps":[[1,2]]', '"gaps":{}'],
      ['"chunk":3', '"chunk":-3'],
      ['"bucket":"rydes-local"', '"bucket":""'],
      ['"name":"Rocinante"', '"name":"   "'],
      ['"name":"Rocinante"', '"name":"Roci,nante"'],
      ['"name":"Rocinante"', '"name":"Roci\\"nante"'],
      ['"name":"Rocinante"', '"name":"Roci\\u0041nante"'],
      ['"statustime":"2018-05-07 20:11:04.247","fieldservice":0}]', '"statustime":"2018-02-29 20:11:04.247","fieldservice":0}]'],
      ['"statustime":"2018-05-07 20:11:04.247","fieldservice":0}]', '"statustime":"2018-05-07 24:11:04.247","fieldservice":0}]'],
      ['"statustime":"2018-05-07 20:11:04.247","fieldservice":0}]', '"statustime":"2018-05-07 20:11:04.","fieldservice":0}]'],
      ['"statustime":"2018-05-07 20:11:04.247","fieldservice":0}]', '"statustime":"2018-05-07 20:11:04.2470000000","fieldservice":0}]'],
      ['"fieldservice":0}]', '"fieldservice":2}]'],
      ['"fieldservice":0}]', '"fieldservice":null}]'],
      ['"healthpoints":217', '"healthpoints":21.7'],
      ['"magicpoints":112', '"magicpoints":-112'],
      ['"distance":29.212845', '"distance":-29.212845'],
      ['"latitude":40.749167', '"latitude":90.5'],
      ['"longitude":-73.985184', '"longitude":-180.5'],
      ['{"distance"', '{ "distance"'],
      [']}', '] }'],
    ];
    for (const [from, to] of edits) {
      const i = good.lastIndexOf(from);
      expect(i).toBeGreaterThanOrEqual(0);
      const edited = good.slice(0, i) + to + good.slice(i + from.length);
      expect([to, bodyCsv(edited, nearest)]).toEqual([to, undefined]);
    }
  });
});
