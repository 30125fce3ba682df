/*
 * The generated sample's worker thread (a bundle of its own, dist/apps/cli/run/sample-worker.js):
 * writes the file of `workerData` and posts its size and hash, or the error that stopped it.
 * Imports the generator and node builtins only, so it starts in a few milliseconds beside the CLI.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { writeSampleFile } from './sample-file';
import type { SampleJob, SampleReply } from './sample';

const job = workerData as SampleJob;
writeSampleFile(job.count, job.seed, job.file).then(
  (written) => parentPort?.postMessage({ ok: true, ...written } satisfies SampleReply),
  (err: unknown) => {
    const { name, message, code } = err instanceof Error ? (err as NodeJS.ErrnoException) : { name: 'Error', message: String(err), code: undefined };
    parentPort?.postMessage({ ok: false, name, message, ...(code && { code }) } satisfies SampleReply);
  },
);
