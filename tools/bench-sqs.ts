/**
 * CPU of the CLI thread's SQS share per message: the embedded SQS server (startSqs) and the
 * transform's event source (SqsEventSource, 4 pollers, a pool that answers at once) on this
 * thread, as in `rydes run`; the sender (SendMessageBatch calls, 4 in flight) in a worker thread,
 * as the ingest is in its own process. The pollers reach the server over HTTP (`createSqsClient`,
 * the baseline), in this process through the SDK (`sqsInProcess`, MD5 check off), or through the
 * queue itself (`sqsInProcess.direct` for receive and delete: what `rydes run` uses). Prints this
 * thread's CPU (utime + stime of /proc/self/task/<pid>/stat) per message for one-ride messages
 * (~230 B) and 1,000-ride messages (~180 KB of ride JSON, as the ingest's Chunker writes them),
 * the three transports alternating, in one run.
 *
 * `npx tsx --tsconfig apps/cli/tsconfig.json tools/bench-sqs.ts [--small N] [--large N] [--passes N]`
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

const TRANSPORTS = ['http', 'in-process', 'direct'] as const;
type Transport = (typeof TRANSPORTS)[number];

async function pass(transport: Transport, messages: number, bytes: number): Promise<{ cpu: number; wall: number }> {
  const server = await startSqs();
  const env = { AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${server.port}`, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' };
  const sqs = transport === 'http' ? createSqsClient(env) : createSqsClient(env, { requestHandler: server.inProcess, md5: false });
  const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench', Attributes: { VisibilityTimeout: '60' } }));
  let processed = 0;
  let allProcessed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allProcessed = resolve));
  const pool = {
    invoke: async (event: { Records: unknown[] }) => {
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
  for (const [label, messages, bytes] of [['one-ride messages', SMALL, 230], ['1,000-ride messages', LARGE, 180_000]] as const) {
    const per: Record<Transport, number[]> = { http: [], 'in-process': [], direct: [] };
    for (let p = 1; p <= PASSES; p++) {
      for (const transport of TRANSPORTS) {
        const { cpu, wall } = await pass(transport, messages, bytes);
        per[transport].push((cpu / messages) * 1e6);
        console.log(`  ${label} (N = ${messages.toLocaleString('en-US')}, ~${bytes.toLocaleString('en-US')} B), pass ${p}, pollers ${transport.padEnd(10)}: ${cpu.toFixed(2)} s CPU = ${((cpu / messages) * 1e6).toFixed(0)} µs/message, wall ${wall.toFixed(1)} s, load ${loadavg()[0].toFixed(1)}`);
      }
    }
    const best = (xs: number[]) => Math.min(...xs);
    const [http, inProcess, direct] = TRANSPORTS.map((t) => best(per[t]));
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
