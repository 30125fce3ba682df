import { createHash } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageBatchCommand,
  SendMessageCommand, SQSClient, type Message, type MessageAttributeValue, type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { DeletedBodies, LOCAL_SQS_HIGH_WATER, startSqs, wholeRequest } from '../src/sqs-server';

/** An SDK client of the SQS server on `port` (loopback, dummy credentials), with `extra` settings. */
function sqsClient(port: number, extra: SQSClientConfig = {}): SQSClient {
  return new SQSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, ...extra });
}

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

  it('with release, gives back the memory of the body and of the chunks it came in once the reader\'s end listeners ran (not before; never without release)', async () => {
    // Prepare: a server that keeps every Buffer it saw: the request's raw chunks and the one the stand-in emits
    const seen: Array<{ raw: Buffer[]; whole: Buffer; atEnd: string; release: boolean }> = [];
    const server = createServer((req, res) => {
      const release = req.url === '/release';
      const raw: Buffer[] = [];
      req.on('data', (chunk: Buffer) => raw.push(chunk));
      void wholeRequest(req, { release }).then((whole) => {
        let got: Buffer = Buffer.alloc(0);
        whole.on('data', (chunk: Buffer) => (got = chunk));
        whole.on('end', () => {
          // What local-aws-sqs does on 'end': decode the body.
          seen.push({ raw, whole: got, atEnd: got.toString('utf8'), release });
          res.end('ok');
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const body = Buffer.from(bodyOf(0, 1024 * 1024), 'utf8');
    const post = (path: string) =>
      new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': String(body.length) } }, (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        req.end(body);
      });
    try {
      // Act
      await post('/release');
      await post('/keep');
      await turn();
      await turn();

      // Assess: both read whole at their end; only the released one's memory is gone afterwards
      const [released, kept] = seen;
      expect([released.release, kept.release]).toEqual([true, false]);
      expect(released.atEnd).toBe(body.toString('utf8'));
      expect(kept.atEnd).toBe(body.toString('utf8'));
      expect(released.raw.length).toBeGreaterThan(1);
      expect(released.whole.buffer.byteLength).toBe(0);
      expect(released.raw.filter((chunk) => chunk.length > Buffer.poolSize)).toEqual([]);
      expect(kept.whole.equals(body)).toBe(true);
      expect(Buffer.concat(kept.raw).equals(body)).toBe(true);
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
      sqs = sqsClient(sqsServer.port);
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
      overHttp = sqsClient(sqsServer.port);
      inProcess = sqsClient(sqsServer.port, { requestHandler: sqsServer.inProcess });
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

  describe('the direct actions (ReceiveMessage and DeleteMessageBatch from the queues themselves, no protocol)', () => {
    let sqsServer: Awaited<ReturnType<typeof startSqs>>;
    let sqs: SQSClient;
    const ALL = { AttributeNames: ['All' as const], MessageAttributeNames: ['All'] };
    const attributes: Record<string, MessageAttributeValue> = {
      kind: { DataType: 'String', StringValue: 'big ☂' },
      blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([0, 1, 2, 250, 255]) },
      count: { DataType: 'Number', StringValue: '42' },
    };
    const queue = async (QueueName: string, extra: Record<string, string> = {}) => (await sqs.send(new CreateQueueCommand({ QueueName, Attributes: { VisibilityTimeout: '30', ...extra } }))).QueueUrl ?? '';
    const sendThree = (QueueUrl: string) =>
      sqs.send(new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'plain', MessageBody: 'plain' },
          { Id: 'big', MessageBody: bodyOf(1, 150_000), MessageAttributes: attributes },
          { Id: 'quoted', MessageBody: '{"v":2,"name":"Zoë \\"Q\\""}' },
        ],
      }));
    /** What may differ between two receives of equal messages: ids, handles, clocks. */
    const comparable = (m: Message) => ({
      ...m,
      MessageId: typeof m.MessageId,
      ReceiptHandle: typeof m.ReceiptHandle,
      Attributes: { ...m.Attributes, SentTimestamp: typeof m.Attributes?.SentTimestamp, ApproximateFirstReceiveTimestamp: typeof m.Attributes?.ApproximateFirstReceiveTimestamp },
    });
    const byBody = (a: Message, b: Message) => (a.Body ?? '').localeCompare(b.Body ?? '');
    beforeAll(async () => {
      sqsServer = await startSqs();
      sqs = sqsClient(sqsServer.port);
    });
    afterAll(async () => {
      sqs.destroy();
      await sqsServer.close();
    });

    it('receives what ReceiveMessage over HTTP receives (bodies, MD5s, attributes, message attributes, binary ones as bytes)', async () => {
      // Prepare: the same three messages in two queues
      const [overHttp, direct] = [await queue('receive-http'), await queue('receive-direct')];
      await sendThree(overHttp);
      await sendThree(direct);
      // Act
      const receive = async (get: () => Promise<{ Messages?: Message[] } | undefined>) => {
        const got: Message[] = [];
        while (got.length < 3) got.push(...((await get())?.Messages ?? []));
        return got.sort(byBody);
      };
      const fromHttp = await receive(() => sqs.send(new ReceiveMessageCommand({ QueueUrl: overHttp, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, ...ALL })));
      const fromQueue = await receive(() => sqsServer.inProcess.direct.receiveMessage({ QueueUrl: direct, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, ...ALL }));
      // Assess: field for field, the SDK's output shape included
      expect(fromQueue.map(comparable)).toEqual(fromHttp.map(comparable));
      const big = fromQueue.find((m) => m.Body === bodyOf(1, 150_000));
      expect(big?.MessageAttributes?.blob?.BinaryValue).toEqual(Buffer.from([0, 1, 2, 250, 255]));
      expect(big?.MD5OfBody).toBe(createHash('md5').update(bodyOf(1, 150_000), 'utf8').digest('hex'));
      expect(big?.Attributes?.ApproximateReceiveCount).toBe('1');
      expect(fromQueue.every((m) => typeof m.ReceiptHandle === 'string' && m.ReceiptHandle.length > 0)).toBe(true);
    });

    it('leaves attributes out unless asked, as ReceiveMessage over HTTP does, and answers an empty queue with no Messages', async () => {
      const [overHttp, direct] = [await queue('bare-http'), await queue('bare-direct')];
      await sendThree(overHttp);
      await sendThree(direct);
      const fromHttp = await sqs.send(new ReceiveMessageCommand({ QueueUrl: overHttp, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const fromQueue = await sqsServer.inProcess.direct.receiveMessage({ QueueUrl: direct, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
      expect(fromQueue?.Messages?.map(comparable).sort(byBody)).toEqual(fromHttp.Messages?.map(comparable).sort(byBody));
      expect(fromQueue?.Messages?.[0]).not.toHaveProperty('Attributes');
      expect(await sqsServer.inProcess.direct.receiveMessage({ QueueUrl: await queue('empty-direct'), WaitTimeSeconds: 0 })).toEqual({ $metadata: expect.objectContaining({ httpStatusCode: 200 }) });
    });

    it('keeps SQS semantics: hidden for the visibility timeout, receive count, redrive to the dead-letter queue after maxReceiveCount', async () => {
      // Prepare: a queue that dead-letters after 2 receives
      const dlq = await queue('direct-dlq');
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }));
      const source = await queue('direct-source', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes.QueueArn, maxReceiveCount: 2 }) });
      await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'poison' }));
      const receive = (QueueUrl: string, VisibilityTimeout?: number) => sqsServer.inProcess.direct.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout, ...ALL });
      // Act and assess: received, hidden while in flight, back after its 1 s, then dead-lettered
      const first = await receive(source, 1);
      expect(first?.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['poison', '1']]);
      expect((await sqsServer.inProcess.direct.receiveMessage({ QueueUrl: source, WaitTimeSeconds: 0 }))?.Messages).toBeUndefined();
      await new Promise((r) => setTimeout(r, 1_100));
      const second = await receive(source, 1);
      expect(second?.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['poison', '2']]);
      await new Promise((r) => setTimeout(r, 1_100));
      const dead = await receive(dlq);
      expect(dead?.Messages?.map((m) => m.Body)).toEqual(['poison']);
      expect(dead?.Messages?.[0]?.Attributes?.DeadLetterQueueSourceArn).toMatch(/:direct-source$/);
      expect((await sqsServer.inProcess.direct.receiveMessage({ QueueUrl: source, WaitTimeSeconds: 0 }))?.Messages).toBeUndefined();
    });

    it('deletes as DeleteMessageBatch over HTTP does: good handles deleted, stale and missing ones listed as Failed', async () => {
      // Prepare: one message in each of two queues, each received once
      const [overHttp, direct] = [await queue('delete-http'), await queue('delete-direct')];
      const handles: string[] = [];
      for (const QueueUrl of [overHttp, direct]) {
        await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'to delete' }));
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
        handles.push(got.Messages?.[0]?.ReceiptHandle ?? '');
      }
      const entries = (handle: string) => [
        { Id: 'good', ReceiptHandle: handle },
        { Id: 'garbage', ReceiptHandle: 'not-a-handle' },
        { Id: 'blank', ReceiptHandle: ' ' },
      ];
      // Act
      const fromHttp = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: overHttp, Entries: entries(handles[0]) }));
      const fromQueue = await sqsServer.inProcess.direct.deleteMessageBatch({ QueueUrl: direct, Entries: entries(handles[1]) });
      // Assess
      const { $metadata: _http, ...httpAnswer } = fromHttp;
      const { $metadata: _direct, ...directAnswer } = fromQueue ?? { $metadata: undefined };
      expect(directAnswer).toEqual(httpAnswer);
      expect(fromQueue?.Successful).toEqual([{ Id: 'good' }]);
      expect(fromQueue?.Failed?.map((f) => f.Id).sort()).toEqual(['blank', 'garbage']);
      const left = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: direct, AttributeNames: ['ApproximateNumberOfMessages'] }));
      expect(left.Attributes?.ApproximateNumberOfMessages).toBe('0');
    });

    it('has V8 collect the bodies the pollers deleted: a mark-compact follows the delete that crosses the threshold, none while the bodies are only received', async () => {
      // Prepare: a server that collects after 1 MiB of deleted bodies, three bodies of ~0.4 M characters received
      const small = await startSqs(LOCAL_SQS_HIGH_WATER, 1024 * 1024);
      const client = sqsClient(small.port);
      const majors: number[] = [];
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if ((entry as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) majors.push(entry.startTime);
      });
      observer.observe({ entryTypes: ['gc'] });
      const settle = () => new Promise((resolve) => setTimeout(resolve, 200));
      try {
        const QueueUrl = (await client.send(new CreateQueueCommand({ QueueName: 'collect', Attributes: { VisibilityTimeout: '30' } }))).QueueUrl ?? '';
        for (const i of [0, 1, 2]) await client.send(new SendMessageCommand({ QueueUrl, MessageBody: bodyOf(i, 450_000) }));
        const messages: Array<{ ReceiptHandle: string; Body: string }> = [];
        while (messages.length < 3) messages.push(...((await small.inProcess.direct.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))?.Messages ?? []));
        await settle();
        const beforeDelete = majors.length;

        // Act: delete two (under 1 MiB), then the third (over it)
        await small.inProcess.direct.deleteMessageBatch({ QueueUrl, Entries: messages.slice(0, 2).map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) });
        await settle();
        const afterTwo = majors.length;
        await small.inProcess.direct.deleteMessageBatch({ QueueUrl, Entries: [{ Id: 'd2', ReceiptHandle: messages[2].ReceiptHandle }] });
        await settle();

        // Assess
        expect(afterTwo).toBe(beforeDelete);
        expect(majors.length).toBeGreaterThan(afterTwo);
      } finally {
        observer.disconnect();
        client.destroy();
        await small.close();
      }
    });

    it('declines (undefined) what only the protocol answers exactly: unknown queue, out-of-range values, attribute selections, bad batch entries', async () => {
      const QueueUrl = await queue('declines');
      const direct = sqsServer.inProcess.direct;
      const unknown = `http://127.0.0.1:${sqsServer.port}/000000000000/no-such-queue`;
      expect(await direct.receiveMessage({ QueueUrl: unknown })).toBeUndefined();
      expect(await direct.receiveMessage({ QueueUrl, MaxNumberOfMessages: 11 })).toBeUndefined();
      expect(await direct.receiveMessage({ QueueUrl, WaitTimeSeconds: 21 })).toBeUndefined();
      expect(await direct.receiveMessage({ QueueUrl, VisibilityTimeout: -1 })).toBeUndefined();
      expect(await direct.receiveMessage({ QueueUrl, AttributeNames: ['ApproximateReceiveCount'] })).toBeUndefined();
      expect(await direct.receiveMessage({ QueueUrl, MessageAttributeNames: ['kind'] })).toBeUndefined();
      expect(await direct.deleteMessageBatch({ QueueUrl: unknown, Entries: [{ Id: 'a', ReceiptHandle: 'x' }] })).toBeUndefined();
      expect(await direct.deleteMessageBatch({ QueueUrl, Entries: [] })).toBeUndefined();
      expect(await direct.deleteMessageBatch({ QueueUrl, Entries: [{ Id: 'a', ReceiptHandle: 'x' }, { Id: 'a', ReceiptHandle: 'y' }] })).toBeUndefined();
      expect(await direct.deleteMessageBatch({ QueueUrl, Entries: [{ Id: 'no spaces', ReceiptHandle: 'x' }] })).toBeUndefined();
      expect(await direct.deleteMessageBatch({ QueueUrl, Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, ReceiptHandle: 'x' })) })).toBeUndefined();
    });

    it('rejects a receive whose abort signal fires while it waits (a long poll stopped) with AbortError', async () => {
      const QueueUrl = await queue('direct-abort');
      const controller = new AbortController();
      const waiting = sqsServer.inProcess.direct.receiveMessage({ QueueUrl, WaitTimeSeconds: 20 }, controller.signal);
      setTimeout(() => controller.abort(), 50);
      await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
      const already = new AbortController();
      already.abort();
      await expect(sqsServer.inProcess.direct.receiveMessage({ QueueUrl, WaitTimeSeconds: 20 }, already.signal)).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('declines everything once the server is closed (the protocol path then refuses the connection)', async () => {
      const server = await startSqs();
      const client = sqsClient(server.port);
      const { QueueUrl = '' } = await client.send(new CreateQueueCommand({ QueueName: 'closing-direct' }));
      client.destroy();
      await server.close();
      expect(await server.inProcess.direct.receiveMessage({ QueueUrl })).toBeUndefined();
      expect(await server.inProcess.direct.deleteMessageBatch({ QueueUrl, Entries: [{ Id: 'a', ReceiptHandle: 'x' }] })).toBeUndefined();
    });
  });

  it('refuses in-process requests once the server is closed, as a closed port refuses connections', async () => {
    const server = await startSqs();
    const sqs = sqsClient(server.port, { requestHandler: server.inProcess, maxAttempts: 1 });
    await sqs.send(new CreateQueueCommand({ QueueName: 'closing' }));
    await server.close();
    await expect(sqs.send(new CreateQueueCommand({ QueueName: 'closing' }))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    sqs.destroy();
  });
});

