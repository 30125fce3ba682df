import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { S3Event } from 'aws-lambda';
import { startLocalServers, type LocalServers } from '../src';

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

  describe.each([false, true])('with s3rver in a worker thread: %s', (s3Thread) => {
    it('serves S3 and reports object creation events', async () => {
      const servers = await startLocalServers({ buckets: ['rides-thread'], s3Thread });
      try {
        const s3 = new S3Client({
          endpoint: servers.s3Endpoint, region: servers.region, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
          requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
        });
        const events: S3Event[] = [];
        servers.onObjectCreated((e) => events.push(e));
        await s3.send(new PutObjectCommand({ Bucket: 'rides-thread', Key: 'raw/x y.json', Body: '[1]' }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'rides-thread', Key: 'raw/x y.json' }));
        expect(await got.Body?.transformToString()).toBe('[1]');
        // A worker's event arrives as a message, possibly after the GET's answer: wait for it (≤ 5 s).
        for (const deadline = Date.now() + 5000; events.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
        expect(events.map((e) => e.Records[0].s3.object.key)).toEqual(['raw/x+y.json']);
        s3.destroy();
      } finally {
        await servers.close();
      }
    });
  });

  it('holds sends while a queue is above the high-water mark and lets them through once consumers drain it', async () => {
    // Prepare: a high-water mark of 20 waiting messages, 20 already waiting
    const servers = await startLocalServers({ sqsHighWater: 20 });
    const sqs = new SQSClient({ endpoint: servers.sqsEndpoint, region: servers.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'gated' }));
      const batch = (from: number) => new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${from + i}`, MessageBody: String(from + i) })) });
      await sqs.send(batch(0));
      await sqs.send(batch(10));
      await new Promise((r) => setTimeout(r, 150)); // past the gate's 100 ms measuring interval

      // Act
      let sent = false;
      const held = sqs.send(batch(20)).then(() => (sent = true));
      await new Promise((r) => setTimeout(r, 300));
      const sentBeforeDrain = sent;
      for (let drained = 0; drained < 10; ) {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
        const messages = got.Messages ?? [];
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
        drained += messages.length;
      }
      await held;

      // Assess
      expect(sentBeforeDrain).toBe(false);
      expect(sent).toBe(true);
    } finally {
      sqs.destroy();
      await servers.close();
    }
  });
});
