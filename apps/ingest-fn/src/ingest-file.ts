import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { copyObject, currentEtag, deleteKeys, emitMetrics, openObject, putObject, readManifest, sendMessages, type Logger, type MetricsInput, type SendStats } from '@rydes/aws-adapters';
import { Chunker, encodeMessage, objectKeys, parseRides, RideParseError, validateRide, type FanoutMessage, type Manifest, type ObjectKeys, type RawRecord, type ResumePoint, type RideRecords, type SourceRef } from '@rydes/ride-model';
import type { IngestConfig } from './config';
import type { Continuation, RejectsPart } from './continuation';
import { IngestFileError, ObjectChangedError } from './errors';
import { RejectsWriter } from './rejects-writer';
import { removeOtherVersions, removeVersion, sameContent, stillCurrent, writeManifest, type Removed } from './versions';

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

/** Running counts of one file (earlier parts included); `lastIndex`/`lastByteOffset` place a failure. */
interface Progress {
  total: number;
  valid: number;
  rejected: number;
  droppedFields: number;
  lastIndex: number;
  lastByteOffset: number;
  /** Chunks sent by earlier parts. */
  priorChunks: number;
  /** Set when this invocation stops early: where the continuation starts. */
  handOff?: ResumePoint;
}

/** Where this part starts and when to stop. */
interface Plan {
  startIndex: number;
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

