import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetBucketNotificationConfigurationCommand,
  HeadBucketCommand,
  ListObjectsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createS3Client, createSqsClient } from '@rydes/aws-adapters';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestDeadLetterReason, sampleDeadLetters, userFileName, type DeadLetterSample, type IngestDeadLetter } from '../run/dead-letters';
import { checkAwsSetup, localEnv, readEndpointsFile, stackOutputs, type StackOutputs } from '../stack/connect';
import { BUCKET, FANOUT_DLQ, FANOUT_QUEUE, INGEST_DLQ } from '../stack/names';

/** One line of the checklist; `hint` says how to fix it when `ok` is false. */
export interface Check {
  label: string;
  ok: boolean;
  hint?: string;
}

export interface DeployedClients {
  cloudformation: CloudFormationClient;
  lambda: LambdaClient;
  s3: S3Client;
  sqs: SQSClient;
}

type Probe = () => Promise<string | undefined>;

/**
 * Runs a probe: `undefined` means the check passed, a string is the hint. An error becomes the
 * hint too, followed by `fix` when given.
 */
async function check(label: string, probe: Probe, fix?: string): Promise<Check> {
  try {
    const hint = await probe();
    return hint === undefined ? { label, ok: true } : { label, ok: false, hint };
  } catch (err) {
    const error = err as Error;
    return { label, ok: false, hint: `${error.name}: ${error.message || 'no message'}${fix ? `; ${fix}` : ''}` };
  }
}

const blocked = (label: string, because: string): Check => ({ label, ok: false, hint: `not checked: ${because} failed` });

/** ListObjects v1: s3rver cannot continue a truncated v2 listing (see listKeys in aws-adapters). */
async function processedHasData(s3: S3Client, bucket: string, uploadHint: string): Promise<string | undefined> {
  const { Contents = [] } = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'processed/', MaxKeys: 1 }));
  return Contents.length > 0 ? undefined : `no objects under s3://${bucket}/processed/ yet: ${uploadHint}`;
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** DLQ entries named in a hint at most; the rest are counted. */
const MAX_DLQ_LINES = 5;

/**
 * Empty DLQs, or a hint naming what they hold: per ingest DLQ message the file, the condition,
 * the attempts and the error from Lambda's invocation record; per fan-out DLQ source its chunks.
 * The messages are looked at, not taken (visibility timeout 0).
 */
async function dlqsEmpty(sqs: SQSClient, dlqs: { fanout: string; ingest: string }): Promise<string | undefined> {
  const full: string[] = [];
  for (const [name, url, which] of [['fan-out DLQ', dlqs.fanout, 'fanoutDlq'], ['ingest DLQ', dlqs.ingest, 'ingestDlq']] as const) {
    const depth = await queueDepth(sqs, url);
    if (depth === 0) continue;
    const sample = await sampleDeadLetters(sqs, { [which]: url }, MAX_DLQ_LINES);
    const seen = which === 'ingestDlq' ? describeIngestSample(sample.ingest) : describeFanoutSample(sample);
    full.push(`${name} holds ${depth} message(s) (${url})${seen.length ? `: ${seen.join('; ')}${depth > MAX_DLQ_LINES ? '; …' : ''}` : ''}`);
  }
  if (full.length === 0) return undefined;
  return (
    `${full.join('; ')}: read them (aws sqs receive-message --queue-url URL) and the function logs, fix the cause, ` +
    'then redrive (aws sqs start-message-move-task --source-arn DLQ_ARN) or purge'
  );
}

/** `my_rides.json (raw/my_rides-0123456789ab.json): IngestEventError: … (RetriesExhausted after 3 attempt(s))`. */
function describeIngestSample(entries: IngestDeadLetter[]): string[] {
  return entries.map((entry) => {
    const name = userFileName(entry.key);
    const part = entry.part !== undefined ? `, continuation part ${entry.part}` : '';
    return `${name} (${entry.key}${part}): ${ingestDeadLetterReason(entry)}`;
  });
}

/** `raw/x.json: chunks 3, 17 (200 rides)` per source seen. */
function describeFanoutSample(sample: DeadLetterSample): string[] {
  const bySource = new Map<string, { chunks: number[]; rides: number }>();
  for (const m of sample.fanout) {
    const entry = bySource.get(m.source) ?? { chunks: [], rides: 0 };
    entry.chunks.push(m.chunk);
    entry.rides += m.rides;
    bySource.set(m.source, entry);
  }
  const lines = [...bySource].map(([source, e]) => `${source}: chunk(s) ${e.chunks.sort((a, b) => a - b).join(', ')} (${e.rides} rides)`);
  if (sample.undecodable) lines.push(`${sample.undecodable} not a fan-out message`);
  return lines;
}

