import type { Context, S3Event } from 'aws-lambda';
import { createLogger, createS3Client, createSqsClient } from '@rydes/aws-adapters';
import type { Manifest } from '@rydes/ride-model';
import { loadConfig } from './config';
import { ingestEvent } from './ingest-event';

const config = loadConfig(process.env);
const s3 = createS3Client();
const sqs = createSqsClient();
const logger = createLogger({ name: 'ingest-fn' });

/** S3 ObjectCreated (raw/) → validated rides in chunks on OUTPUT_QUEUE; returns one manifest per file. */
export const handler = (event: S3Event, context: Context): Promise<Manifest[]> =>
  ingestEvent(event, { s3, sqs, config, logger: logger.child({ requestId: context.awsRequestId }) });
