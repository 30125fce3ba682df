import { CreateQueueCommand, DeleteMessageBatchCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { Chunker, encodeMessage, generateRides } from '@rydes/ride-model';
import { createSqsClient, receiveBatch, RequestBodyPool } from '../src';

/** Fan-out message bodies as the ingest sends them (~180 KB at 1,000 rides). */
function chunkBodies(rides: number, ridesPerMessage: number): string[] {
  const chunker = new Chunker({ source: { bucket: 'rides-local', key: 'raw/rides.json', etag: '"0123456789abcdef"' }, ridesPerMessage });
  const bodies: string[] = [];
  let index = 0;
  for (const ride of generateRides({ count: rides, seed: 5 })) for (const message of chunker.push(index++, ride)) bodies.push(encodeMessage(message));
  const last = chunker.flush();
  if (last) bodies.push(encodeMessage(last));
  return bodies;
}

describe('RequestBodyPool', () => {
  const texts = {
    ascii: JSON.stringify({ Entries: chunkBodies(1_500, 1_000) }),
    // Two and three bytes per code unit: the first write into a buffer of the text's length stops short.
    multibyte: 'é✓日本'.repeat(40_000),
    astral: `${'a'.repeat(70_000)}😀\ud800 lone, ${'x'.repeat(10)}`,
    small: '{"QueueName":"q"} é',
  };

  it.each(Object.entries(texts))('writes the same bytes as Buffer.from (%s)', (_, text) => {
    const pool = new RequestBodyPool();
    expect(pool.encode(text).equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it('reuses a buffer only after it was released, and ignores bodies it did not make', () => {
    const pool = new RequestBodyPool();
    const text = 'x'.repeat(200_000);
    const a = pool.encode(text);
    const b = pool.encode(text);
    expect(b.buffer).not.toBe(a.buffer);
    pool.release(a);
    pool.release(Buffer.from(text));
    pool.release('not bytes');
    const c = pool.encode('y'.repeat(150_000));
    expect(c.buffer).toBe(a.buffer);
    expect(c.toString()).toBe('y'.repeat(150_000));
    expect(b.toString()).toBe(text);
    pool.release(c);
    pool.release(c); // twice: kept once
    expect(pool.encode(text).buffer).toBe(a.buffer);
    expect(pool.encode(text).buffer).not.toBe(a.buffer);
  });
});

describe('createSqsClient({ reuseRequestBodies }) against local-aws-sqs over HTTP', () => {
  let local: LocalServers;
  let pooled: SQSClient;
  let plain: SQSClient;
  /** What each SendMessageBatch left with: its bytes (copied) and the memory they were in. */
  const sent: { client: string; bytes: Buffer; memory: ArrayBufferLike }[] = [];
  const record = (client: SQSClient, name: string) =>
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const body = (args as unknown as { request: { body: Uint8Array } }).request.body;
        if (context.commandName === 'SendMessageBatchCommand') sent.push({ client: name, bytes: Buffer.from(body), memory: body.buffer });
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'recordBodies' },
    );
  beforeAll(async () => {
    local = await startLocalServers();
    pooled = createSqsClient(local.env, { reuseRequestBodies: true, cacheMiddleware: true });
    plain = createSqsClient(local.env);
    record(pooled, 'pooled');
    record(plain, 'plain');
  });
  afterAll(async () => {
    pooled.destroy();
    plain.destroy();
    await local.close();
  });

  it('sends the same bytes as the plain client, reuses the memory of a call that succeeded, and the bodies come back unchanged', async () => {
    // Prepare
    const { QueueUrl: queueUrl = '' } = await plain.send(new CreateQueueCommand({ QueueName: 'pooled-bodies' }));
    const bodies = chunkBodies(12_000, 1_000);
    const batches = [bodies.slice(0, 5), bodies.slice(5, 10), bodies.slice(10)];
    // Act: one call after another through each client (the SDK's MD5 check of every body runs on both)
    for (const client of [pooled, plain]) {
      for (const batch of batches) {
        const out = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((MessageBody, i) => ({ Id: `m${i}`, MessageBody })) }));
        expect(out.Successful?.length).toBe(batch.length);
      }
    }
    // Assess
    const mine = sent.filter((s) => s.client === 'pooled');
    const theirs = sent.filter((s) => s.client === 'plain');
    expect(mine.length).toBe(3);
    expect(mine.every((s, i) => s.bytes.equals(theirs[i].bytes))).toBe(true);
    expect(new Set(mine.map((s) => s.memory)).size).toBe(1);
    const received: string[] = [];
    for (let batch = await receiveBatch(plain, queueUrl); batch.length > 0; batch = await receiveBatch(plain, queueUrl)) {
      received.push(...batch.map((m) => m.Body ?? ''));
      await plain.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
    expect(received.sort()).toEqual([...bodies, ...bodies].sort());
  });

  it('keeps the memory of a call that failed out of the pool (it may still be in a socket\'s write)', async () => {
    sent.length = 0;
    const missing = `${local.env.AWS_ENDPOINT_URL_SQS ?? local.env.AWS_ENDPOINT_URL}/000000000000/no-such-queue`;
    const body = 'z'.repeat(300_000);
    const send = () => pooled.send(new SendMessageBatchCommand({ QueueUrl: missing, Entries: [{ Id: 'm0', MessageBody: body }] }));
    await expect(send()).rejects.toThrow();
    await expect(send()).rejects.toThrow();
    expect(sent.length).toBeGreaterThanOrEqual(2);
    const memories = new Set(sent.map((s) => s.memory));
    expect(memories.size).toBe(sent.length);
  });
});
