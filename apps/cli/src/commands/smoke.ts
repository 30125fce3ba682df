import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createS3Client, createSqsClient, listKeys } from '@rydes/aws-adapters';
import { generateRecords, type Manifest, objectKeys, type ObjectKeys, writeRides } from '@rydes/ride-model';
import { parse } from 'csv-parse/sync';
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { RydesCliError } from '../errors';
import { checkAwsSetup, localClientEnv, readEndpointsFile, stackOutputs } from '../stack/connect';

/** Rides in the smoke file and the seed they are generated from; the seed yields several invalid rides. */
export const SMOKE_RIDES = 120;
const SMOKE_SEED = 16;
const SMOKE_INVALID_RATE = 0.05;

/** Where the smoke test runs: a deployed stack or a running `rydes up`, reached the same way. */
export interface SmokeTarget {
  /** "stack NAME in REGION" or "local stack at URL". */
  label: string;
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  /** Dead-letter queues by display name → URL. */
  dlqs: Record<string, string>;
  /** Where the functions' logs are, for the failure message. */
  logHint: string;
}

export interface SmokeOptions {
  timeoutMs: number;
  intervalMs: number;
  /** One line per stage as it completes. */
  onStage?: (line: string) => void;
}

export interface SmokeResult {
  ok: boolean;
  key: string;
  /** Each stage: label, what was seen, seconds (undefined when not reached). */
  stages: { stage: string; detail: string; seconds?: number }[];
  /** What failed, in words; empty when ok. */
  failures: string[];
  /** DLQ messages that are not from this run, by DLQ name (reported, not counted against it). */
  olderDeadLetters: Record<string, number>;
}

/** The smoke test found a problem; the message names it. */
export class SmokeFailedError extends RydesCliError {
  override name = 'SmokeFailedError';
  constructor(readonly failures: string[]) {
    super(`smoke test FAILED: ${failures.join('; ')}`);
  }
}

interface SmokeFile {
  body: Buffer;
  total: number;
  invalid: Set<number>;
}

/** The seeded smoke file: a JSON array with valid rides and a few broken on purpose. */
async function smokeFile(): Promise<SmokeFile> {
  const records = [...generateRecords({ count: SMOKE_RIDES, seed: SMOKE_SEED, invalidRate: SMOKE_INVALID_RATE })];
  const body = Buffer.from(await text(writeRides(records.map((r) => r.record), { shape: 'array', gzip: false })));
  return { body, total: records.length, invalid: new Set(records.filter((r) => r.reason).map((r) => r.index)) };
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Body ? await Body.transformToString() : undefined;
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of listKeys(s3, bucket, prefix)) keys.push(key);
  return keys;
}

/** Key prefixes of everything one upload causes (ride-model's keys; the processed/ prefix first). */
function outputPrefixes(keys: ObjectKeys): string[] {
  return [keys.processedPrefix, keys.rejects, keys.rejectsPartPrefix, keys.manifest];
}

interface DeadLetter {
  queue: string;
  url: string;
  receiptHandle: string;
  ours: boolean;
}

/**
 * The messages waiting in each DLQ, received with a visibility timeout of 0 so they stay where
 * they are; a message belongs to this run when its body names the smoke key (a fan-out envelope's
 * source key, or the S3 event of a failed ingest).
 */
async function deadLetters(target: SmokeTarget, key: string): Promise<DeadLetter[]> {
  const found = new Map<string, DeadLetter>();
  for (const [queue, url] of Object.entries(target.dlqs)) {
    for (let round = 0; round < 10; round++) {
      const { Messages = [] } = await target.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
      );
      const fresh = Messages.filter((m) => m.MessageId && !found.has(m.MessageId));
      if (fresh.length === 0) break;
      for (const m of fresh) {
        found.set(m.MessageId as string, { queue, url, receiptHandle: m.ReceiptHandle ?? '', ours: (m.Body ?? '').includes(key) });
      }
    }
  }
  return [...found.values()];
}

