/**
 * The embedded default: an S3-protocol server (s3rver) and an SQS-protocol server
 * (local-aws-sqs) started in-process on free 127.0.0.1 ports. Used by the `rydes` CLI and by
 * integration tests; never bundled into a Lambda function.
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type S3rver from 's3rver';
import type { S3Event } from 'aws-lambda';
import { encodeEventKey } from '@rydes/ride-model';
import { countRawReads, strictConditionalRequests, type RawReads } from './strict-s3';
import { installFastListing } from './listing';
import { installLeanIds, installLeanRequests } from './lean-s3';
import { startSqs, type InProcessSqsHandler } from './sqs-server';
import { listObjectFiles, type ObjectFile } from './object-files';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import * as stream from 'node:stream';

export { LOCAL_SQS_HIGH_WATER, type InProcessSqsHandler } from './sqs-server';

export interface LocalServersOptions {
  /**
   * Where s3rver keeps objects; a fresh temp dir when omitted, gone when close() returns (renamed
   * aside and deleted by a detached `rm -rf` that may still be running).
   */
  directory?: string;
  /** Buckets to create at start (3–63 chars, s3rver checks). */
  buckets?: string[];
  region?: string;
  /**
   * Run s3rver in a worker thread, with an event loop (and so a core) of its own. A pipeline that
   * keeps both servers and its pollers on one event loop is bound by that one core: every
   * transform PUT and HEAD, every SQS receive and delete queue up behind each other.
   */
  s3Thread?: boolean;
  /** Waiting messages above which sends are held (default {@link LOCAL_SQS_HIGH_WATER}). */
  sqsHighWater?: number;
  /**
   * With `s3Thread`: a CommonJS file exporting `{ S3rver, utils, filesystem, object, account, event }`
   * — s3rver's class and its modules `lib/utils`, `lib/stores/filesystem`, `lib/models/object`,
   * `lib/models/account` and `lib/models/event` — bundled
   * into one file (esbuild), for the thread to load instead of node_modules (default: the
   * {@link S3RVER_BUNDLE_VAR} environment variable, else node_modules). s3rver and its packages
   * are ~280 modules: resolving and reading them one by one was most of the thread's start, which
   * every run waits for.
   */
  s3rverBundle?: string;
}

/** Environment variable naming the default {@link LocalServersOptions.s3rverBundle} (the CLI sets it to its build's). */
export const S3RVER_BUNDLE_VAR = 'RYDES_S3RVER_BUNDLE';

export interface LocalServers {
  s3Endpoint: string;
  sqsEndpoint: string;
  /**
   * For an SQSClient in this process (its `requestHandler`): requests reach the embedded SQS
   * without a socket (same protocol, server and send gate as {@link sqsEndpoint}).
   */
  sqsInProcess: InProcessSqsHandler;
  region: string;
  directory: string;
  /**
   * Environment for AWS SDK clients pointed at these servers (endpoints, region, dummy
   * credentials s3rver accepts). Merge into `process.env` or pass to the client factories.
   */
  env: Record<string, string>;
  /** s3rver's object-created notifications, in the shape of an S3 event. */
  onObjectCreated(listener: (event: S3Event) => void): () => void;
  /**
   * Bytes served so far per raw/ key (GetObject bodies, ranged included; see countRawReads). From
   * a worker thread the tally arrives every {@link RAW_READS_INTERVAL_MS}, so it may lag by that.
   */
  rawReads(): Record<string, RawReads>;
  /**
   * The file in which s3rver keeps the bytes of `bucket`/`key` (whether or not it exists), for a
   * reader on this machine that wants to skip a GET; undefined for a key whose path would leave
   * the bucket's folder. s3rver rewrites the file in place on a PUT: check what you read against
   * the object's ETag (its MD5 for a single-part upload) before trusting it.
   */
  objectFile(bucket: string, key: string): string | undefined;
  /**
   * The objects of `bucket` under `prefix` read from s3rver's folder (see listObjectFiles): for a
   * reader on this machine that would otherwise list them through HTTP. Call it while nothing
   * writes the bucket.
   */
  listObjectFiles(bucket: string, prefix?: string): ObjectFile[];
  /**
   * Stores a local file as `bucket`/`key` as a plain PutObject of its bytes would (same object
   * files, ETag and ObjectCreated:Put notification, sent once the object is complete), read by
   * the S3 server itself instead of sent to it over HTTP. `bytes`: the size the file must have
   * (else {@link LocalFileSizeError}, nothing stored); `metadata`: the headers s3rver keeps
   * (default `content-type: application/octet-stream`, what the SDK's PutObject of a stream sends).
   */
  putFile(bucket: string, key: string, file: string, options?: { bytes?: number; metadata?: Record<string, string> }): Promise<{ etag: string; size: number }>;
  /**
   * The V8 heap of s3rver's worker thread (its young-generation limit and the size of each heap
   * space, MB); undefined when s3rver runs on the caller's thread.
   */
  s3ThreadHeap(): Promise<ThreadHeap | undefined>;
  close(): Promise<void>;
}

