import { decodeEventKey, encodeEventKey, isRideFileKey, matchesIngestTrigger, objectKeys, ObjectKeyError, parseOutputKey, rideFileSuffix, sameVersion } from '../src';

describe('objectKeys', () => {
  it('derives the keys of ARCHITECTURE.md from the key and the first 8 hex characters of the ETag', () => {
    // Act
    const keys = objectKeys({ bucket: 'b', key: 'raw/rides.json', etag: '"0123456789ABCDEF0123456789abcdef"' });

    // Assess
    expect(keys.stem).toBe('rides');
    expect(keys.etag8).toBe('01234567');
    expect(keys.processed(42)).toBe('processed/rides-01234567-000042.csv');
    expect(keys.processed(0)).toBe('processed/rides-01234567-000000.csv');
    expect(keys.rejects).toBe('rejects/rides-01234567.ndjson');
    expect(keys.rejectsPart(0)).toBe('rejects/rides-01234567-part0000.ndjson');
    expect(keys.rejectsPart(12)).toBe('rejects/rides-01234567-part0012.ndjson');
    expect(keys.manifest).toBe('manifests/rides-01234567.json');
    expect(() => keys.rejectsPart(-1)).toThrow(ObjectKeyError);
  });

  it.each([
    ['raw/rides.json', 'rides'],
    ['raw/rides.ndjson', 'rides'],
    ['raw/rides.json.gz', 'rides'],
    ['raw/rides.v2.json', 'rides.v2'],
    ['raw/a/b.json', 'a/b'],
    ['raw/2018/05/day 7.json.gz', '2018/05/day 7'],
  ])('takes %s to the stem %s', (key, stem) => {
    expect(objectKeys({ bucket: 'b', key, etag: 'abcdef0123' }).stem).toBe(stem);
  });

  it.each([
    ['a quoted ETag', '"d41d8cd98f00b204e9800998ecf8427e"', 'd41d8cd9'],
    ['a multipart ETag', '"9b2cf535f27731c974343645a3985328-3"', '9b2cf535'],
    ['an unquoted ETag', 'D41D8CD98F00B204', 'd41d8cd9'],
    ['a weak ETag', 'W/"d41d8cd98f00b204"', 'd41d8cd9'],
  ])('reads %s', (_label, etag, etag8) => {
    expect(objectKeys({ bucket: 'b', key: 'raw/x.json', etag }).etag8).toBe(etag8);
  });

  it('throws ObjectKeyError for a key that is not a ride file and for an ETag without 8 hex characters', () => {
    expect(() => objectKeys({ bucket: 'b', key: 'processed/x.json', etag: 'abcdef0123' })).toThrow(ObjectKeyError);
    expect(() => objectKeys({ bucket: 'b', key: 'raw/x.json', etag: '"abc"' })).toThrow(/ETag "\\"abc\\"" of raw\/x.json does not start with 8 hex characters/);
    expect(() => objectKeys({ bucket: 'b', key: 'raw/x.json', etag: 'zzzzzzzzzz' })).toThrow(ObjectKeyError);
  });

  it('throws ObjectKeyError for a chunk that is not an integer >= 0', () => {
    const keys = objectKeys({ bucket: 'b', key: 'raw/x.json', etag: 'abcdef0123' });
    expect(() => keys.processed(-1)).toThrow(ObjectKeyError);
    expect(() => keys.processed(1.5)).toThrow(ObjectKeyError);
  });
});

describe('isRideFileKey', () => {
  it.each(['raw/rides.json', 'raw/rides.ndjson', 'raw/rides.json.gz', 'raw/rides.ndjson.gz', 'raw/a/b/c.json', 'raw/.hidden.json'])('accepts %s', (key) => {
    expect(isRideFileKey(key)).toBe(true);
  });

  it('keeps the whole name in the stem of a .ndjson.gz key (never read as .json.gz)', () => {
    expect(objectKeys({ bucket: 'b', key: 'raw/x.ndjson.gz', etag: '0123456789' }).stem).toBe('x');
    expect(rideFileSuffix('x.ndjson.gz')).toBe('.ndjson.gz');
    expect(rideFileSuffix('x.txt')).toBeUndefined();
  });

  it.each([
    'rides.json',
    'processed/rides.json',
    'raw/rides.csv',
    'raw/rides.gz',
    'raw/rides.txt',
    'raw/rides.jsongz',
    'raw/rides.JSON',
    'raw/.json',
    'raw/a/.json',
    'raw//x.json',
    'raw/../x.json',
    'raw/a/./x.json',
    'raw/',
    'rawx/rides.json',
  ])('rejects %s', (key) => {
    expect(isRideFileKey(key)).toBe(false);
  });
});

