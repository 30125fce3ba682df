import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { privateFolder } from '../private-folder';
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

/** The sample turned out other than its record said: the upload that followed it is cut off. */
export class SampleRecordMismatch extends Error {
  constructor(expected: SampleBytes, got: SampleBytes) {
    super(`the generated sample is ${got.bytes} bytes with SHA-256 ${got.sha256}, not the ${expected.bytes} bytes with SHA-256 ${expected.sha256} an earlier run recorded`);
    this.name = 'SampleRecordMismatch';
  }
}

/** What the sample's worker thread is asked to write. */
export interface SampleJob {
  count: number;
  seed: number;
  file: string;
  /** Post `{ written }` as the file grows. */
  follow?: boolean;
}

/** The worker's last message: the file's size and hash, or the error that stopped it. */
export type SampleReply = ({ ok: true } & SampleBytes) | { ok: false; name: string; message: string; code?: string };

/** The sample file's name (its raw/ key adds the hash of its bytes). */
export function sampleFileName(count: number, seed: number): string {
  return `rides-${count}-seed${seed}.json`;
}

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
  /** Told the file's path and the bytes in it as it grows (and once more when it is complete). */
  onWritten?: (file: string, bytes: number) => void;
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
    const file = join(dir, sampleFileName(count, seed));
    const worker = options.worker ?? builtSampleWorker();
    const { onWritten } = options;
    const follow = onWritten && ((bytes: number) => onWritten(file, bytes));
    follow?.(0);
    const { bytes, sha256 } = worker ? await inWorker(worker, { count, seed, file, follow: !!follow }, follow) : await writeSampleFile(count, seed, file, follow);
    follow?.(bytes);
    return { file, rides: count, bytes, sha256, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Runs one {@link SampleJob} in a worker thread of `script`; its error (a file-system one keeps its code) is thrown here. */
function inWorker(script: string, job: SampleJob, onWritten?: (bytes: number) => void): Promise<SampleBytes> {
  return new Promise((resolve, reject) => {
    let reply: SampleReply | undefined;
    const worker = new Worker(script, { workerData: job });
    worker.on('message', (message: SampleReply | { written: number }) => {
      if ('written' in message) onWritten?.(message.written);
      else reply = message;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (reply?.ok) return resolve({ bytes: reply.bytes, sha256: reply.sha256 });
      if (!reply) return reject(new Error(`the sample's worker thread exited (code ${code}) before writing ${job.file}`));
      reject(Object.assign(new Error(reply.message), { name: reply.name }, reply.code && { code: reply.code }));
    });
  });
}

/**
 * What the sample of `count` and `seed` was the last time this build's worker wrote it: its size
 * and hash, kept in this user's private cache folder (beside the code caches) under a name made
 * of the worker bundle's bytes, Node's version, `count` and `seed`, so another generator never
 * finds it. Undefined without a built worker, a usable folder or a record. The sample is the same
 * bytes for the same inputs, so its raw/ key is known before it is written again, and its upload
 * can follow the file as it grows; the hash taken while writing still decides (see
 * {@link FollowedSample}).
 * @example
 * readSampleRecord(200_000, 1); // { bytes: 46613061, sha256: '96c93d2cb3a4…' } after one run
 */
export function readSampleRecord(count: number, seed: number, worker = builtSampleWorker(), folder = recordFolder()): SampleBytes | undefined {
  const file = recordFile(count, seed, worker, folder);
  if (!file) return undefined;
  try {
    const { bytes, sha256 } = JSON.parse(readFileSync(file, 'utf8')) as Partial<SampleBytes>;
    return typeof bytes === 'number' && typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256) ? { bytes, sha256 } : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps what writing the sample gave for {@link readSampleRecord}; a failure only means no record. */
export function writeSampleRecord(count: number, seed: number, written: SampleBytes, worker = builtSampleWorker(), folder = recordFolder()): void {
  const file = recordFile(count, seed, worker, folder);
  if (!file) return;
  try {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify({ bytes: written.bytes, sha256: written.sha256 }));
    renameSync(partial, file);
  } catch {
    // next time the sample is written first and uploaded after, as without a record
  }
}

/** This user's private cache folder (the code caches' too); undefined when it is not private. */
function recordFolder(): string | undefined {
  return privateFolder(join(tmpdir(), `rydes-code-cache-${process.getuid?.() ?? 'user'}`));
}

function recordFile(count: number, seed: number, worker: string | undefined, folder: string | undefined): string | undefined {
  if (!worker || !folder) return undefined;
  let script: Buffer;
  try {
    script = readFileSync(worker);
  } catch {
    return undefined;
  }
  const key = createHash('sha256').update(`${process.version}\0${count}\0${seed}\0`).update(script).digest('hex').slice(0, 32);
  return join(folder, `sample-${key}.json`);
}
