import { gzipSync } from 'node:zlib';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Context, S3Event } from 'aws-lambda';
import { createS3Client, createSqsClient, listKeys, openObject, putObject, receiveBatch } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { decodeMessage, type FanoutMessage, type Manifest } from '@rydes/ride-model';

export const BUCKET = 'rides-ingest-test';

type Handler = (event: S3Event, context: Context) => Promise<Manifest[]>;

/** Real s3rver + local-aws-sqs, a bucket and a fan-out queue; the handler loaded against them. */
export interface Stack {
  local: LocalServers;
  s3: S3Client;
  sqs: SQSClient;
  queueUrl: string;
  /** Loads `src/main.ts` afresh with these extra variables (module-scope config, as in Lambda). */
  loadHandler(env?: Record<string, string | undefined>): Handler;
  /** Requires any module afresh (e.g. the transform bundle) with the stack's environment plus `env`. */
  load<T>(modulePath: string, env?: Record<string, string | undefined>): T;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const local = await startLocalServers({ buckets: [BUCKET] });
  const s3 = createS3Client(local.env);
  const sqs = createSqsClient(local.env);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `fanout-${Date.now()}` }));
  const queueUrl = QueueUrl ?? '';
  const saved = { ...process.env };
  const load = <T>(modulePath: string, env: Record<string, string | undefined> = {}): T => {
    process.env = { ...saved, ...local.env, OUTPUT_QUEUE: queueUrl, OUTPUT_BUCKET: BUCKET, LOG_LEVEL: 'silent' };
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    let loaded: T | undefined;
    jest.isolateModules(() => {
      loaded = require(modulePath);
    });
    return loaded as T;
  };
  return {
    local,
    s3,
    sqs,
    queueUrl,
    load,
    loadHandler: (env = {}) => load<{ handler: Handler }>('../../src/main', env).handler,
    async close() {
      process.env = saved;
      s3.destroy();
      sqs.destroy();
      await local.close();
    },
  };
}

export async function upload(s3: S3Client, key: string, body: string | Buffer): Promise<string> {
  return (await putObject(s3, BUCKET, key, body)).etag;
}

export async function readText(s3: S3Client, key: string): Promise<string> {
  const { body } = await openObject(s3, BUCKET, key);
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

export async function readManifest(s3: S3Client, key: string): Promise<Manifest> {
  return JSON.parse(await readText(s3, key)) as Manifest;
}

export async function keysUnder(s3: S3Client, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of listKeys(s3, BUCKET, prefix)) keys.push(key);
  return keys;
}

/** Receives and deletes every waiting message; returned in (source key, chunk) order. */
/**
 * Receives and deletes every message of the queue, each once: the raw messages. A receive whose
 * answer never reaches the test (a loaded machine) still hides its messages, as SQS does, so an
 * empty queue with messages in flight is waited on until they come back: receives here hide for
 * {@link DRAIN_VISIBILITY_S} seconds, and a message seen twice counts once.
 */
export async function drainMessages(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (let rounds = 0; ; rounds++) {
    const batch = await receiveBatch(sqs, queueUrl, { visibilityTimeout: DRAIN_VISIBILITY_S });
    if (batch.length > 0) {
      for (const m of batch) if (!seen.has(m.MessageId ?? '')) seen.set(m.MessageId ?? '', m);
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
      continue;
    }
    const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
    if (Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) === 0) return [...seen.values()];
    if (rounds > 100) throw new Error(`drain: messages stay in flight in ${queueUrl}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Seconds a drain's receive hides its messages (see {@link drainMessages}). */
export const DRAIN_VISIBILITY_S = 3;

export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<FanoutMessage[]> {
  const messages = (await drainMessages(sqs, queueUrl)).map((m) => decodeMessage(m.Body ?? ''));
  return messages.sort((a, b) => a.source.key.localeCompare(b.source.key) || a.chunk - b.chunk);
}

/** A raw ride as a workshop file spells it (capitalised keys, a numeric string). */
export function rawRide(i: number): Record<string, unknown> {
  return {
    Name: `Unicorn ${i}`,
    StatusTime: `2019-05-07 20:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.247`,
    Latitude: 40.5 + ((i * 37) % 100) / 250,
    Longitude: -74.1 + ((i * 53) % 100) / 250,
    Distance: String(10 + (i % 50)),
    HealthPoints: 100 + (i % 150),
    MagicPoints: 50 + (i % 120),
    ...(i % 3 === 0 && { FieldService: i % 2 }),
  };
}

export type Shape = 'array' | 'travel_data' | 'concatenated' | 'ndjson';

/** A ride file in one of the accepted shapes. */
export function rideFile(records: unknown[], shape: Shape): string {
  switch (shape) {
    case 'array':
      return JSON.stringify(records);
    case 'travel_data':
      return JSON.stringify({ travel_data: records }, null, 2);
    case 'concatenated':
      return records.map((r) => JSON.stringify(r, null, 2)).join('');
    case 'ndjson':
      return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
  }
}

export const gzip = (text: string) => gzipSync(Buffer.from(text, 'utf8'));
