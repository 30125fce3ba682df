/**
 * CPU of the CLI thread's SQS share per message: the embedded SQS server (startSqs) and the
 * transform's event source (SqsEventSource, 4 pollers, a pool that answers at once) on this
 * thread, as in `rydes run`; the sender (SendMessageBatch calls, 4 in flight) in a worker thread,
 * as the ingest is in its own process. The pollers reach the server over HTTP (`createSqsClient`,
 * the baseline), in this process through the SDK (`sqsInProcess`, MD5 check off), or through the
 * queue itself (`sqsInProcess.direct` for receive and delete: what `rydes run` uses). Prints this
 * thread's CPU (utime + stime of /proc/self/task/<pid>/stat) per message for one-ride messages
 * (~230 B) and 1,000-ride messages (~180 KB of ride JSON, as the ingest's Chunker writes them),
 * the three transports alternating, in one run. A third scenario keeps the queue deep, as one ride
 * per message does in `rydes run` (the transforms are slower than the ingest, so thousands wait
 * up to the send gate's high water): its pool holds each batch 20 ms (a timer, no CPU).
 *
 * `npx tsx --tsconfig apps/cli/tsconfig.json tools/bench-sqs.ts [--small N] [--deep N] [--large N] [--passes N] [--only direct,http,in-process]` (N = 0 skips a scenario)
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '@rydes/aws-adapters';
import { startSqs } from '../libs/local-aws/src/sqs-server';
import { SqsEventSource } from '../apps/cli/src/lambda/event-source';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const SMALL = flag('small', 5_000);
const LARGE = flag('large', 400);
const PASSES = flag('passes', 2);
const DEEP = flag('deep', 10_000);
/** How long the deep scenario's pool holds each batch (an environment at work: a timer, no CPU here). */
const HOLD_MS = 20;

/** CPU seconds of this (the main) thread so far. */
function threadCpu(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const SENDER = `
const { workerData, parentPort } = require('node:worker_threads');
const { SQSClient, SendMessageBatchCommand } = require(workerData.sdk);
const sqs = new SQSClient({ endpoint: workerData.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
// Ride JSON as the Chunker writes it (quotes to escape in the request and the answer), or a short text.
const ride = '{"distance":29.2,"healthpoints":217,"latitude":41.443312,"longitude":-73.571234,"magicpoints":112,"name":"Shadowfax","statustime":"2019-05-07 20:11:04.247","fieldservice":0}';
const rides = workerData.bytes > 1000 ? Array.from({ length: Math.floor(workerData.bytes / (ride.length + 1)) }, () => ride).join(',') : '';
const filler = 'x'.repeat(workerData.bytes);
// SendMessageBatch carries at most 1 MiB: five large bodies per call, as the ingest sends them.
const perCall = workerData.bytes > 100000 ? 5 : 10;
let next = 0;
async function lane() {
  while (next < workerData.n) {
    const from = next;
    next += perCall;
    const Entries = Array.from({ length: Math.min(perCall, workerData.n - from) }, (_, i) => ({ Id: 'm' + i, MessageBody: rides ? '{"v":2,"chunk":' + (from + i) + ',"gaps":[],"rides":[' + rides + ']}' : JSON.stringify({ i: from + i, filler }) }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: workerData.queueUrl, Entries }));
  }
}
Promise.all([lane(), lane(), lane(), lane()]).then(() => { sqs.destroy(); parentPort.postMessage('done'); });
`;

const ALL_TRANSPORTS = ['http', 'in-process', 'direct'] as const;
type Transport = (typeof ALL_TRANSPORTS)[number];
const only = argv.indexOf('--only');
/** `--only direct,http`: a subset (a profile of one transport). */
const TRANSPORTS = only >= 0 ? ALL_TRANSPORTS.filter((t) => argv[only + 1].split(',').includes(t)) : ALL_TRANSPORTS;

async function pass(transport: Transport, messages: number, bytes: number, holdMs = 0): Promise<{ cpu: number; wall: number }> {
  const server = await startSqs();
  const env = { AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${server.port}`, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' };
  const sqs = transport === 'http' ? createSqsClient(env) : createSqsClient(env, { requestHandler: server.inProcess, md5: false });
  const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench', Attributes: { VisibilityTimeout: '60' } }));
  let processed = 0;
  let allProcessed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allProcessed = resolve));
  const pool = {
    invoke: async (event: { Records: unknown[] }) => {
      if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
      processed += event.Records.length;
      if (processed >= messages) allProcessed();
      return { ok: true, result: {} };
    },
  };
  const direct = transport === 'direct' ? server.inProcess.direct : undefined;
  const source = new SqsEventSource(pool as never, { sqs, direct, queueUrl: QueueUrl, queueArn: 'arn:aws:sqs:us-east-1:000000000000:bench', region: 'us-east-1', pollers: 4 });
  const cpu0 = threadCpu();
  const t0 = process.hrtime.bigint();
  source.start();
  const sender = new Worker(SENDER, { eval: true, workerData: { sdk: require.resolve('@aws-sdk/client-sqs'), endpoint: env.AWS_ENDPOINT_URL_SQS, queueUrl: QueueUrl, n: messages, bytes } });
  await done;
  await source.whenIdle();
  const cpu = threadCpu() - cpu0;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  await source.stop();
  await sender.terminate();
  sqs.destroy();
  await server.close();
  if (source.stats.deleted < messages) throw new Error(`${transport}: ${source.stats.deleted} of ${messages} messages deleted`);
  return { cpu, wall };
}

async function main(): Promise<void> {
  console.log(`SQS share of the CLI thread per message: server + 4 pollers on this thread, sender in a worker; load ${loadavg()[0].toFixed(1)}`);
  const scenarios = [
    ['one-ride messages', SMALL, 230, 0],
    ['one-ride messages, queue kept deep (each batch held 20 ms)', DEEP, 230, HOLD_MS],
    ['1,000-ride messages', LARGE, 180_000, 0],
  ] as const;
  for (const [label, messages, bytes, holdMs] of scenarios) {
    if (messages <= 0) continue;
    const per: Record<Transport, number[]> = { http: [], 'in-process': [], direct: [] };
    for (let p = 1; p <= PASSES; p++) {
      for (const transport of TRANSPORTS) {
        const { cpu, wall } = await pass(transport, messages, bytes, holdMs);
        per[transport].push((cpu / messages) * 1e6);
        console.log(`  ${label} (N = ${messages.toLocaleString('en-US')}, ~${bytes.toLocaleString('en-US')} B), pass ${p}, pollers ${transport.padEnd(10)}: ${cpu.toFixed(2)} s CPU = ${((cpu / messages) * 1e6).toFixed(0)} µs/message, wall ${wall.toFixed(1)} s, load ${loadavg()[0].toFixed(1)}`);
      }
    }
    const best = (xs: number[]) => Math.min(...xs);
    if (TRANSPORTS.length < ALL_TRANSPORTS.length) continue;
    const [http, inProcess, direct] = ALL_TRANSPORTS.map((t) => best(per[t]));
    console.log(
      `  ${label}: best pass http ${http.toFixed(0)} µs/message, in-process ${inProcess.toFixed(0)} (${(inProcess / http).toFixed(2)}× http), direct ${direct.toFixed(0)} (${(direct / http).toFixed(2)}× http, ${(direct / inProcess).toFixed(2)}× in-process)`,
    );
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
