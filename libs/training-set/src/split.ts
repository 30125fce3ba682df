import { createHash } from 'node:crypto';

/**
 * Buckets of the split: a ride's bucket is the first 8 hex digits of md5(`seed:source:ride_index`)
 * read as an unsigned 32-bit number, modulo this. Rides with a bucket below
 * `round(testFraction × SPLIT_BUCKETS)` go to test. 1000 buckets: fractions to 0.001.
 */
export const SPLIT_BUCKETS = 1000;

/**
 * The text hashed for a ride: `seed:source:ride_index`, e.g. `0:raw/rides.json:42`. Every engine
 * builds the same string, so the split does not depend on who computes it.
 *
 * @example
 * ```ts
 * splitKey(0, 'raw/rides.json', 42); // '0:raw/rides.json:42'
 * ```
 */
export function splitKey(seed: number, source: string, rideIndex: number | string): string {
  return `${seed}:${source}:${rideIndex}`;
}

/**
 * A ride's split bucket in [0, {@link SPLIT_BUCKETS}), computed in TypeScript: the reference the
 * SQL of both engines is tested against.
 *
 * @example
 * ```ts
 * splitBucket(0, 'raw/a.json', 5); // 737 (md5 '9022ff81…' → 0x9022ff81 = 2418212737 → mod 1000)
 * ```
 */
export function splitBucket(seed: number, source: string, rideIndex: number | string): number {
  const hex = createHash('md5').update(splitKey(seed, source, rideIndex)).digest('hex');
  return parseInt(hex.slice(0, 8), 16) % SPLIT_BUCKETS;
}

/**
 * Buckets that go to test for a fraction in [0, 1].
 *
 * @example
 * ```ts
 * testBuckets(0.1); // 100: buckets 0–99 are test
 * ```
 */
export function testBuckets(testFraction: number): number {
  if (!(testFraction >= 0 && testFraction <= 1)) throw new RangeError(`test fraction ${testFraction} is not in [0, 1]`);
  return Math.round(testFraction * SPLIT_BUCKETS);
}

/**
 * True when the ride belongs to the test split.
 *
 * @example
 * ```ts
 * isTest(0, 'raw/a.json', 5, 0.1); // false (bucket 737)
 * ```
 */
export function isTest(seed: number, source: string, rideIndex: number | string, testFraction: number): boolean {
  return splitBucket(seed, source, rideIndex) < testBuckets(testFraction);
}
