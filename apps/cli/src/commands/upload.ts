import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client, listKeys, readManifest } from '@rydes/aws-adapters';
import { isRideFileKey, type Manifest, objectKeys, type ObjectKeys, parseOutputKey, RIDE_FILE_SUFFIXES, sameVersion } from '@rydes/ride-model';
import { SingleBar } from 'cli-progress';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { InputFileError, RydesCliError } from '../errors';
import { BUCKET } from '../stack/names';
import { checkAwsSetup, localEnv, stackOutputs } from '../stack/connect';

/** Multipart part size: 8 MiB parts, 4 in flight, keep memory near 32 MiB whatever the file size. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

/** The object key would not start an ingest (the S3 trigger filters raw/ and the suffixes). */
export class RideFileNameError extends RydesCliError {
  override name = 'RideFileNameError';
  constructor(readonly key: string) {
    super(`${key} would not start an ingest: the S3 trigger only fires for raw/<name> ending ${RIDE_FILE_SUFFIXES.join(', ')}. Rename the file or pass --key.`);
  }
}

/** The ingest wrote a manifest with an error: the file is partly processed. */
export class IngestFailedError extends RydesCliError {
  override name = 'IngestFailedError';
  constructor(readonly manifestKey: string, error: NonNullable<Manifest['error']>) {
    super(
      `ingest stopped at byte ${error.byteOffset} (last good ride ${error.lastGoodIndex}): ${error.message}. ` +
        `See s3://…/${manifestKey}; fix the file and upload it again.`,
    );
  }
}

/** Nothing finished within --timeout. */
export class WatchTimeoutError extends RydesCliError {
  override name = 'WatchTimeoutError';
  constructor(readonly seconds: number, state: string) {
    super(`not done after ${seconds} s (${state}). The pipeline may still be running: check "rydes doctor" and the dashboard, or raise --timeout.`);
  }
}

export interface UploadedFile {
  bucket: string;
  key: string;
  /** As the bucket reports it (HeadObject), which is what the S3 event carries to the ingest. */
  etag: string;
  bytes: number;
}

/**
 * Multipart upload of a local ride file to `raw/` with @aws-sdk/lib-storage.
 * @example
 * const uploaded = await uploadRideFile(s3, { file: 'rides.json', bucket: 'my-bucket' });
 * uploaded.key; // 'raw/rides.json'
 */
export async function uploadRideFile(
  s3: S3Client,
  options: { file: string; bucket: string; key?: string; onBytes?: (loaded: number, total: number) => void },
): Promise<UploadedFile> {
  let bytes: number;
  try {
    const stat = statSync(options.file);
    if (!stat.isFile()) throw new Error('not a regular file');
    bytes = stat.size;
  } catch (err) {
    throw new InputFileError(options.file, (err as Error).message);
  }
  const key = options.key ?? `raw/${basename(options.file)}`;
  if (!isRideFileKey(key)) throw new RideFileNameError(key);

  const upload = new Upload({
    client: s3,
    params: { Bucket: options.bucket, Key: key, Body: createReadStream(options.file), ContentLength: bytes },
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
  });
  upload.on('httpUploadProgress', (progress) => options.onBytes?.(progress.loaded ?? 0, bytes));
  await upload.done();
  const head = await s3.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key }));
  return { bucket: options.bucket, key, etag: head.ETag ?? '', bytes };
}

/** What the bucket shows of one ride file's run: its manifest (once ingest is done) and CSV objects. */
export interface PipelineState {
  manifest?: Manifest;
  processed: number;
}

async function countProcessed(s3: S3Client, bucket: string, keys: ObjectKeys): Promise<number> {
  let count = 0;
  for await (const key of listKeys(s3, bucket, keys.processedPrefix)) {
    const parsed = parseOutputKey(key);
    if (parsed?.kind === 'processed' && sameVersion(parsed, keys)) count++;
  }
  return count;
}

/**
 * Polls the manifest and the `processed/` objects of one uploaded file until every chunk the
 * manifest announces is written; throws when the manifest reports an error or on timeout.
 * @example
 * const done = await watchPipeline(s3, { uploaded, intervalMs: 2000, timeoutMs: 900_000, onUpdate: console.log });
 */
