import { CreateQueueCommand, DeleteMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event, SQSBatchResponse, SQSEvent, Context } from 'aws-lambda';
import { parse } from 'csv-parse/sync';
import { createS3Client, createSqsClient, listKeys, openObject, putObject, receiveBatch } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { generateRecords, writeRides, type Manifest } from '@rydes/ride-model';
import { DEFAULT_STATIONS } from '@rydes/geo-index';
import { bruteForceNearest } from '@rydes/geo-index/testing';
import { BUNDLES, contextFor, loadBundle } from './helpers/bundles';

type IngestHandler = (event: S3Event, context: Context) => Promise<Manifest[]>;
type TransformHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const BUCKET = 'rides-e2e';

/** The SQS event source's view of received messages: an AWS-shaped batch. */
function sqsEvent(messages: Array<{ MessageId?: string; Body?: string; ReceiptHandle?: string }>): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'e2e', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:chained-fanout',
      awsRegion: 'us-east-1',
    })),
  };
}

async function csvRows(s3: S3Client, key: string): Promise<Record<string, string>[]> {
  const { body } = await openObject(s3, BUCKET, key);
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return parse(Buffer.concat(parts), { columns: true }) as Record<string, string>[];
}

describe('ingest bundle → SQS → transform bundle, chained over the real servers', () => {
  let local: LocalServers;
  let s3: S3Client;
  let sqs: SQSClient;
  let queueUrl: string;
  const savedEnv = process.env;
  beforeAll(async () => {
    local = await startLocalServers({ buckets: [BUCKET] });
    s3 = createS3Client(local.env);
    sqs = createSqsClient(local.env);
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'chained-fanout' }))).QueueUrl ?? '';
    // Both functions' settings, as their deployed environments hold them.
    process.env = { ...savedEnv, ...local.env, OUTPUT_QUEUE: queueUrl, RIDES_PER_MESSAGE: '25', OUTPUT_BUCKET: BUCKET, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    process.env = savedEnv;
    s3.destroy();
    sqs.destroy();
    await local.close();
  });

  it('turns 300 generated rides (some invalid) into one CSV row per valid ride, each at its brute-force station', async () => {
    // Prepare: both bundles, and s3rver's own notification as the trigger
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const ingest = loadBundle<{ handler: IngestHandler }>(BUNDLES.ingest).handler;
    const transform = loadBundle<{ handler: TransformHandler }>(BUNDLES.transform).handler;
    const records = [...generateRecords({ count: 300, seed: 42, invalidRate: 0.05 })];
    const invalid = new Set(records.filter((r) => r.reason !== undefined).map((r) => r.index));
    const events: S3Event[] = [];
    const stop = local.onObjectCreated((e) => events.push(e));
    const chunks: Buffer[] = [];
    for await (const c of writeRides(records.map((r) => r.record), { shape: 'array', gzip: true })) chunks.push(c as Buffer);
    await putObject(s3, BUCKET, 'raw/chained rides.json.gz', Buffer.concat(chunks));
    stop();

    // Act: ingest on the S3 event, then drain the queue through transform in batches of 10
    const [manifest] = await ingest(events[0], contextFor('ingest-fn', 'ingest-1'));
    for (let batch = 0; ; batch++) {
      const messages = await receiveBatch(sqs, queueUrl);
      if (messages.length === 0) break;
      const response = await transform(sqsEvent(messages), contextFor('transform-fn', `t-${batch}`));
      expect(response.batchItemFailures).toEqual([]);
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
    stdout.mockRestore();

    // Assess
    expect(invalid.size).toBeGreaterThan(0);
    expect(manifest).toMatchObject({ source: 'raw/chained rides.json.gz', total: 300, valid: 300 - invalid.size, rejected: invalid.size });
    const keys: string[] = [];
    for await (const key of listKeys(s3, BUCKET, 'processed/chained rides-')) keys.push(key);
    expect(keys).toHaveLength(manifest.chunks);
    const seen = new Set<number>();
    for (const key of keys) {
      for (const row of await csvRows(s3, key)) {
        const index = Number(row.ride_index);
        expect(seen.has(index)).toBe(false);
        seen.add(index);
        expect(row.source).toBe('raw/chained rides.json.gz');
        expect(row.groundstation).toBe(bruteForceNearest(DEFAULT_STATIONS, Number(row.latitude), Number(row.longitude)).station.id);
      }
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(records.map((r) => r.index).filter((i) => !invalid.has(i)));
  });
});
