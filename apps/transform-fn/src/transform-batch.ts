import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { emitMetrics, putObject, type Logger, type MetricsInput } from '@rydes/aws-adapters';
import type { StationIndex } from '@rydes/geo-index';
import { decodeMessage } from '@rydes/ride-model';
import type { TransformConfig } from './config';
import { transformMessage } from './transform-message';

export interface TransformDeps {
  s3: S3Client;
  config: TransformConfig;
  /** The station index, built once per container. */
  stations: () => Promise<StationIndex>;
  logger: Logger;
  metrics?: (input: MetricsInput) => void;
}

/** Records handled at once; an SQS event source delivers at most 10 (or more with a batching window). */
const CONCURRENCY = 10;

/**
 * Turns each SQS record into one processed/ CSV object, records concurrently. Returns exactly the
 * records that failed (undecodable body, S3 error, …) as batch item failures so SQS redelivers
 * only those; throws only when the whole batch cannot work (the station index cannot be built).
 */
export async function transformBatch(event: SQSEvent, deps: TransformDeps): Promise<SQSBatchResponse> {
  const started = Date.now();
  const index = await deps.stations();
  const failures: SQSBatchItemFailure[] = [];
  let rides = 0;
  const records = event.Records ?? [];
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const record = records[next++];
      try {
        const count = await transformRecord(record, index, deps);
        rides += count;
      } catch (err) {
        failures.push({ itemIdentifier: record.messageId });
        deps.logger.warn({ messageId: record.messageId, reason: err instanceof Error ? err.message : String(err) }, 'message failed; left for redelivery');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, records.length) }, worker));

  (deps.metrics ?? emitMetrics)({ dimensions: { Function: 'transform-fn' }, values: { RidesProcessed: rides } });
  deps.logger.info({ messages: records.length, failed: failures.length, rides, ms: Date.now() - started }, 'batch transformed');
  return { batchItemFailures: failures };
}

async function transformRecord(record: SQSRecord, index: StationIndex, deps: TransformDeps): Promise<number> {
  const processed = transformMessage(decodeMessage(record.body), index);
  await putObject(deps.s3, deps.config.outputBucket, processed.key, processed.csv, 'text/csv; charset=utf-8');
  return processed.rides;
}
