import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { AwsAdapterError } from './errors';

/**
 * Lambda client honouring `AWS_ENDPOINT_URL(_LAMBDA)` and `AWS_REGION`.
 * @example
 * const lambda = createLambdaClient();
 */
export function createLambdaClient(env: Record<string, string | undefined> = process.env): LambdaClient {
  const endpoint = env.AWS_ENDPOINT_URL_LAMBDA || env.AWS_ENDPOINT_URL || undefined;
  return new LambdaClient({ region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1', ...(endpoint && { endpoint }) });
}

/**
 * Invokes a function asynchronously (`InvocationType: Event`): Lambda queues the event and
 * answers 202 at once; its own retries and DLQ/destinations apply to the new invocation.
 * @example
 * await invokeEvent(lambda, context.invokedFunctionArn, { rydesContinuation: state });
 */
export async function invokeEvent(lambda: LambdaClient, functionName: string, payload: unknown): Promise<void> {
  try {
    const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));
    if (out.StatusCode !== 202) throw new Error(`status ${out.StatusCode}, expected 202`);
  } catch (err) {
    throw new AwsAdapterError(`asynchronous invoke of ${functionName} failed: ${err instanceof Error ? err.message : String(err)}; the function needs lambda:InvokeFunction on itself`, { cause: err });
  }
}
