import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import {
  GetBucketNotificationConfigurationCommand,
  type GetBucketNotificationConfigurationCommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createS3Client, createSqsClient, receiveBatch } from '@rydes/aws-adapters';
import { encodeMessage } from '@rydes/ride-model';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { mockClient } from 'aws-sdk-client-mock';
import { type Check, diagnoseDeployed, diagnoseLocal, formatChecks } from '../src/commands/doctor';
import { BUCKET, FANOUT_DLQ, FANOUT_QUEUE, INGEST_DLQ } from '../src/stack/names';

const STACK = 'wildrydes-ride-pipeline';
const DEPLOYED_BUCKET = 'wildrydes-ride-pipeline-databucket';
const INGEST = 'wildrydes-ingest';
const TRANSFORM = 'wildrydes-transform';
const INGEST_ARN = `arn:aws:lambda:us-east-1:123456789012:function:${INGEST}`;

const cloudformation = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);

let local: LocalServers;
let s3: S3Client;
let sqs: SQSClient;
const urls: Record<string, string> = {};
/** What GetBucketNotificationConfiguration returns: s3rver does not implement it. */
let notifications: Partial<GetBucketNotificationConfigurationCommandOutput>;

beforeAll(async () => {
  local = await startLocalServers({ buckets: [DEPLOYED_BUCKET, BUCKET] });
  s3 = createS3Client(local.env);
  sqs = createSqsClient(local.env);
  for (const name of [FANOUT_QUEUE, FANOUT_DLQ, INGEST_DLQ]) {
    urls[name] = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
  }
  const send = s3.send.bind(s3) as (command: unknown) => Promise<unknown>;
  s3.send = ((command: unknown) =>
    command instanceof GetBucketNotificationConfigurationCommand ? Promise.resolve(notifications) : send(command)) as S3Client['send'];
});

afterAll(async () => {
  s3.destroy();
  sqs.destroy();
  await local.close();
});

/** A healthy deployment: outputs pointing at the local servers, functions wired as the CDK stack does. */
async function healthyDeployment() {
  const fanoutArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls[FANOUT_QUEUE], AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  cloudformation.reset();
  lambda.reset();
  cloudformation.on(DescribeStacksCommand, { StackName: STACK }).resolves({
    Stacks: [
      {
        StackName: STACK,
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: Object.entries({
          BucketName: DEPLOYED_BUCKET,
          FanoutQueueUrl: urls[FANOUT_QUEUE],
          FanoutDlqUrl: urls[FANOUT_DLQ],
          IngestDlqUrl: urls[INGEST_DLQ],
          IngestFunctionName: INGEST,
          TransformFunctionName: TRANSFORM,
        }).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  lambda
    .on(GetFunctionConfigurationCommand, { FunctionName: INGEST })
    .resolves({ FunctionName: INGEST, FunctionArn: INGEST_ARN, Environment: { Variables: { OUTPUT_QUEUE: urls[FANOUT_QUEUE], RIDES_PER_MESSAGE: '100' } } })
    .on(GetFunctionConfigurationCommand, { FunctionName: TRANSFORM })
    .resolves({ FunctionName: TRANSFORM, Environment: { Variables: { OUTPUT_BUCKET: DEPLOYED_BUCKET } } })
    .on(ListEventSourceMappingsCommand, { FunctionName: TRANSFORM })
    .resolves({ EventSourceMappings: [{ UUID: 'esm-1', EventSourceArn: fanoutArn, State: 'Enabled' }] });
  notifications = {
    LambdaFunctionConfigurations: ['.json', '.ndjson', '.json.gz'].map((suffix) => ({
      LambdaFunctionArn: INGEST_ARN,
      Events: ['s3:ObjectCreated:*'],
      Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'raw/' }, { Name: 'suffix', Value: suffix }] } },
    })),
  };
  for (const chunk of ['000000', '000001']) {
    await s3.send(new PutObjectCommand({ Bucket: DEPLOYED_BUCKET, Key: `processed/rides-0123abcd-${chunk}.csv`, Body: 'distance\n1\n' }));
  }
  return { fanoutArn };
}

