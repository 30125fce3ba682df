import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { Context, S3Event } from 'aws-lambda';
import { createLambdaClient, createLogger, createS3Client, createSqsClient, invokeEvent } from '@rydes/aws-adapters';
import type { Manifest } from '@rydes/ride-model';
import { loadConfig } from './config';
import type { Continuation, ContinuationEvent } from './continuation';
import { ingestEvent } from './ingest-event';

const config = loadConfig(process.env);
// Module-level clients whose middleware nobody changes: each command's stack is resolved once (clients.ts).
const s3 = createS3Client(process.env, { cacheMiddleware: true });
// The SDK's MD5 check of each sent body is off here because sendMessages does it (verifyMd5), without a copy of each body.
const sqs = createSqsClient(process.env, { cacheMiddleware: true, reuseRequestBodies: true, md5: false });
const logger = createLogger({ name: 'ingest-fn' });
/*
 * Continuation needs nothing only real Lambda provides except AWS_LAMBDA_FUNCTION_NAME: the
 * trigger is `context.getRemainingTimeInMillis()` (any runner passes a context) below
 * CONTINUE_BELOW_MS, and the hand-off is an Invoke (InvocationType Event) through a Lambda
 * client that honours AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL. A local runner that sets
 * AWS_LAMBDA_FUNCTION_NAME and serves the Invoke API there gets continuations too; without the
 * variable a file runs to its end in one call.
 */
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
// Made at the first hand-off, not at init: most invocations never hand off, and the SDK's Lambda package is loaded with it.
let lambda: LambdaClient | undefined;

/**
 * S3 ObjectCreated (raw/) → validated rides in chunks on OUTPUT_QUEUE; returns one manifest per
 * finished file. Near the timeout the rest of a file goes to an asynchronous self-invocation.
 */
export const handler = (event: S3Event | ContinuationEvent, context: Context): Promise<Manifest[]> =>
  ingestEvent(event, {
    s3,
    sqs,
    config,
    logger: logger.child({ requestId: context.awsRequestId }),
    remainingMs: () => context.getRemainingTimeInMillis(),
    // The ARN keeps an alias or version qualifier; a local runner may leave it empty.
    ...(functionName && { handOff: (c: Continuation) => invokeEvent((lambda ??= createLambdaClient()), context.invokedFunctionArn || functionName, { rydesContinuation: c }) }),
  });