export async function watchPipeline(
  s3: S3Client,
  options: { uploaded: UploadedFile; intervalMs: number; timeoutMs: number; onUpdate?: (state: PipelineState) => void | Promise<void> },
): Promise<Required<PipelineState> & { seconds: number }> {
  const { uploaded } = options;
  const keys = objectKeys({ bucket: uploaded.bucket, key: uploaded.key, etag: uploaded.etag });
  const started = Date.now();
  for (;;) {
    const manifest = await readManifest(s3, uploaded.bucket, keys.manifest);
    const processed = await countProcessed(s3, uploaded.bucket, keys);
    await options.onUpdate?.({ manifest, processed });
    if (manifest?.error) throw new IngestFailedError(keys.manifest, manifest.error);
    const seconds = (Date.now() - started) / 1000;
    if (manifest && processed >= manifest.chunks) return { manifest, processed, seconds };
    if (Date.now() - started > options.timeoutMs) {
      const state = manifest ? `${processed} of ${manifest.chunks} CSV objects written` : `no manifest at ${keys.manifest} yet, ${processed} CSV objects`;
      throw new WatchTimeoutError(Math.round(options.timeoutMs / 1000), state);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}

/**
 * The closing summary: rides, rejects, chunks, objects and time.
 * @example
 * formatSummary(uploaded, done); // 'raw/rides.json: 1000 rides, 998 valid, 2 rejected …'
 */
export function formatSummary(uploaded: UploadedFile, done: Required<PipelineState> & { seconds: number }): string {
  const { manifest } = done;
  const keys = objectKeys({ bucket: uploaded.bucket, key: uploaded.key, etag: uploaded.etag });
  return [
    `${uploaded.key}: ${manifest.total} rides, ${manifest.valid} valid, ${manifest.rejected} rejected` +
      (manifest.rejected > 0 ? ` (s3://${uploaded.bucket}/${keys.rejects})` : ''),
    `${manifest.chunks} fan-out messages of up to ${manifest.ridesPerMessage} rides → ${done.processed} CSV objects ` +
      `in s3://${uploaded.bucket}/processed/ (${done.seconds.toFixed(1)} s after upload)`,
    `manifest: s3://${uploaded.bucket}/${keys.manifest}`,
    '',
  ].join('\n');
}

/** A bar on a TTY, otherwise one plain line whenever the state changes (CI logs, pipes). */
function reporter(stream: NodeJS.WriteStream) {
  if (stream.isTTY) {
    let bar: SingleBar | undefined;
    let phase: 'upload' | 'processed' | undefined;
    const start = (next: 'upload' | 'processed', total: number, format: string): SingleBar => {
      bar?.stop();
      phase = next;
      bar = new SingleBar({ stream, format, hideCursor: true, clearOnComplete: false });
      bar.start(total, 0);
      return bar;
    };
    return {
      bytes(loaded: number, total: number) {
        const current = phase === 'upload' && bar ? bar : start('upload', total, 'upload    {bar} {percentage}% | {value}/{total} bytes');
        current.update(loaded);
      },
      state(state: PipelineState) {
        if (!state.manifest) return;
        const current =
          phase === 'processed' && bar ? bar : start('processed', state.manifest.chunks, 'processed {bar} {percentage}% | {value}/{total} CSV objects');
        current.update(state.processed);
      },
      stop: () => bar?.stop(),
    };
  }
  let lastBytes = -1;
  let lastState = '';
  return {
    bytes(loaded: number, total: number) {
      const percent = Math.floor((100 * loaded) / Math.max(1, total));
      if (percent !== lastBytes && percent % 10 === 0) stream.write(`uploaded ${percent}% (${loaded}/${total} bytes)\n`);
      lastBytes = percent;
    },
    state(state: PipelineState) {
      const line = state.manifest
        ? `processed ${state.processed}/${state.manifest.chunks} CSV objects (${state.manifest.valid} valid rides, ${state.manifest.rejected} rejected)`
        : `ingesting… ${state.processed} CSV objects so far`;
      if (line !== lastState) stream.write(`${line}\n`);
      lastState = line;
    },
    stop: () => undefined,
  };
}

export interface UploadFlags {
  stack: string;
  region?: string;
  key?: string;
  wait: boolean;
  timeout: number;
  interval: number;
  local?: boolean;
  dataDir: string;
  s3Endpoint?: string;
}

/** What `rydes upload` does once its options are parsed (registered by upload-command.ts). */
export async function upload(file: string, flags: UploadFlags): Promise<void> {
  let s3: S3Client;
  let bucket: string;
  if (flags.local) {
    const env = localEnv(flags, ['s3']);
    s3 = createS3Client(env);
    bucket = BUCKET;
  } else {
    const env = flags.region ? { ...process.env, AWS_REGION: flags.region } : process.env;
    // Loaded here: other commands start without the CloudFormation client.
    const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
    const cloudformation = new CloudFormationClient(flags.region ? { region: flags.region } : {});
    await checkAwsSetup(cloudformation);
    bucket = (await stackOutputs(cloudformation, flags.stack)).BucketName;
    s3 = createS3Client(env);
  }
  const progress = reporter(process.stderr);
  try {
    const uploaded = await uploadRideFile(s3, { file, bucket, key: flags.key, onBytes: (loaded, total) => progress.bytes(loaded, total) });
    progress.stop();
    process.stderr.write(`uploaded s3://${uploaded.bucket}/${uploaded.key} (${uploaded.bytes} bytes, ETag ${uploaded.etag})\n`);
    if (!flags.wait) return;
    const done = await watchPipeline(s3, {
      uploaded,
      intervalMs: flags.interval,
      timeoutMs: flags.timeout * 1000,
      onUpdate: (state) => progress.state(state),
    });
    progress.stop();
    process.stdout.write(formatSummary(uploaded, done));
  } finally {
    progress.stop();
  }
}
