import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
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
  /** The file was an earlier run's, kept in the sample cache and found unchanged (not written again). */
  reused?: boolean;
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
  /**
   * The folder of kept samples (see {@link sampleCacheFolder}, the default without a data dir,
   * with the built worker and without `RYDES_NO_SAMPLE_CACHE`); `false`: written in a temp dir and
   * removed after the run.
   */
  cache?: string | false;
}

/**
 * The default input of `rydes run`: `count` seeded rides as a JSON array, written to the data
 * dir (kept), else to the sample cache (kept for the next run: a run of the same count and seed
 * with the same generator reuses the file when it is unchanged since it was written and hashed,
 * see {@link sampleCacheFolder}; generating 200,000 rides is ~0.7 s of CPU at a time when both
 * cores are busy starting the stack), else to a temp dir (removed after the run). The SHA-256 of the file (its raw/ key needs
 * it) is taken from the bytes on their way to the file, so the file is never read back to hash it.
 * Written in a worker thread when the built worker is there: `rydes run` writes it while its
 * stack starts, and on the CLI's own thread the two took turns on one core (the sample is most of
 * that work) while the machine's second core often had nothing to do.
 * @example
 * const sample = await generateSample(200_000, 1);
 * rawKeyOf(sample.file, sample.sha256); // 'raw/rides-200000-seed1-96c93d2cb3a4.json'
 */
export async function generateSample(count: number, seed: number, dataDir?: string, options: SampleOptions = {}): Promise<Sample> {
  const worker = options.worker ?? builtSampleWorker();
  const cache = dataDir || !worker ? undefined : options.cache ?? (process.env.RYDES_NO_SAMPLE_CACHE ? undefined : sampleCacheFolder());
  if (cache && worker) return cachedSample(cache, worker, count, seed);
  const dir = dataDir ? join(dataDir, 'sample') : await mkdtemp(join(tmpdir(), 'rydes-sample-'));
  const remove = () => (dataDir ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  try {
    await mkdir(dir, { recursive: true });
    const file = join(dir, sampleFileName(count, seed));
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

function sampleFileName(count: number, seed: number): string {
  return `rides-${count}-seed${seed}.json`;
}

/** Samples kept in the cache (one per worker build, Node version, count and seed); the least recently used go. */
export const SAMPLES_KEPT = 3;

/**
 * The private folder (0700, this user's) where `rydes run` keeps the samples it generated, beside
 * the code caches: `<tmpdir>/rydes-code-cache-<uid>/samples/`; undefined when it cannot be one.
 */
export function sampleCacheFolder(): string | undefined {
  return privateFolder(join(tmpdir(), `rydes-code-cache-${process.getuid?.() ?? 'user'}`, 'samples'));
}

/**
 * What proves a kept sample is still the file that was written and hashed: its record names the
 * generator (the worker bundle's SHA-1, Node's version, count, seed), the size and SHA-256 taken
 * while it was written, and the file's identity right after it was put in place. Any write,
 * truncation, replacement, chmod or link since changes the inode's ctime (which no user call can
 * set back) or its inode, size or mtime, so an unchanged identity means unchanged bytes, without
 * reading 46 MB again to hash them.
 */
interface SampleRecord {
  generator: string;
  bytes: number;
  sha256: string;
  identity: string;
}

/** dev:ino:size:mtimeNs:ctimeNs of the file at `path` (nanosecond stamps, as the file system keeps them). */
async function fileIdentity(path: string): Promise<string> {
  const info = await stat(path, { bigint: true });
  return [info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs].join(':');
}

/**
 * The sample from the cache: reused when its record matches the generator and its file is
 * unchanged, else written (in the worker, to a temp name, then renamed into place) and recorded.
 */
async function cachedSample(cache: string, worker: string, count: number, seed: number): Promise<Sample> {
  const generator = `${createHash('sha1').update(readFileSync(worker)).digest('hex')}\0${process.version}\0${count}\0${seed}`;
  const entry = join(cache, createHash('sha1').update(generator).digest('hex').slice(0, 20));
  const file = join(entry, sampleFileName(count, seed));
  const recordFile = join(entry, 'record.json');
  const keep = () => Promise.resolve();
  const record = await readFile(recordFile, 'utf8')
    .then((text) => JSON.parse(text) as SampleRecord)
    .catch(() => undefined);
  if (record?.generator === generator && record.identity === (await fileIdentity(file).catch(() => ''))) {
    // Its last use, for the pruning of other runs (the record's times, never the sample's).
    const now = new Date();
    await utimes(recordFile, now, now).catch(() => undefined);
    return { file, rides: count, bytes: record.bytes, sha256: record.sha256, reused: true, remove: keep };
  }
  await mkdir(entry, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const { bytes, sha256 } = await inWorker(worker, { count, seed, file: temp });
    // Another run may put its own copy in place at the same time: the same generator writes the
    // same bytes, and the record that does not name the file in place is simply not believed.
    await rename(temp, file);
    const written: SampleRecord = { generator, bytes, sha256, identity: await fileIdentity(file) };
    const tempRecord = `${recordFile}.${process.pid}.tmp`;
    await writeFile(tempRecord, JSON.stringify(written));
    await rename(tempRecord, recordFile);
    await pruneSamples(cache, entry).catch(() => undefined);
    return { file, rides: count, bytes, sha256, remove: keep };
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Keeps the {@link SAMPLES_KEPT} most recently used samples (the one just written among them). */
async function pruneSamples(cache: string, current: string): Promise<void> {
  const entries = await Promise.all(
    (await readdir(cache)).map(async (name) => {
      const path = join(cache, name);
      const used = await stat(join(path, 'record.json')).then(
        (info) => info.mtimeMs,
        () => stat(path).then((info) => info.mtimeMs, () => 0),
      );
      return { path, used };
    }),
  );
  const others = entries.filter((e) => e.path !== current).sort((a, b) => b.used - a.used);
  for (const { path } of others.slice(SAMPLES_KEPT - 1)) await rm(path, { recursive: true, force: true });
}
