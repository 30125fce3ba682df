import { isUtf8 } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import { seededRandom } from '../src';
import { collectRides } from '../src/testing';

// Brute-force oracle for the record splitter: random JSON documents full of the characters it
// must track (quotes, backslashes, brackets inside strings, multi-byte UTF-8), cut into random
// chunk sizes, must yield exactly what JSON.parse of the whole document gives.

const rng = seededRandom;

const ALPHABET = ['a', 'Z', ' ', '"', '\\', '{', '}', '[', ']', ',', ':', '\n', 'é', '🦄', '\u0000', '\\u', '/'];

function randomString(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 12);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 3 || pick < 0.3) {
    const scalar = Math.floor(r() * 5);
    return [randomString(r), r() * 1e6 - 5e5, Math.floor(r() * 100), null, r() < 0.5][scalar];
  }
  if (pick < 0.5) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) obj[randomString(r)] = randomValue(r, depth + 1);
  return obj;
}

function randomRecord(r: () => number): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (let i = 1 + Math.floor(r() * 5); i > 0; i--) obj[randomString(r)] = randomValue(r, 1);
  return obj;
}

function stringify(value: unknown, r: () => number): string {
  return JSON.stringify(value, null, [0, 1, 2, '\t'][Math.floor(r() * 4)]);
}

describe('parseRides against a JSON.parse oracle', () => {
  it.each(Array.from({ length: 40 }, (_, seed) => seed))('yields what JSON.parse yields for random array and stream documents (seed %i)', async (seed) => {
    // Prepare
    const r = rng(seed);
    const records = Array.from({ length: 1 + Math.floor(r() * 20) }, () => (r() < 0.8 ? randomRecord(r) : randomValue(r, 0)));
    const objects = records.filter((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
    const array = stringify(records, r);
    const concatenated = objects.map((v) => stringify(v, r)).join(r() < 0.5 ? '' : '\n');
    const chunkSize = 1 + Math.floor(r() * 40);

    // Act
    const fromArray = await collectRides(array, chunkSize);
    const fromStream = await collectRides(gzipSync(concatenated), chunkSize);

    // Assess
    expect(fromArray.error).toBeUndefined();
    expect(fromArray.records.map((x) => x.record)).toEqual(JSON.parse(array));
    expect(fromStream.error).toBeUndefined();
    expect(fromStream.records.map((x) => x.record)).toEqual(objects.map((o) => JSON.parse(JSON.stringify(o))));
  });

  it.each(Array.from({ length: 80 }, (_, seed) => 1000 + seed))('fails, never hangs or yields garbage, when a random byte of a document is deleted (seed %i)', async (seed) => {
    // Prepare
    const r = rng(seed);
    const records = Array.from({ length: 2 + Math.floor(r() * 10) }, () => randomRecord(r));
    const bytes = Buffer.from(JSON.stringify(records, null, 1));
    const cut = Math.floor(r() * bytes.length);
    const broken = Buffer.concat([bytes.subarray(0, cut), bytes.subarray(cut + 1)]);

    // Act
    const { records: got, error } = await collectRides(broken, 1 + Math.floor(r() * 30));

    // Assess: either the deletion left valid JSON (oracle agrees), or every yielded record is a
    // correct prefix of the original records, bar the one the deletion hit.
    let oracle: unknown;
    try {
      oracle = isUtf8(broken) ? JSON.parse(broken.toString()) : undefined;
    } catch {
      oracle = undefined;
    }
    if (oracle !== undefined) {
      expect(error).toBeUndefined();
      expect(got.map((x) => x.record)).toEqual(oracle);
    } else {
      expect(error).toBeDefined();
      const hit = records.findIndex((_, i) => JSON.stringify(got[i]?.record) !== JSON.stringify(records[i]));
      expect(hit === -1 || hit >= got.length - 1).toBe(true);
    }
  });
});
