import type { LambdaClient } from '@aws-sdk/client-lambda';
import { customEndpoint, localCredentials, maxAttemptsOf, regionOf, type Env } from './endpoints';
import { AwsAdapterError } from './errors';

/**
 * The SDK's Lambda package, evaluated on first use rather than when this module loads: a function
 * bundle that imports aws-adapters (the ingest) makes its client only when it hands a file on, so
 * its cold start does not pay for initialising the package (~40 ms CPU without a code cache).
 * `require`, not `import()`: esbuild bundles it all the same, and the factory stays synchronous.
 */
function lambdaSdk(): typeof import('@aws-sdk/client-lambda') {
  return require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
}

/**
 * Lambda client honouring `AWS_ENDPOINT_URL(_LAMBDA)` and `AWS_REGION`, like the S3 and SQS
 * factories: the local stack points `AWS_ENDPOINT_URL_LAMBDA` at its own Invoke endpoint so
 * an ingest bundle run on a laptop can hand a file to a continuation exactly as in Lambda.
 * @example
 * const lambda = createLambdaClient();    // real AWS
 * const local = createLambdaClient({ AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9001', AWS_REGION: 'us-east-1' });
 */
export function createLambdaClient(env: Env = process.env): LambdaClient {
  const endpoint = customEndpoint(env, 'LAMBDA');
  return new (lambdaSdk().LambdaClient)({ region: regionOf(env), maxAttempts: maxAttemptsOf(env), ...(endpoint && { endpoint }), ...localCredentials(env, endpoint) });
}

/**
 * Invokes a function asynchronously (`InvocationType: Event`): Lambda queues the event and
 * answers 202 at once; its own retries and DLQ/destinations apply to the new invocation.
 * @example
 * await invokeEvent(lambda, context.invokedFunctionArn, { rydesContinuation: state });
 */
export async function invokeEvent(lambda: LambdaClient, functionName: string, payload: unknown): Promise<void> {
  try {
    const out = await lambda.send(new (lambdaSdk().InvokeCommand)({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));
    if (out.StatusCode !== 202) throw new Error(`status ${out.StatusCode}, expected 202`);
  } catch (err) {
    throw new AwsAdapterError(`asynchronous invoke of ${functionName} failed: ${err instanceof Error ? err.message : String(err)}; the function needs lambda:InvokeFunction on itself`, { cause: err });
  }
}
