import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parse } from 'csv-parse/sync';
import { createS3Client, createSqsClient, listKeys, openObject, putObject } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';

export const BUCKET = 'rides-transform-test';

export type TransformHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface Stack {
  local: LocalServers;
  s3: S3Client;
  sqs: SQSClient;
  /** Requires `modulePath` afresh with the stack's endpoints plus `env` (module-scope config, as in Lambda). */
  load<T>(modulePath: string, env?: Record<string, string | undefined>): T;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const local = await startLocalServers({ buckets: [BUCKET] });
  const s3 = createS3Client(local.env);
  const sqs = createSqsClient(local.env);
  const saved = { ...process.env };
  return {
    local,
    s3,
    sqs,
    load<T>(modulePath: string, env: Record<string, string | undefined> = {}): T {
      process.env = { ...saved, ...local.env, OUTPUT_BUCKET: BUCKET, LOG_LEVEL: 'silent' };
      for (const [name, value] of Object.entries(env)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      let loaded: T | undefined;
      jest.isolateModules(() => {
        loaded = require(modulePath);
      });
      return loaded as T;
    },
    async close() {
      process.env = saved;
      s3.destroy();
      sqs.destroy();
      await local.close();
    },
  };
}

export async function readBytes(s3: S3Client, key: string): Promise<Buffer> {
  const { body } = await openObject(s3, BUCKET, key);
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A processed/ CSV object as records keyed by column name (header checked by the caller). */
export async function readCsv(s3: S3Client, key: string): Promise<Record<string, string>[]> {
  return parse(await readBytes(s3, key), { columns: true }) as Record<string, string>[];
}

export async function keysUnder(s3: S3Client, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of listKeys(s3, BUCKET, prefix)) keys.push(key);
  return keys;
}

export async function upload(s3: S3Client, key: string, body: string | Buffer): Promise<string> {
  return (await putObject(s3, BUCKET, key, body)).etag;
}
