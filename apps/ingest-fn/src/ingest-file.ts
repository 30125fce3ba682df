import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { emitMetrics, putObject, readManifest, type Logger, type MetricsInput, type SendStats } from '@rydes/aws-adapters';
import { findControlCharacter, objectKeys, type Manifest, type ObjectKeys, type SourceRef } from '@rydes/ride-model';
import type { IngestConfig } from './config';
import type { Continuation, RejectsPart } from './continuation';
import { IngestFileError } from './errors';
import { fanOut, startProgress, type Progress } from './fan-out';
import { lastPartRejects, nextPart } from './hand-off';
import { buildManifest, describeFailure, sourceDeleted, writeManifest } from './manifest';
import { openSource } from './open-source';
import { deleteRejectsParts, joinRejects } from './rejects-join';
import { RejectsWriter } from './rejects-writer';
import { removeVersion, settleVersions } from './versions';

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

/**
 * A file either finished (manifest written, possibly with an error that retrying cannot fix:
 * source deleted, unusable key), was handed to a continuation, or turned out superseded by a
 * newer version while a continuation was reading it (its outputs removed).
 */
export type IngestOutcome = { manifest: Manifest } | { continuation: Continuation } | { superseded: Continuation };

/** One file's ingestion: what every step needs to know about it. */
interface FileRun {
  deps: IngestDeps;
  bucket: string;
  key: string;
  /** The ETag the S3 event (or the continuation) names. */
  eventEtag?: string;
  resume?: Continuation;
  startedAt: Date;
  log: Logger;
}

/**
 * Ingests one ride file, or for a continuation the rest of it: opens it, streams it through
 * parse → validate → chunk → SQS with rejects to `rejects/`, and then either hands the rest to a
 * continuation (time running out) or finishes: joins the parts' rejects, writes the manifest
 * once SQS has accepted every chunk, and settles the file's versions (versions.ts).
 *
 * A failure that a retry may fix (parse error in a part, S3 or SQS error) is recorded in the
 * manifest and thrown as {@link IngestFileError}, so the invocation is retried; chunks sent
 * before it stay valid and `manifest.chunks` counts them. What no retry can change ends the
 * invocation successfully: a source deleted before it was read to the end (the manifest says
 * so), a key with control characters (refused), a version replaced while it was read in parts
 * (superseded: its outputs removed, the new version has its own event).
 */
export async function ingestFile(deps: IngestDeps, object: { bucket: string; key: string; eventEtag?: string }, resume?: Continuation): Promise<IngestOutcome> {
  const now = deps.now ?? (() => new Date());
  const run: FileRun = {
    deps, bucket: object.bucket, key: object.key, eventEtag: object.eventEtag, resume,
    startedAt: resume ? new Date(resume.startedAt) : now(),
    log: deps.logger.child({ source: `s3://${object.bucket}/${object.key}` }),
  };
  const bad = findControlCharacter(object.key);
  if (bad) {
    const reason = `the object key holds the control character ${bad.codePoint} at position ${bad.index}: the CSV's source column must be one line; rename the file (no CR, LF, tab or other control characters) and upload it again`;
    return endEarly(run, startProgress(resume), reason);
  }

  let opened;
  try {
    opened = await openSource(deps.s3, object, resume);
  } catch (err) {
    throw new IngestFileError(run.bucket, run.key, await recordOpenFailure(run, err), err);
  }
  if (opened.status === 'superseded') return superseded(run, resume as Continuation);
  if (opened.status === 'deleted') return endEarly(run, startProgress(resume));

  const { source } = opened;
  const keys = objectKeys(source);
  const rejects = new RejectsWriter(deps.s3, source.bucket, resume ? keys.rejectsPart(resume.part) : keys.rejects);
  const shouldHandOff = () => deps.handOff !== undefined && deps.remainingMs !== undefined && deps.remainingMs() < deps.config.continueBelowMs;
  const part = await fanOut(deps.sqs, deps.config.outputQueue, deps.config.ridesPerMessage, source, opened.body, rejects, resume, shouldHandOff);
  opened.close();
  let failure = part.failure;
  try {
    await rejects.close();
    const point = part.progress.handOff;
    if (failure === undefined && point !== undefined && deps.handOff) {
      const continuation = await nextPart(deps.s3, keys, source, part, point, rejects.count, resume, run.startedAt);
      await deps.handOff(continuation);
      run.log.info(
        { nextIndex: point.index, byteOffset: point.byteOffset, part: continuation.part, sentChunks: part.stats.sent, ms: now().getTime() - run.startedAt.getTime() },
        'time running out: rest of the file handed to a continuation',
      );
      return { continuation };
    }
  } catch (err) {
    failure ??= err;
  }
  const chunks = part.progress.priorChunks + part.stats.sent;
  const error = failure === undefined ? undefined : describeFailure(failure, part.progress);
  const manifest = await finish(run, source, keys, buildManifest(head(run, source.etag), part.progress, chunks, error), lastPartRejects(resume, part.startIndex, rejects.count), part.stats);
  if (failure !== undefined) {
    run.log.error({ error: manifest.error }, 'ride file failed; manifest records the error');
    throw new IngestFileError(run.bucket, run.key, keys.manifest, failure);
  }
  return { manifest };
}

