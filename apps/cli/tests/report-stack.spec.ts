import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StackNotFoundError } from '../src/stack/connect';
import { reportForStack } from '../src/commands/report';
import { writeSyntheticOut } from '../src/report/synthetic-out';

const BUCKET = 'rydes-report-stack';
const RIDES = 2500;
const OUTPUTS = {
  BucketName: BUCKET,
  FanoutQueueUrl: 'https://sqs.example/fanout',
  FanoutDlqUrl: 'https://sqs.example/fanout-dlq',
  IngestDlqUrl: 'https://sqs.example/ingest-dlq',
  IngestFunctionName: 'ingest',
  TransformFunctionName: 'transform',
};

let local: LocalServers;
let s3: S3Client;
let dir: string;
const cloudformation = mockClient(CloudFormationClient);

beforeAll(async () => {
  local = await startLocalServers({ buckets: [BUCKET] });
  s3 = createS3Client(local.env);
  dir = mkdtempSync(join(tmpdir(), 'rydes-report-stack-'));
  const out = join(dir, 'out');
  await writeSyntheticOut(out, {
    rides: RIDES,
    processed: true,
    rejects: [
      { reasons: ['latitude: 95 is outside [-90, 90]'], record: { latitude: 95 } },
      { reasons: ['name: missing'], record: {} },
    ],
  });
  for (const prefix of ['manifests', 'rejects', 'processed']) {
    for (const name of readdirSync(join(out, prefix))) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${name}`, Body: readFileSync(join(out, prefix, name)) }));
    }
  }
}, 60_000);

afterAll(async () => {
  cloudformation.restore();
  s3.destroy();
  await local.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  cloudformation.reset();
  cloudformation.on(DescribeStacksCommand, { StackName: 'rides-stack' }).resolves({ Stacks: [{ StackName: 'rides-stack', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: Object.entries(OUTPUTS).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) }] });
});

const figure = (html: string, id: string) => new RegExp(`data-figure="${id}"><dt>[^<]*</dt><dd>([^<]*)</dd>`).exec(html)?.[1];

describe('rydes report --stack (bucket on real s3rver; CloudFormation mocked: no local server offers it)', () => {
  it('resolves the bucket from the stack outputs and streams manifests/, rejects/ and processed/ into the page', async () => {
    const output = join(dir, 'stack.html');
    const built = await reportForStack({ stack: 'rides-stack', output }, { cloudformation: new CloudFormationClient({ region: 'us-east-1' }), env: local.env });
    expect(built).toMatchObject({ path: output, bucket: BUCKET });
    const html = readFileSync(output, 'utf8');
    expect(html).toContain(`stack rides-stack (s3://${BUCKET})`);
    expect(figure(html, 'ridesRead')).toBe((RIDES + 2).toLocaleString('en-US'));
    expect(figure(html, 'rowsWritten')).toBe(RIDES.toLocaleString('en-US'));
    expect(html).toContain(`${RIDES.toLocaleString('en-US')} of ${RIDES.toLocaleString('en-US')} rides shown`);
    expect(html).toContain(`processed/ (${RIDES / 100} objects)`);
    expect(html).toMatch(/data-rejects="2"/);
    // The timeline: ingest from the manifest's times, writes from the objects' LastModified.
    expect(html).toMatch(/aria-label="Line chart over [\d.]+ s: rides ingested reach 2,500, rides written reach 2,500\."/);
  });

  it('with --sample N reads N processed/ objects spread over the bucket and says so', async () => {
    const output = join(dir, 'sampled.html');
    await reportForStack({ stack: 'rides-stack', output, sample: 5 }, { cloudformation: new CloudFormationClient({ region: 'us-east-1' }), env: local.env });
    const html = readFileSync(output, 'utf8');
    expect(html).toContain(`500 rows from 5 of ${RIDES / 100} processed/ objects (--sample) (of 2,500 rides written)`);
    expect(html).toContain('500 of 500 rides shown');
    // Headline figures still come from the manifests, which are read whole.
    expect(figure(html, 'valid')).toBe('2,500');
  });

  it('fails with the stack error (and reads nothing) when the stack does not exist', async () => {
    cloudformation.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id nope does not exist'), { name: 'ValidationError' }));
    await expect(
      reportForStack({ stack: 'nope', output: join(dir, 'nope.html') }, { cloudformation: new CloudFormationClient({ region: 'us-east-1' }), env: local.env }),
    ).rejects.toThrow(StackNotFoundError);
  });
});
