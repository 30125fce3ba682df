import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { emitMetrics, openObject, putObject, sendMessages, type Logger, type MetricsInput, type SendStats } from '@rydes/aws-adapters';
import { Chunker, encodeMessage, objectKeys, parseRides, RideParseError, validateRide, type FanoutMessage, type Manifest, type ObjectKeys, type RawRecord, type SourceRef } from '@rydes/ride-model';
import type { IngestConfig } from './config';
import type { Continuation } from './continuation';
import { IngestFileError, ObjectChangedError } from './errors';
import { RejectsWriter } from './rejects-writer';
import { removeOtherVersions, removeVersion, stillCurrent, writeManifest, type Removed } from './versions';

export interface IngestDeps {
  s3: S3Client;
  sqs: SQSClient;
  config: IngestConfig;
  logger: Logger;
  metrics?: (input: MetricsInput) => void;
  now?: () => Date;
  /** Time left in this invocation (Lambda's `context.getRemainingTimeInMillis`). */
  remainingMs?: () => number;
  /** Starts a continuation; without it a file is read to the end in one invocation. */
  handOff?: (continuation: Continuation) => Promise<void>;
}

/** A file either finished (manifest written) or was handed to a continuation. */
export type IngestOutcome = { manifest: Manifest } | { continuation: Continuation };

/** Running counts of one file; `lastIndex`/`lastByteOffset` place a failure. */
interface Progress {
  total: number;
  valid: number;
  rejected: number;
  droppedFields: number;
  lastIndex: number;
  lastByteOffset: number;
  /** Chunks completed before `resumeAt`: sent by earlier parts, replayed here without sending. */
  replayedChunks: number;
  /** Set when this invocation stops early: the index the continuation starts at. */
  handOffAt?: number;
}

/** Where sending starts and when to stop. */
interface Plan {
  resumeAt: number;
  shouldHandOff: () => boolean;
}

/**
 * Ingests one ride file: streams it through parse → validate → chunk → SQS, rejects to
 * `rejects/`, then writes the manifest once SQS has accepted every chunk. On a file-level failure
 * (parse error, S3 or SQS error) the manifest records the error and {@link IngestFileError} is
 * thrown; chunks sent before it stay valid and `manifest.chunks` counts them. After the manifest,
 * the outputs of other versions of the same key are removed (versions.ts explains re-uploads).
 */
