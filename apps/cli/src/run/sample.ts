import { generateRides, writeRides } from '@rydes/ride-model';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface Sample {
  file: string;
  rides: number;
  remove(): Promise<void>;
}

/**
 * The default input of `rydes run`: `count` seeded rides as a JSON array, written to the data
 * dir (kept) or a temp dir (removed after the run).
 */
export async function generateSample(count: number, seed: number, dataDir?: string): Promise<Sample> {
  const dir = dataDir ? join(dataDir, 'sample') : await mkdtemp(join(tmpdir(), 'rydes-sample-'));
  await mkdir(dir, { recursive: true });
  const file = join(dir, `rides-${count}-seed${seed}.json`);
  await pipeline(writeRides(generateRides({ count, seed }), { shape: 'array', gzip: false }), createWriteStream(file));
  return { file, rides: count, remove: () => (dataDir ? Promise.resolve() : rm(dir, { recursive: true, force: true })) };
}
