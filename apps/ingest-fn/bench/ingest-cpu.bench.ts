/**
 * Benchmark (not a test): the CPU one ingest execution environment spends on a ride file — the
 * figure that bounds the pipeline phase of `rydes run` (one environment parses, validates,
 * chunks and sends the whole file while the transforms keep up behind it).
 *
 * A seeded pretty-printed JSON array of N rides (the shape `rydes run` generates; cached in the
 * temp folder) is uploaded to s3rver; then each BUILT bundle given in `--bundles` (default: this
 * workspace's dist/apps/ingest-fn/main.js) handles one S3 event in a child `node` process, as
 * Lambda loads it, against s3rver and local-aws-sqs, which run in this process with drainers
 * keeping the queue short. The child reports its own CPU (process.cpuUsage: user + system) for
 * loading the bundle and for the handler, and the handler's wall time. With several bundles
 * (e.g. an older build beside the current one) the passes alternate between them, and the best
 * pass of each is compared with the first bundle's at the end, with the load average.
 *
 *   npx nx run ingest-fn:bench-cpu      (builds the bundle first)
 *   npx tsx --tsconfig apps/ingest-fn/tsconfig.json apps/ingest-fn/bench/ingest-cpu.bench.ts \
 *     [--rides 200000] [--passes 3] [--bundles old/main.js,dist/apps/ingest-fn/main.js] [--rides-per-message 1]
 *     [--child-flags='--cpu-prof --cpu-prof-dir=prof'] [--child-stdout]   (the child's stdout, e.g. for --child-flags=--trace-gc)
 */
import { createReadStream, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { createS3Client, createSqsClient, putObject } from '@rydes/aws-adapters';
import { startLocalServers } from '@rydes/local-aws';
import { DEFAULT_RIDES_PER_MESSAGE, type Manifest } from '@rydes/ride-model';
import { cachedRideFile, CHILD_EVENT, runIngestChild, startDrainers } from './ingest-child';

const ROOT = resolve(__dirname, '../../..');
const BUCKET = 'rides-ingest-cpu';
const SEED = 1;
const CACHE = join(tmpdir(), 'rydes-ingest-cpu');

/** Runs in the child: load the bundle, one S3 event, then CPU and wall of each step. */
const CHILD = `
const cpu0 = process.cpuUsage();
const { handler } = require(process.env.BUNDLE);
const loadCpu = process.cpuUsage(cpu0);
${CHILD_EVENT}
const cpu1 = process.cpuUsage();
const started = process.hrtime.bigint();
handler(event, context).then(([manifest]) => {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const handlerCpu = process.cpuUsage(cpu1);
  const s = (u) => (u.user + u.system) / 1e6;
  process.stderr.write('RESULT ' + JSON.stringify({ manifest, ms, loadCpuS: s(loadCpu), handlerCpuS: s(handlerCpu), handlerSystemS: handlerCpu.system / 1e6 }) + '\\n');
  process.exit(0); // SDK keep-alive sockets would hold the process open
}, (err) => { process.stderr.write('FAILED ' + (err && err.stack || err) + '\\n'); process.exit(1); });`;

interface ChildResult {
  manifest: Manifest;
  ms: number;
  loadCpuS: number;
  handlerCpuS: number;
  handlerSystemS: number;
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rides: { type: 'string', default: '200000' },
      passes: { type: 'string', default: '3' },
      bundles: { type: 'string', default: 'dist/apps/ingest-fn/main.js' },
      'rides-per-message': { type: 'string', default: String(DEFAULT_RIDES_PER_MESSAGE) },
      'child-flags': { type: 'string', default: '' },
      'child-stdout': { type: 'boolean', default: false },
    },
  });
  const rides = Number(values.rides);
  const ridesPerMessage = Number(values['rides-per-message']);
  const passes = Number(values.passes);
  const bundles = values.bundles.split(',').map((b) => resolve(ROOT, b));
  const childFlags = values['child-flags'].split(' ').filter(Boolean);
  for (const b of bundles) if (!existsSync(b)) throw new Error(`${b} is missing: npx nx build ingest-fn`);
  const file = await cachedRideFile(CACHE, rides, SEED);
  const local = await startLocalServers({ buckets: [BUCKET] });
  const s3 = createS3Client(local.env);
  const sqs = createSqsClient(local.env);
  console.log(
    `ingest CPU: ${rides.toLocaleString('en-US')} rides (${(file.bytes / 1e6).toFixed(1)} MB pretty array, seed ${SEED}), ${ridesPerMessage} rides/message, ` +
      `built bundle in a child process, s3rver + local-aws-sqs + 4 drainers in this one; Node ${process.version}; load average ${load()}`,
  );
  const best = new Map<string, ChildResult>();
  try {
    const key = `raw/ingest-cpu-${rides}.json`;
    const { etag } = await putObject(s3, BUCKET, key, createReadStream(file.path));
    let queueNumber = 0;
    for (let pass = 1; pass <= passes; pass++) {
      for (const bundle of bundles) {
        const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: `ingest-cpu-${queueNumber++}` }));
        const drainers = startDrainers(sqs, queueUrl, 4);
        const loadBefore = loadavg()[0];
        const r = await runIngestChild<ChildResult>(CHILD, { ...process.env, ...local.env, BUNDLE: bundle, BUCKET, KEY: key, ETAG: etag, OUTPUT_QUEUE: queueUrl, RIDES_PER_MESSAGE: String(ridesPerMessage), LOG_LEVEL: 'warn', AWS_LAMBDA_FUNCTION_NAME: '' }, childFlags, values['child-stdout']);
        const drained = await drainers.stop();
        await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
        const m = r.manifest;
        if (m.error || m.total !== rides || drained !== m.chunks) throw new Error(`${bundle}: ${m.total} rides, ${m.chunks} chunks sent, ${drained} drained${m.error ? `: ${m.error.message}` : ''}`);
        const label = bundle.replace(ROOT + '/', '');
        if (!best.has(label) || (best.get(label)?.handlerCpuS ?? Infinity) > r.handlerCpuS) best.set(label, r);
        console.log(
          `  pass ${pass} ${label}: handler CPU ${r.handlerCpuS.toFixed(2)} s (system ${r.handlerSystemS.toFixed(2)}), handler wall ${(r.ms / 1000).toFixed(2)} s, ` +
            `bundle load ${r.loadCpuS.toFixed(2)} s CPU; ${m.chunks} messages; load average ${loadBefore.toFixed(1)}`,
        );
      }
    }
  } finally {
    s3.destroy();
    sqs.destroy();
    await local.close();
  }
  const [first, ...others] = [...best.entries()];
  console.log(`best pass: ${first[0]} ${first[1].handlerCpuS.toFixed(2)} s CPU (${((first[1].handlerCpuS * 1e6) / rides).toFixed(1)} µs per ride)`);
  for (const [label, r] of others) {
    console.log(`           ${label} ${r.handlerCpuS.toFixed(2)} s CPU (${((r.handlerCpuS * 1e6) / rides).toFixed(1)} µs per ride): ${(first[1].handlerCpuS - r.handlerCpuS).toFixed(2)} s less than the first, ${(first[1].handlerCpuS / r.handlerCpuS).toFixed(2)}×`);
  }
  console.log(`load average at the end ${load()}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