/** A worker thread's V8 heap: its young-generation limit and each heap space's size, MB. */
export interface ThreadHeap {
  youngGenerationMb: number;
  spacesMb: Record<string, number>;
}

/**
 * Young generation of s3rver's worker thread, MB (V8's default gives it up to 16 MB of new space).
 * What the thread allocates per request is short-lived (Koa's context, headers) or a Buffer whose
 * memory lives outside the V8 heap until its wrapper is collected: a small young generation is
 * scavenged more often, cheaply, and frees those buffers sooner. At 200,000 rides the CLI process
 * peaked lower with it at the same GC time on the thread (README, "Memory and cold starts").
 */
export const S3_THREAD_YOUNG_GENERATION_MB = 6;

/** How often s3rver's worker thread sends its raw/ read tally to the parent. */
export const RAW_READS_INTERVAL_MS = 200;

/**
 * Starts both servers on ephemeral loopback ports.
 * @example
 * const local = await startLocalServers({ buckets: ['rides-local'] });
 * Object.assign(process.env, local.env);
 * await local.close();
 */
export async function startLocalServers(options: LocalServersOptions = {}): Promise<LocalServers> {
  const region = options.region ?? 'us-east-1';
  const ownDir = options.directory === undefined;
  if (ownDir) sweepLeftovers(tmpdir());
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'rydes-s3-')));

  const s3Options = {
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  };
  // Hard-linked metadata.json files (lean-s3.ts) only in a folder that no other s3rver will write.
  const s3 = options.s3Thread
    ? await startS3Thread(s3Options, options.s3rverBundle ?? (process.env[S3RVER_BUNDLE_VAR] || undefined), ownDir)
    : await startS3InProcess(s3Options, ownDir);
  const s3Endpoint = `http://127.0.0.1:${s3.port}`;

  let sqs: Awaited<ReturnType<typeof startSqs>>;
  try {
    sqs = await startSqs(options.sqsHighWater);
  } catch (err) {
    await s3.close();
    throw err;
  }
  const sqsEndpoint = `http://127.0.0.1:${sqs.port}`;

  const env = {
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    AWS_REGION: region,
    // s3rver's documented static credentials; local-aws-sqs accepts any.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };

  return {
    s3Endpoint,
    sqsEndpoint,
    sqsInProcess: sqs.inProcess,
    region,
    directory,
    env,
    onObjectCreated(listener) {
      return s3.onEvent((event) => listener(encodeEventKeys(event)));
    },
    rawReads: () => s3.rawReads(),
    objectFile: (bucket, key) => objectFile(directory, bucket, key),
    listObjectFiles: (bucket, prefix) => listObjectFiles(directory, bucket, prefix),
    async putFile(bucket, key, file, putOptions = {}) {
      const request = { bucket, key, file, bytes: putOptions.bytes, metadata: putOptions.metadata ?? { 'content-type': 'application/octet-stream' }, host: `127.0.0.1:${s3.port}` };
      const { size, md5 } = await s3.putFile(request).catch((err: Error & { code?: string; read?: number }) => {
        if (err.code === 'EGREW' || err.code === 'ESHRANK') throw new LocalFileSizeError(file, putOptions.bytes ?? 0, err.code === 'EGREW' ? undefined : err.read ?? 0);
        throw err;
      });
      return { etag: `"${md5}"`, size };
    },
    s3ThreadHeap: () => s3.heap?.() ?? Promise.resolve(undefined),
    async close() {
      await Promise.all([
        s3.close(),
        sqs.close(),
      ]);
      if (ownDir) await removeInBackground(directory);
    },
  };
}

/**
 * {@link LocalServers.putFile} found the file larger (`read` undefined) or smaller (`read` bytes)
 * than the size it was given: nothing was stored.
 */
