import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { sendMessages, SqsSendError } from '../src';

// local-aws-sqs never throttles nor fails single entries: these paths need a mocked client.
describe('sendMessages retries (mocked SQS)', () => {
  const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/fanout';
  const sqs = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(sqs);
  const fast = { baseDelayMs: 1, maxDelayMs: 2 };
  beforeEach(() => mock.reset());

  const ids = (call: number) => (mock.commandCalls(SendMessageBatchCommand)[call].args[0].input.Entries ?? []).map((e) => e.Id);
  const allOk = (input: { Entries?: { Id?: string }[] }) => ({ Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id ?? '', MessageId: 'x', MD5OfMessageBody: 'x' })), Failed: [] });

  it('retries only the failed entries (mocked SQS: partial batch failure in a 200 response)', async () => {
    // Prepare: the first call accepts 7 of 10, refusing m2, m5, m9 as a transient server fault
    let first = true;
    mock.on(SendMessageBatchCommand).callsFake((input) => {
      if (!first) return allOk(input);
      first = false;
      const failedIds = ['m2', 'm5', 'm9'];
      return {
        Successful: input.Entries.filter((e: { Id: string }) => !failedIds.includes(e.Id)).map((e: { Id: string }) => ({ Id: e.Id, MessageId: 'x', MD5OfMessageBody: 'x' })),
        Failed: failedIds.map((Id) => ({ Id, Code: 'InternalError', SenderFault: false, Message: 'try again' })),
      };
    });
    // Act
    const stats = await sendMessages(sqs, QUEUE, Array.from({ length: 10 }, (_, i) => `body ${i}`), fast);
    // Assess
    expect(stats).toEqual({ sent: 10, calls: 2, retries: 1 });
    expect(ids(1)).toEqual(['m2', 'm5', 'm9']);
    expect(mock.commandCalls(SendMessageBatchCommand)[1].args[0].input.Entries?.map((e) => e.MessageBody)).toEqual(['body 2', 'body 5', 'body 9']);
  });

  it('does not retry a throttled or 5xx call itself: the SDK client already spent its attempts (mocked SQS, which bypasses the SDK retry)', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    const unavailable = Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } });
    mock.on(SendMessageBatchCommand).rejectsOnce(throttled).rejectsOnce(unavailable).callsFake(allOk);
    const first = (await sendMessages(sqs, QUEUE, ['a', 'b'], fast).catch((e: unknown) => e)) as SqsSendError;
    const second = (await sendMessages(sqs, QUEUE, ['c'], fast).catch((e: unknown) => e)) as SqsSendError;
    expect(first.failed.map((f) => f.code)).toEqual(['ThrottlingException', 'ThrottlingException']);
    expect(second.failed.map((f) => [f.code, f.senderFault])).toEqual([['ServiceUnavailable', false]]);
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
  });

  it('throws SqsSendError naming entry ids and codes when entries still fail after the retries (mocked SQS)', async () => {
    // Prepare: m1 always fails transiently, m3 is the sender's fault (never retried)
    mock.on(SendMessageBatchCommand).callsFake((input) => ({
      Successful: input.Entries.filter((e: { Id: string }) => e.Id !== 'm1' && e.Id !== 'm3').map((e: { Id: string }) => ({ Id: e.Id, MessageId: 'x', MD5OfMessageBody: 'x' })),
      Failed: [
        ...input.Entries.filter((e: { Id: string }) => e.Id === 'm1').map(() => ({ Id: 'm1', Code: 'ServiceUnavailable', SenderFault: false })),
        ...input.Entries.filter((e: { Id: string }) => e.Id === 'm3').map(() => ({ Id: 'm3', Code: 'InvalidMessageContents', SenderFault: true, Message: 'bad char' })),
      ],
    }));
    // Act
    const error = await sendMessages(sqs, QUEUE, ['a', 'b', 'c', 'd'], { ...fast, maxAttempts: 3 }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(SqsSendError);
    const sendError = error as SqsSendError;
    expect(sendError.failed.map((f) => [f.id, f.code]).sort()).toEqual([['m1', 'ServiceUnavailable'], ['m3', 'InvalidMessageContents']]);
    expect(sendError.sent).toBe(2);
    expect(sendError.message).toMatch(/failed for 2 message\(s\) after retries: .*m3 InvalidMessageContents \(bad char\)/);
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
    expect(ids(1)).toEqual(['m1']);
  });

  it('does not retry a non-transient error of the whole call (mocked SQS: missing queue)', async () => {
    const missing = Object.assign(new Error('The specified queue does not exist.'), { name: 'QueueDoesNotExist', $metadata: { httpStatusCode: 400 } });
    mock.on(SendMessageBatchCommand).rejects(missing);
    const error = (await sendMessages(sqs, QUEUE, ['a', 'b'], fast).catch((e: unknown) => e)) as SqsSendError;
    expect(error).toBeInstanceOf(SqsSendError);
    expect(error.failed.map((f) => f.code)).toEqual(['QueueDoesNotExist', 'QueueDoesNotExist']);
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('stops reading the source after a failure (mocked SQS)', async () => {
    const missing = Object.assign(new Error('gone'), { name: 'QueueDoesNotExist', $metadata: { httpStatusCode: 400 } });
    mock.on(SendMessageBatchCommand).rejects(missing);
    let produced = 0;
    function* source() {
      for (let i = 0; i < 10_000; i++) {
        produced++;
        yield `m${i}`;
      }
    }
    await expect(sendMessages(sqs, QUEUE, source(), { ...fast, concurrency: 1 })).rejects.toThrow(SqsSendError);
    expect(produced).toBeLessThan(100);
  });
});