/** The event source's error log in a stack's log dir (local-stack.ts writes it). */
const EVENT_SOURCE_LOG = 'event-source.log';

/** Event-source errors younger than this fail the check; older ones are only counted. */
const RECENT_EVENT_SOURCE_ERROR_MS = 10 * 60_000;

/**
 * The local event source's errors (sqs-consumer's `error` / `processing_error`, one JSON line
 * each in `<log dir>/event-source.log`, written by the running `rydes up`). A recent one fails
 * the check: pollers that cannot receive show only as a pipeline that stopped moving.
 */
async function eventSourceHealthy(logFile: string, now = Date.now()): Promise<string | undefined> {
  const text = await readFile(logFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const entries = text
    .split('\n')
    .filter((line) => line.trim())
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as { time?: string; kind?: string; name?: string; message?: string }];
      } catch {
        return [];
      }
    });
  const last = entries.at(-1);
  if (!last) return undefined;
  const poll = entries.filter((e) => e.kind === 'error').length;
  const handler = entries.length - poll;
  const age = now - Date.parse(last.time ?? '');
  if (!(age < RECENT_EVENT_SOURCE_ERROR_MS)) return undefined;
  return (
    `${poll} poll error(s) (receive/delete failed) and ${handler} batch-handler error(s) in ${logFile}; ` +
    `last ${Math.round(age / 1000)} s ago: ${last.name}: ${last.message}. Poll errors heal on the next poll; if they repeat, restart "rydes up"`
  );
}

function prefixOf(rules: { Name?: string; Value?: string }[] = []): string | undefined {
  return rules.find((r) => r.Name?.toLowerCase() === 'prefix')?.Value;
}

/**
 * The workshop's checklist for a deployed stack, from its CloudFormation outputs: stack, bucket,
 * queue, functions, S3 trigger on raw/, OUTPUT_QUEUE, SQS trigger, OUTPUT_BUCKET, processed/
 * data, empty DLQs. Never throws; every failure is a `[ ]` line with a hint.
 * @example
 * const checks = await diagnoseDeployed('wildrydes-ride-pipeline', clients);
 * process.stdout.write(formatChecks(checks));
 */
