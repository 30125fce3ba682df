/**
 * Done-when run of the whole pipeline on the embedded servers (NOT part of `test`):
 *
 *   npx nx run-many -t build -p ingest-fn transform-fn && npx tsx tools/e2e-200k.ts [--rides 200000] [--single-rides 20000] [--receivers 4]
 *
 * Starts s3rver and local-aws-sqs, generates seeded rides, uploads them as one raw/ file, runs the
 * ingest bundle on s3rver's own event, drains the queue through the transform bundle (several
 * receivers of 10 messages, deleting what succeeded), then lists processed/ and checks one CSV row
 * per (source, ride_index), each groundstation equal to brute force. Requests are counted by a
 * proxy in front of each server, by operation. Twice: RIDES_PER_MESSAGE=100 and =1.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parse } from 'csv-parse/sync';
import { createS3Client, createSqsClient, listKeys, openObject, putObject } from '../libs/aws-adapters/src';
import { startLocalServers, type LocalServers } from '../libs/local-aws/src';
import { generateRides, writeRides, type Manifest } from '../libs/ride-model/src';
import { DEFAULT_STATIONS } from '../libs/geo-index/src';
import { bruteForceNearest } from '../libs/geo-index/src/testing';
import { startCountingProxy, type CountingProxy } from './e2e-counting-proxy';

const BUCKET = 'rides-e2e';
const SEED = 20_190_507;
const BUNDLES = { ingest: join(__dirname, '../dist/apps/ingest-fn/main.js'), transform: join(__dirname, '../dist/apps/transform-fn/main.js') };

type IngestHandler = (event: S3Event, context: Context) => Promise<Manifest[]>;
type TransformHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;


function context(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false, functionName: 'e2e', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:local:0:function:e2e',
    memoryLimitInMB: '1024', awsRequestId: requestId, logGroupName: 'e2e', logStreamName: 'e2e',
    getRemainingTimeInMillis: () => 900_000, done: () => undefined, fail: () => undefined, succeed: () => undefined,
  };
}

/** Loads a function bundle afresh with `env`, the way a new Lambda container would. */
function loadBundle<T>(path: string, env: Record<string, string>): T {
  Object.assign(process.env, env);
  delete require.cache[require.resolve(path)];
  return require(path).handler as T;
}

interface Servers {
  local: LocalServers;
  s3Proxy: CountingProxy;
  sqsProxy: CountingProxy;
  s3: S3Client;
  sqs: SQSClient;
  env: Record<string, string>;
}