  const point = resume?.resume;
  // A plain file is read from one byte before the resume point and that byte dropped: a range
  // starting at the very end of the object (a cut after its last record) would be refused (416).
  const rangeStart = point && !point.gzip ? point.byteOffset - 1 : undefined;
  let opened;
  try {
    opened = await openObject(s3, object.bucket, object.key, resume && { ifMatch: resume.etag, ...(rangeStart !== undefined && { start: rangeStart }) });
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
  const prior = resume?.counts;
  const progress: Progress = {
    total: prior?.total ?? 0, valid: prior?.valid ?? 0, rejected: prior?.rejected ?? 0, droppedFields: prior?.droppedFields ?? 0,
    lastIndex: (point?.index ?? 0) - 1, lastByteOffset: point?.byteOffset ?? 0, priorChunks: prior?.chunks ?? 0,
  };
  const { handOff, remainingMs } = deps;
  const plan: Plan = {
    startIndex: point?.index ?? 0,
    shouldHandOff: () => handOff !== undefined && remainingMs !== undefined && remainingMs() < config.continueBelowMs,
  };
  const part = resume?.part ?? 0;
  const rejects = new RejectsWriter(s3, object.bucket, resume ? keys.rejectsPart(part) : keys.rejects);
  const stats: SendStats = { sent: 0, calls: 0, retries: 0 };
  const body = rangeStart !== undefined ? dropBytes(opened.body, 1) : opened.body;
  let failure: unknown;
  try {
    const records = parseRides(body, point && { resume: point });
    const chunker = new Chunker({ source, ridesPerMessage: config.ridesPerMessage, ...(point && { continueAt: { chunk: progress.priorChunks, index: point.index } }) });
    await sendMessages(sqs, config.outputQueue, messages(records, chunker, rejects, progress, plan), { stats });
  } catch (err) {
    failure = err;
  } finally {
    body.destroy();
    opened.body.destroy();
  }
  // Parts of this file (this one included) whose rejects wait in rejectsPart(n) for the last part.
  const rejectParts: RejectsPart[] = [...(resume?.rejectParts ?? [])];
  try {
    await rejects.close();
    if (failure === undefined && progress.handOff !== undefined && handOff) {
      if (rejects.count > 0) {
        // The first part wrote the file's rejects object as if it were the only part; its copy
        // under rejectsPart(0) is what the last part joins, so a rerun of the join starts clean.
        if (!resume) await copyObject(s3, object.bucket, keys.rejects, keys.rejectsPart(0));
        rejectParts.push({ part, from: plan.startIndex, to: progress.handOff.index });
      }
      const continuation: Continuation = {
        v: 2, bucket: object.bucket, key: object.key, etag: opened.etag, resume: progress.handOff,
        counts: { total: progress.total, valid: progress.valid, rejected: progress.rejected, droppedFields: progress.droppedFields, chunks: progress.priorChunks + stats.sent },
        rejectParts, part: part + 1, startedAt: startedAt.toISOString(),
      };
      await handOff(continuation);
      log.info(
        { nextIndex: continuation.resume.index, byteOffset: continuation.resume.byteOffset, part: continuation.part, sentChunks: stats.sent, ms: now().getTime() - startedAt.getTime() },
        'time running out: rest of the file handed to a continuation',
      );
      return { continuation };
    }
    if (resume && rejects.count > 0) rejectParts.push({ part, from: plan.startIndex });
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
    chunks: progress.priorChunks + stats.sent,
    ridesPerMessage: config.ridesPerMessage,
    droppedFields: progress.droppedFields,
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    ...(failure !== undefined && { error: describeFailure(failure, progress) }),
  };
  let manifest: Manifest | undefined;
  let removed: Removed;
  try {
    if (resume) await joinRejects(deps, object.bucket, keys, rejectParts, built);
    manifest = await writeManifest(s3, object.bucket, keys, built);
    // Kept after a failure: the retry of this part joins them again.
    if (resume && failure === undefined) await deleteKeys(s3, object.bucket, rejectParts.map((p) => keys.rejectsPart(p.part)));
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
 * Encoded fan-out messages of a file, produced only as fast as they are sent, from
 * `plan.startIndex` on (a continuation's parser starts there).
 *
 * A file may be left at index k only where every valid ride before k sits in a chunk already
 * sent, so the continuation, starting a fresh Chunker at k with the chunk count so far, numbers
 * and fills every later chunk exactly as one run would. Messages carry their gaps (v2), so a
 * rejected ride leaves the open chunk open; the points checked are a completed chunk and a
 * rejected ride:
 * - nothing is open: k = this record + 1;
 * - a chunk is open: k = its first ride. The records read since are read again by the
 *   continuation, so the counts go back to what they were before that ride, and this part's
 *   rejects past k are dropped when the parts' rejects are joined (each part keeps `from ≤ index < to`).
 * The second case covers files whose rejects are so dense that a chunk takes long to fill. Every
 * part reads at least one record (k > startIndex), so a chain of continuations always moves
 * forward: a part whose first ride opened the open chunk goes on until that chunk closes.
 * On a parse error the open chunk is still emitted (its rides are valid), then the error propagates.
 */
async function* messages(records: RideRecords, chunker: Chunker, rejects: RejectsWriter, progress: Progress, plan: Plan): AsyncGenerator<string> {
  const encode = (message: FanoutMessage | undefined): string | undefined => (message === undefined ? undefined : encodeMessage(message));
  const mayCut = (k: number): boolean => k > plan.startIndex && plan.shouldHandOff();
  // The open chunk's start: the counts before its first ride, and the record before that ride.
  let opened: { counts: Pick<Progress, 'total' | 'valid' | 'rejected' | 'droppedFields'>; before: RawRecord | undefined } | undefined;
  let previous: RawRecord | undefined;
  const cutAfter = (raw: RawRecord): boolean => {
    const open = chunker.openFirstIndex;
    if (open === undefined) {
      if (!mayCut(raw.index + 1)) return false;
      progress.handOff = records.resumePointAfter(raw);
      return true;
    }
    if (opened?.before === undefined || !mayCut(open)) return false;
    Object.assign(progress, opened.counts);
    progress.handOff = records.resumePointAfter(opened.before);
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
        if (cutAfter(raw)) return;
        previous = raw;
        continue;
      }
      progress.valid++;
      progress.droppedFields += result.dropped.length;
      const done = chunker.push(raw.index, result.ride);
      if (chunker.openFirstIndex === raw.index) {
        const counts = { total: progress.total - 1, valid: progress.valid - 1, rejected: progress.rejected, droppedFields: progress.droppedFields - result.dropped.length };
        opened = { counts, before: previous };
      }
      for (const message of done) yield encodeMessage(message);
      if (done.length > 0 && cutAfter(raw)) return;
      previous = raw;
    }
  } catch (err) {
    const body = encode(chunker.flush());
    if (body !== undefined) yield body;
    throw err;
  }
  const body = encode(chunker.flush());
  if (body !== undefined) yield body;
}

/**
 * The last part of a file ingested in several parts joins the parts' rejects, in order and each
 * filtered to the rides that part read, into the file's one rejects object, and checks that the
 * lines add up to the manifest's `rejected`. The parts are deleted only once the manifest is
 * written, so a part missing here means a rerun of a last part that finished: with the same
 * manifest in place, the joined object is already right and is left alone.
 */
async function joinRejects(deps: IngestDeps, bucket: string, keys: ObjectKeys, parts: RejectsPart[], manifest: Manifest): Promise<void> {
  if (parts.length === 0) return;
  for (const { part } of parts) {
    if ((await currentEtag(deps.s3, bucket, keys.rejectsPart(part))) !== undefined) continue;
    const existing = await readManifest(deps.s3, bucket, keys.manifest);
    if (existing && sameContent(existing, manifest)) return;
    throw new Error(`rejects of part ${part} (s3://${bucket}/${keys.rejectsPart(part)}) are missing, and the file has no finished manifest; re-upload the file to ingest it again`);
  }
  let lines = 0;
  async function* joined(): AsyncGenerator<Buffer> {
    for (const { part, from, to = Number.MAX_SAFE_INTEGER } of parts) {
      const { body } = await openObject(deps.s3, bucket, keys.rejectsPart(part));
      for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
        // RejectsWriter writes `{"index":N,…}`; JSON escapes line breaks inside a record.
        const index = Number(/^\{"index":(\d+),/.exec(line)?.[1] ?? -1);
        if (index < from || index >= to) continue;
        lines++;
        yield Buffer.from(line + '\n');
      }
    }
    if (lines !== manifest.rejected) {
      throw new Error(`the parts' rejects hold ${lines} lines for the ${manifest.rejected} rejected rides; a retried part may have rewritten its rejects: re-upload the file to ingest it again`);
    }
  }
  await putObject(deps.s3, bucket, keys.rejects, Readable.from(joined()), 'application/x-ndjson');
}

/** `stream` without its first `count` bytes. */
function dropBytes(stream: Readable, count: number): Readable {
  async function* rest(): AsyncGenerator<Buffer> {
    let left = count;
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (left >= buf.length) {
        left -= buf.length;
        continue;
      }
      yield left > 0 ? buf.subarray(left) : buf;
      left = 0;
    }
  }
  return Readable.from(rest());
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