const seconds = (from: number, to = Date.now()) => Math.round((to - from) / 100) / 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Uploads a small generated ride file (valid and invalid rides) to `raw/`, waits for its
 * manifest and every processed/ object, checks the rows, the rejects and that no DLQ message
 * belongs to this run, then removes the upload and everything it caused — whether it passed or
 * not. Never throws for a pipeline fault: the result lists the failures.
 * @example
 * const result = await runSmoke(target, { timeoutMs: 300_000, intervalMs: 1000 });
 * if (!result.ok) console.error(result.failures);
 */
export async function runSmoke(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
  const { s3, bucket } = target;
  const key = `raw/rydes-smoke-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}.json`;
  const result: SmokeResult = { ok: false, key, stages: [], failures: [], olderDeadLetters: {} };
  const stage = (name: string, detail: string, since?: number) => {
    const entry = { stage: name, detail, seconds: since === undefined ? undefined : seconds(since) };
    result.stages.push(entry);
    options.onStage?.(`  ${name.padEnd(10)} ${detail}${entry.seconds === undefined ? '' : ` (${entry.seconds.toFixed(1)} s)`}`);
  };
  const file = await smokeFile();
  const valid = file.total - file.invalid.size;
  let keys: ObjectKeys | undefined;
  let manifest: Manifest | undefined;
  try {
    const started = Date.now();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: file.body, ContentType: 'application/json' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    keys = objectKeys({ bucket, key, etag: head.ETag ?? '' });
    stage('upload', `s3://${bucket}/${key}: ${file.total} rides (${file.invalid.size} invalid on purpose), ${file.body.length} bytes`, started);

    const uploaded = Date.now();
    let manifestAt = 0;
    let processed: string[] = [];
    let lastDlqCheck = 0;
    for (;;) {
      if (!manifest) {
        const json = await readObject(s3, bucket, keys.manifest);
        if (json) {
          manifest = JSON.parse(json) as Manifest;
          manifestAt = Date.now();
          stage('ingest', `manifest: ${manifest.total} rides, ${manifest.valid} valid, ${manifest.rejected} rejected, ${manifest.chunks} chunks`, uploaded);
          if (manifest.error) {
            result.failures.push(`ingest stopped at byte ${manifest.error.byteOffset}: ${manifest.error.message}`);
            break;
          }
        }
      }
      if (manifest) {
        processed = await keysUnder(s3, bucket, outputPrefixes(keys)[0]);
        if (processed.length >= manifest.chunks) {
          stage('transform', `${processed.length} of ${manifest.chunks} CSV objects in processed/`, manifestAt);
          break;
        }
      }
      if (Date.now() - lastDlqCheck > 3 * options.intervalMs) {
        lastDlqCheck = Date.now();
        const ours = (await deadLetters(target, key)).filter((d) => d.ours);
        if (ours.length > 0) {
          const where = [...new Set(ours.map((d) => d.queue))].join(' and ');
          result.failures.push(
            manifest
              ? `transform: ${processed.length} of ${manifest.chunks} CSV objects written, and ${where} holds ${ours.length} message(s) of this run — see ${target.logHint}`
              : `ingest: no manifest, and ${where} holds ${ours.length} message(s) of this run — see ${target.logHint}`,
          );
          break;
        }
      }
      if (Date.now() - uploaded > options.timeoutMs) {
        result.failures.push(
          manifest
            ? `transform: ${processed.length} of ${manifest.chunks} CSV objects after ${seconds(uploaded)} s (--timeout); see ${target.logHint}`
            : `ingest: no manifest at ${keys.manifest} after ${seconds(uploaded)} s (--timeout); see ${target.logHint}`,
        );
        break;
      }
      await sleep(options.intervalMs);
    }

    if (result.failures.length === 0 && manifest) {
      result.failures.push(...checkManifest(manifest, file));
      const checked = Date.now();
      result.failures.push(...(await checkRows(s3, bucket, key, processed, file)));
      result.failures.push(...(await checkRejects(s3, bucket, keys.rejects, file)));
      if (result.failures.length === 0) {
        stage('check', `${valid} rows, each valid ride once with its station; ${file.invalid.size} rejects, each invalid ride once`, checked);
      }
      const letters = await deadLetters(target, key);
      const ours = letters.filter((d) => d.ours);
      for (const d of letters.filter((l) => !l.ours)) result.olderDeadLetters[d.queue] = (result.olderDeadLetters[d.queue] ?? 0) + 1;
      if (ours.length > 0) result.failures.push(`${ours.length} DLQ message(s) of this run (${[...new Set(ours.map((d) => d.queue))].join(', ')})`);
      const older = Object.entries(result.olderDeadLetters).map(([queue, n]) => `${queue}: ${n} older message(s), not from this run`);
      stage('DLQs', ours.length === 0 ? `no message of this run${older.length ? ` (${older.join('; ')})` : ''}` : `${ours.length} message(s) of this run`);
    }
  } catch (err) {
    result.failures.push(`${(err as Error).name}: ${(err as Error).message}`);
  } finally {
    const cleanup = Date.now();
    try {
      const removed = await cleanUp(target, key, keys, manifest, options);
      stage('cleanup', removed.leftovers.length === 0 ? `removed ${removed.count} object(s) and ${removed.messages} DLQ message(s) of this run` : `left behind: ${removed.leftovers.join(', ')}`, cleanup);
      if (removed.leftovers.length > 0) result.failures.push(`cleanup left ${removed.leftovers.join(', ')}`);
    } catch (err) {
      result.failures.push(`cleanup failed: ${(err as Error).message}`);
    }
  }
  result.ok = result.failures.length === 0;
  return result;
}

