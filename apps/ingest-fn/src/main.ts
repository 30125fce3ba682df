import type { Context, S3Event } from 'aws-lambda';
import { createLambdaClient, createLogger, createS3Client, createSqsClient, invokeEvent } from '@rydes/aws-adapters';
import type { Manifest } from '@rydes/ride-model';
import { loadConfig } from './config';
import type { Continuation, ContinuationEvent } from './continuation';
import { ingestEvent } from './ingest-event';

const config = loadConfig(process.env);
const s3 = createS3Client();
const sqs = createSqsClient();
const logger = createLogger({ name: 'ingest-fn' });
// Only inside Lambda can the function invoke itself; elsewhere a file runs to its end in one call.
const lambda = process.env.AWS_LAMBDA_FUNCTION_NAME ? createLambdaClient() : undefined;

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
    ...(lambda && { handOff: (c: Continuation) => invokeEvent(lambda, context.invokedFunctionArn, { rydesContinuation: c }) }),
  });
