/**
 * Peak memory of the ingest function on huge files (NOT part of `test`; run it by hand):
 *
 *   npx nx build ingest-fn && npx tsx --tsconfig apps/ingest-fn/tsconfig.json tools/ingest-memory.ts [--mb 100,1000] [--receivers 4]
 *
 * For each size: generates a pretty-printed JSON array of seeded rides of about that many MB
 * (cached in the temp folder), uploads it to s3rver with a multipart upload, runs the BUILT
 * ingest bundle (dist/apps/ingest-fn/main.js) on an S3 event in a child `node` process against
 * s3rver and local-aws-sqs, drains the queue concurrently (so the SQS server's memory stays flat)
 * and prints the child's peak RSS (getrusage maxRSS and /proc VmHWM), MB/s, rides and messages.
 * The servers and the drainers run in this process, the ingest alone in the child.
 */
import { createReadStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { cachedRideFile, CHILD_EVENT, runIngestChild, startDrainers } from '../apps/ingest-fn/bench/ingest-child';
import { createS3Client, createSqsClient, putObject } from '../libs/aws-adapters/src';
import { startLocalServers } from '../libs/local-aws/src';
import { generateRides, writeRides, type Manifest } from '../libs/ride-model/src';

const BUCKET = 'rides-memory';
const SEED = 7;
const BUNDLE = join(__dirname, '../dist/apps/ingest-fn/main.js');
const CACHE = join(tmpdir(), 'rydes-ingest-memory');

/** Runs in the child: the bundle as Lambda loads it, one S3 event, then its own peak RSS. */
const CHILD = `
const { readFileSync } = require('node:fs');
const started = process.hrtime.bigint();
const { handler } = require(process.env.BUNDLE);
${CHILD_EVENT}
let hwm = 0;
const sample = () => { const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8')); if (m) hwm = Number(m[1]); };
handler(event, context).then(([manifest]) => {
  sample();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stderr.write('RESULT ' + JSON.stringify({ manifest, ms, maxRssKB: process.resourceUsage().maxRSS, vmHwmKB: hwm }) + '\\n');
  process.exit(0); // SDK keep-alive sockets would hold the process open
}, (err) => { process.stderr.write('FAILED ' + (err && err.stack || err) + '\\n'); process.exit(1); });`;

/** A cached pretty-printed array file of about `mb` MB; the ride count scaled from a sample. */
async function rideFile(mb: number): Promise<{ path: string; rides: number; bytes: number }> {
  let sampleBytes = 0;
  for await (const part of writeRides(generateRides({ count: 10_000, seed: SEED }), { shape: 'array', pretty: true })) sampleBytes += (part as Buffer).length;
  const rides = Math.round((mb * 1e6 * 10_000) / sampleBytes);
  const started = Date.now();
  const file = await cachedRideFile(CACHE, rides, SEED);
  if (file.generated) console.log(`  generated ${file.path} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ...file, rides };
}

async function main() {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npx nx build ingest-fn" first`);
  const { values } = parseArgs({ options: { mb: { type: 'string', default: '100,1000' }, receivers: { type: 'string', default: '4' } } });
  const sizes = values.mb.split(',').map(Number);
  const receivers = Number(values.receivers);
  console.log(`ingest memory: built bundle in a child process, pretty-printed JSON array, seed ${SEED}, RIDES_PER_MESSAGE=100, ${receivers} concurrent drainers (measured on a shared 2-core machine)`);
  for (const mb of sizes) {
    const file = await rideFile(mb);
    const local = await startLocalServers({ buckets: [BUCKET] });
    const s3 = createS3Client(local.env);
    const sqs = createSqsClient(local.env);
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `memory-${mb}` }));
      const key = `raw/memory-${mb}mb.json`;
      let started = Date.now();
      const { etag } = await putObject(s3, BUCKET, key, createReadStream(file.path));
      console.log(`  uploaded ${key} (${(file.bytes / 1e6).toFixed(1)} MB, multipart) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const drainers = startDrainers(sqs, QueueUrl ?? '', receivers);
      started = Date.now();
      const result = await runIngestChild<{ manifest: Manifest; ms: number; maxRssKB: number; vmHwmKB: number }>(CHILD, { ...process.env, ...local.env, BUNDLE, BUCKET, KEY: key, ETAG: etag, OUTPUT_QUEUE: QueueUrl, LOG_LEVEL: 'warn', AWS_LAMBDA_FUNCTION_NAME: '' });
      const wallS = (Date.now() - started) / 1000;
      const drained = await drainers.stop();
      const m = result.manifest;
      const mbs = file.bytes / 1e6 / (result.ms / 1000);
      console.log(
        `N=${(file.bytes / 1e6).toFixed(0)} MB pretty array, ${m.total.toLocaleString('en-US')} rides: ingest child peak RSS ${(result.maxRssKB / 1024).toFixed(0)} MB ` +
          `(VmHWM ${(result.vmHwmKB / 1024).toFixed(0)} MB), ${mbs.toFixed(1)} MB/s (${(result.ms / 1000).toFixed(1)} s in the handler, child wall ${wallS.toFixed(1)} s), ` +
          `valid ${m.valid.toLocaleString('en-US')}, rejected ${m.rejected}, messages ${m.chunks.toLocaleString('en-US')} sent / ${drained.toLocaleString('en-US')} drained${m.error ? `, ERROR ${m.error.message}` : ''}`,
      );
      if (m.total !== file.rides || drained !== m.chunks) console.log(`  MISMATCH: expected ${file.rides} rides and ${m.chunks} drained messages`);
    } finally {
      s3.destroy();
      sqs.destroy();
      await local.close();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
