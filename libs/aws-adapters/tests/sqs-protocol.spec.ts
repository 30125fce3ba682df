import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { Chunker, encodeMessage, generateRides, seededRandom } from '@rydes/ride-model';
import { createSqsClient, receiveBatch, SqsStringJsonProtocol } from '../src';

/** A request as it leaves the client: body bytes and the headers that do not change per call. */
interface Sent {
  command: string;
  body: Buffer;
  headers: Record<string, string>;
}

const VARYING_HEADERS = new Set(['authorization', 'x-amz-date', 'amz-sdk-invocation-id', 'amz-sdk-request']);

/** Records each request after signing (inside the retry loop); with `stop`, no request leaves. */
function recordRequests(client: SQSClient, stop: boolean): Sent[] {
  const sent: Sent[] = [];
  type Args = { request: { body: unknown; headers: Record<string, string> } };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const { body, headers } = (args as unknown as Args).request;
      if (typeof body !== 'string' && !(body instanceof Uint8Array)) throw new TypeError(`unexpected request body type ${typeof body}`);
      const kept = Object.fromEntries(Object.entries(headers).filter(([k]) => !VARYING_HEADERS.has(k.toLowerCase())));
      // The bytes themselves: the SDK's byte body would turn into a string through Buffer.from(body).
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      sent.push({ command: context.commandName ?? '?', body: Buffer.from(bytes), headers: kept });
      if (stop) throw new Error('recorded, not sent');
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'recordRequests' },
  );
  return sent;
}

/** `client.send` for a command of any type (its overloads want one per call site). */
function sendAny(client: SQSClient, command: object): Promise<unknown> {
  return (client.send as (command: object) => Promise<unknown>).call(client, command);
}

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/** The SDK's own client (default protocol) and one with SqsStringJsonProtocol, same settings. */
function clientPair(config: SQSClientConfig): [SQSClient, SQSClient] {
  return [new SQSClient(config), new SQSClient({ ...config, protocol: SqsStringJsonProtocol })];
}

/** Every ASCII code unit, separators JSON.stringify leaves alone, astral pairs and lone/reversed surrogates. */
const HOSTILE = [
  '',
  Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)).join(''),
  '"quoted" \\back\\slash\\ \\"both\\" /slash/ \u007f',
  'line\u2028separator\u2029paragraph \ufeffbom \ufffd\uffff',
  'é✓ 日本語 Ünïcödé',
  'astral 😀🦄 \ud83d\ude00',
  'lone high \ud800 end',
  'lone low \udc00 end',
  'reversed \udc00\ud800 pair',
  'ends high \udbff',
  '\udfff starts low',
];

/** Seeded strings of code units of every kind, surrogates included. */
function seededStrings(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const pick = (): number => {
    const r = random();
    if (r < 0.5) return 0x20 + Math.floor(random() * 0x5f);
    if (r < 0.6) return Math.floor(random() * 0x20);
    if (r < 0.7) return [0x22, 0x5c, 0x2f, 0x7f][Math.floor(random() * 4)];
    if (r < 0.8) return 0xd800 + Math.floor(random() * 0x800);
    return 0x80 + Math.floor(random() * 0xff7f);
  };
  return Array.from({ length: count }, () => String.fromCharCode(...Array.from({ length: Math.floor(random() * 60) }, pick)));
}

/** Fan-out message bodies as the ingest sends them (the Chunker's JSON, ~180 KB at 1,000 rides). */
function chunkBodies(rides: number, ridesPerMessage: number): string[] {
  const chunker = new Chunker({ source: { bucket: 'rides-local', key: 'raw/ünïcödé "rides".json', etag: '"0123456789abcdef"' }, ridesPerMessage });
  const bodies: string[] = [];
  let index = 0;
  for (const ride of generateRides({ count: rides, seed: 3 })) for (const message of chunker.push(index++, ride)) bodies.push(encodeMessage(message));
  const last = chunker.flush();
  if (last) bodies.push(encodeMessage(last));
  return bodies;
}

