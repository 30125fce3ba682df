import { generateRideFile } from '@rydes/ride-model';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What writing a sample gave: its size and the SHA-256 (hex) of exactly the bytes written. */
export interface SampleBytes {
  bytes: number;
  sha256: string;
}

/**
 * Writes `count` seeded rides as the pretty JSON array `rydes run` generates to `file`, hashing
 * the bytes on their way to the file (never read back to hash). Used inside the sample's worker
 * thread (sample-worker.ts) and, without the built worker, on the caller's thread.
 * @example
 * const { bytes, sha256 } = await writeSampleFile(200_000, 1, '/tmp/rides-200000-seed1.json');
 * sha256.slice(0, 12); // '96c93d2cb3a4'
 */
export async function writeSampleFile(count: number, seed: number, file: string): Promise<SampleBytes> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(generateRideFile({ count, seed, shape: 'array', gzip: false }), tap, createWriteStream(file));
  return { bytes, sha256: hash.digest('hex') };
}
