import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand, DeleteQueueCommand, GetQueueAttributesCommand,
  ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient, type Message,
} from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { startSqs } from '../src/sqs-server';

/** An SDK client of the SQS server on `port` (loopback, dummy credentials, no retries so errors show as they are). */
function sqsClient(port: number): SQSClient {
  return new SQSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What may differ between two servers' answers to the same requests: ids, handles, clocks, request ids. */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === '$metadata' || key === '$response') continue;
    if (/^(MessageId|ReceiptHandle|SentTimestamp|ApproximateFirstReceiveTimestamp|CreatedTimestamp|LastModifiedTimestamp)$/.test(key)) out[key] = typeof v;
    else if (key === 'Message' && typeof v === 'string') out[key] = v.replace(/"[A-Za-z0-9+/=]{40,}"/g, '"<handle>"');
    else out[key] = comparable(v);
  }
  return out;
}

/**
 * One script of SQS requests (the actions the project and its tools use, good and bad), each
 * answer or error recorded in order.
 */
async function script(sqs: SQSClient): Promise<unknown[]> {
  const answers: unknown[] = [];
  const record = async (step: string, call: () => Promise<unknown>) => {
    try {
      answers.push([step, comparable(await call())]);
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      answers.push([step, 'error', e.name, e.message?.replace(/"[A-Za-z0-9+/=]{40,}"/g, '"<handle>"'), e.$metadata?.httpStatusCode]);
    }
  };
  const ALL = { AttributeNames: ['All' as const], MessageAttributeNames: ['All'] };
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'parity-dlq' }))).QueueUrl ?? '';
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }));
  const redrive = JSON.stringify({ deadLetterTargetArn: Attributes.QueueArn, maxReceiveCount: 2 });
  const source = (await sqs.send(new CreateQueueCommand({ QueueName: 'parity-source', Attributes: { VisibilityTimeout: '30', RedrivePolicy: redrive } }))).QueueUrl ?? '';
  const counts = () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: source, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
  const receive = (MaxNumberOfMessages: number, VisibilityTimeout?: number, QueueUrl = source) =>
    // A short poll: local-aws-sqs's own long poll waits out its whole wait unless the batch is full.
    sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages, WaitTimeSeconds: 0, VisibilityTimeout, ...ALL }));

  await record('send batch', () =>
    sqs.send(new SendMessageBatchCommand({
      QueueUrl: source,
      Entries: [
        { Id: 'a', MessageBody: 'first' },
        { Id: 'b', MessageBody: '{"v":2,"name":"Zoë \\"Q\\" ☂"}', MessageAttributes: { kind: { DataType: 'String', StringValue: 'ride' }, blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([0, 1, 255]) } } },
        { Id: 'c', MessageBody: 'third' },
        { Id: 'd', MessageBody: 'fourth' },
      ],
    })),
  );
  await record('send one', () => sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'fifth', MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793' } } })));
  await record('all attributes', () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: source, AttributeNames: ['All'] })));
  await record('unknown attribute', () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: source, AttributeNames: ['Nope' as 'All'] })));
  const first = await receive(2);
  await record('receive 2, oldest first', async () => first);
  await record('counts with 2 in flight', counts);
  const rest = await receive(10, 1);
  await record('receive the other 3 for 1 s', async () => rest);
  await record('receive an all-in-flight queue', () => sqs.send(new ReceiveMessageCommand({ QueueUrl: source, WaitTimeSeconds: 0 })));
  const [a, b] = first.Messages ?? [];
  await record('delete batch: good, missing, invalid, duplicate-free', () =>
    sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: source,
      Entries: [
        { Id: 'good', ReceiptHandle: a?.ReceiptHandle },
        { Id: 'missing', ReceiptHandle: ' ' },
        { Id: 'invalid', ReceiptHandle: 'not-a-handle' },
      ],
    })),
  );
  await record('delete again (gone: still deleted)', () => sqs.send(new DeleteMessageCommand({ QueueUrl: source, ReceiptHandle: a?.ReceiptHandle })));
  await record('delete an invalid handle', () => sqs.send(new DeleteMessageCommand({ QueueUrl: source, ReceiptHandle: 'bm90IGEgaGFuZGxl' })));
  await record('delete a handle of another queue', () => sqs.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: b?.ReceiptHandle })));
  await record('change visibility to 0 (counts as a receive)', () => sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: source, ReceiptHandle: b?.ReceiptHandle, VisibilityTimeout: 0 })));
  await sleep(50);
  await record('counts after one deleted, one shown again', counts);
  await record('the one shown again: received a third time, so dead-lettered after its timeout', () => receive(10, 1));
  await sleep(1_300);
  await record('counts once the timeouts ended (1 dead-lettered, 3 back)', counts);
  await record('the dead-letter queue holds it, with its source', () => receive(10, 30, dlq));
  await record('the three back, received a second time', () => receive(10, 1));
  await sleep(1_300);
  await record('all three dead-lettered after the second receive', counts);
  const dead = await receive(10, 30, dlq);
  await record('dead-letter queue', async () => ({ Messages: dead.Messages?.sort((x, y) => (x.Body ?? '').localeCompare(y.Body ?? '')) }));
  await record('dead-letter counts', () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] })));
  await record('delete the queue', () => sqs.send(new DeleteQueueCommand({ QueueUrl: source })));
  await record('receive from a deleted queue', () => receive(1));
  return answers;
}

