/*
 * Fan-out messages per valid ride, message version 1 (a rejected ride closes the message) beside
 * version 2 (gaps carried in the message), at 0 %, 5 % and 50 % invalid rides, with the requests
 * they cause per 1,000,000 valid rides and their list price.
 *   npx nx run ride-model:bench-messages               (N = 200,000 records per rate, seed 1)
 *   RIDES_BENCH_N=1000000 npx nx run ride-model:bench-messages
 * Requests are counted as the pipeline makes them: SendMessageBatch of 10 (SQS bills each 64 KiB
 * of a request as one request), the event source receiving and deleting batches of 10, one
 * processed/ PUT and one transform invocation per message or batch.
 */
import { Chunker, encodeMessage, generateRecords, validateRide, type FanoutMessage } from '../src';

const N = Number(process.env.RIDES_BENCH_N ?? 200_000);
const RIDES_PER_MESSAGE = 100;
const PRICE = { sqsPerMillion: 0.4, s3PutPerThousand: 0.005, lambdaPerMillion: 0.2 };
const BILLING_CHUNK = 64 * 1024;
const BATCH = 10;

interface Row {
  version: 1 | 2;
  rate: number;
  valid: number;
  messages: number;
  bytes: number;
  sqsBilled: number;
}

function measure(rate: number, version: 1 | 2): Row {
  const source = { bucket: 'rides', key: 'raw/rides.json', etag: '"0123456789abcdef0123456789abcdef"' };
  const chunker = new Chunker({ source, ridesPerMessage: RIDES_PER_MESSAGE, version });
  const sizes: number[] = [];
  let valid = 0;
  const sent = (m: FanoutMessage) => sizes.push(Buffer.byteLength(encodeMessage(m)));
  for (const g of generateRecords({ count: N, seed: 1, invalidRate: rate })) {
    const result = validateRide(g.record);
    if (!result.ok) continue;
    valid++;
    chunker.push(g.index, result.ride).forEach(sent);
  }
  const last = chunker.flush();
  if (last) sent(last);
  let sqsBilled = 0;
  for (let i = 0; i < sizes.length; i += BATCH) {
    const bytes = sizes.slice(i, i + BATCH).reduce((a, b) => a + b, 0);
    sqsBilled += 2 * Math.ceil(bytes / BILLING_CHUNK) + 1; // send + receive (by 64 KiB), delete
  }
  return { version, rate, valid, messages: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0), sqsBilled };
}

function main(): void {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`ride-model messages bench: N = ${fmt(N)} generated records per rate (seed 1), RIDES_PER_MESSAGE=${RIDES_PER_MESSAGE}, 200 KiB cap`);
  console.log('| invalid | version | valid rides | messages | messages per valid ride | mean message bytes | per 1 M valid rides: messages | SQS requests billed | S3 PUT | transform invocations | requests $ |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const rate of [0, 0.05, 0.5]) {
    for (const version of [1, 2] as const) {
      const r = measure(rate, version);
      const scale = 1e6 / r.valid;
      const invocations = Math.ceil(r.messages / BATCH) * scale;
      const usd = ((r.sqsBilled * scale) / 1e6) * PRICE.sqsPerMillion + ((r.messages * scale) / 1e3) * PRICE.s3PutPerThousand + (invocations / 1e6) * PRICE.lambdaPerMillion;
      console.log(
        `| ${(rate * 100).toFixed(0)} % | v${version} | ${fmt(r.valid)} | ${fmt(r.messages)} | ${(r.messages / r.valid).toFixed(4)} | ${fmt(r.bytes / r.messages)} | ` +
          `${fmt(r.messages * scale)} | ${fmt(r.sqsBilled * scale)} | ${fmt(r.messages * scale)} | ${fmt(invocations)} | $${usd.toFixed(3)} |`,
      );
    }
  }
  console.log(`Prices: SQS $${PRICE.sqsPerMillion}/M requests, S3 PUT $${PRICE.s3PutPerThousand}/1,000, Lambda $${PRICE.lambdaPerMillion}/M requests (us-east-1 list); raw upload, manifest, rejects and Lambda duration not included.`);
}

main();
