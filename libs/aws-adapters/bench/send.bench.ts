/**
 * Benchmark (not a test): the CPU the ingest pays to send its fan-out messages, client side only.
 * N rides are chunked as the ingest chunks them (1,000 rides per message by default, ~180 KB
 * bodies), then sent with sendMessages to local-aws-sqs running in another process, through:
 * - `SDK default`: an SQSClient as createSqsClient configured it before, the SDK's default
 *   protocol (the baseline, in the same run);
 * - `createSqsClient`: the client the functions use now;
 * - `no MD5 check`: the same with the SDK's MD5 check of each body switched off (`md5: false`),
 *   only to show what that check costs (the functions keep it).
 * Passes alternate between the clients; each prints the sending process's CPU seconds
 * (process.cpuUsage: SDK serialisation, signing, MD5 check, HTTP, GC) and wall time; the best
 * pass of each is compared at the end. Run with `npx nx run aws-adapters:bench-send`
 * or `npx tsx --tsconfig libs/aws-adapters/tsconfig.json libs/aws-adapters/bench/send.bench.ts [--rides N] [--passes P]`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CreateQueueCommand, DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Chunker, DEFAULT_RIDES_PER_MESSAGE, encodeMessage, generateRides } from '@rydes/ride-model';
import { createSqsClient, sendMessages, SqsStringJsonProtocol } from '../src';

const { values: flags } = parseArgs({ options: { rides: { type: 'string', default: '200000' }, passes: { type: 'string', default: '4' }, 'rides-per-message': { type: 'string', default: String(DEFAULT_RIDES_PER_MESSAGE) } } });
const rides = Number(flags.rides);
const passes = Number(flags.passes);
const ridesPerMessage = Number(flags['rides-per-message']);

function bodiesOf(count: number): string[] {
  const chunker = new Chunker({ source: { bucket: 'rides-local', key: 'raw/rides.json', etag: '"0123456789abcdef0123456789abcdef"' }, ridesPerMessage });
  const bodies: string[] = [];
  let index = 0;
  for (const ride of generateRides({ count, seed: 1 })) for (const message of chunker.push(index++, ride)) bodies.push(encodeMessage(message));
  const last = chunker.flush();
  if (last) bodies.push(encodeMessage(last));
  return bodies;
}

async function startServers(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const root = resolve(__dirname, '../../..');
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), '--tsconfig', 'libs/aws-adapters/tsconfig.json', 'libs/aws-adapters/bench/local-sqs.child.ts'], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return {
    env: JSON.parse(line) as Record<string, string>,
    stop: async () => {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

async function main(): Promise<void> {
  const bodies = bodiesOf(rides);
  const bytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
  const servers = await startServers();
  const env = servers.env;
  const endpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
  const clients: Record<string, SQSClient> = {
    'SDK default': new SQSClient({ region: env.AWS_REGION, endpoint, credentials }),
    createSqsClient: createSqsClient(env),
    'no MD5 check': new SQSClient({ region: env.AWS_REGION, endpoint, credentials, protocol: SqsStringJsonProtocol, md5: false }),
  };
  console.log(`send bench: ${rides.toLocaleString('en-US')} rides, ${bodies.length} messages of ${ridesPerMessage} rides (${(bytes / 1e6).toFixed(1)} MB), local-aws-sqs in another process, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const best: Record<string, number> = {};
  let queueNumber = 0;
  for (let pass = 1; pass <= passes; pass++) {
    for (const [name, sqs] of Object.entries(clients)) {
      const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: `bench-${queueNumber++}` }));
      const start = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const stats = await sendMessages(sqs, queueUrl, bodies);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const used = process.cpuUsage(start);
      const cpu = cpuSeconds(used);
      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      if (stats.sent !== bodies.length) throw new Error(`${name}: ${stats.sent} of ${bodies.length} sent`);
      best[name] = Math.min(best[name] ?? Infinity, cpu);
      console.log(`  pass ${pass} ${name.padEnd(16)} CPU ${cpu.toFixed(3)} s (system ${(used.system / 1e6).toFixed(3)}), wall ${wall.toFixed(3)} s, ${stats.calls} calls, ${(cpu * 1e9 / bytes).toFixed(1)} ns CPU per body byte`);
    }
  }
  const [base, ours, noMd5] = [best['SDK default'], best.createSqsClient, best['no MD5 check']];
  const perMessage = (s: number) => `${((s * 1e3) / bodies.length).toFixed(2)} ms per message`;
  console.log(`best pass: SDK default ${base.toFixed(3)} s CPU (${perMessage(base)}), createSqsClient ${ours.toFixed(3)} s (${perMessage(ours)}): ${(base - ours).toFixed(3)} s less, ${(base / ours).toFixed(2)}× less CPU; the MD5 check costs ${(ours - noMd5).toFixed(3)} s (${perMessage(ours - noMd5)}); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const sqs of Object.values(clients)) sqs.destroy();
  await servers.stop();
}

void main();
