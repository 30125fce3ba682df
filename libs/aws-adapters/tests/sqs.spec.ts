import { createHash } from 'node:crypto';
import { CreateQueueCommand, DeleteMessageBatchCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { countRequests, createSqsClient, md5Hex, receiveBatch, sendMessages, SQS_BATCH_BYTES, SqsMessageTooLargeError, SqsSendError } from '../src';

describe('sendMessages against local-aws-sqs', () => {
  let local: LocalServers;
  let sqs: SQSClient;
  beforeAll(async () => {
    local = await startLocalServers();
    sqs = createSqsClient(local.env);
  });
  afterAll(async () => {
    sqs.destroy();
    await local.close();
  });

  async function newQueue(name: string): Promise<string> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    return QueueUrl ?? '';
  }

  async function drain(queueUrl: string): Promise<string[]> {
    const bodies: string[] = [];
    for (;;) {
      const messages = await receiveBatch(sqs, queueUrl);
      if (messages.length === 0) return bodies;
      bodies.push(...messages.map((m) => m.Body ?? ''));
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
  }

  it('receiveBatch returns waiting messages from one short poll, and believes an empty answer once the queue counts 0 visible', async () => {
    // Prepare
    const queueUrl = await newQueue('receive-batch');
    await sendMessages(sqs, queueUrl, ['a', 'b', 'c']);
    const counts = countRequests(sqs, {});
    // Act
    const full = await receiveBatch(sqs, queueUrl, { visibilityTimeout: 60 });
    const afterFull = { ...counts };
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: full.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    const empty = await receiveBatch(sqs, queueUrl);
    // Assess
    expect(full.map((m) => m.Body).sort()).toEqual(['a', 'b', 'c']);
    expect(afterFull).toEqual({ ReceiveMessageCommand: 1 });
    expect(empty).toEqual([]);
    expect(counts).toEqual({ ReceiveMessageCommand: 2, DeleteMessageBatchCommand: 1, GetQueueAttributesCommand: 1 });
  });

  it('sends 1,234 messages in batches of 10 and every one is received once', async () => {
    // Prepare
    const queueUrl = await newQueue('many');
    const bodies = Array.from({ length: 1234 }, (_, i) => JSON.stringify({ n: i, text: 'é✓'.repeat(i % 7) }));
    const counts = countRequests(sqs, {});
    // Act
    const stats = await sendMessages(sqs, queueUrl, bodies);
    // Assess
    expect(stats).toEqual({ sent: 1234, calls: 124, retries: 0 });
    expect(counts.SendMessageBatchCommand).toBe(124);
    const received = await drain(queueUrl);
    expect(received.sort()).toEqual([...bodies].sort());
  });

  it('with cacheMiddleware, resolves SendMessageBatch\'s middleware once, checks the MD5 of every body sent, and every message arrives once', async () => {
    // Prepare: an MD5 that counts the bodies it hashes, and one that gets every body wrong
    let hashed = 0;
    class CountingMd5 {
      private readonly hash = createHash('md5');
      update(data: Uint8Array): void {
        hashed++;
        this.hash.update(data);
      }
      async digest(): Promise<Uint8Array> {
        return this.hash.digest();
      }
    }
    class WrongMd5 extends CountingMd5 {
      override async digest(): Promise<Uint8Array> {
        return new Uint8Array(16);
      }
    }
    const cached = createSqsClient(local.env, { cacheMiddleware: true, md5: CountingMd5 });
    const corrupted = createSqsClient(local.env, { cacheMiddleware: true, md5: WrongMd5 });
    const queueUrl = await newQueue('cached-middleware');
    const bodies = Array.from({ length: 95 }, (_, i) => JSON.stringify({ n: i, text: 'é✓"'.repeat(i % 5) }));
    const resolve = jest.spyOn(SendMessageBatchCommand.prototype, 'resolveMiddleware');
    try {
      // Act
      const stats = await sendMessages(cached, queueUrl, bodies);
      const resolvedForTen = resolve.mock.calls.length;
      const failed = await sendMessages(corrupted, queueUrl, ['x', 'y']).catch((err: unknown) => err);
      // Assess
      expect(stats).toEqual({ sent: 95, calls: 10, retries: 0 });
      expect(resolvedForTen).toBe(1);
      expect(hashed).toBe(95 + 2);
      expect(failed).toBeInstanceOf(SqsSendError);
      expect(String((failed as Error).message)).toMatch(/Invalid MD5 checksum/);
      const received = await drain(queueUrl);
      // The corrupted client's two bodies reached the queue; only the check of the answer failed.
      expect(received.sort()).toEqual([...bodies, 'x', 'y'].sort());
    } finally {
      resolve.mockRestore();
      cached.destroy();
      corrupted.destroy();
    }
  });

  it('with the client\'s MD5 check off (md5: false), sendMessages checks every body itself: the same error as the SDK\'s for a wrong MD5', async () => {
    // Prepare: one client as the ingest makes it, one whose answers carry a wrong MD5 for the second entry
    const unchecked = createSqsClient(local.env, { cacheMiddleware: true, reuseRequestBodies: true, md5: false });
    const tampered = createSqsClient(local.env, { md5: false });
    tampered.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const entries = (result.output as { Successful?: { MD5OfMessageBody?: string }[] }).Successful;
        if (entries?.[1]) entries[1].MD5OfMessageBody = '0'.repeat(32);
        return result;
      },
      { step: 'initialize', name: 'wrongMd5' },
    );
    const queueUrl = await newQueue('own-md5-check');
    const bodies = Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i, text: 'é✓"😀\\'.repeat(i * 2000) }));
    try {
      // Act
      const stats = await sendMessages(unchecked, queueUrl, bodies);
      const failed = await sendMessages(tampered, queueUrl, ['x', 'y', 'z']).catch((err: unknown) => err);
      const unverified = await sendMessages(tampered, queueUrl, ['p', 'q'], { verifyMd5: false });
      // Assess
      expect(stats.sent).toBe(25);
      expect(failed).toBeInstanceOf(SqsSendError);
      expect(String((failed as Error).message)).toMatch(/Invalid MD5 checksum on messages/);
      expect((failed as SqsSendError).failed.map((f) => f.id)).toEqual(['m0', 'm1', 'm2']);
      expect(unverified.sent).toBe(2);
      expect((await drain(queueUrl)).sort()).toEqual([...bodies, 'x', 'y', 'z', 'p', 'q'].sort());
    } finally {
      unchecked.destroy();
      tampered.destroy();
    }
  });

  it('md5Hex is the MD5 of the UTF-8 bytes, for ASCII, multi-byte, astral and lone-surrogate texts of any length', () => {
    const texts = ['', 'a', 'é', '😀', '\ud800', 'x'.repeat(300_000), 'é✓日本😀'.repeat(50_000), `${'a'.repeat(99_999)}é`, 'short again'];
    for (const text of texts) expect(md5Hex(text)).toBe(createHash('md5').update(Buffer.from(text, 'utf8')).digest('hex'));
  });

  it('reads an async source lazily: only a few calls ahead of what SQS accepted', async () => {
    // Prepare
    const queueUrl = await newQueue('lazy');
    let produced = 0;
    let maxAhead = 0;
    let accepted = 0;
    async function* source() {
      for (let i = 0; i < 500; i++) {
        produced++;
        maxAhead = Math.max(maxAhead, produced - accepted);
        yield `message ${i}`;
      }
    }
    // Act
    const stats = await sendMessages(sqs, queueUrl, source(), { concurrency: 2, onSent: (n) => (accepted += n) });
    // Assess: two calls in flight, one batch being filled
    expect(stats.sent).toBe(500);
    expect(maxAhead).toBeLessThanOrEqual(3 * 10 + 1);
    expect((await drain(queueUrl)).length).toBe(500);
  });

  it('puts several large messages in one call, and no call carries more than 1 MiB of payload', async () => {
    // Prepare: 200 KiB messages (the fan-out cap), so five fit in one call
    const queueUrl = await newQueue('big');
    const bodies = Array.from({ length: 12 }, (_, i) => String(i % 10).repeat(200 * 1024));
    const counts = countRequests(sqs, {});
    // Act
    const stats = await sendMessages(sqs, queueUrl, bodies);
    // Assess: 5 + 5 + 2
    expect(stats).toEqual({ sent: 12, calls: 3, retries: 0 });
    expect(counts.SendMessageBatchCommand).toBe(3);
    expect((await drain(queueUrl)).sort()).toEqual([...bodies].sort());
  });

  it('falls back to calls of at most 256 KiB when the endpoint refuses a call as BatchRequestTooLong (local-aws-sqs refusing more than its 1 MiB)', async () => {
    // Prepare: a limit above what the endpoint takes, as an endpoint with the old 256 KiB limit would meet ours
    const queueUrl = await newQueue('too-long');
    const bodies = Array.from({ length: 12 }, (_, i) => String(i % 10).repeat(200 * 1024));
    const counts = countRequests(sqs, {});
    // Act
    const stats = await sendMessages(sqs, queueUrl, bodies, { maxBatchBytes: 2 * SQS_BATCH_BYTES });
    // Assess: the first call (10 entries, 2,048,000 bytes) refused, its entries sent again one per call; every message once
    expect(stats.sent).toBe(12);
    expect(stats.retries).toBe(1);
    expect(counts.SendMessageBatchCommand).toBe(stats.calls);
    expect(stats.calls).toBeGreaterThanOrEqual(1 + 10 + 1);
    expect((await drain(queueUrl)).sort()).toEqual([...bodies].sort());
  });

  it('refuses a single message over the limit, naming its position', async () => {
    const queueUrl = await newQueue('huge');
    const bodies = ['small', 'x'.repeat(SQS_BATCH_BYTES + 1)];
    await expect(sendMessages(sqs, queueUrl, bodies)).rejects.toThrow(SqsMessageTooLargeError);
    await expect(sendMessages(sqs, queueUrl, bodies)).rejects.toThrow(/message 1 is 1048577 bytes/);
  });

  it('sends everything read before the source failed, then rethrows the source error', async () => {
    const queueUrl = await newQueue('broken-source');
    async function* source() {
      for (let i = 0; i < 25; i++) yield `m${i}`;
      throw new Error('parse failed at byte 99');
    }
    await expect(sendMessages(sqs, queueUrl, source())).rejects.toThrow('parse failed at byte 99');
    expect((await drain(queueUrl)).length).toBe(25);
  });
});