/** Receives and deletes everything in a queue (PurgeQueue is limited to once a minute). */
async function drain(queueUrl: string): Promise<void> {
  for (;;) {
    const Messages = await receiveBatch(sqs, queueUrl);
    if (Messages.length === 0) return;
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

/** Lambda's invocation record of an S3 event whose every attempt failed (what the ingest DLQ receives on AWS). */
function invocationRecord(key: string, errorType: string, errorMessage: string): string {
  return JSON.stringify({
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: { requestId: 'f8a7c1d2-0000-4000-8000-000000000000', functionArn: `${INGEST_ARN}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
    requestPayload: { Records: [{ s3: { bucket: { name: DEPLOYED_BUCKET }, object: { key } } }] },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType, errorMessage, stackTrace: [] },
  });
}

const ride = { distance: 1, healthpoints: 1, latitude: 40.7, longitude: -73.9, magicpoints: 1, name: 'Shadowfax', statustime: '2019-05-07 20:11:04.247' };

async function visible(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(Attributes.ApproximateNumberOfMessages ?? 0);
}

const failed = (checks: Check[]) => checks.filter((c) => !c.ok).map((c) => c.label);
const line = (checks: Check[], label: RegExp): Check => {
  const found = checks.find((c) => label.test(c.label));
  if (!found) throw new Error(`no check labelled ${label}: ${checks.map((c) => c.label).join(', ')}`);
  return found;
};

describe('rydes doctor on a deployed stack (mocked CloudFormation and Lambda, S3 and SQS on local servers)', () => {
  it('ticks every line of a healthy deployment', async () => {
    // Prepare
    await healthyDeployment();
    // Act
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    // Assess
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.label)).toEqual([
      `stack ${STACK} exists`,
      'bucket exists',
      'fan-out queue exists',
      'ingest function exists',
      'transform function exists',
      'S3 trigger on raw/ invokes the ingest function',
      'OUTPUT_QUEUE set on the ingest function',
      'SQS trigger from the fan-out queue on the transform function',
      'OUTPUT_BUCKET set on the transform function',
      'processed/ has data',
      'DLQs empty',
    ]);
    expect(formatChecks(checks).split('\n').filter(Boolean).every((l) => l.startsWith('[x] '))).toBe(true);
  });

  it('reports a missing S3 trigger (mocked CloudFormation and Lambda, mocked S3 notification configuration)', async () => {
    await healthyDeployment();
    notifications = { LambdaFunctionConfigurations: [] };
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(failed(checks)).toEqual(['S3 trigger on raw/ invokes the ingest function']);
    expect(line(checks, /^S3 trigger/).hint).toContain(`sends no ObjectCreated event under raw/ to ${INGEST}`);
  });

  it('reports a trigger on another prefix as missing (mocked S3 notification configuration)', async () => {
    await healthyDeployment();
    notifications = {
      LambdaFunctionConfigurations: [{ LambdaFunctionArn: INGEST_ARN, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'input/' }] } } }],
    };
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(failed(checks)).toEqual(['S3 trigger on raw/ invokes the ingest function']);
  });

  it('reports an unset OUTPUT_QUEUE with the URL to set (mocked Lambda)', async () => {
    await healthyDeployment();
    lambda.on(GetFunctionConfigurationCommand, { FunctionName: INGEST }).resolves({ FunctionArn: INGEST_ARN, Environment: { Variables: {} } });
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(failed(checks)).toEqual(['OUTPUT_QUEUE set on the ingest function']);
    expect(line(checks, /^OUTPUT_QUEUE/).hint).toContain(`OUTPUT_QUEUE is null; set it to ${urls[FANOUT_QUEUE]}`);
  });

  it('reports a missing or disabled SQS trigger and a wrong OUTPUT_BUCKET (mocked Lambda)', async () => {
    await healthyDeployment();
    lambda
      .on(ListEventSourceMappingsCommand, { FunctionName: TRANSFORM })
      .resolves({ EventSourceMappings: [] })
      .on(GetFunctionConfigurationCommand, { FunctionName: TRANSFORM })
      .resolves({ Environment: { Variables: { OUTPUT_BUCKET: 'some-other-bucket' } } });
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(failed(checks)).toEqual(['SQS trigger from the fan-out queue on the transform function', 'OUTPUT_BUCKET set on the transform function']);
    expect(line(checks, /^OUTPUT_BUCKET/).hint).toContain(`"some-other-bucket"; set it to ${DEPLOYED_BUCKET}`);

    const { fanoutArn } = await healthyDeployment();
    lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: 'esm-1', EventSourceArn: fanoutArn, State: 'Disabled' }] });
    const disabled = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(line(disabled, /^SQS trigger/)).toMatchObject({ ok: false, hint: expect.stringContaining('update-event-source-mapping --uuid esm-1 --enabled') });
  });

  it('reports messages waiting in a DLQ with their count (real local SQS)', async () => {
    await healthyDeployment();
    await sqs.send(new SendMessageCommand({ QueueUrl: urls[FANOUT_DLQ], MessageBody: '{"v":1}' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: urls[FANOUT_DLQ], MessageBody: '{"v":1}' }));
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(failed(checks)).toEqual(['DLQs empty']);
    expect(line(checks, /^DLQs/).hint).toContain(`fan-out DLQ holds 2 message(s) (${urls[FANOUT_DLQ]})`);
    await drain(urls[FANOUT_DLQ]);
    expect(failed(await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs }))).toEqual([]);
  });

  it('names the file, the condition, the attempts and the error of each ingest DLQ record, and leaves the messages there (real local SQS)', async () => {
    await healthyDeployment();
    await sqs.send(new SendMessageCommand({ QueueUrl: urls[INGEST_DLQ], MessageBody: invocationRecord('raw/my_rides-0123456789ab.json', 'RideParseError', 'byte 812: unexpected token') }));
    await sqs.send(new SendMessageCommand({ QueueUrl: urls[FANOUT_DLQ], MessageBody: encodeMessage({ v: 1, source: { bucket: DEPLOYED_BUCKET, key: 'raw/x.json', etag: '"0123abcd"' }, chunk: 3, firstIndex: 300, rides: [ride] }) }));
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(failed(checks)).toEqual(['DLQs empty']);
    const hint = line(checks, /^DLQs/).hint ?? '';
    expect(hint).toContain(`ingest DLQ holds 1 message(s) (${urls[INGEST_DLQ]}): my_rides.json (raw/my_rides-0123456789ab.json): RideParseError: byte 812: unexpected token (RetriesExhausted after 3 attempt(s))`);
    expect(hint).toContain(`fan-out DLQ holds 1 message(s) (${urls[FANOUT_DLQ]}): raw/x.json: chunk(s) 3 (1 rides)`);
    // Looked at, not taken: both are still there for the user (and a redrive).
    expect(await visible(urls[INGEST_DLQ])).toBe(1);
    expect(await visible(urls[FANOUT_DLQ])).toBe(1);
    await drain(urls[INGEST_DLQ]);
    await drain(urls[FANOUT_DLQ]);
  });

  it('reports the event source mapping\'s PROBLEM processing result (mocked Lambda)', async () => {
    const { fanoutArn } = await healthyDeployment();
    lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: 'esm-1', EventSourceArn: fanoutArn, State: 'Enabled', LastProcessingResult: 'PROBLEM: Function call failed' }] });
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(line(checks, /^SQS trigger/)).toMatchObject({ ok: false, hint: expect.stringContaining('last processing result as "PROBLEM: Function call failed"') });
  });

  it('reports an empty processed/ and a missing bucket (real local S3)', async () => {
    await healthyDeployment();
    cloudformation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: STACK,
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [
            ['BucketName', 'no-such-bucket-here'],
            ['FanoutQueueUrl', urls[FANOUT_QUEUE]],
            ['FanoutDlqUrl', urls[FANOUT_DLQ]],
            ['IngestDlqUrl', urls[INGEST_DLQ]],
            ['IngestFunctionName', INGEST],
            ['TransformFunctionName', TRANSFORM],
          ].map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(failed(checks)).toEqual([
      'bucket exists',
      'S3 trigger on raw/ invokes the ingest function',
      'OUTPUT_BUCKET set on the transform function',
      'processed/ has data',
    ]);
    expect(line(checks, /^bucket/).hint).toContain('bucket no-such-bucket-here is gone or not yours');
    expect(line(checks, /^processed/).hint).toBe('not checked: bucket exists failed');
  });

  it('fails every line with a deploy hint when the stack does not exist (mocked CloudFormation)', async () => {
    cloudformation.reset();
    lambda.reset();
    cloudformation.on(DescribeStacksCommand).rejects(Object.assign(new Error(`Stack with id ${STACK} does not exist`), { name: 'ValidationError' }));
    const checks = await diagnoseDeployed(STACK, { cloudformation: new CloudFormationClient({}), lambda: new LambdaClient({}), s3, sqs });
    expect(checks).toHaveLength(11);
    expect(failed(checks)).toHaveLength(11);
    expect(checks[0].hint).toBe(`stack ${STACK}: does not exist. Deploy it with "npx nx deploy infra" or pass --stack NAME and --region.`);
    expect(formatChecks(checks.slice(0, 2))).toBe(
      `[ ] stack ${STACK} exists\n      → ${checks[0].hint}\n[ ] bucket exists\n      → not checked: stack exists failed\n`,
    );
    expect(lambda.calls()).toHaveLength(0);
  });
});

describe('rydes doctor --local (real local S3 and SQS servers)', () => {
  it('ticks bucket, queues, processed/ data and empty DLQs of a running local stack', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'processed/a-0123abcd-000000.csv', Body: 'x\n' }));
    const checks = await diagnoseLocal({ s3, sqs });
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.label)).toEqual([
      `bucket ${BUCKET} exists`,
      `fan-out queue ${FANOUT_QUEUE} exists`,
      `fan-out DLQ ${FANOUT_DLQ} exists`,
      `ingest DLQ ${INGEST_DLQ} exists`,
      'processed/ has data',
      'DLQs empty',
    ]);
  });

  it('fails on recent event-source errors (sqs-consumer error / processing_error in rydes up\'s log), naming counts, the last one and the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rydes-doctor-'));
    try {
      const log = join(dir, 'event-source.log');
      const entry = (kind: string, ago: number, message: string) => JSON.stringify({ time: new Date(Date.now() - ago).toISOString(), kind, name: 'QueueDoesNotExist', message });
      writeFileSync(log, [entry('error', 5000, 'first'), entry('processing_error', 4000, 'second'), entry('error', 2000, 'The specified queue does not exist.')].join('\n') + '\n');
      const checks = await diagnoseLocal({ s3, sqs }, { eventSourceLog: log });
      expect(line(checks, /^event source/)).toMatchObject({ ok: false, hint: expect.stringMatching(new RegExp(`^2 poll error\\(s\\) \\(receive/delete failed\\) and 1 batch-handler error\\(s\\) in ${log}; last \\d+ s ago: QueueDoesNotExist: The specified queue does not exist\\.`)) });
      // Old errors (an hour ago) that healed do not fail it; no log at all does not either.
      writeFileSync(log, entry('error', 3_600_000, 'long ago') + '\n');
      expect(line(await diagnoseLocal({ s3, sqs }, { eventSourceLog: log }), /^event source/).ok).toBe(true);
      expect(line(await diagnoseLocal({ s3, sqs }, { eventSourceLog: join(dir, 'none.log') }), /^event source/).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells the user to start rydes up when nothing answers', async () => {
    const env = { ...local.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9' };
    const down = { s3: createS3Client(env), sqs: createSqsClient(env) };
    // Keep the failure fast: one attempt, no retries against a closed port.
    down.s3.config.maxAttempts = async () => 1;
    down.sqs.config.maxAttempts = async () => 1;
    const checks = await diagnoseLocal(down);
    expect(failed(checks)).toHaveLength(6);
    expect(checks[0].hint).toContain('start it with "rydes up"');
  });
});
