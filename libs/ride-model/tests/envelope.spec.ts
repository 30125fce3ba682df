import { acceptRide, Chunker, ChunkerError, decodeMessage, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RIDES_PER_MESSAGE, encodeMessage, EnvelopeError, FanoutMessage, generateRides, peekMessage, Ride, rideIndexes, seededRandom, validateRide } from '../src';
import { aRide, HOSTILE_NAMES } from '../src/testing';

const source = { bucket: 'rydes-bucket', key: 'raw/rides.json', etag: '"0123456789abcdef0123456789abcdef"' };

function message(overrides: Partial<FanoutMessage> = {}): FanoutMessage {
  return { v: 1, source, chunk: 42, firstIndex: 4200, rides: [aRide()], ...overrides };
}

function bodyWith(patch: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(encodeMessage(message())), ...patch });
}

describe('encodeMessage / decodeMessage', () => {
  it('round-trips a message exactly', () => {
    // Prepare
    const m = message({ rides: [aRide(), aRide({ name: 'Rocinante', fieldservice: undefined })] });

    // Act
    const decoded = decodeMessage(encodeMessage(m));

    // Assess
    expect(decoded).toEqual(m);
    expect(encodeMessage(decoded)).toBe(encodeMessage(m));
  });

  it('writes the version-1 layout of ARCHITECTURE.md', () => {
    expect(encodeMessage(message())).toBe(
      '{"v":1,"source":{"bucket":"rydes-bucket","key":"raw/rides.json","etag":"\\"0123456789abcdef0123456789abcdef\\""},"chunk":42,"firstIndex":4200,' +
        '"rides":[{"distance":29.212845,"healthpoints":217,"latitude":40.749167,"longitude":-73.985184,"magicpoints":112,"name":"Shadowfax","statustime":"2018-05-07 20:11:04.247","fieldservice":0}]}',
    );
  });

  it.each([
    ['a body that is not JSON', '{"v":1,', /body is not JSON/],
    ['a JSON array', '[]', /body is not a JSON object/],
    ['version 3', bodyWith({ v: 3 }), /v is 3, expected 1 or 2/],
    ['no version', bodyWith({ v: undefined }), /v is undefined, expected 1 or 2/],
    ['version 2 without gaps', bodyWith({ v: 2 }), /gaps is not an array/],
    ['version 1 with gaps', bodyWith({ gaps: [] }), /gaps is set in a version-1 message/],
    ['a gap before the first ride', bodyWith({ v: 2, gaps: [[0, 1]], rides: [aRide(), aRide()] }), /gaps\[0\] is \[0,1\], expected \[at, skipped\]/],
    ['a gap after the last ride', bodyWith({ v: 2, gaps: [[2, 1]], rides: [aRide(), aRide()] }), /gaps\[0\] is \[2,1\]/],
    ['gaps out of order', bodyWith({ v: 2, gaps: [[2, 1], [1, 1]], rides: [aRide(), aRide(), aRide()] }), /gaps\[1\] is \[1,1\]/],
    ['a gap of nothing', bodyWith({ v: 2, gaps: [[1, 0]], rides: [aRide(), aRide()] }), /gaps\[0\] is \[1,0\]/],
    ['a gap that is not a pair', bodyWith({ v: 2, gaps: [[1, 1, 1]], rides: [aRide(), aRide()] }), /gaps\[0\] is \[1,1,1\]/],
    ['an invalid ride after a gap', bodyWith({ v: 2, gaps: [[1, 5]], rides: [aRide(), aRide({ latitude: 91 })] }), /rides\[1\] \(ride_index 4206\) is invalid: latitude: 91/],
    ['no source', bodyWith({ source: undefined }), /source is missing/],
    ['an empty bucket', bodyWith({ source: { ...source, bucket: '' } }), /source.bucket is not a non-empty string/],
    ['a numeric key', bodyWith({ source: { ...source, key: 5 } }), /source.key is not a non-empty string/],
    ['no etag', bodyWith({ source: { bucket: 'b', key: 'k' } }), /source.etag is not a non-empty string/],
    ['a negative chunk', bodyWith({ chunk: -1 }), /chunk is -1, expected an integer >= 0/],
    ['a fractional chunk', bodyWith({ chunk: 1.5 }), /chunk is 1.5/],
    ['a string firstIndex', bodyWith({ firstIndex: '7' }), /firstIndex is "7", expected an integer >= 0/],
    ['no rides', bodyWith({ rides: [] }), /rides is not a non-empty array/],
    ['an invalid ride', bodyWith({ rides: [aRide(), aRide({ latitude: 91 })] }), /rides\[1\] \(ride_index 4201\) is invalid: latitude: 91 is outside \[-90, 90\]/],
  ])('rejects %s with an EnvelopeError naming what is wrong', (_label, body, pattern) => {
    expect(() => decodeMessage(body)).toThrow(EnvelopeError);
    expect(() => decodeMessage(body)).toThrow(pattern);
  });

  it('normalises the rides it decodes', () => {
    const decoded = decodeMessage(bodyWith({ rides: [{ ...aRide(), Latitude: '41.5', latitude: undefined }] }));
    expect(decoded.rides[0].latitude).toBe(41.5);
    expect(Object.keys(decoded.rides[0])).toEqual(Object.keys(aRide()));
  });

  it('writes the version-2 layout (gaps before rides) and round-trips it exactly', () => {
    // Prepare: rides 4200, 4203 and 4204 (4201 and 4202 were rejected)
    const m = message({ v: 2, gaps: [[1, 2]], rides: [aRide(), aRide({ name: 'Rocinante' }), aRide({ fieldservice: undefined })] });

    // Act
    const body = encodeMessage(m);
    const decoded = decodeMessage(body);

    // Assess
    expect(body).toMatch(/^\{"v":2,"source":\{[^}]*\},"chunk":42,"firstIndex":4200,"gaps":\[\[1,2\]\],"rides":\[\{"distance":29\.212845,/);
    expect(decoded).toEqual(m);
    expect(rideIndexes(decoded)).toEqual([4200, 4203, 4204]);
    expect(encodeMessage(decoded)).toBe(body);
    expect(JSON.parse(body)).toEqual(JSON.parse(JSON.stringify(m)));
  });

  it('numbers the rides of v1 as firstIndex + i and of v2 with every gap added', () => {
    const rides = [aRide(), aRide(), aRide(), aRide(), aRide()];
    expect(rideIndexes(message({ firstIndex: 7, rides }))).toEqual([7, 8, 9, 10, 11]);
    expect(rideIndexes(message({ v: 2, firstIndex: 7, gaps: [[1, 1], [2, 3], [4, 10]], rides }))).toEqual([7, 9, 13, 14, 25]);
    expect(rideIndexes(message({ v: 2, firstIndex: 0, gaps: [], rides: rides.slice(0, 2) }))).toEqual([0, 1]);
  });

  it('refuses to encode gaps as version 1', () => {
    expect(() => encodeMessage(message({ gaps: [[1, 1]], rides: [aRide(), aRide()] }))).toThrow(/version-1 message cannot carry gaps/);
  });

  it('writes -0 as 0 and decodes it as 0', () => {
    const decoded = decodeMessage(encodeMessage(message({ rides: [aRide({ latitude: -0 })] })));
    expect(Object.is(decoded.rides[0].latitude, 0)).toBe(true);
    const fromMinusZero = decodeMessage(bodyWith({ rides: [{ ...aRide(), longitude: -0 }] }).replace('"longitude":0', '"longitude":-0'));
    expect(Object.is(fromMinusZero.rides[0].longitude, 0)).toBe(true);
  });
});

describe('peekMessage', () => {
  it('gives the source, chunk and ride count of v1 and v2 bodies, as decodeMessage would, names that spell a ride start included', () => {
    const tricky = aRide({ name: '{"distance":1, "x": [{"distance":2}]' });
    for (const m of [message(), message({ v: 2, gaps: [[1, 4]], rides: [aRide(), tricky, aRide()] }), message({ rides: [tricky] })]) {
      const body = encodeMessage(m);
      const decoded = decodeMessage(body);
      expect(peekMessage(body)).toEqual({ source: decoded.source, chunk: decoded.chunk, rides: decoded.rides.length });
    }
  });

  it('parses other spellings whole and says undefined for what is not a message', () => {
    const reordered = JSON.stringify({ chunk: 3, source, rides: [{ name: 'x' }, { name: 'y' }] });
    expect(peekMessage(reordered)).toEqual({ source, chunk: 3, rides: 2 });
    expect(peekMessage('not json')).toBeUndefined();
    expect(peekMessage('{"v":2,"source":{},"chunk":-1,"firstIndex":0,"gaps":[],"rides":[]}')).toBeUndefined();
  });
});

describe('acceptRide', () => {
  it('returns the record itself when it is in the shape validateRide returns and valid', () => {
    const record = JSON.parse(JSON.stringify(aRide()));
    expect(acceptRide(record)).toBe(record);
    const noFlag = JSON.parse(JSON.stringify(aRide({ fieldservice: undefined })));
    expect(acceptRide(noFlag)).toBe(noFlag);
  });

  it.each([
    ['an upper-case key', { ...aRide(), Name: 'x' }],
    ['a numeric string', { ...aRide(), latitude: '40.7' }],
    ['an unknown key', { ...aRide(), colour: 'white' }],
    ['fieldservice null', { ...aRide(), fieldservice: null }],
    ['fieldservice true', { ...aRide(), fieldservice: true }],
    ['an invalid value', { ...aRide(), latitude: 91 }],
    ['a missing field', aRide({ name: undefined })],
    ['an array', [aRide()]],
    ['null', null],
  ])('leaves %s to validateRide (undefined)', (_label, record) => {
    expect(acceptRide(record)).toBeUndefined();
  });

  it('accepts a record exactly when validateRide accepts it unchanged, on random rides near the edges', () => {
    // Prepare: one field at a time set to a value near a rule's edge, in column order.
    const r = seededRandom(7);
    const edges: Record<string, unknown[]> = {
      distance: [0, -0, -1, 1e-7, 1.5, Number.MAX_VALUE, Infinity, NaN, '3'],
      healthpoints: [0, -0, 1, 1.5, -1, 2 ** 53, 2 ** 53 - 1, NaN],
      latitude: [0, -0, 90, -90, 90.0000001, 45.5, NaN],
      longitude: [0, -0, 180, -180, -180.5, 12.25],
      magicpoints: [0, -0, 7, 7.5, Infinity],
      name: ['', ' ', '  x ', 'Shadowfax', '\t', 'a\u007f', 'Zoë', '🦄', '\ud800', 'x'.repeat(256), 'x'.repeat(257), 5],
      statustime: ['2018-05-07 20:11:04', '2018-05-07 20:11:04.247', '2018-02-29 00:00:00', '2020-02-29 23:59:59.123456789', '2018-05-07 24:00:00', '2018-05-07T20:11:04', '2018-05-07 20:11:04.', '2018-05-07 20:11:04.1234567890'],
      fieldservice: [undefined, 0, 1, -0, 2, null, true],
    };
    for (let i = 0; i < 3000; i++) {
      const record = JSON.parse(JSON.stringify(aRide())) as Record<string, unknown>;
      for (const [field, values] of Object.entries(edges)) if (r() < 0.3) record[field] = values[Math.floor(r() * values.length)];
      if (record.fieldservice === undefined) delete record.fieldservice;
      const copy = { ...record };

      // Act
      const accepted = acceptRide(record);
      // The oracle: validateRide's full checks (a null-prototype object never takes acceptRide's path).
      const validated = validateRide(Object.assign(Object.create(null) as object, copy));

      // Assess: the record itself, exactly when validation gives back these values in this key order.
      const same = validated.ok && JSON.stringify(Object.keys(validated.ride)) === JSON.stringify(Object.keys(copy)) && Object.keys(copy).every((k) => Object.is((validated.ride as unknown as Record<string, unknown>)[k], Object.is(copy[k], -0) && k !== 'fieldservice' ? 0 : copy[k]));
      expect({ record: copy, accepted: accepted !== undefined }).toEqual({ record: copy, accepted: same });
      if (accepted !== undefined) {
        expect(accepted).toBe(record);
        expect(accepted).toEqual(validated.ok && validated.ride);
      }
    }
  });
});

describe('Chunker', () => {
  const rides = [...generateRides({ count: 1000, seed: 3 })];

  function chunkAll(chunker: Chunker, indexed: Array<[number, Ride]>): FanoutMessage[] {
    const out = indexed.flatMap(([i, ride]) => chunker.push(i, ride));
    const last = chunker.flush();
    return last ? [...out, last] : out;
  }

  it('puts ridesPerMessage rides in each message and numbers chunks 0, 1, 2, …', () => {
    // Act
    const messages = chunkAll(new Chunker({ source, ridesPerMessage: 100 }), rides.map((r, i) => [i, r]));

    // Assess
    expect(messages.map((m) => m.rides.length)).toEqual(Array(10).fill(100));
    expect(messages.map((m) => m.chunk)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(messages.map((m) => m.firstIndex)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it('puts DEFAULT_RIDES_PER_MESSAGE (1,000) generated rides in a message by default, under the 200 KiB cap', () => {
    const messages = chunkAll(new Chunker({ source }), rides.map((r, i) => [i, r]));
    expect(DEFAULT_RIDES_PER_MESSAGE).toBe(1000);
    expect(messages.map((m) => m.rides.length)).toEqual([1000]);
    expect(Buffer.byteLength(encodeMessage(messages[0]))).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('continues a file where an earlier part left it: numbering from continueAt.chunk, rides from continueAt.index', () => {
    // Prepare: one run over rides 0..249, and the same rides split at ride 120 (chunk 1 was still open there)
    const all = rides.slice(0, 250).map((r, i) => [i, r] as [number, Ride]);
    const whole = chunkAll(new Chunker({ source, ridesPerMessage: 100 }), all);
    const first = new Chunker({ source, ridesPerMessage: 100 });
    const before = all.slice(0, 120).flatMap(([i, ride]) => first.push(i, ride));

    // Act: the second part rebuilds the open chunk from its first ride, 100
    const rest = chunkAll(new Chunker({ source, ridesPerMessage: 100, continueAt: { chunk: first.chunks, index: 100 } }), all.slice(100));

    // Assess
    expect([...before, ...rest]).toEqual(whole);
    expect(() => new Chunker({ source, continueAt: { chunk: 3, index: 50 } }).push(49, rides[0])).toThrow(ChunkerError);
    expect(() => new Chunker({ source, continueAt: { chunk: -1, index: 0 } })).toThrow(/continueAt/);
  });

  it('returns one shared, frozen empty array from push when the ride closes no message, and a new array of the closed message otherwise', () => {
    // Prepare
    const v2 = new Chunker({ source, ridesPerMessage: 3 });
    const v1 = new Chunker({ source, ridesPerMessage: 3, version: 1 });

    // Act
    const none = [v2.push(0, rides[0]), v2.push(1, rides[1])];
    const full = v2.push(2, rides[2]);
    v1.push(0, rides[0]);
    const atGap = v1.push(2, rides[2]);

    // Assess
    expect(none[0]).toBe(none[1]);
    expect(none[0]).toEqual([]);
    expect(Object.isFrozen(none[0])).toBe(true);
    expect(full.map((m) => [m.firstIndex, m.rides.length])).toEqual([[0, 3]]);
    expect(Object.isFrozen(full)).toBe(false);
    expect(atGap.map((m) => [m.firstIndex, m.rides.length])).toEqual([[0, 1]]);
    expect(v2.push(3, rides[3])).toBe(none[0]);
  });

  it('sends one ride per message when ridesPerMessage is 1', () => {
    const messages = chunkAll(new Chunker({ source, ridesPerMessage: 1 }), rides.slice(0, 5).map((r, i) => [i, r]));
    expect(messages.map((m) => [m.chunk, m.firstIndex, m.rides.length])).toEqual([
      [0, 0, 1],
      [1, 1, 1],
      [2, 2, 1],
      [3, 3, 1],
      [4, 4, 1],
    ]);
  });

  it('records a gap in indexes (rejected rides) in the message instead of closing it (version 2)', () => {
    // Prepare: rides 3, 4 and 9 were rejected.
    const kept = rides.slice(0, 14).map((r, i) => [i, r] as [number, Ride]).filter(([i]) => ![3, 4, 9].includes(i));

    // Act
    const messages = chunkAll(new Chunker({ source, ridesPerMessage: 4 }), kept);

    // Assess: the oracle is the original index of every ride.
    expect(messages.map((m) => [m.v, m.firstIndex, m.gaps, m.rides.length])).toEqual([
      [2, 0, [[3, 2]], 4],
      [2, 6, [[3, 1]], 4],
      [2, 11, [], 3],
    ]);
    for (const m of messages) rideIndexes(m).forEach((index, i) => expect(m.rides[i]).toBe(rides[index]));
    for (const m of messages) expect(rideIndexes(decodeMessage(encodeMessage(m)))).toEqual(rideIndexes(m));
  });

  it('closes a message at a gap in indexes in version 1, so that ride_index = firstIndex + i holds', () => {
    // Prepare: rides 3, 4 and 9 were rejected.
    const kept = rides.slice(0, 12).map((r, i) => [i, r] as [number, Ride]).filter(([i]) => ![3, 4, 9].includes(i));

    // Act
    const messages = chunkAll(new Chunker({ source, ridesPerMessage: 4, version: 1 }), kept);

    // Assess: the oracle is the original index of every ride.
    expect(messages.map((m) => [m.firstIndex, m.rides.length])).toEqual([
      [0, 3],
      [5, 4],
      [10, 2],
    ]);
    for (const m of messages) m.rides.forEach((ride, i) => expect(ride).toBe(rides[m.firstIndex + i]));
  });

  it('keeps every encoded message within maxBytes, filling each as far as the next ride allows', () => {
    // Prepare: 250-character names make 100 rides about 45 KB; a 20 KiB limit cuts by bytes.
    const long = rides.slice(0, 300).map((r, i) => [i, { ...r, name: `${'🦄'.repeat(60)}${'n'.repeat(130)}` }] as [number, Ride]);
    const maxBytes = 20 * 1024;

    // Act
    const messages = chunkAll(new Chunker({ source, maxBytes }), long);

    // Assess
    expect(messages.length).toBeGreaterThan(3);
    for (const [k, m] of messages.entries()) {
      const size = Buffer.byteLength(encodeMessage(m));
      expect(size).toBeLessThanOrEqual(maxBytes);
      if (k < messages.length - 1) {
        const next = long[m.firstIndex + m.rides.length][1];
        expect(Buffer.byteLength(encodeMessage({ ...m, rides: [...m.rides, next] }))).toBeGreaterThan(maxBytes);
      }
    }
    expect(messages.flatMap((m) => m.rides)).toHaveLength(300);
  });

  it('counts the bytes of gaps exactly: with rejected rides every message stays within maxBytes and is filled as far as the next ride allows', () => {
    // Prepare: a seeded third of the rides rejected, some in runs; 150-character names; an 8 KiB limit
    let state = 7;
    const rejected = () => ((state = (state * 48271) % 2147483647) % 3 === 0);
    const kept = rides.slice(0, 600).map((r, i) => [i, { ...r, name: 'é'.repeat(75) }] as [number, Ride]).filter(() => !rejected());
    const maxBytes = 8 * 1024;

    // Act
    const messages = chunkAll(new Chunker({ source, maxBytes, ridesPerMessage: 1000 }), kept);

    // Assess
    expect(messages.length).toBeGreaterThan(5);
    expect(messages.some((m) => (m.gaps ?? []).length > 3)).toBe(true);
    let k = 0;
    for (const [n, m] of messages.entries()) {
      const body = encodeMessage(m);
      expect(body).toBe(encodeMessage({ ...m })); // the body kept at close = a fresh encoding
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(maxBytes);
      k += m.rides.length;
      if (n < messages.length - 1) {
        const [nextIndex, next] = kept[k];
        const indexes = rideIndexes(m);
        const skipped = nextIndex - indexes[indexes.length - 1] - 1;
        const grown = { ...m, gaps: skipped > 0 ? [...(m.gaps ?? []), [m.rides.length, skipped] as [number, number]] : m.gaps, rides: [...m.rides, next] };
        expect(Buffer.byteLength(encodeMessage(grown))).toBeGreaterThan(maxBytes);
      }
    }
    expect(messages.flatMap((m) => rideIndexes(m))).toEqual(kept.map(([i]) => i));
  });

  it.each([1, 2] as const)('writes version-%i bodies byte for byte as JSON.stringify of the message, filled as far as JSON.stringify sizes allow (seeded hostile rides)', (version) => {
    // Prepare: hostile names, doubles of every magnitude, a quarter of the indexes rejected, a 4 KiB limit
    const random = seededRandom(version);
    const kept: Array<[number, Ride]> = [];
    for (let i = 0; i < 3000; i++) {
      if (random() < 0.25) continue;
      const scale = 10 ** Math.floor(random() * 20 - 8);
      const ride = aRide({
        name: random() < 0.5 ? HOSTILE_NAMES[Math.floor(random() * HOSTILE_NAMES.length)] : `u${i}`,
        distance: random() < 0.5 ? Math.round(random() * 1e6) / 1e6 : random() * scale,
        latitude: (random() - 0.5) * 180,
        longitude: Math.round((random() - 0.5) * 360 * 1e6) / 1e6,
        healthpoints: Math.floor(random() * 2 ** 53),
        fieldservice: random() < 0.3 ? undefined : random() < 0.5 ? 0 : 1,
      });
      kept.push([i, ride]);
    }
    const maxBytes = 4 * 1024;
    const oracle = (m: FanoutMessage) => JSON.stringify(version === 1 ? { v: 1, source, chunk: m.chunk, firstIndex: m.firstIndex, rides: m.rides } : { v: 2, source, chunk: m.chunk, firstIndex: m.firstIndex, gaps: m.gaps, rides: m.rides });

    // Act
    const messages = chunkAll(new Chunker({ source, maxBytes, ridesPerMessage: 50, version }), kept);

    // Assess
    let k = 0;
    for (const [n, m] of messages.entries()) {
      const body = encodeMessage(m);
      expect(body).toBe(oracle(m));
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(maxBytes);
      k += m.rides.length;
      if (n < messages.length - 1 && m.rides.length < 50) {
        const [nextIndex, next] = kept[k];
        const indexes = rideIndexes(m);
        const skipped = nextIndex - indexes[indexes.length - 1] - 1;
        if (version === 2 || skipped === 0) {
          const grown = { ...m, gaps: skipped > 0 ? [...(m.gaps ?? []), [m.rides.length, skipped] as [number, number]] : m.gaps, rides: [...m.rides, next] };
          expect(Buffer.byteLength(oracle(grown))).toBeGreaterThan(maxBytes);
        }
      }
    }
    expect(messages.flatMap((m) => rideIndexes(m))).toEqual(kept.map(([i]) => i));
  });

  it('keeps 100 rides with 256-character names under the default 200 KiB', () => {
    const long = rides.slice(0, 100).map((r, i) => [i, { ...r, name: '"'.repeat(256) }] as [number, Ride]);
    const messages = chunkAll(new Chunker({ source }), long);
    expect(messages).toHaveLength(1);
    expect(Buffer.byteLength(encodeMessage(messages[0]))).toBeLessThanOrEqual(200 * 1024);
  });

  it('splits by bytes at the default 200 KiB when ridesPerMessage allows more than fits', () => {
    // Prepare: 256 emoji per name = 1 KiB of UTF-8 in each ride.
    const heavy = rides.map((r, i) => [i, { ...r, name: '🦄'.repeat(128) }] as [number, Ride]);

    // Act
    const messages = chunkAll(new Chunker({ source, ridesPerMessage: 1000 }), heavy);

    // Assess
    const total = heavy.reduce((sum, [, ride]) => sum + Buffer.byteLength(JSON.stringify(ride)), 0);
    expect(messages.length).toBeGreaterThanOrEqual(Math.ceil(total / (200 * 1024)));
    for (const m of messages) expect(Buffer.byteLength(encodeMessage(m))).toBeLessThanOrEqual(200 * 1024);
    expect(messages.flatMap((m) => m.rides)).toHaveLength(1000);
  });

  it('returns nothing from flush when no ride is pending', () => {
    const chunker = new Chunker({ source, ridesPerMessage: 2 });
    expect(chunker.flush()).toBeUndefined();
    chunker.push(0, rides[0]);
    chunker.push(1, rides[1]);
    expect(chunker.flush()).toBeUndefined();
    expect(chunker.chunks).toBe(1);
  });

  it.each([
    ['a repeated index', [0, 0]],
    ['a decreasing index', [5, 4]],
    ['a fractional index', [1.5]],
  ])('throws ChunkerError for %s', (_label, indexes) => {
    const chunker = new Chunker({ source });
    expect(() => indexes.forEach((i) => chunker.push(i, rides[0]))).toThrow(ChunkerError);
  });

  it('throws ChunkerError for ridesPerMessage below 1 and for a ride that alone exceeds maxBytes', () => {
    expect(() => new Chunker({ source, ridesPerMessage: 0 })).toThrow(/ridesPerMessage is 0/);
    expect(() => new Chunker({ source, maxBytes: 300 }).push(0, rides[0])).toThrow(/alone encodes to \d+ bytes, over maxBytes 300/);
  });
});
