import { seededRandom } from '../src';
import { newChunk, rideEnd, rideFromBytes } from '../src/ride-bytes';
import { collectRides } from '../src/testing';

// The fast reader of ride-shaped records (ride-bytes.ts) against JSON.parse: random records near
// the shape it reads (number spellings, strings, whitespace, key order and spelling, extra or
// repeated keys) must come out of parseRides exactly as JSON.parse reads them, with the same
// byte offsets, whichever path read them; texts JSON.parse refuses must fail the same way.

const FIELDS = ['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints', 'name', 'statustime', 'fieldservice'];
const WHITESPACE = ['', ' ', '\n', '\t', '\r\n    ', '  '];
const NUMBERS = [
  '0', '-0', '1', '217', '29.2', '40.749167', '-73.985184', '0.5', '-0.000001', '0.00001', '123456789012345', '1234567890123456', '12345678.9012345',
  '9007199254740993', '0.1234567890123456789', '1e5', '1E-7', '2.5e+3', '-0.0', '100', '1.0', '999999999999999', '0.30000000000000004',
];
const BAD_NUMBERS = ['01', '-', '1.', '.5', '+1', '1e', '0x10', '--1', '1.2.3'];
const STRINGS = ['Shadowfax', '', ' ', '2018-05-07 20:11:04.247', 'Comma, Unicorn', 'a"b', 'back\\slash', 'Zoë', '🦄', 'tab\there', 'line\nfeed', '\u007f', '__proto__', 'x'.repeat(300)];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