describe('SqsStringJsonProtocol: request bytes equal the SDK default serializer', () => {
  const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/fan-out';
  const [sdk, ours] = clientPair({ region: 'us-east-1', credentials: CREDENTIALS });
  const sdkSent = recordRequests(sdk, true);
  const oursSent = recordRequests(ours, true);
  afterAll(() => {
    sdk.destroy();
    ours.destroy();
  });

  /** Sends the command through both clients (stopped before the network) and compares what left. */
  async function same(make: () => object): Promise<Sent> {
    const before = [sdkSent.length, oursSent.length];
    await expect(sendAny(sdk, make())).rejects.toThrow('recorded, not sent');
    await expect(sendAny(ours, make())).rejects.toThrow('recorded, not sent');
    expect([sdkSent.length - before[0], oursSent.length - before[1]]).toEqual([1, 1]);
    const [a, b] = [sdkSent[sdkSent.length - 1], oursSent[oursSent.length - 1]];
    expect(b.command).toBe(a.command);
    expect(b.headers).toEqual(a.headers);
    expect(b.body.equals(a.body)).toBe(true);
    return b;
  }

  it('SendMessageBatch of fan-out bodies (1,000 rides each, the ingest default) is byte-identical', async () => {
    const bodies = chunkBodies(3_500, 1_000);
    expect(bodies.length).toBe(4);
    const sent = await same(() => new SendMessageBatchCommand({ QueueUrl: QUEUE, Entries: bodies.map((MessageBody, i) => ({ Id: `m${i}`, MessageBody })) }));
    // The oracle of the oracle: the body is the JSON text of the input.
    expect(JSON.parse(sent.body.toString('utf8'))).toEqual({ QueueUrl: QUEUE, Entries: bodies.map((MessageBody, i) => ({ Id: `m${i}`, MessageBody })) });
    expect(sent.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(sent.headers['x-amz-target']).toBe('AmazonSQS.SendMessageBatch');
  });

  it('hands the signer and the HTTP handler the body as bytes (encoded once), not a string each encodes again', async () => {
    const bodyTypes: string[] = [];
    const client = new SQSClient({ region: 'us-east-1', credentials: CREDENTIALS, protocol: SqsStringJsonProtocol });
    client.middlewareStack.add(
      () => async (args) => {
        const { body } = (args as unknown as { request: { body: unknown } }).request;
        bodyTypes.push(Buffer.isBuffer(body) ? 'Buffer' : typeof body);
        throw new Error('recorded, not sent');
      },
      { step: 'finalizeRequest', priority: 'low', name: 'bodyType' },
    );
    try {
      await expect(client.send(new SendMessageBatchCommand({ QueueUrl: QUEUE, Entries: [{ Id: 'm0', MessageBody: '{"v":2} é😀' }] }))).rejects.toThrow('recorded, not sent');
      await expect(client.send(new GetQueueUrlCommand({ QueueName: 'q' }))).rejects.toThrow('recorded, not sent');
    } finally {
      client.destroy();
    }
    expect(bodyTypes).toEqual(['Buffer', 'Buffer']);
  });

  it('SendMessageBatch of hostile bodies (every ASCII code unit, U+2028, astral pairs, lone and reversed surrogates) is byte-identical', async () => {
    for (let i = 0; i < HOSTILE.length; i += 10) {
      await same(() => new SendMessageBatchCommand({ QueueUrl: QUEUE, Entries: HOSTILE.slice(i, i + 10).map((MessageBody, j) => ({ Id: `h${i + j}`, MessageBody })) }));
    }
  });

  it('1,000 seeded strings of random code units, as bodies, ids and attribute values, are byte-identical', async () => {
    const strings = seededStrings(1_000, 11);
    for (let i = 0; i < strings.length; i += 10) {
      const batch = strings.slice(i, i + 10);
      await same(() => new SendMessageBatchCommand({
        QueueUrl: QUEUE,
        Entries: batch.map((MessageBody, j) => ({ Id: `s${i + j}`, MessageBody, MessageAttributes: { note: { DataType: 'String', StringValue: batch[(j + 1) % batch.length] } } })),
      }));
    }
  });

  it('every other SQS request the project makes, with optional, absent and binary members, is byte-identical', async () => {
    await same(() => new SendMessageCommand({
      QueueUrl: QUEUE,
      MessageBody: '{"a":1}',
      DelaySeconds: 5,
      MessageAttributes: {
        text: { DataType: 'String', StringValue: 'ü"x' },
        n: { DataType: 'Number', StringValue: '-1.5e3' },
        bin: { DataType: 'Binary', BinaryValue: Uint8Array.from([0, 1, 2, 250, 255]) },
      },
      MessageGroupId: undefined,
    }));
    await same(() => new ReceiveMessageCommand({ QueueUrl: QUEUE, MaxNumberOfMessages: 10, WaitTimeSeconds: 20, VisibilityTimeout: 30, MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'], MessageAttributeNames: ['All'] }));
    await same(() => new DeleteMessageBatchCommand({ QueueUrl: QUEUE, Entries: [{ Id: 'd0', ReceiptHandle: 'AQEB+/=="x' }, { Id: 'd1', ReceiptHandle: '' }] }));
    await same(() => new ChangeMessageVisibilityBatchCommand({ QueueUrl: QUEUE, Entries: [{ Id: 'c0', ReceiptHandle: 'r', VisibilityTimeout: 0 }] }));
    await same(() => new GetQueueAttributesCommand({ QueueUrl: QUEUE, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    await same(() => new CreateQueueCommand({ QueueName: 'q', Attributes: { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:1:dlq', maxReceiveCount: 3 }) }, tags: { team: 'rydes' } }));
    await same(() => new GetQueueUrlCommand({ QueueName: 'q' }));
    await same(() => new PurgeQueueCommand({ QueueUrl: QUEUE }));
    await same(() => new ListQueuesCommand({}));
  });
});

describe('SqsStringJsonProtocol against local-aws-sqs over HTTP', () => {
  let local: LocalServers;
  let sdk: SQSClient;
  let ours: SQSClient;
  let sdkSent: Sent[];
  let oursSent: Sent[];
  beforeAll(async () => {
    local = await startLocalServers();
    ours = createSqsClient(local.env);
    const config = await ours.config.endpoint?.();
    expect(config).toBeDefined();
    sdk = new SQSClient({ region: 'us-east-1', endpoint: `http://${config?.hostname}:${config?.port}`, credentials: CREDENTIALS });
    sdkSent = recordRequests(sdk, false);
    oursSent = recordRequests(ours, false);
  });
  afterAll(async () => {
    sdk.destroy();
    ours.destroy();
    await local.close();
  });

  async function drain(client: SQSClient, queueUrl: string): Promise<string[]> {
    const bodies: string[] = [];
    for (;;) {
      const messages = await receiveBatch(client, queueUrl);
      if (messages.length === 0) return bodies;
      bodies.push(...messages.map((m) => m.Body ?? ''));
      await client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
  }

  it('createSqsClient uses it: the same bytes on the wire as the SDK default client, the server checks the MD5s, the bodies come back unchanged', async () => {
    // Prepare: characters SQS accepts in a body (no lone surrogates, no control characters but tab/LF/CR)
    const { QueueUrl: queueUrl = '' } = await ours.send(new CreateQueueCommand({ QueueName: 'protocol-bytes' }));
    const bodies = [...chunkBodies(1_200, 1_000), '"quoted" \\ / \t\n\r é✓ 😀 \u2028', ''.padEnd(3_000, '"\\')];
    const oursFirst = oursSent.length;
    const sdkFirst = sdkSent.length;
    // Act: the same batches through both clients (the SDK's MD5 check of each body runs on both)
    for (const client of [ours, sdk]) {
      const out = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.slice(0, 1).map((MessageBody, i) => ({ Id: `m${i}`, MessageBody })) }));
      expect(out.Successful?.length).toBe(1);
      const rest = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.slice(1).map((MessageBody, i) => ({ Id: `m${i + 1}`, MessageBody })) }));
      expect(rest.Successful?.length).toBe(bodies.length - 1);
      expect(rest.Failed ?? []).toEqual([]);
    }
    // Assess
    const mine = oursSent.slice(oursFirst).filter((s) => s.command === 'SendMessageBatchCommand');
    const theirs = sdkSent.slice(sdkFirst).filter((s) => s.command === 'SendMessageBatchCommand');
    expect(mine.map((s) => s.body.length)).toEqual(theirs.map((s) => s.body.length));
    expect(mine.every((s, i) => s.body.equals(theirs[i].body))).toBe(true);
    expect(mine.map((s) => s.headers)).toEqual(theirs.map((s) => s.headers));
    expect((await drain(ours, queueUrl)).sort()).toEqual([...bodies, ...bodies].sort());
  });

  it('errors keep their SDK types (the protocol keeps the client\'s error registry)', async () => {
    const missing = `${(await ours.send(new ListQueuesCommand({}))).QueueUrls?.[0] ?? 'http://127.0.0.1/000000000000/x'}-missing`;
    const send = (client: SQSClient) => client.send(new SendMessageBatchCommand({ QueueUrl: missing, Entries: [{ Id: 'm0', MessageBody: 'x' }] })).then(() => new Error('no error'), (e: unknown) => e as Error);
    const [a, b] = [await send(sdk), await send(ours)];
    expect(b).toBeInstanceOf(Error);
    expect(b.name).toBe(a.name);
    expect(b.constructor).toBe(a.constructor);
    expect(b.message).toBe(a.message);
  });
});
