import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { S3Event } from 'aws-lambda';
import { startLocalServers, type LocalServers } from '../src/local';

describe('startLocalServers', () => {
  let local: LocalServers;
  beforeAll(async () => {
    local = await startLocalServers({ buckets: ['rides-probe'] });
  });
  afterAll(() => local.close());

  const creds = () => ({ accessKeyId: local.env.AWS_ACCESS_KEY_ID, secretAccessKey: local.env.AWS_SECRET_ACCESS_KEY });

  it('serves S3 on loopback and reports object creation as an S3 event', async () => {
    const s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true, credentials: creds(),
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const events: S3Event[] = [];
    local.onObjectCreated((e) => events.push(e));
    await s3.send(new CreateBucketCommand({ Bucket: 'rides-other' }));
    await s3.send(new PutObjectCommand({ Bucket: 'rides-probe', Key: 'raw/a b.json', Body: '[]' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'rides-probe', Key: 'raw/a b.json' }));
    expect(await got.Body?.transformToString()).toBe('[]');
    expect(events).toHaveLength(1);
    expect(events[0].Records[0].s3.bucket.name).toBe('rides-probe');
    expect(events[0].Records[0].eventName).toMatch(/^ObjectCreated:/);
  });

  it('encodes keys in events the way S3 does (spaces as +, UTF-8 percent-escapes, / kept)', async () => {
    const s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true, credentials: creds(),
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const events: S3Event[] = [];
    const stop = local.onObjectCreated((e) => events.push(e));
    await s3.send(new PutObjectCommand({ Bucket: 'rides-probe', Key: 'raw/my rides é+1.json', Body: '[]' }));
    stop();
    expect(events[0].Records[0].s3.object.key).toBe('raw/my+rides+%C3%A9%2B1.json');
  });

  it('serves SQS on loopback with queue URLs that point back at it', async () => {
    const sqs = new SQSClient({ endpoint: local.sqsEndpoint, region: local.region, credentials: creds() });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'probe' }));
    expect(QueueUrl).toContain('/probe');
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['hello']);
  });
});