const PLAIN_NUMBERS = NUMBERS.filter((n) => /^-?\d+(\.\d+)?$/.test(n) && n.replace(/\D/g, '').length <= 15);
const PLAIN_STRINGS = STRINGS.filter((s) => /^[\x20-\x7e]*$/.test(s) && !/["\\]/.test(s));

function valueText(r: () => number, field: string, plain: boolean): string {
  const text = field === 'name' || field === 'statustime';
  if (plain) return text ? JSON.stringify(pick(r, PLAIN_STRINGS)) : pick(r, PLAIN_NUMBERS);
  const roll = r();
  if (roll < 0.1) return pick(r, ['true', 'false', 'null', '[]', '{}', '[1,2]', '{"a":1}']);
  if (text || roll < 0.3) {
    const s = pick(r, STRINGS);
    // Sometimes with every non-ASCII character escaped, also valid JSON.
    return r() < 0.2 ? JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : JSON.stringify(s);
  }
  if (roll < 0.4) return JSON.stringify(pick(r, NUMBERS));
  return pick(r, NUMBERS);
}

/**
 * A record's JSON text: half of them in the shape the fast path reads (ride fields in order,
 * plain values, any whitespace), the others with values, keys or order changed.
 */
function recordText(r: () => number): string {
  const plain = r() < 0.5;
  const keys = FIELDS.slice(0, r() < 0.3 ? 7 : 8);
  if (!plain) {
    if (r() < 0.2) keys.reverse();
    if (r() < 0.2) keys.splice(Math.floor(r() * keys.length), 1);
    if (r() < 0.1) keys.push(pick(r, FIELDS));
    if (r() < 0.1) keys.push('colour');
  }
  const members = keys.map((k) => {
    const key = plain ? k : r() < 0.1 ? k.toUpperCase() : r() < 0.05 ? k.replace('a', '\\u0061') : k;
    const ws = () => (r() < 0.6 ? '' : pick(r, WHITESPACE));
    return `${ws()}"${key}"${ws()}:${ws()}${valueText(r, k, plain && r() < 0.95)}${ws()}`;
  });
  return `{${members.join(',')}}`;
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('reading ride-shaped records straight from bytes', () => {
  it.each(Array.from({ length: 30 }, (_, seed) => seed))('yields what JSON.parse yields, with the same offsets, for random records near the ride shape (seed %i)', async (seed) => {
    // Prepare
    const r = seededRandom(seed);
    const texts = Array.from({ length: 200 }, () => recordText(r));
    const valid = texts.filter(parsesAsJson);
    const separator = () => pick(r, [',', ',\n  ', ' , ']);
    let array = '[\n  ';
    const offsets: number[] = [];
    valid.forEach((t, i) => {
      if (i > 0) array += separator();
      offsets.push(Buffer.byteLength(array));
      array += t;
    });
    array += '\n]';

    // Act: whole chunks (every record on the fast path's side) and small ones (records cut).
    const whole = await collectRides(array, 1 << 20);
    const cut = await collectRides(array, 1 + Math.floor(r() * 300));

    // Assess
    for (const got of [whole, cut]) {
      expect(got.error).toBeUndefined();
      expect(got.records.map((x) => x.record)).toEqual(valid.map((t) => JSON.parse(t)));
      expect(got.records.map((x) => x.byteOffset)).toEqual(offsets);
      expect(got.records.map((x) => x.endOffset)).toEqual(valid.map((t, i) => offsets[i] + Buffer.byteLength(t)));
    }
  });

  it('keeps -0, key order and the absent fieldservice exactly as JSON.parse does', () => {
    // Prepare
    const texts = ['{"distance":-0,"healthpoints":0,"latitude":-0.0,"longitude":1,"magicpoints":2,"name":"a","statustime":"b"}', '{ "distance" : 1.5 , "healthpoints" : 3 , "latitude" : 2 , "longitude" : 3 , "magicpoints" : 4 , "name" : "n" , "statustime" : "t" , "fieldservice" : 1 }'];

    for (const text of texts) {
      // Act
      newChunk();
      const record = rideFromBytes(Buffer.from(text), 0, text.length);

      // Assess
      expect(rideEnd()).toBe(text.length);
      expect(Object.is((record as { distance: number }).distance, (JSON.parse(text) as { distance: number }).distance)).toBe(true);
      expect(Object.keys(record as object)).toEqual(Object.keys(JSON.parse(text) as object));
      expect(record).toEqual(JSON.parse(text));
    }
  });

  it.each(BAD_NUMBERS)('leaves a record with the number %s to the generic path, which reports it as JSON.parse would refuse it', async (bad) => {
    // Prepare
    const text = `[{"distance":${bad},"healthpoints":1,"latitude":2,"longitude":3,"magicpoints":4,"name":"n","statustime":"t"}]`;

    // Act
    newChunk();
    const fast = rideFromBytes(Buffer.from(text), 1, text.length);
    const { records, error } = await collectRides(text);

    // Assess
    expect(fast).toBeUndefined();
    expect(parsesAsJson(text)).toBe(false);
    expect(records).toEqual([]);
    expect(error?.message).toMatch(/malformed JSON in record 0/);
  });

  it.each(Array.from({ length: 12 }, (_, seed) => seed))(
    'reads a ride whose gaps (whitespace, comma, key, colon) repeat the previous ride\'s bytes, or differ from them in one byte, as JSON.parse does (seed %i)',
    (seed) => {
      // Prepare: rides in one layout, a third with one byte of one gap changed (same length), so
      // that a gap kept from the ride before is compared with bytes equal to it or one byte off.
      const r = seededRandom(1000 + seed);
      const layouts: Array<{ open: string; before: string; after: string; close: string }> = [
        { open: '{\n    ', before: ',\n    ', after: ': ', close: '\n  }' },
        { open: '{\n\t\t', before: ',\n\t\t', after: ' : ', close: '\n\t}' },
        { open: '{ ', before: ', ', after: ': ', close: ' }' },
        { open: '{\r\n  ', before: '\r\n  , ', after: ':', close: '}' },
      ];
      const layout = layouts[seed % layouts.length];
      const replacements = [' ', '\t', '\n', '\r', 'x', 'X', ',', ':', '"', '{', '}', '0', '\\', '\u0001', '\u007f'];
      const rides: Array<{ text: string; mutated: boolean }> = [];
      for (let i = 0; i < 400; i++) {
        const keys = FIELDS.slice(0, r() < 0.2 ? 7 : 8);
        const gaps: Array<[number, number]> = [];
        let text = '';
        keys.forEach((k, j) => {
          const from = text.length + (j === 0 ? 1 : 0);
          text += `${j === 0 ? layout.open : layout.before}"${k}"${layout.after}`;
          gaps.push([from, text.length]);
          text += valueText(r, k, true);
        });
        text += layout.close;
        const mutated = r() < 0.35;
        if (mutated) {
          const [from, to] = pick(r, gaps);
          const at = from + Math.floor(r() * (to - from));
          text = text.slice(0, at) + pick(r, replacements) + text.slice(at + 1);
        }
        rides.push({ text, mutated });
      }
      const bytes = Buffer.from(rides.map((x) => x.text).join('\n'), 'latin1');

      // Act
      newChunk();
      let start = 0;
      let fast = 0;
      let fastMutated = 0;
      for (const { text, mutated } of rides) {
        const record = rideFromBytes(bytes, start, bytes.length);
        const end = rideEnd();
        // The same ride cut short by the chunk's end: never read, and nothing read past that end.
        const cutAt = start + 1 + Math.floor(r() * (text.length - 1));
        const cut = rideFromBytes(bytes.subarray(0, cutAt), start, cutAt);

        // Assess
        expect(cut).toBeUndefined();
        if (record !== undefined) {
          // What it read is a JSON object (a changed byte may be a `}` that ends the ride early), read as JSON.parse reads it.
          expect(end).toBeLessThanOrEqual(start + text.length);
          if (parsesAsJson(text)) expect(end).toBe(start + text.length);
          const expected = JSON.parse(bytes.toString('latin1', start, end)) as Record<string, unknown>;
          expect(Object.keys(record)).toEqual(Object.keys(expected));
          for (const k of Object.keys(expected)) expect(Object.is((record as Record<string, unknown>)[k], expected[k])).toBe(true);
          fast++;
          if (mutated) fastMutated++;
        } else if (parsesAsJson(text)) {
          // Valid JSON the fast path declines: only a changed ride may be one (a key spelt otherwise).
          expect(mutated).toBe(true);
        }
        start += text.length + 1;
      }
      // Both kinds were met: rides read fast, including changed ones that are still rides (other whitespace).
      expect(fast).toBeGreaterThan(200);
      expect(fastMutated).toBeGreaterThan(0);
    },
  );

  it.each(Array.from({ length: 8 }, (_, seed) => seed))(
    'reads names of 1 to 20 bytes, many a byte off an earlier one or sharing its slot, in one buffer and each in its own, as JSON.parse does (seed %i)',
    (seed) => {
      // Prepare: names from a few stems, each often changed in one byte or cut or grown by one,
      // so that interned names (kept by length and two doubles) meet names nearly equal to them.
      const r = seededRandom(2000 + seed);
      const stems = ['Shadowfax', 'Rocinante', 'Epona', 'Bucephalus-the-Gr', 'A', 'Ab', 'Sparkles', 'Twilight', ...Array.from({ length: 20 }, (_, k) => 'a'.repeat(k + 1))];
      const letters = 'abcxyzABC XYZ019-_.~!#';
      const names: string[] = [];
      for (let i = 0; i < 600; i++) {
        let name = pick(r, [...stems, ...names.slice(-20)]);
        const roll = r();
        if (roll < 0.4 && name.length > 0) {
          const at = Math.floor(r() * name.length);
          name = name.slice(0, at) + pick(r, [...letters]) + name.slice(at + 1);
        } else if (roll < 0.5 && name.length > 1) {
          name = name.slice(0, -1);
        } else if (roll < 0.6 && name.length < 20) {
          name += pick(r, [...letters]);
        }
        names.push(name);
      }
      const rideText = (name: string) => `{"distance":1,"healthpoints":1,"latitude":2,"longitude":3,"magicpoints":4,"name":${JSON.stringify(name)},"statustime":"t"}`;
      const texts = names.map(rideText);
      const bytes = Buffer.from(texts.join(''), 'latin1');

      // Act: every ride in one buffer, then each ride in a buffer of its own (other bytes around the name).
      newChunk();
      const inOne: unknown[] = [];
      for (let start = 0; start < bytes.length; start = rideEnd()) inOne.push(rideFromBytes(bytes, start, bytes.length));
      const alone = texts.map((text) => {
        newChunk();
        return rideFromBytes(Buffer.from(text, 'latin1'), 0, text.length);
      });

      // Assess
      const expected = texts.map((t) => JSON.parse(t) as unknown);
      expect(inOne).toEqual(expected);
      expect(alone).toEqual(expected);
    },
  );

  it('reads nothing past the end it is given: a record cut by the chunk end is left to the generic path', () => {
    // Prepare
    const text = '{"distance":1,"healthpoints":1,"latitude":2,"longitude":3,"magicpoints":4,"name":"n","statustime":"t"}';
    const bytes = Buffer.from(text);

    for (let end = 1; end < text.length; end++) {
      // Act
      newChunk();
      const record = rideFromBytes(bytes, 0, end);

      // Assess
      expect(record).toBeUndefined();
    }
  });
});