export async function diagnoseDeployed(stackName: string, clients: DeployedClients): Promise<Check[]> {
  const { s3, sqs, lambda } = clients;
  const labels = {
    bucket: 'bucket exists',
    queue: 'fan-out queue exists',
    ingest: 'ingest function exists',
    transform: 'transform function exists',
    s3Trigger: 'S3 trigger on raw/ invokes the ingest function',
    outputQueue: 'OUTPUT_QUEUE set on the ingest function',
    sqsTrigger: 'SQS trigger from the fan-out queue on the transform function',
    outputBucket: 'OUTPUT_BUCKET set on the transform function',
    processed: 'processed/ has data',
    dlqs: 'DLQs empty',
  };

  let outputs: StackOutputs;
  try {
    outputs = await stackOutputs(clients.cloudformation, stackName);
  } catch (err) {
    const first: Check = { label: `stack ${stackName} exists`, ok: false, hint: (err as Error).message };
    return [first, ...Object.values(labels).map((label) => blocked(label, 'stack exists'))];
  }
  const checks: Check[] = [{ label: `stack ${stackName} exists`, ok: true }];

  const redeploy = 'redeploy with "npx nx deploy infra" (console edits drift from the stack)';
  const bucket = await check(
    labels.bucket,
    async () => {
      await s3.send(new HeadBucketCommand({ Bucket: outputs.BucketName }));
      return undefined;
    },
    `bucket ${outputs.BucketName} is gone or not yours: ${redeploy}`,
  );
  let fanoutArn = '';
  const queue = await check(
    labels.queue,
    async () => {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs.FanoutQueueUrl, AttributeNames: ['QueueArn'] }));
      fanoutArn = Attributes.QueueArn ?? '';
      return undefined;
    },
    `queue ${outputs.FanoutQueueUrl} is gone: ${redeploy}`,
  );
  const { GetFunctionConfigurationCommand, ListEventSourceMappingsCommand } = await import('@aws-sdk/client-lambda');
  const config = async (name: string) => lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
  let ingestArn = '';
  let ingestEnv: Record<string, string> = {};
  const ingest = await check(
    labels.ingest,
    async () => {
      const found = await config(outputs.IngestFunctionName);
      ingestArn = found.FunctionArn ?? '';
      ingestEnv = found.Environment?.Variables ?? {};
      return undefined;
    },
    `function ${outputs.IngestFunctionName} is gone: ${redeploy}`,
  );
  let transformEnv: Record<string, string> = {};
  const transform = await check(
    labels.transform,
    async () => {
      transformEnv = (await config(outputs.TransformFunctionName)).Environment?.Variables ?? {};
      return undefined;
    },
    `function ${outputs.TransformFunctionName} is gone: ${redeploy}`,
  );
  checks.push(bucket, queue, ingest, transform);

  checks.push(
    !bucket.ok || !ingest.ok
      ? blocked(labels.s3Trigger, bucket.ok ? labels.ingest : labels.bucket)
      : await check(labels.s3Trigger, async () => {
          const notifications = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: outputs.BucketName }));
          const wired = (notifications.LambdaFunctionConfigurations ?? []).some(
            (c) =>
              c.LambdaFunctionArn?.startsWith(ingestArn) &&
              (c.Events ?? []).some((e) => e.startsWith('s3:ObjectCreated:')) &&
              (prefixOf(c.Filter?.Key?.FilterRules) ?? '').startsWith('raw'),
          );
          return wired ? undefined : `bucket ${outputs.BucketName} sends no ObjectCreated event under raw/ to ${outputs.IngestFunctionName}: ${redeploy}`;
        }),
    !ingest.ok
      ? blocked(labels.outputQueue, labels.ingest)
      : await check(labels.outputQueue, async () =>
          ingestEnv.OUTPUT_QUEUE === outputs.FanoutQueueUrl
            ? undefined
            : `OUTPUT_QUEUE is ${JSON.stringify(ingestEnv.OUTPUT_QUEUE ?? null)}; set it to ${outputs.FanoutQueueUrl}: ${redeploy}`,
        ),
    !transform.ok || !queue.ok
      ? blocked(labels.sqsTrigger, transform.ok ? labels.queue : labels.transform)
      : await check(labels.sqsTrigger, async () => {
          const { EventSourceMappings = [] } = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: outputs.TransformFunctionName }));
          const mapping = EventSourceMappings.find((m) => m.EventSourceArn === fanoutArn);
          if (!mapping) return `${outputs.TransformFunctionName} has no event source mapping from ${fanoutArn}: ${redeploy}`;
          if (mapping.State !== 'Enabled') return `the mapping ${mapping.UUID} is ${mapping.State}: enable it (aws lambda update-event-source-mapping --uuid ${mapping.UUID} --enabled)`;
          // What AWS tells of the mapping's own errors (the local event source's poll/handler errors).
          if (mapping.LastProcessingResult?.startsWith('PROBLEM')) {
            return `the mapping ${mapping.UUID} reports its last processing result as "${mapping.LastProcessingResult}": read the transform's log group (/aws/lambda/${outputs.TransformFunctionName})`;
          }
          return undefined;
        }),
    !transform.ok
      ? blocked(labels.outputBucket, labels.transform)
      : await check(labels.outputBucket, async () =>
          transformEnv.OUTPUT_BUCKET === outputs.BucketName
            ? undefined
            : `OUTPUT_BUCKET is ${JSON.stringify(transformEnv.OUTPUT_BUCKET ?? null)}; set it to ${outputs.BucketName}: ${redeploy}`,
        ),
    !bucket.ok
      ? blocked(labels.processed, labels.bucket)
      : await check(labels.processed, () => processedHasData(s3, outputs.BucketName, `upload a ride file: rydes upload FILE --stack ${stackName}`)),
    await check(labels.dlqs, () => dlqsEmpty(sqs, { fanout: outputs.FanoutDlqUrl, ingest: outputs.IngestDlqUrl })),
  );
  return checks;
}

export interface LocalClients {
  s3: S3Client;
  sqs: SQSClient;
}

export interface LocalDiagnosis {
  /** The `rydes up` event source's error log (`<log dir>/event-source.log`); not checked when absent. */
  eventSourceLog?: string;
}

/**
 * The same checklist for a stack started by `rydes up` (names from stack/names.ts). The functions
 * and their triggers live inside the `rydes up` process, so they are not checked from outside.
 * @example
 * const checks = await diagnoseLocal({ s3: createS3Client(env), sqs: createSqsClient(env) });
 */
