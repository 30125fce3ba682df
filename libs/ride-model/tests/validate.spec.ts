import { normaliseRecord, SkippedRecord, validateRide } from '../src';
import { aRide } from '../src/testing';

function reasonsFor(record: unknown): string[] {
  const result = validateRide(record);
  return result.ok ? [] : result.reasons;
}

describe('normaliseRecord', () => {
  it('lower-cases keys, converts numeric strings and drops unknown fields by name', () => {
    // Act
    const { fields, dropped } = normaliseRecord({ HealthPoints: '217', Distance: '29.212845', NAME: 'Shadowfax', Colour: 'white', mood: 1 });

    // Assess
    expect({ ...fields }).toEqual({ healthpoints: 217, distance: 29.212845, name: 'Shadowfax' });
    expect(dropped).toEqual(['Colour', 'mood']);
  });

  it.each([
    [true, 1],
    [false, 0],
    [1, 1],
    [0, 0],
    ['true', 1],
    ['TRUE', 1],
    ['false', 0],
    ['1', 1],
    ['0', 0],
    [' 1 ', 1],
    ['yes', 'yes'],
    [2, 2],
  ])('maps fieldservice %p to %p', (input, expected) => {
    expect(normaliseRecord({ fieldservice: input }).fields.fieldservice).toBe(expected);
  });

  it.each([
    ['29.212845', 29.212845],
    ['-73.985184', -73.985184],
    ['1e3', 1000],
    [' 42 ', 42],
    ['+5', 5],
    ['.5', 0.5],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['0x10', '0x10'],
    ['', ''],
    ['12abc', '12abc'],
  ])('converts the numeric string %p to %p and leaves other strings alone', (input, expected) => {
    expect(normaliseRecord({ latitude: input }).fields.latitude).toBe(expected);
  });

  it('never lets __proto__, constructor or prototype keys reach a prototype', () => {
    // Prepare: JSON.parse makes these own properties, unlike an object literal.
    const record = JSON.parse('{"__proto__": {"polluted": 1, "name": "evil"}, "constructor": {"prototype": {"polluted": 2}}, "prototype": 3, "name": "ok"}');

    // Act
    const { fields, dropped } = normaliseRecord(record);
    const result = validateRide(record);

    // Assess
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect(Object.keys(fields)).toEqual(['name']);
    expect(fields.name).toBe('ok');
    expect(dropped).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(result.ok).toBe(false);
  });

  it('keeps the later of two keys that differ only in case', () => {
    expect(normaliseRecord({ Latitude: 1, latitude: 2 }).fields.latitude).toBe(2);
    expect(normaliseRecord({ latitude: 2, LATITUDE: 1 }).fields.latitude).toBe(1);
  });

  it('returns no fields for values that are not objects', () => {
    for (const value of [null, 5, 'x', [aRide()], undefined]) expect(Object.keys(normaliseRecord(value).fields)).toEqual([]);
  });
});