function checkManifest(manifest: Manifest, file: SmokeFile): string[] {
  const expected = { total: file.total, valid: file.total - file.invalid.size, rejected: file.invalid.size };
  const seen = { total: manifest.total, valid: manifest.valid, rejected: manifest.rejected };
  return JSON.stringify(seen) === JSON.stringify(expected) ? [] : [`manifest counts ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`];
}

/** Every valid ride exactly once across the CSV objects, from this source, with a station. */
async function checkRows(s3: S3Client, bucket: string, key: string, processed: string[], file: SmokeFile): Promise<string[]> {
  const seen = new Map<number, number>();
  const problems: string[] = [];
  for (const csvKey of processed) {
    const rows = parse((await readObject(s3, bucket, csvKey)) ?? '', { columns: true }) as Record<string, string>[];
    for (const row of rows) {
      const index = Number(row.ride_index);
      seen.set(index, (seen.get(index) ?? 0) + 1);
      if (row.source !== key) problems.push(`${csvKey}: source ${JSON.stringify(row.source)}, expected ${key}`);
      if (!row.groundstation) problems.push(`${csvKey}: ride ${index} has no groundstation`);
    }
  }
  const missing = [...Array(file.total).keys()].filter((i) => !file.invalid.has(i) && !seen.has(i));
  const twice = [...seen].filter(([, n]) => n > 1).map(([i]) => i);
  const rejectedWritten = [...seen.keys()].filter((i) => file.invalid.has(i));
  if (missing.length) problems.push(`processed/ lacks ${missing.length} valid ride(s) (first: ${missing.slice(0, 5).join(', ')})`);
  if (twice.length) problems.push(`processed/ holds ${twice.length} ride(s) more than once`);
  if (rejectedWritten.length) problems.push(`processed/ holds ${rejectedWritten.length} invalid ride(s)`);
  return problems.slice(0, 5);
}

async function checkRejects(s3: S3Client, bucket: string, rejectsKey: string, file: SmokeFile): Promise<string[]> {
  const body = await readObject(s3, bucket, rejectsKey);
  if (body === undefined) return file.invalid.size === 0 ? [] : [`no rejects object at ${rejectsKey}`];
  const indexes = body
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { index: number }).index)
    .sort((a, b) => a - b);
  const expected = [...file.invalid].sort((a, b) => a - b);
  return JSON.stringify(indexes) === JSON.stringify(expected) ? [] : [`rejects list rides ${indexes.join(',')}, expected ${expected.join(',')}`];
}

/**
 * Deletes the upload first (a late transform write then sees its source gone and removes its own
 * object), then every output of it and this run's DLQ messages; when the run failed, waits a
 * little for the remaining messages of the run to reach a DLQ so they are removed too. Returns
 * what could not be removed.
 */
