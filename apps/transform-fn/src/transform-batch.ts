import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { currentEtag, deleteKeys, emitMetrics, putObject, sameEtag, type Logger, type MetricsInput } from '@rydes/aws-adapters';
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
 * Turns each SQS record into one processed/ CSV object, records concurrently. Messages of a source
 * version that was replaced since are acknowledged and counted as superseded. Returns exactly the
 * records that failed (undecodable body, S3 error, …) as batch item failures so SQS redelivers
 * only those; throws only when the whole batch cannot work (the station index cannot be built).
 */
export async function transformBatch(event: SQSEvent, deps: TransformDeps): Promise<SQSBatchResponse> {
  const started = Date.now();
  const index = await deps.stations();
  const failures: SQSBatchItemFailure[] = [];
  let rides = 0;
  let superseded = 0;
  const records = event.Records ?? [];
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const record = records[next++];
      try {
        const outcome = await transformRecord(record, index, deps);
        if (outcome === 'superseded') superseded++;
        else rides += outcome;
      } catch (err) {
        failures.push({ itemIdentifier: record.messageId });
        deps.logger.warn({ messageId: record.messageId, reason: err instanceof Error ? err.message : String(err) }, 'message failed; left for redelivery');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, records.length) }, worker));

  (deps.metrics ?? emitMetrics)({ dimensions: { Function: 'transform-fn' }, values: { RidesProcessed: rides, MessagesSuperseded: superseded } });
  deps.logger.info({ messages: records.length, failed: failures.length, superseded, rides, ms: Date.now() - started }, 'batch transformed');
  return { batchItemFailures: failures };
}

/**
 * Writes one message's CSV, then checks (one HeadObject) that its source object still holds the
 * message's version. If the file was replaced or deleted, the object just written is deleted
 * and the message is acknowledged as `superseded`: retrying could never succeed, so it must not
 * reach the DLQ. Checking after the write, not before, leaves no window for a late message to
 * resurrect stale output (ingest-fn's versions.ts has the argument).
 */
async function transformRecord(record: SQSRecord, index: StationIndex, deps: TransformDeps): Promise<number | 'superseded'> {
  const message = decodeMessage(record.body);
  const processed = transformMessage(message, index);
  await putObject(deps.s3, deps.config.outputBucket, processed.key, processed.csv, 'text/csv; charset=utf-8');
  const { bucket, key, etag } = message.source;
  const current = await currentEtag(deps.s3, bucket, key);
  if (current !== undefined && sameEtag(current, etag)) return processed.rides;
  await deleteKeys(deps.s3, deps.config.outputBucket, [processed.key]);
  deps.logger.info({ messageId: record.messageId, source: key, etag, current: current ?? null, chunk: message.chunk }, 'superseded: the source changed since this message was sent; output removed');
  return 'superseded';
}
