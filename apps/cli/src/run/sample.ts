import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { writeSampleFile, type SampleBytes } from './sample-file';

export interface Sample {
  file: string;
  rides: number;
  /** Bytes written. */
  bytes: number;
  /** SHA-256 (hex) of exactly the bytes written, taken as they went to the file. */
  sha256: string;
  remove(): Promise<void>;
}

/** What the sample's worker thread is asked to write. */
export interface SampleJob {
  count: number;
  seed: number;
  file: string;
}

/** The worker's one message: the file's size and hash, or the error that stopped it. */
export type SampleReply = ({ ok: true } & SampleBytes) | { ok: false; name: string; message: string; code?: string };

/**
 * The built worker script beside the CLI bundle (dist/apps/cli/run/sample-worker.js); undefined
 * when running from the TypeScript sources (specs), where the sample is written on the caller's thread.
 */
export function builtSampleWorker(dir = __dirname): string | undefined {
  return [join(dir, 'run', 'sample-worker.js'), join(dir, 'sample-worker.js')].find((path) => existsSync(path));
}

export interface SampleOptions {
  /**
   * The worker script to write the sample in (default: {@link builtSampleWorker}); `false`: on
   * this thread, between other work (the generator yields every 64 KiB).
   */
  worker?: string | false;
}

/**
 * The default input of `rydes run`: `count` seeded rides as a JSON array, written to the data
 * dir (kept) or a temp dir (removed after the run). The SHA-256 of the file (its raw/ key needs
 * it) is taken from the bytes on their way to the file, so the file is never read back to hash it.
 * Written in a worker thread when the built worker is there: `rydes run` writes it while its
 * stack starts, and on the CLI's own thread the two took turns on one core (the sample is most of
 * that work) while the machine's second core often had nothing to do.
 * @example
 * const sample = await generateSample(200_000, 1);
 * rawKeyOf(sample.file, sample.sha256); // 'raw/rides-200000-seed1-96c93d2cb3a4.json'
 */
export async function generateSample(count: number, seed: number, dataDir?: string, options: SampleOptions = {}): Promise<Sample> {
  const dir = dataDir ? join(dataDir, 'sample') : await mkdtemp(join(tmpdir(), 'rydes-sample-'));
  const remove = () => (dataDir ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  try {
    await mkdir(dir, { recursive: true });
    const file = join(dir, `rides-${count}-seed${seed}.json`);
    const worker = options.worker ?? builtSampleWorker();
    const { bytes, sha256 } = worker ? await inWorker(worker, { count, seed, file }) : await writeSampleFile(count, seed, file);
    return { file, rides: count, bytes, sha256, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Runs one {@link SampleJob} in a worker thread of `script`; its error (a file-system one keeps its code) is thrown here. */
function inWorker(script: string, job: SampleJob): Promise<SampleBytes> {
  return new Promise((resolve, reject) => {
    let reply: SampleReply | undefined;
    const worker = new Worker(script, { workerData: job });
    worker.once('message', (message: SampleReply) => (reply = message));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (reply?.ok) return resolve({ bytes: reply.bytes, sha256: reply.sha256 });
      if (!reply) return reject(new Error(`the sample's worker thread exited (code ${code}) before writing ${job.file}`));
      reject(Object.assign(new Error(reply.message), { name: reply.name }, reply.code && { code: reply.code }));
    });
  });
}
