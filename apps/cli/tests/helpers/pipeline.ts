import { generateRecords, writeRides, type RideFileShape } from '@rydes/ride-model';
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rawKeyOf } from '../../src/run/inputs';
import { runPipeline, type RunOptions, type RunResult } from '../../src/run/run-pipeline';

/** A generated ride file on disk and what the generator knows about it. */
export interface InputFile {
  path: string;
  /** Its raw/ key: `raw/<stem>-<12 hex of sha256><suffix>`. */
  key: string;
  total: number;
  /** Ride index → the reason the generator made it invalid. */
  invalid: Map<number, string>;
}

/** Writes `count` seeded rides (about `invalidRate` of them invalid) as `name` in `dir`. */
export async function writeInput(
  dir: string,
  file: { shape: RideFileShape; gzip: boolean; name: string },
  seed: number,
  count: number,
  invalidRate = 0.04,
): Promise<InputFile> {
  const generated = [...generateRecords({ count, seed, invalidRate })];
  const path = join(dir, file.name);
  await pipeline(writeRides(generated.map((g) => g.record), { shape: file.shape, gzip: file.gzip }), createWriteStream(path));
  const invalid = new Map(generated.flatMap((g) => (g.reason ? [[g.index, g.reason] as [number, string]] : [])));
  return { path, key: rawKeyOf(path, sha256(path)), total: generated.length, invalid };
}

/** SHA-256 of a file's bytes, hex. */
export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** stdout/stderr for runPipeline that collect the text (stderr not a TTY: no progress redraws). */
function quietStreams() {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  (stderr as unknown as PassThrough).on('data', (c) => (err += c));
  return { stdout, stderr, text: () => ({ out, err }) };
}

/** Options a test sets; two transform environments and a 30 s stall timeout unless given. */
export type TestRunOptions = Omit<RunOptions, 'stdout' | 'stderr' | 'concurrency' | 'stallTimeoutSeconds'> &
  Partial<Pick<RunOptions, 'concurrency' | 'stallTimeoutSeconds'>>;

/** `rydes run` in-process with its summary and progress captured instead of printed; no report.html unless asked. */
export async function runQuietly(options: TestRunOptions): Promise<{ result: RunResult; output: { out: string; err: string } }> {
  const streams = quietStreams();
  const result = await runPipeline({ concurrency: 2, stallTimeoutSeconds: 30, report: false, ...options, stdout: streams.stdout, stderr: streams.stderr });
  return { result, output: streams.text() };
}