describe('the indexed store of the embedded SQS (standard queues)', () => {
  it('answers a script of sends, receives, deletes, visibility changes, counts and redrives as local-aws-sqs\'s own store does', async () => {
    // Prepare: local-aws-sqs alone, and our server (the indexed store in front of the same package)
    const plain: Server = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
    const ours = await startSqs();
    const [plainSqs, oursSqs] = [sqsClient((plain.address() as AddressInfo).port), sqsClient(ours.port)];
    try {
      // Act: the same script against both, at the same time (the visibility timeouts overlap)
      const [expected, actual] = await Promise.all([script(plainSqs), script(oursSqs)]);
      // Assess: every answer and error alike, ids, handles and clocks aside
      expect(actual).toEqual(expected);
      expect(JSON.stringify(actual)).toContain('DeadLetterQueueSourceArn');
    } finally {
      plainSqs.destroy();
      oursSqs.destroy();
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
      await ours.close();
    }
  });

  it('serves thousands of waiting messages to four pollers, each message once, in the order sent, counts back to 0', async () => {
    const server = await startSqs();
    const sqs = sqsClient(server.port);
    try {
      const QueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'deep', Attributes: { VisibilityTimeout: '60' } }))).QueueUrl ?? '';
      const N = 3_000;
      for (let i = 0; i < N; i += 10) {
        await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, j) => ({ Id: `m${j}`, MessageBody: String(i + j) })) }));
      }
      const seen: number[] = [];
      const poller = async () => {
        for (;;) {
          const out = await server.inProcess.direct.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 });
          const messages = out?.Messages ?? [];
          if (messages.length === 0) return;
          seen.push(...messages.map((m: Message) => Number(m.Body)));
          await server.inProcess.direct.deleteMessageBatch({ QueueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) });
        }
      };
      await Promise.all([poller(), poller(), poller(), poller()]);
      expect(seen).toEqual(Array.from({ length: N }, (_, i) => i));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
      expect(Attributes).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' });
    } finally {
      sqs.destroy();
      await server.close();
    }
  });

  it('answers a short poll (WaitTimeSeconds 0) at once, as SQS does, and a long poll as soon as a message arrives', async () => {
    // local-aws-sqs's own store gathers for 40 ms: it would hand the message sent 20 ms later to the short poll.
    const server = await startSqs();
    const sqs = sqsClient(server.port);
    try {
      const QueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'short' }))).QueueUrl ?? '';
      const short = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
      const sent = sleep(20).then(() => sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' })));
      expect((await short).Messages).toBeUndefined();
      await sent;
      const long = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }));
      expect((await long).Messages?.map((m) => m.Body)).toEqual(['late']);
      const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }));
      await sleep(50);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'woken', DelaySeconds: 1 }));
      expect((await waiting).Messages?.map((m) => m.Body)).toEqual(['woken']);
    } finally {
      sqs.destroy();
      await server.close();
    }
  });
});