export async function ingestFile(
  deps: IngestDeps,
  object: { bucket: string; key: string; eventEtag?: string },
  resume?: Continuation,
): Promise<IngestOutcome> {
  const { s3, sqs, config } = deps;
  const now = deps.now ?? (() => new Date());
  const startedAt = resume ? new Date(resume.startedAt) : now();
  const log = deps.logger.child({ source: `s3://${object.bucket}/${object.key}` });

  let opened;
  try {
    opened = await openObject(s3, object.bucket, object.key, resume && { ifMatch: resume.etag });
    // Real S3 answers 412 to If-Match already; S3-compatible servers may not (s3rver ignores it).
    if (resume && opened.etag !== resume.etag) {
      opened.body.destroy();
      throw new ObjectChangedError(object.key, resume.etag, opened.etag);
    }
  } catch (err) {
    // A continuation of a replaced version writes nothing: that version's outputs are superseded.
    const record = object.eventEtag && !(err instanceof ObjectChangedError);
    const manifestKey = record ? await writeFailureManifest(deps, object, object.eventEtag ?? '', startedAt, err, log) : undefined;
    throw new IngestFileError(object.bucket, object.key, manifestKey, err);
  }

  const source: SourceRef = { bucket: object.bucket, key: object.key, etag: opened.etag };
  const keys = objectKeys(source);
  const progress: Progress = { total: 0, valid: 0, rejected: 0, droppedFields: 0, lastIndex: -1, lastByteOffset: 0, replayedChunks: 0 };
  const { handOff, remainingMs } = deps;
  const plan: Plan = {
    resumeAt: resume?.nextIndex ?? 0,
    shouldHandOff: () => handOff !== undefined && remainingMs !== undefined && remainingMs() < config.continueBelowMs,
  };
  const rejects = new RejectsWriter(s3, object.bucket, keys.rejects);
  const stats: SendStats = { sent: 0, calls: 0, retries: 0 };
  let failure: unknown;
  try {
    const records = parseRides(opened.body);
    const chunker = new Chunker({ source, ridesPerMessage: config.ridesPerMessage });
    await sendMessages(sqs, config.outputQueue, messages(records, chunker, rejects, progress, plan), { stats });
  } catch (err) {
    failure = err;
  } finally {
    opened.body.destroy();
  }
  try {
    await rejects.close();
    if (failure === undefined && progress.handOffAt !== undefined && handOff) {
      const continuation: Continuation = {
        v: 1, bucket: object.bucket, key: object.key, etag: opened.etag,
        nextIndex: progress.handOffAt, part: (resume?.part ?? 0) + 1, startedAt: startedAt.toISOString(),
      };
      await handOff(continuation);
      log.info({ nextIndex: continuation.nextIndex, part: continuation.part, sentChunks: stats.sent, ms: now().getTime() - startedAt.getTime() }, 'time running out: rest of the file handed to a continuation');
      return { continuation };
    }
  } catch (err) {
    failure ??= err;
  }

  const built: Manifest = {
    bucket: object.bucket,
    source: object.key,
    etag: opened.etag,
    total: progress.total,
    valid: progress.valid,
    rejected: progress.rejected,
    // Counted from SQS's answers (plus earlier parts'): a prefix 0..chunks-1 after a parse error.
    chunks: progress.replayedChunks + stats.sent,
    ridesPerMessage: config.ridesPerMessage,
    droppedFields: progress.droppedFields,
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    ...(failure !== undefined && { error: describeFailure(failure, progress) }),
  };
  let manifest: Manifest | undefined;
  let removed: Removed;
  try {
    manifest = await writeManifest(s3, object.bucket, keys, built);
    removed = await settleVersions(deps, source, keys, log);
  } catch (err) {
    // Thrown so the event is retried: the rerun rewrites the same outputs and finishes the cleanup.
    throw new IngestFileError(object.bucket, object.key, manifest && keys.manifest, err);
  }

  (deps.metrics ?? emitMetrics)({
    dimensions: { Function: 'ingest-fn' },
    values: { RidesIngested: progress.valid, RidesRejected: progress.rejected },
    properties: { source: object.key },
  });
  const summary = {
    total: manifest.total, valid: manifest.valid, rejected: manifest.rejected, chunks: manifest.chunks,
    sqsCalls: stats.calls, sqsRetries: stats.retries, staleVersionsRemoved: removed.versions, ms: now().getTime() - startedAt.getTime(),
  };
  if (failure !== undefined) {
    log.error({ ...summary, error: manifest.error }, 'ride file failed; manifest records the error');
    throw new IngestFileError(object.bucket, object.key, keys.manifest, failure);
  }
  log.info(summary, 'ride file ingested');
  return { manifest };
}

/**
 * Encoded fan-out messages of a file, produced only as fast as they are sent. Records before
 * `plan.resumeAt` are replayed (validated, chunked, rejects rewritten) but not sent.
 *
 * A file may be left at index k only where every valid ride before k sits in a chunk whose
 * content is final, so the continuation, replaying 0..k-1 through a fresh Chunker, numbers and
 * fills every later chunk exactly as one run would:
 * - a push filled a chunk and nothing is open: k = this ride + 1;
 * - a push closed a chunk (gap or size) and this ride alone opened the next: k = this ride (the
 *   continuation rebuilds that chunk from it);
 * - a ride is rejected: any later valid ride starts a new chunk (a gap), so the open chunk is
 *   final already; it is sent now and k = this ride + 1.
 * The last two matter: when rejects are closer together than RIDES_PER_MESSAGE, no chunk ever
 * fills, and a file cut only at full chunks would never be handed off.
 * On a parse error the open chunk is still emitted (its rides are valid), then the error propagates.
 */
