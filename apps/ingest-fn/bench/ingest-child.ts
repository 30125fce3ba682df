/**
 * What the ingest benches share (`ingest-cpu.bench.ts`, `tools/ingest-memory.ts`): a cached
 * seeded ride file, the built bundle run on one S3 event in a child `node` process (as Lambda
 * loads it), and drainers that keep the local queue short while it sends.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { generateRides, writeRides } from '@rydes/ride-model';

/**
 * Child-script lines that require the bundle named by $BUNDLE (into `handler`) and build the S3
 * event for $BUCKET/$KEY/$ETAG and a Lambda context (`event`, `context`); the script then calls
 * `handler(event, context)` and writes one line `RESULT <json>` to stderr.
 */
export const CHILD_EVENT = `
const event = { Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: process.env.BUCKET }, object: { key: process.env.KEY, eTag: process.env.ETAG, size: 0 } } }] };
const context = { awsRequestId: 'bench', invokedFunctionArn: '', getRemainingTimeInMillis: () => 900000 };`;

/**
 * A pretty-printed JSON array of `rides` seeded rides (the shape `rydes run` generates), written
 * once into `cacheDir` and reused.
 * @example
 * const { path, bytes } = await cachedRideFile('/tmp/rydes-ingest-cpu', 200_000, 1);
 */
export async function cachedRideFile(cacheDir: string, rides: number, seed: number): Promise<{ path: string; bytes: number; generated: boolean }> {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `array-pretty-${rides}-seed${seed}.json`);
  const generated = !existsSync(path);
  if (generated) {
    await pipeline(writeRides(generateRides({ count: rides, seed }), { shape: 'array', pretty: true }), createWriteStream(path + '.part'));
    renameSync(path + '.part', path);
  }
  return { path, bytes: statSync(path).size, generated };
}

/**
 * Runs `script` (see {@link CHILD_EVENT}) in a child `node` with `env` and `flags`; resolves with
 * the JSON of its `RESULT` line, rejects with the end of its stderr if it fails. The child's
 * stdout is dropped unless `showStdout` (what `--trace-gc` and similar node flags print).
 * @example
 * const r = await runIngestChild<{ ms: number }>(CHILD, { ...process.env, BUNDLE, BUCKET, KEY, ETAG }, []);
 */
export function runIngestChild<T>(script: string, env: NodeJS.ProcessEnv, flags: string[] = [], showStdout = false): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', ...flags, '-e', script], { env, stdio: ['ignore', showStdout ? 'inherit' : 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      const line = stderr.split('\n').find((l) => l.startsWith('RESULT '));
      if (status !== 0 || !line) reject(new Error(`ingest child failed (${status}): ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(line.slice('RESULT '.length)) as T);
    });
  });
}

/**
 * `receivers` loops that receive and delete messages from `queueUrl` until `stop()` is called and
 * the queue is found empty; `stop()` resolves with how many messages they took.
 * @example
 * const drainers = startDrainers(sqs, queueUrl, 4);
 * const drained = await drainers.stop();
 */
export function startDrainers(sqs: SQSClient, queueUrl: string, receivers: number): { stop(): Promise<number> } {
  let stopping = false;
  let messages = 0;
  const one = async () => {
    for (;;) {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const batch = got.Messages ?? [];
      if (batch.length === 0) {
        if (stopping) return;
        continue;
      }
      messages += batch.length;
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
  };
  const done = Promise.all(Array.from({ length: receivers }, one));
  return {
    async stop() {
      stopping = true;
      await done;
      return messages;
    },
  };
}