describe('validateRide', () => {
  it('accepts a workshop-style record with capitalised keys and numeric strings', () => {
    // Prepare
    const record = {
      Name: 'Shadowfax',
      StatusTime: '2018-05-07 20:11:04.247',
      Latitude: '40.749167',
      Longitude: -73.985184,
      Distance: '29.212845',
      HealthPoints: 217,
      MagicPoints: '112',
      FieldService: true,
      Extra: 'dropped',
    };

    // Act
    const result = validateRide(record);

    // Assess
    expect(result).toEqual({ ok: true, ride: aRide({ fieldservice: 1 }), dropped: ['Extra'] });
  });

  it('returns a plain ride object in CSV column order', () => {
    const result = validateRide(aRide());
    expect(result.ok && Object.keys(result.ride)).toEqual(['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints', 'name', 'statustime', 'fieldservice']);
    expect(result.ok && Object.getPrototypeOf(result.ride)).toBe(Object.prototype);
  });

  it('leaves fieldservice out when it is absent or null', () => {
    for (const fieldservice of [undefined, null]) {
      const result = validateRide({ ...aRide({ fieldservice: undefined }), fieldservice });
      expect(result.ok && 'fieldservice' in result.ride).toBe(false);
    }
  });

  it('keeps statustime exactly as given, fraction included', () => {
    for (const statustime of ['2018-05-07 20:11:04', '2018-05-07 20:11:04.2', '2018-05-07 20:11:04.123456789', '2016-02-29 23:59:59']) {
      const result = validateRide(aRide({ statustime }));
      expect(result.ok && result.ride.statustime).toBe(statustime);
    }
  });

  it('turns -0 into 0 in every numeric field', () => {
    const result = validateRide(aRide({ distance: -0, latitude: -0, longitude: -0, healthpoints: -0, magicpoints: -0 }));
    expect(result.ok).toBe(true);
    if (result.ok) for (const value of [result.ride.distance, result.ride.latitude, result.ride.longitude]) expect(Object.is(value, 0)).toBe(true);
  });

  it.each([
    ['name missing', { name: undefined }, 'name: missing'],
    ['name not a string', { name: 42 }, 'name: expected a string, got number 42'],
    ['name empty', { name: '' }, 'name: is empty or blank'],
    ['name blank', { name: ' \t ' }, 'name: is empty or blank'],
    ['name too long', { name: 'x'.repeat(257) }, 'name: 257 characters is over the 256-character limit'],
    ['name with a lone surrogate', { name: 'bad\ud800' }, 'name: contains an unpaired UTF-16 surrogate (not encodable as UTF-8)'],
    ['statustime missing', { statustime: undefined }, 'statustime: missing'],
    ['statustime a number', { statustime: 1525723864 }, 'statustime: expected a string, got number 1525723864'],
    ['statustime ISO 8601', { statustime: '2018-05-07T20:11:04Z' }, 'statustime: "2018-05-07T20:11:04Z" is not YYYY-MM-DD HH:MM:SS[.fraction]'],
    ['statustime empty fraction', { statustime: '2018-05-07 20:11:04.' }, 'statustime: "2018-05-07 20:11:04." is not YYYY-MM-DD HH:MM:SS[.fraction]'],
    ['statustime 10-digit fraction', { statustime: '2018-05-07 20:11:04.1234567890' }, 'statustime: "2018-05-07 20:11:04.1234567890" is not YYYY-MM-DD HH:MM:SS[.fraction]'],
    ['statustime single-digit month', { statustime: '2018-5-07 20:11:04' }, 'statustime: "2018-5-07 20:11:04" is not YYYY-MM-DD HH:MM:SS[.fraction]'],
    ['statustime Feb 30', { statustime: '2018-02-30 12:00:00' }, 'statustime: "2018-02-30 12:00:00" is not a real calendar time'],
    ['statustime Feb 29 of a common year', { statustime: '2018-02-29 12:00:00' }, 'statustime: "2018-02-29 12:00:00" is not a real calendar time'],
    ['statustime Feb 29 of 1900', { statustime: '1900-02-29 12:00:00' }, 'statustime: "1900-02-29 12:00:00" is not a real calendar time'],
    ['statustime hour 24', { statustime: '2018-05-07 24:00:00' }, 'statustime: "2018-05-07 24:00:00" is not a real calendar time'],
    ['statustime month 13', { statustime: '2018-13-01 00:00:00' }, 'statustime: "2018-13-01 00:00:00" is not a real calendar time'],
    ['statustime day 0', { statustime: '2018-04-00 00:00:00' }, 'statustime: "2018-04-00 00:00:00" is not a real calendar time'],
    ['statustime April 31', { statustime: '2018-04-31 00:00:00' }, 'statustime: "2018-04-31 00:00:00" is not a real calendar time'],
    ['statustime minute 60', { statustime: '2018-05-07 20:60:00' }, 'statustime: "2018-05-07 20:60:00" is not a real calendar time'],
    ['statustime second 60', { statustime: '2018-05-07 20:11:60' }, 'statustime: "2018-05-07 20:11:60" is not a real calendar time'],
    ['latitude 91', { latitude: 91 }, 'latitude: 91 is outside [-90, 90]'],
    ['latitude -90.000001', { latitude: -90.000001 }, 'latitude: -90.000001 is outside [-90, 90]'],
    ['longitude 181', { longitude: 181 }, 'longitude: 181 is outside [-180, 180]'],
    ['longitude "NaN"', { longitude: 'NaN' }, 'longitude: expected a number, got string "NaN"'],
    ['latitude missing', { latitude: undefined }, 'latitude: missing'],
    ['latitude null', { latitude: null }, 'latitude: expected a number, got null'],
    ['latitude an object', { latitude: { deg: 40 } }, 'latitude: expected a number, got an object'],
    ['distance 1e400 (Infinity)', { distance: Infinity }, 'distance: Infinity is not a finite number'],
    ['distance "1e400"', { distance: '1e400' }, 'distance: Infinity is not a finite number'],
    ['distance negative', { distance: -1 }, 'distance: -1 is negative'],
    ['distance a word', { distance: 'far' }, 'distance: expected a number, got string "far"'],
    ['healthpoints fractional', { healthpoints: 2.5 }, 'healthpoints: 2.5 is not an integer'],
    ['healthpoints negative', { healthpoints: -3 }, 'healthpoints: -3 is negative'],
    ['healthpoints above 2^53', { healthpoints: 1e300 }, 'healthpoints: 1e+300 is above 9007199254740991'],
    ['magicpoints missing', { magicpoints: undefined }, 'magicpoints: missing'],
    ['magicpoints a boolean', { magicpoints: true }, 'magicpoints: expected a number, got boolean true'],
    ['fieldservice 2', { fieldservice: 2 }, 'fieldservice: 2 is not 0/1, true/false or absent'],
    ['fieldservice "yes"', { fieldservice: 'yes' }, 'fieldservice: "yes" is not 0/1, true/false or absent'],
  ])('rejects %s with a reason naming the field and the problem', (_label, overrides, reason) => {
    expect(reasonsFor(aRide(overrides))).toEqual([reason]);
  });

  it('lists every failing field at once', () => {
    // Act
    const reasons = reasonsFor({ name: '', statustime: '2018-02-30 00:00:00', latitude: 91, longitude: 181, distance: -1, healthpoints: 1.5, fieldservice: 7 });

    // Assess
    expect(reasons).toEqual([
      'distance: -1 is negative',
      'healthpoints: 1.5 is not an integer',
      'latitude: 91 is outside [-90, 90]',
      'longitude: 181 is outside [-180, 180]',
      'magicpoints: missing',
      'name: is empty or blank',
      'statustime: "2018-02-30 00:00:00" is not a real calendar time',
      'fieldservice: 7 is not 0/1, true/false or absent',
    ]);
  });

  it.each([
    [null, 'record: expected a JSON object, got null'],
    [[aRide()], 'record: expected a JSON object, got an array'],
    [42, 'record: expected a JSON object, got number 42'],
    ['ride', 'record: expected a JSON object, got string "ride"'],
  ])('rejects %p, which is not an object', (record, reason) => {
    expect(reasonsFor(record)).toEqual([reason]);
  });

  it('rejects a record the parser skipped, with the parser reason naming the size', () => {
    const skipped = new SkippedRecord('record: 104857700 bytes exceeds the 65536-byte limit', 104857700);
    expect(validateRide(skipped)).toEqual({ ok: false, reasons: ['record: 104857700 bytes exceeds the 65536-byte limit'] });
    expect(JSON.stringify(skipped)).toBe('{"skipped":"record: 104857700 bytes exceeds the 65536-byte limit","bytes":104857700}');
  });

  it('accepts the boundary values of every range', () => {
    for (const overrides of [{ latitude: 90, longitude: 180 }, { latitude: -90, longitude: -180 }, { distance: 0, healthpoints: 0, magicpoints: 0 }, { name: 'x'.repeat(256) }]) {
      expect(validateRide(aRide(overrides)).ok).toBe(true);
    }
  });

  it('truncates long values in reasons so a reject line stays short', () => {
    const [reason] = reasonsFor(aRide({ statustime: 'y'.repeat(10_000) }));
    expect(reason.length).toBeLessThan(100);
  });
});

describe('names and Athena (one CSV record = one physical line)', () => {
  it.each([
    ['CR', 'Bob\rSmith', 'U+000D', 3],
    ['LF', 'Bob\nSmith', 'U+000A', 3],
    ['tab', '\tBob', 'U+0009', 0],
    ['NUL', 'Bob\u0000', 'U+0000', 3],
    ['US', 'a\u001fb', 'U+001F', 1],
    ['DEL', 'a\u007fb', 'U+007F', 1],
  ])('rejects a name holding %s, naming the character and its position', (_label, name, codePoint, position) => {
    expect(reasonsFor(aRide({ name }))).toEqual([`name: contains the control character ${codePoint} at position ${position} (a CSV record must stay one line for Athena)`]);
  });

  it.each(['comma, inside', 'quote " inside "" twice', 'unicorn 🦄 𝔘𝔫𝔦𝔠𝔬𝔯𝔫', 'right-to-left \u202e mark, zero width \u200b', 'NBSP\u00a0and C1\u0085'])(
    'keeps printable names valid: %j',
    (name) => {
      expect(reasonsFor(aRide({ name }))).toEqual([]);
    },
  );
});