async function cleanUp(
  target: SmokeTarget,
  key: string,
  keys: ObjectKeys | undefined,
  manifest: Manifest | undefined,
  options: SmokeOptions,
): Promise<{ count: number; messages: number; leftovers: string[] }> {
  const { s3, sqs, bucket } = target;
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  let count = 1;
  let messages = 0;
  if (!keys) return { count, messages, leftovers: [] };
  const deleteOutputs = async () => {
    for (const prefix of outputPrefixes(keys)) {
      for (const found of await keysUnder(s3, bucket, prefix)) {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: found }));
        count++;
      }
    }
  };
  await deleteOutputs();
  const expectedMessages = manifest?.chunks ?? 0;
  const deadline = Date.now() + Math.min(options.timeoutMs, 60_000);
  for (;;) {
    const ours = (await deadLetters(target, key)).filter((d) => d.ours);
    for (const d of ours) await sqs.send(new DeleteMessageCommand({ QueueUrl: d.url, ReceiptHandle: d.receiptHandle }));
    messages += ours.length;
    // A passing run left nothing in flight; a failing one may still be retrying chunks.
    const written = (await keysUnder(s3, bucket, outputPrefixes(keys)[0])).length;
    if (messages === 0 || messages + written >= expectedMessages || Date.now() > deadline) break;
    await sleep(options.intervalMs);
  }
  await deleteOutputs();
  const leftovers: string[] = [];
  for (const prefix of outputPrefixes(keys)) leftovers.push(...(await keysUnder(s3, bucket, prefix)));
  if (messages > 0 && messages < expectedMessages) {
    leftovers.push(`${expectedMessages - messages} fan-out message(s) of this run may still reach a DLQ`);
  }
  return { count, messages, leftovers };
}

export interface SmokeFlags {
  stack: string;
  region?: string;
  local?: boolean;
  dataDir: string;
  timeout: number;
  interval: number;
}

/** The deployed stack named `stack`, from its CloudFormation outputs. */
async function deployedTarget(stack: string, region: string | undefined): Promise<SmokeTarget> {
  // Loaded here: other commands start without the CloudFormation client.
  const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
  const cloudformation = new CloudFormationClient(region ? { region } : {});
  await checkAwsSetup(cloudformation);
  const resolvedRegion = await cloudformation.config.region();
  const outputs = await stackOutputs(cloudformation, stack);
  const env = { ...process.env, AWS_REGION: resolvedRegion };
  return {
    label: `stack ${stack} in ${resolvedRegion}`,
    s3: createS3Client(env),
    sqs: createSqsClient(env),
    bucket: outputs.BucketName,
    dlqs: { 'fan-out DLQ': outputs.FanoutDlqUrl, 'ingest DLQ': outputs.IngestDlqUrl },
    logHint: `the function logs (${outputs.DashboardUrl ?? 'the stack dashboard'}, or aws logs tail on the functions' log groups)`,
  };
}

/** The `rydes up` serving `dataDir`, from its endpoints.json. */
function localTarget(dataDir: string): SmokeTarget {
  const endpoints = readEndpointsFile(dataDir);
  const env = localClientEnv(endpoints);
  return {
    label: `local stack at ${endpoints.s3Endpoint} (rydes up, pid ${endpoints.pid})`,
    s3: createS3Client(env),
    sqs: createSqsClient(env),
    bucket: endpoints.bucket,
    dlqs: { 'fan-out DLQ': endpoints.queues.fanoutDlq, 'ingest DLQ': endpoints.queues.ingestDlq },
    logHint: `the function logs in ${endpoints.logDir}`,
  };
}

/** What `rydes smoke` does once its options are parsed (registered by smoke-command.ts). */
export async function smoke(flags: SmokeFlags): Promise<void> {
  const target = flags.local ? localTarget(flags.dataDir) : await deployedTarget(flags.stack, flags.region);
  process.stdout.write(`rydes smoke: ${target.label}, bucket ${target.bucket}\n`);
  const started = Date.now();
  const result = await runSmoke(target, {
    timeoutMs: flags.timeout * 1000,
    intervalMs: flags.interval,
    onStage: (line) => process.stdout.write(`${line}\n`),
  });
  target.s3.destroy();
  target.sqs.destroy();
  if (!result.ok) throw new SmokeFailedError(result.failures);
  process.stdout.write(`OK: smoke test passed in ${seconds(started).toFixed(1)} s; everything it uploaded or caused is removed.\n`);
}