describe('matchesIngestTrigger', () => {
  it('accepts what the S3 notification filters accept, names not checked', () => {
    expect(matchesIngestTrigger('raw/rides.json.gz')).toBe(true);
    expect(matchesIngestTrigger('raw//x.json')).toBe(true);
    expect(matchesIngestTrigger('raw/rides.csv')).toBe(false);
    expect(matchesIngestTrigger('processed/rides.json')).toBe(false);
  });
});

describe('parseOutputKey', () => {
  const stems = ['rides', 'a-b', 'a/b', 'day 7 é+1', 'x-01234567', 'x-01234567-000001', 'rides-part0001', 'deadbeef'];

  it.each(stems)('reads back every key objectKeys writes for the stem %s', (stem) => {
    // Prepare
    const keys = objectKeys({ bucket: 'b', key: `raw/${stem}.json`, etag: '"89abcdef0123"' });
    const version = { stem, etag8: '89abcdef' };

    // Act / Assess
    expect(parseOutputKey(keys.processed(0))).toEqual({ kind: 'processed', ...version, chunk: 0 });
    expect(parseOutputKey(keys.processed(1_234_567))).toEqual({ kind: 'processed', ...version, chunk: 1_234_567 });
    expect(parseOutputKey(keys.rejects)).toEqual({ kind: 'rejects', ...version });
    expect(parseOutputKey(keys.rejectsPart(12))).toEqual({ kind: 'rejectsPart', ...version, part: 12 });
    expect(parseOutputKey(keys.manifest)).toEqual({ kind: 'manifest', ...version });
  });

  it('gives prefixes that list a version and the keys under them that parse as that version', () => {
    const keys = objectKeys({ bucket: 'b', key: 'raw/a.json', etag: '01234567' });
    expect(keys.processed(3).startsWith(keys.processedPrefix)).toBe(true);
    expect(keys.rejectsPart(3).startsWith(keys.rejectsPartPrefix)).toBe(true);
    expect(keys.manifest.startsWith(keys.manifestsPrefix)).toBe(true);
    // The stem `a-b` shares a's prefix `manifests/a-` but is another file.
    const other = objectKeys({ bucket: 'b', key: 'raw/a-b.json', etag: '01234567' });
    expect(other.manifest.startsWith(keys.manifestsPrefix)).toBe(true);
    expect(sameVersion(parseOutputKey(other.manifest), keys)).toBe(false);
    expect(sameVersion(parseOutputKey(keys.processed(3)), keys)).toBe(true);
    expect(sameVersion(parseOutputKey('processed/a-01234567-12.csv'), keys)).toBe(false);
  });

  it.each([
    'processed/rides.csv',
    'processed/rides-0123456-000001.csv',
    'processed/rides-01234567-00001.csv',
    'processed/rides-0123456G-000001.csv',
    'processed/rides-01234567-000001.csv.tmp',
    'rejects/rides-01234567-part01.ndjson',
    'manifests/rides-01234567.json.bak',
    'raw/rides-01234567.json',
    'processed/-01234567-000001.csv',
  ])('answers undefined for %s', (key) => {
    expect(parseOutputKey(key)).toBeUndefined();
  });
});

describe('event keys', () => {
  it.each([
    ['raw/rides.json', 'raw/rides.json'],
    ['raw/day 7.json', 'raw/day+7.json'],
    ['raw/a+b.json', 'raw/a%2Bb.json'],
    ['raw/é/x.json', 'raw/%C3%A9/x.json'],
  ])('encodes %s as S3 notifications do (%s) and decodes it back', (key, encoded) => {
    expect(encodeEventKey(key)).toBe(encoded);
    expect(decodeEventKey(encoded)).toBe(key);
  });
});
