import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteMessageBatchCommand } from '@aws-sdk/client-sqs';
import { receiveBatch } from '@rydes/aws-adapters';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parse } from 'csv-parse/sync';
import { decodeMessage, type FanoutMessage } from '@rydes/ride-model';
import { BUCKET, keysUnder, readText, type Stack } from './stack';

/** The transform function as Lambda runs it: its esbuild bundle (a dependency of this project's test target). */
const TRANSFORM_BUNDLE = join(__dirname, '../../../../dist/apps/transform-fn/main.js');
type TransformHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function loadTransform(stack: Stack): TransformHandler {
  if (!existsSync(TRANSFORM_BUNDLE)) throw new Error(`${TRANSFORM_BUNDLE} is missing: run "nx build transform-fn" first (nx test ingest-fn does)`);
  return stack.load<{ handler: TransformHandler }>(TRANSFORM_BUNDLE).handler;
}

export interface Drained {
  /** Every message received, in (source key, chunk) order. */
  messages: FanoutMessage[];
  /** Message ids transform reported as batch item failures (left in the queue for redelivery). */
  failed: string[];
}

/**
 * Drains the fan-out queue through the transform handler in SQS-shaped batches of up to 10,
 * deleting what transform did not report as failed, as the Lambda event source does.
 */
export async function drainThroughTransform(stack: Stack, transform: TransformHandler): Promise<Drained> {
  const drained: Drained = { messages: [], failed: [] };
  for (let batch = 0; ; batch++) {
    const received = await receiveBatch(stack.sqs, stack.queueUrl);
    if (received.length === 0) break;
    const event: SQSEvent = {
      Records: received.map((m) => ({
        messageId: m.MessageId ?? '', receiptHandle: m.ReceiptHandle ?? '', body: m.Body ?? '', md5OfBody: m.MD5OfBody ?? '',
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()) },
        messageAttributes: {}, eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:fanout', awsRegion: 'us-east-1',
      })),
    };
    const response = await transform(event, transformContext(`transform-${batch}`));
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    drained.failed.push(...failed);
    drained.messages.push(...received.map((m) => decodeMessage(m.Body ?? '')));
    const done = received.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length > 0) {
      await stack.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: stack.queueUrl, Entries: done.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
    if (failed.size > 0) break;
  }
  drained.messages.sort((a, b) => a.source.key.localeCompare(b.source.key) || a.chunk - b.chunk);
  return drained;
}

/** Every processed/ row of a stem (all its versions), parsed with csv-parse, in key order. */
export async function processedRows(stack: Stack, stem: string): Promise<Record<string, string>[]> {
  const rows: Record<string, string>[] = [];
  for (const key of await keysUnder(stack.s3, `processed/${stem}-`)) {
    if (!new RegExp(`^processed/${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{8}-\\d{6,}\\.csv$`).test(key)) continue;
    rows.push(...(parse(await readText(stack.s3, key), { columns: true, relax_column_count: false }) as Record<string, string>[]));
  }
  return rows;
}

/** Every object of a stem under processed/, rejects/ and manifests/, as key → bytes (text). */
export async function outputsOf(stack: Stack, stem: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const prefix of ['processed', 'rejects', 'manifests']) {
    for (const key of await keysUnder(stack.s3, `${prefix}/${stem}-`)) out[key] = await readText(stack.s3, key);
  }
  return out;
}

function transformContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false, functionName: 'transform-fn', functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:transform-fn', memoryLimitInMB: '512', awsRequestId: requestId,
    logGroupName: '/aws/lambda/transform-fn', logStreamName: 'local', getRemainingTimeInMillis: () => 900_000,
    done: () => undefined, fail: () => undefined, succeed: () => undefined,
  };
}

export { BUCKET };
