import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { deleteKeys, emitMetrics, putObject, versionState, type Logger, type MetricsInput, type ObjectWriter } from '@rydes/aws-adapters';
import type { StationLookup } from '@rydes/geo-index';
import type { FanoutMessage } from '@rydes/ride-model';
import type { TransformConfig } from './config';
import { transformBody } from './transform-message';

export interface TransformDeps {
  s3: S3Client;
  /**
   * Writes the processed/ objects (one PutObject each) and checks the batch's source version (one
   * HeadObject) at a fraction of the SDK's CPU; `s3` itself when absent.
   */
  writer?: ObjectWriter;
  config: TransformConfig;
  /** The station lookup, built once per container. */
  stations: () => Promise<StationLookup>;
  logger: Logger;
  metrics?: (input: MetricsInput) => void;
}

/** Records handled at once; an SQS event source delivers at most 10 (or more with a batching window). */
const CONCURRENCY = 10;

/** A message whose CSV is in processed/, waiting for the check of its source version. */
interface Written {
  record: SQSRecord;
  source: FanoutMessage['source'];
  key: string;
  rides: number;
  unmatched: number;
}

/**
 * Turns each SQS record into one processed/ CSV object, records concurrently, then checks once
 * per source version (one HeadObject, not one per message) that the source still holds that
 * version. Messages of a version a newer one replaced are acknowledged and counted as superseded.
 * Returns exactly the records that failed (undecodable body, S3 error, …) as batch item failures
 * so SQS redelivers only those; throws only when the whole batch cannot work (the station index
 * cannot be built).
 */
export async function transformBatch(event: SQSEvent, deps: TransformDeps): Promise<SQSBatchResponse> {
  const started = Date.now();
  const index = await deps.stations();
  const failures: SQSBatchItemFailure[] = [];
  const fail = (record: SQSRecord, err: unknown) => {
    failures.push({ itemIdentifier: record.messageId });
    deps.logger.warn({ messageId: record.messageId, reason: err instanceof Error ? err.message : String(err) }, 'message failed; left for redelivery');
  };
  const records = event.Records ?? [];
  const written: Written[] = [];
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const record = records[next++];
      try {
        written.push(await writeRecord(record, index, deps));
      } catch (err) {
        fail(record, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, records.length) }, worker));

  let rides = 0;
  let unmatched = 0;
  let superseded = 0;
  await Promise.all(
    groupBySource(written).map(async (group) => {
      try {
        if (await keepOrRemove(group, deps)) {
          rides += group.reduce((n, w) => n + w.rides, 0);
          unmatched += group.reduce((n, w) => n + w.unmatched, 0);
        }
        else superseded += group.length;
      } catch (err) {
        for (const w of group) fail(w.record, err);
      }
    }),
  );

  (deps.metrics ?? emitMetrics)({ dimensions: { Function: 'transform-fn' }, values: { RidesProcessed: rides, RidesWithoutStation: unmatched, MessagesSuperseded: superseded } });
  deps.logger.info({ messages: records.length, failed: failures.length, superseded, rides, unmatched, ms: Date.now() - started }, 'batch transformed');
  return { batchItemFailures: failures };
}

/** Decodes one message, joins its rides with their stations and writes its CSV object. */
async function writeRecord(record: SQSRecord, index: StationLookup, deps: TransformDeps): Promise<Written> {
  const processed = transformBody(record.body, index);
  const { outputBucket } = deps.config;
  const contentType = 'text/csv; charset=utf-8';
  await (deps.writer ? deps.writer.put(outputBucket, processed.key, processed.csv, contentType) : putObject(deps.s3, outputBucket, processed.key, processed.csv, contentType));
  return { record, source: processed.source, key: processed.key, rides: processed.rides, unmatched: processed.unmatched };
}

function groupBySource(written: Written[]): Written[][] {
  const groups = new Map<string, Written[]>();
  for (const w of written) {
    const id = JSON.stringify([w.source.bucket, w.source.key, w.source.etag]);
    const group = groups.get(id);
    if (group) group.push(w);
    else groups.set(id, [w]);
  }
  return [...groups.values()];
}

/**
 * Checks (one HeadObject) that the group's source object still holds the version its messages
 * came from; returns true if so. If a newer version of the file exists (the key holds another
 * ETag, or the key is gone and a newer version's manifest exists), the objects just written are
 * deleted and the messages count as superseded: retrying could never succeed, so they must not
 * reach the DLQ. A source that was only deleted keeps its results. Checking after the writes,
 * not before, leaves no window for a late message to resurrect stale output (ingest-fn's
 * versions.ts has the argument).
 */
async function keepOrRemove(group: Written[], deps: TransformDeps): Promise<boolean> {
  const { bucket, key, etag } = group[0].source;
  // The version's ingest had started by the time its first message was sent.
  const sent = Math.min(...group.map((w) => Number(w.record.attributes?.SentTimestamp) || Date.now()));
  const { writer } = deps;
  const state = await versionState(deps.s3, bucket, key, etag, new Date(sent), writer && ((b, k) => writer.headEtag(b, k)));
  if (state !== 'superseded') return true;
  await deleteKeys(deps.s3, deps.config.outputBucket, group.map((w) => w.key));
  deps.logger.info(
    { messageIds: group.map((w) => w.record.messageId), source: key, etag, outputs: group.map((w) => w.key) },
    'superseded: a newer version of the source exists; output removed',
  );
  return false;
}