/**
 * Joins the parts' rejects, writes the manifest and settles the file's versions; emits the
 * file's metrics. A failure here is thrown so the event is retried: the rerun rewrites the same
 * outputs and finishes the clean-up.
 */
async function finish(run: FileRun, source: SourceRef, keys: ObjectKeys, built: Manifest, rejectParts: RejectsPart[], stats?: SendStats): Promise<Manifest> {
  const { s3 } = run.deps;
  let manifest: Manifest | undefined;
  let removed;
  try {
    await joinRejects(s3, source.bucket, keys, rejectParts, built);
    manifest = await writeManifest(s3, source.bucket, keys, built);
    // Kept after a failure a retry may fix: the retry of this part joins them again.
    const final = !built.error || built.error.code === 'source-deleted';
    if (run.resume && final) await deleteRejectsParts(s3, source.bucket, keys, rejectParts);
    removed = await settleVersions(s3, source, keys, run.startedAt, run.log);
  } catch (err) {
    throw new IngestFileError(run.bucket, run.key, manifest && keys.manifest, err);
  }
  (run.deps.metrics ?? emitMetrics)({
    dimensions: { Function: 'ingest-fn' },
    values: { RidesIngested: manifest.valid, RidesRejected: manifest.rejected },
    properties: { source: run.key },
  });
  const summary = {
    total: manifest.total, valid: manifest.valid, rejected: manifest.rejected, chunks: manifest.chunks,
    sqsCalls: stats?.calls ?? 0, sqsRetries: stats?.retries ?? 0, staleVersionsRemoved: removed.versions,
    ms: (run.deps.now ?? (() => new Date()))().getTime() - run.startedAt.getTime(),
  };
  if (!manifest.error) run.log.info(summary, 'ride file ingested');
  else if (manifest.error.code === 'source-deleted') run.log.warn({ ...summary, error: manifest.error.message }, 'ride file deleted before it was read to the end');
  return manifest;
}

/**
 * A file that ends without (more) reading, successfully: its source was deleted (before the
 * first part, or between two parts: `progress` holds the parts' counts), or its key is refused
 * (`refused` says why). The manifest records it; no retry can change it. A finished manifest of
 * the same version already in place (a late rerun of an event) is kept.
 */
async function endEarly(run: FileRun, progress: Progress, refused?: string): Promise<IngestOutcome> {
  const etag = run.resume?.etag ?? run.eventEtag;
  if (!etag) throw new IngestFileError(run.bucket, run.key, undefined, new Error('the event names no ETag, so no manifest can be written; check the S3 notification'));
  const source: SourceRef = { bucket: run.bucket, key: run.key, etag };
  const keys = objectKeys(source);
  const existing = await readManifest(run.deps.s3, run.bucket, keys.manifest).catch((err: unknown) => {
    throw new IngestFileError(run.bucket, run.key, undefined, err);
  });
  if (!refused && existing && (!existing.error || existing.total >= progress.total)) return { manifest: existing };
  const error = refused ? { message: refused, byteOffset: 0, lastGoodIndex: -1 } : sourceDeleted(progress);
  const built = buildManifest(head(run, etag), progress, progress.priorChunks, error);
  if (refused) {
    await writeManifest(run.deps.s3, run.bucket, keys, built).catch((err: unknown) => {
      throw new IngestFileError(run.bucket, run.key, undefined, err);
    });
    run.log.error({ error: refused }, 'ride file refused');
    return { manifest: built };
  }
  return { manifest: await finish(run, source, keys, built, run.resume?.rejectParts ?? []) };
}

/** A continuation found a newer version under the key: this version's outputs are removed. */
async function superseded(run: FileRun, resume: Continuation): Promise<IngestOutcome> {
  const keys = objectKeys({ bucket: run.bucket, key: run.key, etag: resume.etag });
  let objects;
  try {
    objects = await removeVersion(run.deps.s3, run.bucket, keys);
  } catch (err) {
    throw new IngestFileError(run.bucket, run.key, undefined, err);
  }
  run.log.info({ etag: resume.etag, part: resume.part, objects }, 'superseded: the file was replaced while it was read in parts; this version\'s outputs removed, the new version is ingested on its own event');
  return { superseded: resume };
}

/** The object could not even be opened (access, server error): record that under the event's ETag. */
async function recordOpenFailure(run: FileRun, err: unknown): Promise<string | undefined> {
  if (!run.eventEtag) return undefined;
  try {
    const keys = objectKeys({ bucket: run.bucket, key: run.key, etag: run.eventEtag });
    const error = { message: err instanceof Error ? err.message : String(err), byteOffset: 0, lastGoodIndex: -1 };
    const manifest = buildManifest(head(run, run.eventEtag), startProgress(), 0, error);
    await putObject(run.deps.s3, run.bucket, keys.manifest, JSON.stringify(manifest, null, 2) + '\n', 'application/json');
    run.log.error({ error: manifest.error }, 'ride file could not be opened');
    return keys.manifest;
  } catch (manifestErr) {
    run.log.error({ err: manifestErr }, 'ride file could not be opened, nor its manifest written');
    return undefined;
  }
}

function head(run: FileRun, etag: string) {
  return { bucket: run.bucket, source: run.key, etag, ridesPerMessage: run.deps.config.ridesPerMessage, startedAt: run.startedAt, finishedAt: (run.deps.now ?? (() => new Date()))() };
}
