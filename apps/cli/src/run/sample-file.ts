import { generateRideFile } from '@rydes/ride-model';
import { createHash } from 'node:crypto';
import { close, createWriteStream, open, write } from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** How far apart the worker's reports of the bytes written are (a reader following the file needs no finer steps). */
export const FOLLOW_STEP_BYTES = 1024 * 1024;

/** What writing a sample gave: its size and the SHA-256 (hex) of exactly the bytes written. */
export interface SampleBytes {
  bytes: number;
  sha256: string;
}

/**
 * Writes `count` seeded rides as the pretty JSON array `rydes run` generates to `file`, hashing
 * the bytes on their way to the file (never read back to hash). Used inside the sample's worker
 * thread (sample-worker.ts) and, without the built worker, on the caller's thread. With
 * `onWritten`, says how many bytes are in the file after each write (a reader may follow it).
 * @example
 * const { bytes, sha256 } = await writeSampleFile(200_000, 1, '/tmp/rides-200000-seed1.json');
 * sha256.slice(0, 12); // '96c93d2cb3a4'
 */
export async function writeSampleFile(count: number, seed: number, file: string, onWritten?: (bytes: number) => void): Promise<SampleBytes> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(generateRideFile({ count, seed, shape: 'array', gzip: false }), tap, onWritten ? followedFile(file, onWritten) : createWriteStream(file));
  return { bytes, sha256: hash.digest('hex') };
}

/** A file sink that reports the bytes in the file after each write has returned (what a reader can then read). */
function followedFile(file: string, onWritten: (bytes: number) => void): Writable {
  let fd = -1;
  let written = 0;
  const writeAll = (chunk: Buffer, done: (err?: Error | null) => void) =>
    write(fd, chunk, 0, chunk.length, null, (err, n) => {
      if (err) return done(err);
      written += n;
      if (n < chunk.length) return writeAll(chunk.subarray(n), done);
      onWritten(written);
      done();
    });
  return new Writable({
    construct(done) {
      open(file, 'w', (err, opened) => {
        fd = opened;
        done(err);
      });
    },
    write(chunk: Buffer, _encoding, done) {
      writeAll(chunk, done);
    },
    destroy(err, done) {
      if (fd < 0) return done(err);
      close(fd, () => done(err));
      fd = -1;
    },
  });
}
