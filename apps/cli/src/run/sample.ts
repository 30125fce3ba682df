import { generateRides, writeRides } from '@rydes/ride-model';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface Sample {
  file: string;
  rides: number;
  /** Bytes written. */
  bytes: number;
  /** SHA-256 (hex) of exactly the bytes written, taken as they went to the file. */
  sha256: string;
  remove(): Promise<void>;
}

/**
 * The default input of `rydes run`: `count` seeded rides as a JSON array, written to the data
 * dir (kept) or a temp dir (removed after the run). The SHA-256 of the file (its raw/ key needs
 * it) is taken from the bytes on their way to the file, so the file is never read back to hash it.
 * @example
 * const sample = await generateSample(200_000, 1);
 * rawKeyOf(sample.file, sample.sha256); // 'raw/rides-200000-seed1-96c93d2cb3a4.json'
 */
export async function generateSample(count: number, seed: number, dataDir?: string): Promise<Sample> {
  const dir = dataDir ? join(dataDir, 'sample') : await mkdtemp(join(tmpdir(), 'rydes-sample-'));
  const remove = () => (dataDir ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  try {
    await mkdir(dir, { recursive: true });
    const file = join(dir, `rides-${count}-seed${seed}.json`);
    const hash = createHash('sha256');
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(writeRides(generateRides({ count, seed }), { shape: 'array', gzip: false }), tap, createWriteStream(file));
    return { file, rides: count, bytes, sha256: hash.digest('hex'), remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
