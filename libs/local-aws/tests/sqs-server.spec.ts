import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageBatchCommand,
  SendMessageCommand, SQSClient, type Message,
} from '@aws-sdk/client-sqs';
import { startSqs, wholeRequest } from '../src/sqs-server';

/** POSTs `body` in `pieces` writes, each after a turn of the event loop, so the server sees several chunks. */
function postInPieces(port: number, body: Buffer, pieces: number, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/some/path?x=1', headers: { 'content-length': String(body.length), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (text += s));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    const size = Math.ceil(body.length / pieces);
    const writeFrom = (offset: number) => {
      if (offset >= body.length) return void req.end();
      req.write(body.subarray(offset, offset + size), () => setTimeout(() => writeFrom(offset + size), 2));
    };
    writeFrom(0);
  });
}

/** About `bytes` of UTF-8 with multi-byte characters all along, so chunk boundaries fall inside characters. */
function bodyOf(i: number, bytes: number): string {
  const unit = `{"i":${i},"name":"Zoë's ride ☂ 🚲","q":"\\"quoted\\""}`;
  return unit.repeat(Math.floor(bytes / Buffer.byteLength(unit)));
}

describe('the embedded SQS server (local-aws-sqs behind our front)', () => {
  it('hands local-aws-sqs a body that arrived in many chunks as one chunk, headers, method and url kept', async () => {
    // Prepare: a server that records what the stand-in emits
    const seen: Array<{ rawChunks: number; chunks: Buffer[]; ended: boolean; headers: IncomingMessage['headers']; method?: string; url?: string }> = [];
    const server = createServer((req, res) => {
      let rawChunks = 0;
      req.on('data', () => rawChunks++);
      void wholeRequest(req).then((whole) => {
        const chunks: Buffer[] = [];
        whole.on('data', (chunk: Buffer) => chunks.push(chunk));
        whole.on('end', () => {
          seen.push({ rawChunks, chunks, ended: true, headers: whole.headers, method: whole.method, url: whole.url });
          res.end('ok');
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const body = Buffer.from(bodyOf(0, 2 * 1024 * 1024), 'utf8');
    try {
      // Act
      await postInPieces(port, body, 32, { 'x-amz-target': 'AmazonSQS.SendMessageBatch', 'content-type': 'application/x-amz-json-1.0' });
      await postInPieces(port, Buffer.alloc(0), 1);

      // Assess
      const [big, empty] = seen;
      expect(big.rawChunks).toBeGreaterThan(1);
      expect(big.chunks).toHaveLength(1);
      expect(big.chunks[0].equals(body)).toBe(true);
      expect(big.headers['x-amz-target']).toBe('AmazonSQS.SendMessageBatch');
      expect(big.headers['content-type']).toBe('application/x-amz-json-1.0');
      expect([big.method, big.url]).toEqual(['POST', '/some/path?x=1']);
      expect(empty.chunks).toHaveLength(0);
      expect(empty.ended).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe('serves every SQS action the project uses, JSON and query protocol, through the front', () => {
    let sqsServer: Awaited<ReturnType<typeof startSqs>>;
    let sqs: SQSClient;
    beforeAll(async () => {
      sqsServer = await startSqs();
      sqs = new SQSClient({ endpoint: `http://127.0.0.1:${sqsServer.port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    });
    afterAll(async () => {
      sqs.destroy();
      await sqsServer.close();
    });

    it('delivers a ~1 MiB SendMessageBatch (multi-byte characters across chunk boundaries) byte-exact, with the right MD5s', async () => {
      // Prepare
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'big-batch' }));
      const bodies = Array.from({ length: 10 }, (_, i) => bodyOf(i, 100_000));
      // Act: the SDK checks each MD5OfMessageBody of the answer against what it sent
      const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: bodies.map((MessageBody, i) => ({ Id: `m${i}`, MessageBody })) }));
      const received: Message[] = [];
      while (received.length < bodies.length) {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        received.push(...(got.Messages ?? []));
      }
      // Assess
      expect(sent.Successful).toHaveLength(10);
      expect(sent.Failed ?? []).toEqual([]);
      expect(received.map((m) => m.Body).sort()).toEqual([...bodies].sort());
      for (const m of received) expect(m.MD5OfBody).toBe(createHash('md5').update(m.Body ?? '', 'utf8').digest('hex'));
    });

    it('answers CreateQueue, GetQueueUrl, GetQueueAttributes, SendMessage, ReceiveMessage, DeleteMessage and DeleteMessageBatch', async () => {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'actions', Attributes: { VisibilityTimeout: '30' } }));
      expect((await sqs.send(new GetQueueUrlCommand({ QueueName: 'actions' }))).QueueUrl).toBe(QueueUrl);
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }));
      expect(Attributes).toEqual({ QueueArn: expect.stringMatching(/:actions$/), VisibilityTimeout: '30' });
      for (const MessageBody of ['one', 'two', 'three']) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody }));
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const messages = got.Messages ?? [];
      expect(messages.map((m) => m.Body).sort()).toEqual(['one', 'three', 'two']);
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: messages[0].ReceiptHandle }));
      const deleted = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: messages.slice(1).map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
      expect(deleted.Successful).toHaveLength(2);
      const depth = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      expect(depth.Attributes?.ApproximateNumberOfMessages).toBe('0');
    });

    it('answers the query protocol of older clients (form-encoded body in several chunks)', async () => {
      const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'query' }));
      const body = Buffer.from(new URLSearchParams({ Action: 'SendMessage', QueueUrl, MessageBody: bodyOf(7, 20_000), Version: '2012-11-05' }).toString(), 'utf8');
      const xml = await postInPieces(sqsServer.port, body, 8, { 'content-type': 'application/x-www-form-urlencoded' });
      expect(xml).toContain('<SendMessageResponse');
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
      expect(got.Messages?.[0]?.Body).toBe(bodyOf(7, 20_000));
    });

    it('keeps serving after a client goes away in the middle of a request body', async () => {
      // Act: headers and half a body, then the socket is destroyed
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port: sqsServer.port, method: 'POST', path: '/', headers: { 'content-length': '1000', 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' } });
        req.on('error', () => resolve());
        req.write('{"QueueNamePrefix":', () => setTimeout(() => req.destroy(), 20));
      });
      // Assess
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'after-abort' }));
      expect(QueueUrl).toContain('/after-abort');
    });
  });
  describe('the in-process transport (an SDK requestHandler without a socket)', () => {
    let sqsServer: Awaited<ReturnType<typeof startSqs>>;
    let overHttp: SQSClient;
    let inProcess: SQSClient;
    beforeAll(async () => {
      sqsServer = await startSqs();
      const config = { endpoint: `http://127.0.0.1:${sqsServer.port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
      overHttp = new SQSClient(config);
      inProcess = new SQSClient({ ...config, requestHandler: sqsServer.inProcess });
    });
    afterAll(async () => {
      overHttp.destroy();
      inProcess.destroy();
      await sqsServer.close();
    });

    it('reaches the same queues as HTTP clients: sends, receives with attributes, deletes, counts', async () => {
      // Prepare: a queue made over HTTP, messages sent both ways
      const { QueueUrl } = await overHttp.send(new CreateQueueCommand({ QueueName: 'in-process', Attributes: { VisibilityTimeout: '30' } }));
      await overHttp.send(new SendMessageBatchCommand({ QueueUrl, Entries: ['a', 'b'].map((MessageBody) => ({ Id: MessageBody, MessageBody })) }));
      await inProcess.send(new SendMessageCommand({ QueueUrl, MessageBody: bodyOf(3, 150_000), MessageAttributes: { kind: { DataType: 'String', StringValue: 'big' } } }));
      // Act
      const received: Message[] = [];
      while (received.length < 3) {
        const got = await inProcess.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, AttributeNames: ['All'], MessageAttributeNames: ['All'] }));
        received.push(...(got.Messages ?? []));
      }
      const deleted = await inProcess.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: received.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
      const left = await overHttp.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      // Assess: the SDK checked every MD5 on the way; attributes as SQS gives them
      expect(received.map((m) => m.Body).sort()).toEqual(['a', 'b', bodyOf(3, 150_000)].sort());
      const big = received.find((m) => m.Body === bodyOf(3, 150_000));
      expect(big?.MessageAttributes?.kind?.StringValue).toBe('big');
      expect(big?.Attributes?.ApproximateReceiveCount).toBe('1');
      expect(deleted.Successful).toHaveLength(3);
      expect(left.Attributes?.ApproximateNumberOfMessages).toBe('0');
    });

    it('answers errors as SQS does (an unknown queue is QueueDoesNotExist)', async () => {
      const unknown = `http://127.0.0.1:${sqsServer.port}/000000000000/no-such-queue`;
      await expect(inProcess.send(new ReceiveMessageCommand({ QueueUrl: unknown }))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
      await expect(overHttp.send(new ReceiveMessageCommand({ QueueUrl: unknown }))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
    });

    it('rejects a request whose abort signal fires while it waits (a long poll stopped), and then serves the next', async () => {
      const { QueueUrl } = await inProcess.send(new CreateQueueCommand({ QueueName: 'abort-me' }));
      const controller = new AbortController();
      const waiting = inProcess.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }), { abortSignal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
      const got = await inProcess.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
      expect(got.Messages ?? []).toEqual([]);
    });
  });

  it('refuses in-process requests once the server is closed, as a closed port refuses connections', async () => {
    const server = await startSqs();
    const sqs = new SQSClient({ endpoint: `http://127.0.0.1:${server.port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, requestHandler: server.inProcess, maxAttempts: 1 });
    await sqs.send(new CreateQueueCommand({ QueueName: 'closing' }));
    await server.close();
    await expect(sqs.send(new CreateQueueCommand({ QueueName: 'closing' }))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    sqs.destroy();
  });
});
