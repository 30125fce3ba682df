/*
 * The generated sample's worker thread (a bundle of its own, dist/apps/cli/run/sample-worker.js):
 * writes the file of `workerData` and posts its size and hash, or the error that stopped it; with
 * `follow`, also how far the file is written, every {@link FOLLOW_STEP_BYTES} (a reader follows it).
 * Imports the generator and node builtins only, so it starts in a few milliseconds beside the CLI.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FOLLOW_STEP_BYTES, writeSampleFile } from './sample-file';
import type { SampleJob, SampleReply } from './sample';

const job = workerData as SampleJob;
let told = 0;
const onWritten = job.follow
  ? (bytes: number) => {
      if (bytes - told < FOLLOW_STEP_BYTES) return;
      told = bytes;
      parentPort?.postMessage({ written: bytes });
    }
  : undefined;
writeSampleFile(job.count, job.seed, job.file, onWritten).then(
  (written) => parentPort?.postMessage({ ok: true, ...written } satisfies SampleReply),
  (err: unknown) => {
    const { name, message, code } = err instanceof Error ? (err as NodeJS.ErrnoException) : { name: 'Error', message: String(err), code: undefined };
    parentPort?.postMessage({ ok: false, name, message, ...(code && { code }) } satisfies SampleReply);
  },
);
