/**
 * Requests (and their list price) per N rides, at the default RIDES_PER_MESSAGE, 100, 500 and 1, counted by
 * running the real batching code: ride-model's Chunker and aws-adapters' sendMessages against an
 * SQS client that records every SendMessageBatch call instead of sending it.
 *
 *   npx nx run infra:costs            # N = 1,000,000
 *   npx nx run infra:costs -- 200000  # another N
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { sendMessages } from '@rydes/aws-adapters';
import { Chunker, DEFAULT_RIDES_PER_MESSAGE, encodeMessage, generateRides, type Ride } from '@rydes/ride-model';

/** us-east-1 list prices (USD) used for the table; check the pricing pages before quoting them. */
const PRICE = { sqsPerMillion: 0.4, s3PutPerThousand: 0.005, lambdaPerMillion: 0.2 };
/** SQS bills every 64 KiB of a request's payload as one request. */
const SQS_BILLING_CHUNK = 64 * 1024;
/** Transform event source: batch size 10 (pipeline-stack.ts). */
const BATCH_SIZE = 10;

interface Count {
  ridesPerMessage: number;
  messages: number;
  bytes: number;
  sendCalls: number;
  sendBilled: number;
  receiveCalls: number;
  receiveBilled: number;
  deleteCalls: number;
  s3Puts: number;
  invocations: number;
}

async function count(rides: number, ridesPerMessage: number): Promise<Count> {
  const source = { bucket: 'rides', key: 'raw/rides.json', etag: '"0123456789abcdef0123456789abcdef"' };
  const chunker = new Chunker({ source, ridesPerMessage });
  const sizes: number[] = [];
  function* bodies(): Generator<string> {
    let index = 0;
    for (const ride of generateRides({ count: rides, seed: 1 }) as Generator<Ride>) {
      for (const message of chunker.push(index++, ride)) yield encodeMessage(message);
    }
    const last = chunker.flush();
    if (last) yield encodeMessage(last);
  }
  let sendBilled = 0;
  const recorder = {
    async send(command: SendMessageBatchCommand) {
      const entries = command.input.Entries ?? [];
      const bytes = entries.reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody ?? ''), 0);
      sendBilled += Math.ceil(bytes / SQS_BILLING_CHUNK);
      for (const e of entries) sizes.push(Buffer.byteLength(e.MessageBody ?? ''));
      return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: '' })), Failed: [] };
    },
  } as unknown as SQSClient;
  const stats = await sendMessages(recorder, 'https://sqs.local/queue', bodies());

  // Best case for the event source: full batches of 10 in send order.
  let receiveBilled = 0;
  for (let i = 0; i < sizes.length; i += BATCH_SIZE) {
    const bytes = sizes.slice(i, i + BATCH_SIZE).reduce((a, b) => a + b, 0);
    receiveBilled += Math.ceil(bytes / SQS_BILLING_CHUNK);
  }
  const batches = Math.ceil(stats.sent / BATCH_SIZE);
  return {
    ridesPerMessage,
    messages: stats.sent,
    bytes: sizes.reduce((a, b) => a + b, 0),
    sendCalls: stats.calls,
    sendBilled,
    receiveCalls: batches,
    receiveBilled,
    deleteCalls: batches,
    // One CSV per message, the raw upload and the manifest (no rejects in this workload).
    s3Puts: stats.sent + 2,
    invocations: batches + 1,
  };
}

function cost(c: Count): { sqs: number; s3: number; lambda: number } {
  const sqsRequests = c.sendBilled + c.receiveBilled + c.deleteCalls;
  return {
    sqs: (sqsRequests / 1e6) * PRICE.sqsPerMillion,
    s3: (c.s3Puts / 1e3) * PRICE.s3PutPerThousand,
    lambda: (c.invocations / 1e6) * PRICE.lambdaPerMillion,
  };
}

async function main(): Promise<void> {
  const rides = Number(process.argv[2] ?? 1_000_000);
  const started = Date.now();
  const settings = [...new Set([DEFAULT_RIDES_PER_MESSAGE, 500, 100, 1])];
  const rows: Count[] = [];
  for (const ridesPerMessage of settings) rows.push(await count(rides, ridesPerMessage));
  const fmt = (n: number) => n.toLocaleString('en-US');
  const usd = (n: number) => `$${n.toFixed(3)}`;
  console.log(`N = ${fmt(rides)} valid rides, generated (seed 1); counted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const heading = (n: number) => `RIDES_PER_MESSAGE=${n}${n === DEFAULT_RIDES_PER_MESSAGE ? ' (default)' : n === 1 ? ' (one message and one object per ride)' : ''}`;
  console.log(`| | ${settings.map(heading).join(' | ')} |`);
  console.log(`|---|${settings.map(() => '---:').join('|')}|`);
  const line = (label: string, pick: (c: Count) => string) => console.log(`| ${label} | ${rows.map(pick).join(' | ')} |`);
  line('fan-out messages (mean bytes)', (c) => `${fmt(c.messages)} (${fmt(Math.round(c.bytes / c.messages))})`);
  line('SQS SendMessageBatch calls (billed, 64 KiB units)', (c) => `${fmt(c.sendCalls)} (${fmt(c.sendBilled)})`);
  line('SQS receives, full batches of 10 (billed)', (c) => `${fmt(c.receiveCalls)} (${fmt(c.receiveBilled)})`);
  line('SQS DeleteMessageBatch calls', (c) => fmt(c.deleteCalls));
  line('S3 PUT (CSV objects + upload + manifest)', (c) => fmt(c.s3Puts));
  line('Lambda invocations (transform + 1 ingest)', (c) => fmt(c.invocations));
  line('SQS requests cost', (c) => usd(cost(c).sqs));
  line('S3 PUT cost', (c) => usd(cost(c).s3));
  line('Lambda request cost', (c) => usd(cost(c).lambda));
  line('total, requests only', (c) => usd(Object.values(cost(c)).reduce((a, b) => a + b, 0)));
  console.log(`Prices: SQS $${PRICE.sqsPerMillion}/M requests, S3 PUT $${PRICE.s3PutPerThousand}/1,000, Lambda $${PRICE.lambdaPerMillion}/M requests (us-east-1 list).`);
  console.log('Not included: Lambda duration (GB-s), idle long polls of the event source, S3 storage, GETs, CloudWatch.');
}

void main();