describe('DeletedBodies (when the embedded SQS has V8 collect deleted bodies)', () => {
  it('counts only receipts it saw received, each once, and asks for one collection per threshold crossed', async () => {
    // Prepare
    let collections = 0;
    const bodies = new DeletedBodies(1_000, () => collections++);
    bodies.received('a', 600);
    bodies.received('b', 600);
    bodies.received('c', 600);
    try {
      // Act + Assess
      expect(bodies.deleted('never-received')).toBe(false);
      expect(bodies.deleted('a')).toBe(false);
      expect(bodies.deleted('a')).toBe(false);
      expect(bodies.pending).toBe(600);
      expect(bodies.deleted('b')).toBe(true);
      expect(bodies.deleted('c')).toBe(false); // one collection already on its way
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(collections).toBe(1);
      expect(bodies.pending).toBe(0);
    } finally {
      bodies.close();
    }
  });

  it('starts counting again after a mark-compact of V8\'s own', async () => {
    // Prepare: a collector that never runs itself, and a real mark-compact from elsewhere
    const bodies = new DeletedBodies(1_000_000, () => undefined);
    bodies.received('a', 600);
    bodies.deleted('a');
    const gc = (globalThis as { gc?: () => void }).gc ?? (await import('node:vm')).runInNewContext((await import('node:v8')).setFlagsFromString('--expose-gc') ?? 'gc');
    try {
      // Act
      expect(bodies.pending).toBe(600);
      gc();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Assess
      expect(bodies.pending).toBe(0);
    } finally {
      bodies.close();
    }
  });

  it('forgets the oldest receipts past its limit (messages received and never deleted)', () => {
    const bodies = new DeletedBodies(10, () => undefined, 2);
    bodies.received('a', 5);
    bodies.received('b', 5);
    bodies.received('c', 5);
    try {
      expect(bodies.deleted('a')).toBe(false);
      expect(bodies.pending).toBe(0);
      expect(bodies.deleted('b')).toBe(false);
      expect(bodies.deleted('c')).toBe(true);
    } finally {
      bodies.close();
    }
  });

  it('does nothing with a threshold of 0', () => {
    const bodies = new DeletedBodies(0);
    bodies.received('a', 5);
    expect(bodies.deleted('a')).toBe(false);
    expect(bodies.pending).toBe(0);
    bodies.close();
  });
});