async function* messages(records: AsyncIterable<RawRecord>, chunker: Chunker, rejects: RejectsWriter, progress: Progress, plan: Plan): AsyncGenerator<string> {
  // A chunk holding rides before resumeAt was sent by an earlier part: count it, never resend it.
  const send = (message: FanoutMessage | undefined): string | undefined => {
    if (message === undefined) return undefined;
    if (message.firstIndex < plan.resumeAt) {
      progress.replayedChunks++;
      return undefined;
    }
    return encodeMessage(message);
  };
  const cutAt = (index: number): boolean => {
    if (index <= plan.resumeAt || !plan.shouldHandOff()) return false;
    progress.handOffAt = index;
    return true;
  };
  try {
    for await (const raw of records) {
      progress.total++;
      progress.lastIndex = raw.index;
      progress.lastByteOffset = raw.byteOffset ?? progress.lastByteOffset;
      const result = validateRide(raw.record);
      if (!result.ok) {
        progress.rejected++;
        await rejects.add({ index: raw.index, reasons: result.reasons, record: raw.record });
        if (cutAt(raw.index + 1)) {
          const body = send(chunker.flush());
          if (body !== undefined) yield body;
          return;
        }
        continue;
      }
      progress.valid++;
      progress.droppedFields += result.dropped.length;
      const done = chunker.push(raw.index, result.ride);
      for (const message of done) {
        const body = send(message);
        if (body !== undefined) yield body;
      }
      const last = done[done.length - 1];
      if (last === undefined) continue;
      const nothingOpen = last.firstIndex + last.rides.length - 1 === raw.index;
      if (cutAt(nothingOpen ? raw.index + 1 : raw.index)) return;
    }
  } catch (err) {
    const body = send(chunker.flush());
    if (body !== undefined) yield body;
    throw err;
  }
  const body = send(chunker.flush());
  if (body !== undefined) yield body;
}

/**
 * After the manifest: if the key still holds this version, remove every other version's
 * outputs; if it was overwritten or deleted meanwhile, remove this version's own (versions.ts).
 */
async function settleVersions(deps: IngestDeps, source: SourceRef, keys: ObjectKeys, log: Logger): Promise<Removed> {
  if (await stillCurrent(deps.s3, source.bucket, source.key, source.etag)) {
    return removeOtherVersions(deps.s3, source.bucket, source.key, source.etag, log);
  }
  const objects = await removeVersion(deps.s3, source.bucket, keys);
  log.warn({ etag: source.etag, objects }, 'the file was replaced or deleted while it was ingested; this version\'s outputs removed');
  return { versions: 1, objects };
}

function describeFailure(err: unknown, progress: Progress): NonNullable<Manifest['error']> {
  if (err instanceof RideParseError) return { message: err.message, byteOffset: err.byteOffset, lastGoodIndex: err.lastGoodIndex };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { message, byteOffset: progress.lastByteOffset, lastGoodIndex: progress.lastIndex };
}

/** The object could not even be opened: record that under the ETag the event announced. */
async function writeFailureManifest(
  deps: IngestDeps,
  object: { bucket: string; key: string },
  etag: string,
  startedAt: Date,
  err: unknown,
  log: Logger,
): Promise<string | undefined> {
  try {
    const keys = objectKeys({ bucket: object.bucket, key: object.key, etag });
    const manifest: Manifest = {
      bucket: object.bucket,
      source: object.key,
      etag,
      total: 0,
      valid: 0,
      rejected: 0,
      chunks: 0,
      ridesPerMessage: deps.config.ridesPerMessage,
      droppedFields: 0,
      startedAt: startedAt.toISOString(),
      finishedAt: (deps.now ?? (() => new Date()))().toISOString(),
      error: { message: err instanceof Error ? err.message : String(err), byteOffset: 0, lastGoodIndex: -1 },
    };
    await putObject(deps.s3, object.bucket, keys.manifest, JSON.stringify(manifest, null, 2) + '\n', 'application/json');
    log.error({ error: manifest.error }, 'ride file could not be opened');
    return keys.manifest;
  } catch (manifestErr) {
    log.error({ err: manifestErr }, 'ride file could not be opened, nor its manifest written');
    return undefined;
  }
}