export class LocalFileSizeError extends Error {
  constructor(readonly file: string, readonly expected: number, readonly read?: number) {
    super(read === undefined ? `${file} grew past ${expected} bytes` : `${file} shrank to ${read} of ${expected} bytes`);
    this.name = 'LocalFileSizeError';
  }
}

/** A {@link LocalServers.putFile} request as the store takes it. */
interface PutFileRequest {
  bucket: string;
  key: string;
  file: string;
  bytes?: number;
  metadata: Record<string, string>;
  host: string;
}

type S3rverOptions = ConstructorParameters<typeof S3rver>[0];

/** A running s3rver, wherever it runs. */
interface S3Handle {
  port: number;
  onEvent(listener: (event: S3Event) => void): () => void;
  rawReads(): Record<string, RawReads>;
  /** Stores a local file as a plain PutObject would (the store's own MD5 and event). */
  putFile(request: PutFileRequest): Promise<{ size: number; md5: string }>;
  heap?(): Promise<ThreadHeap>;
  close(): Promise<void>;
}

async function startS3InProcess(options: S3rverOptions, shareMetadata: boolean): Promise<S3Handle> {
  const lib = dirname(require.resolve('s3rver'));
  installLeanIds(require(join(lib, 'utils')), crypto);
  // Loaded on demand: a CLI that runs s3rver in its worker thread never pays for it twice.
  const S3rverClass = require('s3rver') as typeof S3rver;
  const s3 = new S3rverClass(options);
  // Lean first: the fast listing wraps the store's writes, the lean store replaces putObject.
  installLeanRequests(s3 as unknown as Parameters<typeof installLeanRequests>[0], require(join(lib, 'stores', 'filesystem')), require(join(lib, 'models', 'object')), { fs, path, crypto, stream }, { AWSAccount: require(join(lib, 'models', 'account')), S3Event: require(join(lib, 'models', 'event')) }, { shareMetadata });
  installFastListing(require(join(lib, 'stores', 'filesystem')), require(join(lib, 'models', 'object')), fs, path, crypto);
  // First in s3rver's Koa chain: every request meets S3's conditional-request rules (strict-s3.ts).
  (s3 as unknown as { middleware: unknown[] }).middleware.unshift(strictConditionalRequests);
  // Outermost: counts what is finally sent, after the strict front has had its say.
  (s3 as unknown as { middleware: unknown[] }).middleware.unshift(countRawReads);
  const address = (await s3.run()) as unknown as AddressInfo;
  // s3rver is a Koa app (an EventEmitter); its typings omit the emitter methods.
  const emitter = s3 as unknown as EventEmitter;
  return {
    port: address.port,
    onEvent(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
    rawReads: () => structuredClone((s3 as unknown as { rydesRawReads?: Record<string, RawReads> }).rydesRawReads ?? {}),
    putFile: (request) => (s3 as unknown as { rydesPutFile(request: PutFileRequest): Promise<{ size: number; md5: string }> }).rydesPutFile(request),
    close: () => s3.close(),
  };
}

/*
 * The worker's whole program. Plain CommonJS evaluated by the worker, so it works the same from
 * ts-jest, tsx and the esbuild bundle of the CLI; s3rver is required by the path the parent
 * resolved. Events are forwarded as messages (structured clone keeps their Dates).
 */
const S3_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
// Transpilers that keep function names (esbuild's keepNames, which tsx turns on) wrap inner
// functions in __name(fn, "name"); the middlewares' source text arrives without that helper.
const __name = (target) => target;
// s3rver and the five of its modules used below: from one bundled file when given (see
// LocalServersOptions.s3rverBundle), else from node_modules.
const lib = require('node:path').dirname(workerData.s3rverPath);
// Only utils is loaded here: installLeanIds patches it before s3rver's event model is loaded (the
// getters, and the bundle's), which keeps the randomHexString it finds at load.
const s3rver = workerData.s3rverBundle
  ? require(workerData.s3rverBundle)
  : {
      utils: require(lib + '/utils'),
      get S3rver() { return require(workerData.s3rverPath); },
      get filesystem() { return require(lib + '/stores/filesystem'); },
      get object() { return require(lib + '/models/object'); },
      get account() { return require(lib + '/models/account'); },
      get event() { return require(lib + '/models/event'); },
    };
eval('(' + workerData.idsSource + ')')(s3rver.utils, require('node:crypto'));
const s3 = new s3rver.S3rver(workerData.options);
eval('(' + workerData.leanSource + ')')(s3, s3rver.filesystem, s3rver.object, { fs: require('node:fs'), path: require('node:path'), crypto: require('node:crypto'), stream: require('node:stream') }, { AWSAccount: s3rver.account, S3Event: s3rver.event }, { shareMetadata: workerData.shareMetadata });
eval('(' + workerData.listingSource + ')')(s3rver.filesystem, s3rver.object, require('node:fs'), require('node:path'), require('node:crypto'));
s3.middleware.unshift(eval('(' + workerData.strictSource + ')'));
s3.middleware.unshift(eval('(' + workerData.countSource + ')'));
// Events of one turn of the loop go in one message: a postMessage per object (one per ride with
// --rides-per-message 1) cost the thread more than several of s3rver's own steps per PUT.
let events = [];
const flushEvents = () => {
  if (events.length === 0) return;
  const batch = events;
  events = [];
  parentPort.postMessage({ type: 'events', events: batch });
};
s3.on('event', (event) => {
  if (events.push(event) === 1) setImmediate(flushEvents);
});
let sent = '';
const sendReads = () => {
  const reads = JSON.stringify(s3.rydesRawReads || {});
  if (reads !== sent) parentPort.postMessage({ type: 'reads', reads: JSON.parse(reads) });
  sent = reads;
};
const readsTimer = setInterval(sendReads, workerData.readsIntervalMs);
readsTimer.unref();
parentPort.on('message', (message) => {
  if (message.type === 'heap') {
    const spacesMb = {};
    for (const space of require('node:v8').getHeapSpaceStatistics()) spacesMb[space.space_name] = space.space_size / 1048576;
    parentPort.postMessage({ type: 'heap', heap: { youngGenerationMb: require('node:worker_threads').resourceLimits.maxYoungGenerationSizeMb, spacesMb } });
  }
  if (message.type === 'putFile') {
    s3.rydesPutFile(message.request).then(
      (stored) => {
        // Its event first, as an HTTP PUT's event is emitted before its answer.
        flushEvents();
        parentPort.postMessage({ type: 'putFile', id: message.id, stored });
      },
      (err) => parentPort.postMessage({ type: 'putFile', id: message.id, error: { message: String((err && err.message) || err), code: err && err.code, read: err && err.read } }),
    );
  }
  if (message.type === 'close') {
    clearInterval(readsTimer);
    flushEvents();
    sendReads();
    s3.close().then(() => parentPort.postMessage({ type: 'closed' }));
  }
});
s3.run().then(
  (address) => parentPort.postMessage({ type: 'ready', port: address.port }),
  (err) => parentPort.postMessage({ type: 'error', message: String((err && err.stack) || err) }),
);
`;

async function startS3Thread(options: S3rverOptions, bundle: string | undefined, shareMetadata: boolean): Promise<S3Handle> {
  const worker = new Worker(S3_WORKER, {
    eval: true,
    resourceLimits: { maxYoungGenerationSizeMb: S3_THREAD_YOUNG_GENERATION_MB },
    workerData: {
      s3rverPath: require.resolve('s3rver'),
      s3rverBundle: bundle,
      options,
      strictSource: strictConditionalRequests.toString(),
      countSource: countRawReads.toString(),
      readsIntervalMs: RAW_READS_INTERVAL_MS,
      listingSource: installFastListing.toString(),
      leanSource: installLeanRequests.toString(),
      idsSource: installLeanIds.toString(),
      shareMetadata,
    },
  });
  const listeners = new Set<(event: S3Event) => void>();
  let reads: Record<string, RawReads> = {};
  const puts = new Map<number, { resolve(stored: { size: number; md5: string }): void; reject(err: Error): void }>();
  let nextPut = 1;
  worker.on('message', (message: { type: string; events?: S3Event[]; reads?: Record<string, RawReads>; id?: number; stored?: { size: number; md5: string }; error?: { message: string; code?: string; read?: number } }) => {
    if (message.type === 'events' && message.events) for (const event of message.events) for (const listener of listeners) listener(event);
    if (message.type === 'reads' && message.reads) reads = message.reads;
    if (message.type === 'putFile' && message.id !== undefined) {
      const put = puts.get(message.id);
      puts.delete(message.id);
      if (message.stored) put?.resolve(message.stored);
      else put?.reject(Object.assign(new Error(message.error?.message ?? 'putFile failed'), { code: message.error?.code, read: message.error?.read }));
    }
  });
  // A thread that ends fails the puts still waiting for it.
  worker.once('exit', (code) => {
    for (const put of puts.values()) put.reject(new Error(`s3rver worker exited with code ${code}`));
    puts.clear();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: { type: string; port?: number; message?: string }) => {
      if (message.type === 'ready') resolve(message.port as number);
      if (message.type === 'error') reject(new Error(`s3rver did not start: ${message.message}`));
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`s3rver worker exited with code ${code} before it was ready`)));
  });
  return {
    port,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    rawReads: () => structuredClone(reads),
    putFile: (request) =>
      new Promise((resolve, reject) => {
        const id = nextPut++;
        puts.set(id, { resolve, reject });
        worker.postMessage({ type: 'putFile', id, request });
      }),
    heap: () =>
      new Promise<ThreadHeap>((resolve) => {
        const onHeap = (message: { type: string; heap?: ThreadHeap }) => {
          if (message.type !== 'heap' || !message.heap) return;
          worker.off('message', onHeap);
          resolve(message.heap);
        };
        worker.on('message', onHeap);
        worker.postMessage({ type: 'heap' });
      }),
    async close() {
      const closed = new Promise<void>((resolve) => {
        worker.on('message', (message: { type: string }) => message.type === 'closed' && resolve());
        worker.once('exit', () => resolve());
      });
      worker.postMessage({ type: 'close' });
      await closed;
      await worker.terminate();
    },
  };
}

/**
 * Removes a folder without waiting for it: renamed aside at once (so `directory` is gone when
 * this returns and a new folder of that name is never touched), then deleted by a detached
 * `rm -rf` that outlives this process. With one object per ride s3rver's temp folder holds three
 * files per object (600,000 for 200,000 rides); deleting them one by one took minutes after the
 * run had written and printed everything. Where `rm` cannot be started (Windows), or the rename
 * fails, the folder is deleted here and waited for.
 */
async function removeInBackground(directory: string, doomed = `${directory}.removing`): Promise<void> {
  try {
    if (process.platform === 'win32') throw new Error('no rm');
    if (doomed !== directory) await rename(directory, doomed);
  } catch {
    await rm(directory, { recursive: true, force: true });
    return;
  }
  const started = await new Promise<boolean>((resolve) => {
    const child = spawn('rm', ['-rf', '--', doomed], { detached: true, stdio: 'ignore' });
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
    child.unref();
  });
  if (!started) await rm(doomed, { recursive: true, force: true });
}

/** How old a `rydes-s3-*.removing` folder must be before a later start deletes it: its own `rm` is long over. */
export const LEFTOVER_AGE_MS = 15 * 60_000;

/**
 * Folders renamed aside by {@link removeInBackground} whose `rm` never ran or was killed (the
 * process ended between the rename and the spawn, the machine went down) are deleted in the
 * background by the next start that owns a temp folder, once {@link LEFTOVER_AGE_MS} old.
 * Returns how many it found.
 */
export function sweepLeftovers(parent: string, now = Date.now()): number {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return 0;
  }
  let found = 0;
  for (const name of names) {
    if (!/^rydes-s3-.+\.removing$/.test(name)) continue;
    const folder = join(parent, name);
    try {
      const stat = fs.lstatSync(folder);
      if (!stat.isDirectory() || now - stat.mtimeMs < LEFTOVER_AGE_MS) continue;
      if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) continue;
    } catch {
      continue;
    }
    found++;
    void removeInBackground(folder, folder);
  }
  return found;
}

/** s3rver's FilesystemStore.getResourcePath for an object's bytes (its key encoding on Windows included). */
export function objectFile(directory: string, bucket: string, key: string): string | undefined {
  const encoded = process.platform === 'win32' ? key.replace(/[<>:"\\|?*]/g, (ch) => '&' + Buffer.from(ch, 'utf8').toString('hex')) : key;
  const parts = encoded.split('/');
  const name = `${parts.pop()}._S3rver_object`;
  const bucketDir = join(directory, bucket);
  const file = join(bucketDir, ...parts, name);
  return file.startsWith(bucketDir + path.sep) ? file : undefined;
}

/**
 * s3rver puts keys into its events verbatim; S3 form-encodes them (spaces as `+`, UTF-8
 * percent-escapes, `/` kept), and handlers decode them, so `raw/a+b.json` would otherwise
 * become `raw/a b.json`.
 */
function encodeEventKeys(event: S3Event): S3Event {
  return {
    ...event,
    Records: event.Records.map((r) => ({ ...r, s3: { ...r.s3, object: { ...r.s3.object, key: encodeEventKey(r.s3.object.key) } } })),
  };
}