export async function diagnoseLocal(clients: LocalClients, options: LocalDiagnosis = {}): Promise<Check[]> {
  const { s3, sqs } = clients;
  const upHint = 'start it with "rydes up" (rydes doctor --local finds it through its data dir)';
  const urls: Record<string, string> = {};
  const queueExists = (label: string, name: string) =>
    check(label, async () => {
      urls[name] = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
      return undefined;
    });
  const bucket = await check(`bucket ${BUCKET} exists`, async () => {
    await s3.send(new HeadBucketCommand({ Bucket: BUCKET }));
    return undefined;
  });
  if (!bucket.ok) bucket.hint = `${bucket.hint}; ${upHint}`;
  const queues = [
    await queueExists(`fan-out queue ${FANOUT_QUEUE} exists`, FANOUT_QUEUE),
    await queueExists(`fan-out DLQ ${FANOUT_DLQ} exists`, FANOUT_DLQ),
    await queueExists(`ingest DLQ ${INGEST_DLQ} exists`, INGEST_DLQ),
  ];
  for (const queue of queues) if (!queue.ok) queue.hint = `${queue.hint}; ${upHint}`;
  const dlqsFound = queues[1].ok && queues[2].ok;
  return [
    bucket,
    ...queues,
    bucket.ok
      ? await check('processed/ has data', () => processedHasData(s3, BUCKET, `drop a ride file into raw/ or run: rydes upload FILE --local`))
      : blocked('processed/ has data', 'bucket exists'),
    dlqsFound
      ? await check('DLQs empty', () => dlqsEmpty(sqs, { fanout: urls[FANOUT_DLQ], ingest: urls[INGEST_DLQ] }))
      : blocked('DLQs empty', 'DLQs exist'),
    ...(options.eventSourceLog ? [await check('event source receives without errors', () => eventSourceHealthy(options.eventSourceLog ?? ''))] : []),
  ];
}

/**
 * One `[x]`/`[ ]` line per check, each failed one followed by its hint.
 * @example
 * formatChecks([{ label: 'bucket exists', ok: false, hint: 'deploy' }]); // '[ ] bucket exists\n      → deploy\n'
 */
export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `[${c.ok ? 'x' : ' '}] ${c.label}\n${c.ok ? '' : `      → ${c.hint}\n`}`).join('');
}

/** Where the `rydes up` behind --data-dir logs its event source's errors (its endpoints file names the log dir). */
function eventSourceLogOf(flags: DoctorFlags): string | undefined {
  if (flags.s3Endpoint && flags.sqsEndpoint) return undefined;
  try {
    return join(readEndpointsFile(flags.dataDir).logDir, EVENT_SOURCE_LOG);
  } catch {
    return undefined;
  }
}

export interface DoctorFlags {
  stack: string;
  region?: string;
  local?: boolean;
  dataDir: string;
  s3Endpoint?: string;
  sqsEndpoint?: string;
}

/** What `rydes doctor` does once its options are parsed (registered by doctor-command.ts). */
export async function doctor(flags: DoctorFlags): Promise<void> {
  let checks: Check[];
  if (flags.local) {
    const env = localEnv(flags);
    process.stdout.write(`rydes doctor: local stack at ${env.AWS_ENDPOINT_URL_S3} and ${env.AWS_ENDPOINT_URL_SQS}\n`);
    process.stdout.write('(functions and triggers run inside "rydes up"; its status lines show them)\n');
    checks = await diagnoseLocal({ s3: createS3Client(env), sqs: createSqsClient(env) }, { eventSourceLog: eventSourceLogOf(flags) });
  } else {
    const env = flags.region ? { ...process.env, AWS_REGION: flags.region } : process.env;
    const region = flags.region;
    // Loaded when a deployed stack is checked: other commands start without these clients.
    const [{ CloudFormationClient }, { LambdaClient }] = await Promise.all([import('@aws-sdk/client-cloudformation'), import('@aws-sdk/client-lambda')]);
    const cloudformation = new CloudFormationClient(region ? { region } : {});
    await checkAwsSetup(cloudformation);
    process.stdout.write(`rydes doctor: stack ${flags.stack} in ${await cloudformation.config.region()}\n`);
    checks = await diagnoseDeployed(flags.stack, {
      cloudformation,
      lambda: new LambdaClient(region ? { region } : {}),
      s3: createS3Client(env),
      sqs: createSqsClient(env),
    });
  }
  process.stdout.write(formatChecks(checks));
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(failed === 0 ? 'All checks passed.\n' : `${failed} of ${checks.length} checks failed.\n`);
  if (failed > 0) process.exitCode = 1;
}
