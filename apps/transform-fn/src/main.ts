import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createLogger, createObjectWriter, createS3Client } from '@rydes/aws-adapters';
import { loadConfig } from './config';
import { buildStationIndex, once, readyBeforeDeadline } from './stations';
import { transformBatch } from './transform-batch';

const config = loadConfig(process.env);
// One PutObject per message: the middleware stack resolved once per command class (nothing changes it).
const s3 = createS3Client(process.env, { cacheMiddleware: true });
// The processed/ PutObjects (one per message) through node's http with the client's own endpoint,
// credentials, signer settings and retry strategy: a fraction of the SDK's CPU per request.
const writer = createObjectWriter(s3);
const logger = createLogger({ name: 'transform-fn' });
const stations = once(() => buildStationIndex(config, s3, logger));
// Build during Lambda's init phase; a failure is logged there and thrown again by the handler.
stations().catch(() => undefined);

/** SQS fan-out messages → nearest station per ride → one processed/ CSV per message. */
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  transformBatch(event, {
    s3,
    writer,
    config,
    // A cold start still building the lookup near the timeout hands the batch back rather than dying with it.
    stations: () => readyBeforeDeadline(stations(), () => context.getRemainingTimeInMillis()),
    logger: logger.child({ requestId: context.awsRequestId }),
  });
