import { Chunker, encodeMessage, seededRandom, validateRide, type RawRecord, type Ride, type SourceRef } from '../src';
import { collectRides } from '../src/testing';

// The ride JSON the parser keeps (ride-text.ts) against the JSON the Chunker writes from a ride's
// values: for any file, a Chunker given the parsed records must write the very bodies of one
// that is not, whichever rides had their text kept and whatever was changed after parsing.

const SOURCE: SourceRef = { bucket: 'rydes-test', key: 'raw/rides.json', etag: '"abc"' };
const NUMBERS = ['0', '-0', '1', '217', '29.2', '40.749167', '-73.985184', '0.5', '1.50', '-0.0', '0.000001', '0.0000001', '-0.0000012', '1e2', '2.5E-3', '123456789012345', '1234567890.12345', '100', '1.0', '7.000', '90', '-180'];
const NAMES = ['"Shadowfax"', '"  "', '" Blossom "', '"Comma, Unicorn"', '"a\\"b"', '"Zo\u00eb"', '"\\u0041bc"', `"${'x'.repeat(256)}"`, `"${'y'.repeat(257)}"`];
const TIMES = ['"2018-05-07 20:11:04.247"', '"2018-05-07 20:11:04"', '"2018-02-30 20:11:04"', '"2020-02-29 23:59:59.123456789"', '"2018-05-07T20:11:04"'];
const FLAGS = ['', '0', '1', '1.0', '2', 'true', 'null', '-0'];
const WHITESPACE = ['', ' ', '\n    ', '\t', '\r\n'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** A ride record in the fast path's key order with values from the lists above, any whitespace. */
function rideText(r: () => number): string {
  const ws = () => pick(r, WHITESPACE);
  const value = (field: string) => {
    if (field === 'name') return pick(r, NAMES);
    if (field === 'statustime') return pick(r, TIMES);
    if (field === 'fieldservice') return pick(r, FLAGS);
    // Mostly numbers a validated ride can hold, so that many rides are kept and valid.
    return r() < 0.6 ? String(Math.round(r() * 1e6) / (r() < 0.5 ? 1 : 1e4)) : pick(r, NUMBERS);
  };
  const members: string[] = [];
  for (const field of ['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints', 'name', 'statustime', 'fieldservice']) {
    const text = value(field);
    if (text !== '') members.push(`${ws()}"${field}"${ws()}:${ws()}${text}${ws()}`);
  }
  return `{${members.join(',')}}`;
}

/** The bodies a Chunker writes for the valid records, given the parsed records (`withRecords`) or not. */
function bodies(records: RawRecord[], withRecords: boolean, change?: (ride: Ride) => void): string[] {
  const chunker = new Chunker({ source: SOURCE, ridesPerMessage: 7 });
  const out: string[] = [];
  records.forEach((raw) => {
    const result = validateRide(raw.record);
    if (!result.ok) return;
    change?.(result.ride);
    for (const m of chunker.push(raw.index, result.ride, withRecords ? raw : undefined)) out.push(encodeMessage(m));
  });
  const last = chunker.flush();
  if (last) out.push(encodeMessage(last));
  return out;
}

describe('the ride JSON kept by the parser', () => {
  it.each(Array.from({ length: 20 }, (_, seed) => seed))('gives the Chunker the same bodies as writing every ride from its values (seed %i)', async (seed) => {
    // Prepare
    const r = seededRandom(seed);
    const texts = Array.from({ length: 300 }, () => rideText(r));
    const file = `[${texts.join(',\n')}]`;

    // Act: whole chunks, and small ones that cut records (the generic path reads those).
    const whole = await collectRides(file, 1 << 20);
    const cut = await collectRides(file, 200 + Math.floor(r() * 300));

    // Assess
    for (const got of [whole, cut]) {
      expect(got.error).toBeUndefined();
      const kept = bodies(got.records, true);
      expect(kept).toEqual(bodies(got.records, false));
      expect(kept.length).toBeGreaterThan(0);
    }
  });

  it('keeps the text of the generated sample rides, and the Chunker writes it byte for byte', async () => {
    // Prepare
    const texts = Array.from({ length: 50 }, (_, i) => `{"distance": ${i + 0.5}, "healthpoints": ${i}, "latitude": 40.749167, "longitude": -73.985184, "magicpoints": 12, "name": "Blossom", "statustime": "2018-06-16 04:10:30.488", "fieldservice": ${i % 2}}`);

    // Act
    const { records } = await collectRides(`[${texts.join(',')}]`, 1 << 20);

    // Assess: every record carries its text (not a plain object), and the bodies agree.
    expect(records.every((raw) => raw.constructor !== Object)).toBe(true);
    expect(bodies(records, true)).toEqual(bodies(records, false));
  });

  it('writes the values of a ride changed after parsing, not the text read', async () => {
    // Prepare
    const texts = Array.from({ length: 200 }, (_, i) => `{"distance":${i + 1.25},"healthpoints":${i + 1},"latitude":${(i % 80) + 0.5},"longitude":-73.5,"magicpoints":3,"name":"N${i}","statustime":"2018-06-16 04:10:30.488"${i % 3 === 0 ? '' : `,"fieldservice":${i % 2}`}}`);
    const file = `[${texts.join(',')}]`;
    const changes: Array<(ride: Ride) => void> = [
      (ride) => (ride.distance += 1),
      (ride) => (ride.healthpoints = 0),
      (ride) => (ride.latitude = -ride.latitude),
      (ride) => (ride.longitude = 180),
      (ride) => (ride.magicpoints = 1e15),
      (ride) => (ride.name = `${ride.name}!`),
      (ride) => (ride.statustime = '2019-01-01 00:00:00'),
      (ride) => (ride.fieldservice = ride.fieldservice === 1 ? 0 : 1),
      (ride) => delete ride.fieldservice,
    ];
    // Every other ride changed, the same way in both runs (same seed).
    const changer = () => {
      const r = seededRandom(99);
      return (ride: Ride) => {
        if (r() < 0.5) pick(r, changes)(ride);
      };
    };

    // Act: each run on its own parse (the changes are made to the parsed records).
    const kept = bodies((await collectRides(file, 1 << 20)).records, true, changer());
    const written = bodies((await collectRides(file, 1 << 20)).records, false, changer());

    // Assess
    expect(kept).toEqual(written);
    expect(kept.join('')).toContain('"longitude":180');
  });

  it('is not kept for numbers String writes otherwise (-0, 1.50, 1e2, 0.0000001), whose rides are written from their values', async () => {
    for (const n of ['-0', '1.50', '1e2', '0.0000001', '-0.0']) {
      // Prepare
      const text = `[{"distance":${n},"healthpoints":1,"latitude":2,"longitude":3,"magicpoints":4,"name":"n","statustime":"2018-06-16 04:10:30"}]`;

      // Act
      const { records } = await collectRides(text, 1 << 20);
      const kept = bodies(records, true);

      // Assess
      expect(records[0].constructor).toBe(Object);
      expect(kept).toEqual(bodies((await collectRides(text, 1 << 20)).records, false));
      expect(kept[0]).toContain(`"distance":${String(JSON.parse(n))},`);
    }
  });
});
