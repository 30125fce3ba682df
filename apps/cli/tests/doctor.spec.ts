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
