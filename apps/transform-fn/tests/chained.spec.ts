import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateQueueCommand, DeleteMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Context, S3Event } from 'aws-lambda';
import { putObject, receiveBatch } from '@rydes/aws-adapters';
import { generateRecords, writeRides, type Manifest } from '@rydes/ride-model';
import { DEFAULT_STATIONS } from '@rydes/geo-index';
import { bruteForceNearest } from '@rydes/geo-index/testing';
import { lambdaContext, sqsEvent } from './helpers/lambda';
import { BUCKET, keysUnder, readCsv, startStack, type Stack, type TransformHandler } from './helpers/stack';

/** The ingest function as Lambda runs it: its esbuild bundle (`nx build ingest-fn`, a dependency of this target). */
const INGEST_BUNDLE = join(__dirname, '../../../dist/apps/ingest-fn/main.js');
type IngestHandler = (event: S3Event, context: Context) => Promise<Manifest[]>;

describe('ingest → SQS → transform, chained over the real servers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('turns 300 generated rides (some invalid) into one CSV row per valid ride, each at its brute-force station', async () => {
    // Prepare: the real queue, the ingest bundle, and s3rver's own notification as the trigger
    if (!existsSync(INGEST_BUNDLE)) throw new Error(`${INGEST_BUNDLE} is missing: run "nx build ingest-fn" first (nx test transform-fn does)`);
    const { QueueUrl } = await stack.sqs.send(new CreateQueueCommand({ QueueName: 'chained-fanout' }));
    const queueUrl = QueueUrl ?? '';
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const ingest = stack.load<{ handler: IngestHandler }>(INGEST_BUNDLE, { OUTPUT_QUEUE: queueUrl, RIDES_PER_MESSAGE: '25' }).handler;
    const transform = stack.load<{ handler: TransformHandler }>(join(__dirname, '../src/main')).handler;
    const records = [...generateRecords({ count: 300, seed: 42, invalidRate: 0.05 })];
    const invalid = new Set(records.filter((r) => r.reason !== undefined).map((r) => r.index));
    const events: S3Event[] = [];
    const stop = stack.local.onObjectCreated((e) => events.push(e));
    const file = writeRides(records.map((r) => r.record), { shape: 'array', gzip: true });
    const chunks: Buffer[] = [];
    for await (const c of file) chunks.push(c as Buffer);
    await putObject(stack.s3, BUCKET, 'raw/chained rides.json.gz', Buffer.concat(chunks));
    stop();

    // Act: ingest on the S3 event, then drain the queue through transform in batches of 10
    const [manifest] = await ingest(events[0], lambdaContext('ingest-1', 'ingest-fn'));
    let batches = 0;
    for (;;) {
      const messages = await receiveBatch(stack.sqs, queueUrl);
      if (messages.length === 0) break;
      const response = await transform(sqsEvent(messages.map((m) => ({ messageId: m.MessageId ?? '', body: m.Body ?? '' }))), lambdaContext(`t-${batches++}`));
      expect(response.batchItemFailures).toEqual([]);
      await stack.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
    stdout.mockRestore();

    // Assess
    expect(invalid.size).toBeGreaterThan(0);
    expect(manifest).toMatchObject({ source: 'raw/chained rides.json.gz', total: 300, valid: 300 - invalid.size, rejected: invalid.size });
    const keys = await keysUnder(stack.s3, 'processed/chained rides-');
    expect(keys).toHaveLength(manifest.chunks);
    const seen = new Set<number>();
    for (const key of keys) {
      for (const row of await readCsv(stack.s3, key)) {
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