async function runMode(servers: Servers, rides: number, ridesPerMessage: number, receivers: number) {
  const { s3, sqs, local } = servers;
  const label = `rides-${rides}-per-${ridesPerMessage}`;
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: label }));
  const queueUrl = QueueUrl ?? '';
  const env = { ...servers.env, OUTPUT_QUEUE: queueUrl, OUTPUT_BUCKET: BUCKET, RIDES_PER_MESSAGE: String(ridesPerMessage), LOG_LEVEL: 'warn' };
  const ingest = loadBundle<IngestHandler>(BUNDLES.ingest, env);
  const transform = loadBundle<TransformHandler>(BUNDLES.transform, env);

  // Upload (not counted: the client's work, not the pipeline's).
  const key = `raw/${label}.json.gz`;
  const events: S3Event[] = [];
  const stop = local.onObjectCreated((e) => events.push(e));
  const started = Date.now();
  await putObject(s3, BUCKET, key, writeRides(generateRides({ count: rides, seed: SEED }), { shape: 'array', gzip: true }));
  stop();
  const uploadMs = Date.now() - started;
  servers.s3Proxy.reset();
  servers.sqsProxy.reset();

  for (const k of Object.keys(emf)) delete emf[k];
  const t0 = Date.now();
  const [manifest] = await ingest(events[events.length - 1], context(`ingest-${label}`));
  const ingestMs = Date.now() - t0;

  const t1 = Date.now();
  let processed = 0;
  let failedItems = 0;
  let invocations = 0;
  const receiver = async () => {
    let idle = 0;
    while (processed < manifest.chunks) {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const messages = got.Messages ?? [];
      if (messages.length === 0) {
        if (++idle > 30) throw new Error(`queue idle for 30 receives with ${processed}/${manifest.chunks} messages processed`);
        continue;
      }
      idle = 0;
      const response = await transform(
        { Records: messages.map((m) => ({ messageId: m.MessageId ?? '', receiptHandle: m.ReceiptHandle ?? '', body: m.Body ?? '', attributes: {} as never, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:local:0:e2e', awsRegion: local.region })) },
        context(`transform-${invocations++}`),
      );
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      failedItems += failed.size;
      const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
      if (done.length > 0) {
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
      }
      processed += done.length;
    }
  };
  await Promise.all(Array.from({ length: receivers }, receiver));
  const transformMs = Date.now() - t1;
  const pipelineCounts = { ...servers.sqsProxy.counts, ...servers.s3Proxy.counts };

  // Verify: every row once, every groundstation equal to the full scan.
  const t2 = Date.now();
  const prefix = `processed/${label}-`;
  const seen = new Uint8Array(rides);
  let rows = 0;
  let duplicates = 0;
  let wrongStation = 0;
  let objects = 0;
  for await (const csvKey of listKeys(s3, BUCKET, prefix)) {
    objects++;
    const { body } = await openObject(s3, BUCKET, csvKey);
    const parts: Buffer[] = [];
    for await (const p of body) parts.push(p as Buffer);
    for (const row of parse(Buffer.concat(parts), { columns: true }) as Record<string, string>[]) {
      rows++;
      const index = Number(row.ride_index);
      if (row.source !== key || !(index >= 0 && index < rides) || seen[index]) duplicates++;
      else seen[index] = 1;
      if (row.groundstation !== bruteForceNearest(DEFAULT_STATIONS, Number(row.latitude), Number(row.longitude)).station.id) wrongStation++;
    }
  }
  const verifyMs = Date.now() - t2;
  const ok = rows === rides && duplicates === 0 && wrongStation === 0 && manifest.valid === rides && failedItems === 0 && emf.RidesIngested === rides && emf.RidesProcessed === rides;

  const per1k = (n: number | undefined) => (((n ?? 0) * 1000) / rides).toFixed(2);
  console.log(`\n== ${rides.toLocaleString('en-US')} rides, RIDES_PER_MESSAGE=${ridesPerMessage}, ${receivers} receivers of 10 ==`);
  console.log(`upload ${(uploadMs / 1000).toFixed(1)} s (not counted) | ingest ${(ingestMs / 1000).toFixed(1)} s | transform drain ${(transformMs / 1000).toFixed(1)} s | pipeline wall ${((ingestMs + transformMs) / 1000).toFixed(1)} s | verify ${(verifyMs / 1000).toFixed(1)} s`);
  console.log(`manifest: total ${manifest.total}, valid ${manifest.valid}, rejected ${manifest.rejected}, chunks ${manifest.chunks}; transform invocations ${invocations}, item failures ${failedItems}`);
  console.log(`check: ${rows} CSV rows in ${objects} objects, ${rides - duplicates - (rides - rows)} unique (source, ride_index) [duplicates/strays ${duplicates}], groundstation != brute force: ${wrongStation} → ${ok ? 'OK' : 'FAILED'}`);
  console.log(
    `requests per 1,000 rides (counted at the servers): SQS SendMessageBatch ${per1k(pipelineCounts.SendMessageBatch)}, ReceiveMessage ${per1k(pipelineCounts.ReceiveMessage)}, DeleteMessageBatch ${per1k(pipelineCounts.DeleteMessageBatch)}; ` +
      `S3 GetObject ${per1k(pipelineCounts.GetObject)}, PutObject ${per1k(pipelineCounts.PutObject)}, HeadObject ${per1k(pipelineCounts.HeadObject)}, ListObjects ${per1k(pipelineCounts.ListObjects)}` +
      `${pipelineCounts.UploadPart ? `, multipart parts ${per1k(pipelineCounts.UploadPart)}` : ''}`,
  );
  console.log(`raw counts: ${JSON.stringify(pipelineCounts)}; EMF metrics summed: ${JSON.stringify(emf)}`);
  return ok;
}

async function main() {
  for (const [name, path] of Object.entries(BUNDLES)) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run "npx nx run-many -t build -p ingest-fn transform-fn" first`);
    console.log(`${name} bundle: ${path} (${(statSync(path).size / 1e6).toFixed(2)} MB, built ${statSync(path).mtime.toISOString()})`);
  }
  const { values } = parseArgs({
    options: { rides: { type: 'string', default: '200000' }, 'single-rides': { type: 'string', default: '20000' }, receivers: { type: 'string', default: '4' } },
  });
  const rides = Number(values.rides);
  const singleRides = Number(values['single-rides']);
  const receivers = Number(values.receivers);
  const local = await startLocalServers({ buckets: [BUCKET] });
  const s3Proxy = await startCountingProxy(local.s3Endpoint);
  const sqsProxy = await startCountingProxy(local.sqsEndpoint);
  const env = { ...local.env, AWS_ENDPOINT_URL_S3: s3Proxy.endpoint, AWS_ENDPOINT_URL_SQS: sqsProxy.endpoint };
  const servers: Servers = { local, s3Proxy, sqsProxy, env, s3: createS3Client(env), sqs: createSqsClient(env) };
  const wall = Date.now();
  let ok = false;
  try {
    ok = await runMode(servers, rides, 100, receivers);
    if (singleRides > 0) ok = (await runMode(servers, singleRides, 1, receivers)) && ok;
  } finally {
    servers.s3.destroy();
    servers.sqs.destroy();
    await Promise.all([s3Proxy.close(), sqsProxy.close()]);
    await local.close();
  }
  console.log(`\ntotal wall time ${((Date.now() - wall) / 1000).toFixed(1)} s → ${ok ? 'ALL OK' : 'FAILED'}`);
  process.exitCode = ok ? 0 : 1;
}

/** EMF lines the functions print: summed per metric (a cross-check) instead of flooding the terminal. */
const emf: Record<string, number> = {};
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  if (!text.startsWith('{"_aws"')) return write(chunk, ...rest);
  const line = JSON.parse(text) as { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } } & Record<string, number>;
  for (const { Name } of line._aws.CloudWatchMetrics[0].Metrics) emf[Name] = (emf[Name] ?? 0) + line[Name];
  return true;
}) as typeof process.stdout.write;

process.removeAllListeners('warning'); // the SDK's NodeVersionSupportWarning would bury the figures
main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
