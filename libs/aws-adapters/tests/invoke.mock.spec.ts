import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsAdapterError, invokeEvent } from '../src';

// There is no local Lambda server: these use a mocked client.
describe('invokeEvent (mocked Lambda)', () => {
  const lambda = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(lambda);
  beforeEach(() => mock.reset());

  it('queues the payload as an asynchronous Event invocation (mocked Lambda: 202)', async () => {
    mock.on(InvokeCommand).resolves({ StatusCode: 202 });
    await invokeEvent(lambda, 'arn:aws:lambda:us-east-1:123456789012:function:ingest', { rydesContinuation: { nextIndex: 4200 } });
    const input = mock.commandCalls(InvokeCommand)[0].args[0].input;
    expect(input.InvocationType).toBe('Event');
    expect(input.FunctionName).toBe('arn:aws:lambda:us-east-1:123456789012:function:ingest');
    expect(JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8'))).toEqual({ rydesContinuation: { nextIndex: 4200 } });
  });

  it('names the function and the missing permission when the invoke is refused (mocked Lambda: AccessDenied)', async () => {
    mock.on(InvokeCommand).rejects(Object.assign(new Error('not authorized to perform: lambda:InvokeFunction'), { name: 'AccessDeniedException' }));
    const call = invokeEvent(lambda, 'ingest', {});
    await expect(call).rejects.toThrow(AwsAdapterError);
    await expect(invokeEvent(lambda, 'ingest', {})).rejects.toThrow(/asynchronous invoke of ingest failed: .*needs lambda:InvokeFunction on itself/);
  });
});
