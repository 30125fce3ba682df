import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, createSqsClient, putObject } from '@rydes/aws-adapters';
import { decodeEventKey, findControlCharacter, matchesIngestTrigger } from '@rydes/ride-model';
import { InputFileError } from '../errors';
import { step, STEPS_ON } from '../run/steps';
import { startFaultProxy, startLocalServers, type FaultProxy, type LocalServers } from '@rydes/local-aws';
import { appendFileSync, closeSync, createReadStream, existsSync, mkdirSync, openSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AsyncInvoker } from '../lambda/async-invoker';
import { SqsEventSource, type BatchReport } from '../lambda/event-source';
import { endEarly, forkEarly, FunctionPool, type EarlyEnvironment } from '../lambda/pool';
import { defaultBundles, type BundlePaths } from './bundles';
import type { FaultInjector } from '../chaos/spec';
import { startInvokeEndpoint, type LocalFunction } from './invoke-endpoint';
import {
  BUCKET,
  FANOUT_DLQ,
  FANOUT_QUEUE,
  INGEST_DLQ,
  INGEST_FUNCTION,
  INGEST_MEMORY_MB,
  localTimeouts,
  FANOUT_MAX_MESSAGE_BYTES,
  MAX_RECEIVE_COUNT,
  TRANSFORM_FUNCTION,
  TRANSFORM_MEMORY_MB,
} from './names';

export interface StackOptions {
  /** s3rver's folder; kept between runs when given, a temp dir removed on close otherwise. */
  dataDir?: string;
  /** Transform execution environments (two pollers each). */
  concurrency: number;
  ridesPerMessage: number;
  /** Local station catalogue, uploaded to stations/ and passed as STATIONS_URI. */
  stationsFile?: string;
  /** Fan-out visibility timeout; default 6 × the function timeout (names.ts localTimeouts). */
  /** Local GHCN inventory, uploaded beside the catalogue and passed as INVENTORY_URI. */
  inventoryFile?: string;
  /** REQUIRED_ELEMENTS of the transform (with an inventory; default TMIN, TMAX, PRCP). */
  requiredElements?: string[];
  visibilityTimeoutSeconds?: number;
  /** The transform's timeout, s (`--function-timeout`); the ingest's and the visibility timeout follow it. */
  functionTimeoutSeconds?: number;
  /** Async-retry delays of the ingest function, ms (Lambda: about 1 and 2 minutes). */
  ingestRetryDelaysMs?: number[];
  /** Function logs to stderr instead of `<data dir>/logs/`. */
  verbose?: boolean;
  /** Where the function logs go (default `<data dir>/logs/`, inside the temp dir without one). */
  logDir?: string;
  logLevel?: string;
  bundles?: BundlePaths;
  /** Fault injection beneath the functions: proxies in front of S3/SQS, crashes, duplicates. */
  chaos?: FaultInjector;
  /** Extra variables for both functions (test bundles, fault injection). */
  extraEnvironment?: Record<string, string>;
  onBatch?: (batch: BatchReport) => void;
}

/** An S3 notification of the local bucket, reduced to what completion needs. */
export interface ObjectEvent {
  /** `ObjectCreated:Put`, `ObjectRemoved:Delete`, … */
  eventName: string;
  key: string;
}

export interface QueueRef {
  url: string;
  arn: string;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

/** The embedded pipeline: servers, bucket, queues and both functions wired as the CDK stack does. */
export interface LocalStack {
  servers: LocalServers;
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queues: { fanout: QueueRef; fanoutDlq: QueueRef; ingestDlq: QueueRef };
  stationsUri?: string;
  inventoryUri?: string;
  ingest: AsyncInvoker;
  ingestPool: FunctionPool;
  transformPool: FunctionPool;
  transform: SqsEventSource;
  logDir: string;
  /** The Lambda Invoke API of the local functions (AWS_ENDPOINT_URL_LAMBDA). */
  lambdaEndpoint: string;
  /** With chaos: the proxies the functions reach S3 and SQS through (the stack's own clients bypass them). */
  faultProxies?: { S3: FaultProxy; SQS: FaultProxy };
  depth(queue: QueueRef): Promise<QueueDepth>;
  /**
   * Every object created or removed in the bucket, as s3rver notifies it (key decoded): what the
   * run itself wrote, known without listing. s3rver does not notify DeleteObjects (multi-delete).
   */
  onObjectEvent(listener: (event: ObjectEvent) => void): () => void;
  /** Uploads a local file to raw/ (multipart above 5 MiB); its notification starts an ingest. */
  upload(file: string, key?: string): Promise<{ key: string; etag: string }>;
  close(): Promise<void>;
}

/**
 * Starts s3rver and local-aws-sqs on free loopback ports and wires the built bundles to them:
 * raw/ notifications → ingest (async invocation, 2 retries, ingest DLQ); fan-out queue → transform
 * (event source mapping, batches of ≤ 10, ReportBatchItemFailures, redrive after 5 receives).
 * @example
 * const stack = await startStack({ concurrency: 2, ridesPerMessage: 100 });
 * await stack.upload('rides.json');
 * await stack.close();
 */
export async function startStack(options: StackOptions): Promise<LocalStack> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const timeouts = localTimeouts(options.functionTimeoutSeconds, options.visibilityTimeoutSeconds);
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const bundles = options.bundles ?? defaultBundles();
  // The ingest's environment, whose init the first event waits for, is forked before the servers
  // start when its log file is known by then: it boots Node and loads Node's modules beside the
  // local S3's start (a core the CLI leaves idle meanwhile), and gets its function's environment
  // (endpoints, queue) when its pool takes it. (All three forked then lost: three Node starts
  // delayed the local S3's, README "Where the default run stands against its floor".)
  let earlyLog: number | 'inherit' | undefined;
  const early: EarlyEnvironment[] = [];
  const closeEarly = () => {
    endEarly(early);
    if (typeof earlyLog === 'number') closeSync(earlyLog);
    earlyLog = undefined;
  };
  let servers: LocalServers;
  try {
    if ((options.verbose || options.logDir) && existsSync(bundles.ingest)) {
      if (!options.verbose && options.logDir) mkdirSync(options.logDir, { recursive: true });
      earlyLog = options.verbose || !options.logDir ? 'inherit' : openSync(join(options.logDir, 'ingest-fn.log'), 'a');
      early.push(forkEarly(bundles.ingest, INGEST_MEMORY_MB, earlyLog, INGEST_FUNCTION));
      step('ingest environment forked early');
    }
    servers = await startLocalServers({
      directory: options.dataDir ? join(options.dataDir, 's3') : undefined,
      buckets: [BUCKET],
      // The CLI's event loop also runs local-aws-sqs, the pollers and the completion checks.
      s3Thread: true,
    });
  } catch (err) {
    closeEarly();
    throw err;
  }
  step('servers started');
  // Closed in reverse: an early environment no pool took, and its log file, after the pools.
  const closers: Array<() => Promise<void> | void> = [() => servers.close(), closeEarly];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const closer of closers.reverse()) await closer();
    })());
  try {
    const s3 = createS3Client(servers.env);
    const sqs = createSqsClient(servers.env);
    closers.push(() => s3.destroy(), () => sqs.destroy());

    const fanoutDlq = await createQueue(sqs, FANOUT_DLQ, {});
    const ingestDlq = await createQueue(sqs, INGEST_DLQ, {});
    const fanout = await createQueue(sqs, FANOUT_QUEUE, {
      VisibilityTimeout: String(timeouts.visibilitySeconds),
      // Our messages stay ≤ 200 KiB; local-aws-sqs enforces the attribute as SQS does.
      MaximumMessageSize: String(FANOUT_MAX_MESSAGE_BYTES),
      RedrivePolicy: JSON.stringify({ maxReceiveCount: MAX_RECEIVE_COUNT, deadLetterTargetArn: fanoutDlq.arn }),
    });

    step('queues created');
    let stationsUri: string | undefined;
    if (options.stationsFile) {
      const key = `stations/${basename(options.stationsFile)}`;
      await putObject(s3, BUCKET, key, createReadStream(options.stationsFile));
      stationsUri = `s3://${BUCKET}/${key}`;
    }
    let inventoryUri: string | undefined;
    if (options.inventoryFile) {
      const key = `stations/inventory/${basename(options.inventoryFile)}`;
      await putObject(s3, BUCKET, key, createReadStream(options.inventoryFile));
      inventoryUri = `s3://${BUCKET}/${key}`;
    }

    step('stations put');
    const logDir = options.logDir ?? join(options.dataDir ?? servers.directory, 'logs');
    mkdirSync(logDir, { recursive: true });
    const logFd = (name: string): number | 'inherit' => {
      if (name === 'ingest-fn' && earlyLog !== undefined) return earlyLog;
      if (options.verbose) return 'inherit';
      const fd = openSync(join(logDir, `${name}.log`), 'a');
      closers.push(() => closeSync(fd));
      return fd;
    };
    const functions: Record<string, LocalFunction> = {};
    const invokeEndpoint = await startInvokeEndpoint(functions);
    closers.push(() => invokeEndpoint.close());
    const { chaos } = options;
    let faultProxies: LocalStack['faultProxies'];
    if (chaos) {
      const s3Proxy = await startFaultProxy('S3', servers.s3Endpoint, chaos);
      closers.push(() => s3Proxy.close());
      const sqsProxy = await startFaultProxy('SQS', servers.sqsEndpoint, chaos);
      closers.push(() => sqsProxy.close());
      faultProxies = { S3: s3Proxy, SQS: sqsProxy };
    }
    const awsEnv = {
      ...servers.env,
      // Only the functions' environment: s3/sqs above (uploads, completion checks, downloads, the event source) stay direct.
      ...(faultProxies && { AWS_ENDPOINT_URL_S3: faultProxies.S3.url, AWS_ENDPOINT_URL_SQS: faultProxies.SQS.url }),
      AWS_ENDPOINT_URL_LAMBDA: invokeEndpoint.url,
      LOG_LEVEL: options.logLevel ?? 'info',
      ...options.extraEnvironment,
    };

    const ingestPool = new FunctionPool({
      name: INGEST_FUNCTION,
      bundle: bundles.ingest,
      environment: { CONTINUE_BELOW_MS: String(timeouts.handOffMarginMs), ...awsEnv, OUTPUT_QUEUE: fanout.url, RIDES_PER_MESSAGE: String(options.ridesPerMessage) },
      timeoutSeconds: timeouts.ingestSeconds,
      memoryMb: INGEST_MEMORY_MB,
      maxConcurrency: Math.max(1, options.concurrency),
      logFd: logFd('ingest-fn'),
      early,
    });
    const transformPool = new FunctionPool({
      name: TRANSFORM_FUNCTION,
      bundle: bundles.transform,
      environment: {
        ...awsEnv,
        OUTPUT_BUCKET: BUCKET,
        ...(stationsUri && { STATIONS_URI: stationsUri }),
        ...(inventoryUri && { INVENTORY_URI: inventoryUri }),
        ...(inventoryUri && options.requiredElements && { REQUIRED_ELEMENTS: options.requiredElements.join(',') }),
      },
      timeoutSeconds: timeouts.transformSeconds,
      memoryMb: TRANSFORM_MEMORY_MB,
      maxConcurrency: Math.max(1, options.concurrency),
      logFd: logFd('transform-fn'),
      ...(chaos && { crash: () => chaos.strike('transform-crash') }),
    });
    closers.push(() => ingestPool.close(), () => transformPool.close());
    // Their init overlaps the upload and the ingest instead of delaying the first event of each.
    ingestPool.prewarm(1);
    transformPool.prewarm();
    step('environments forked');

    const ingest = new AsyncInvoker(ingestPool, {
      sqs,
      functionArn: `arn:aws:lambda:${servers.region}:123456789012:function:${INGEST_FUNCTION}`,
      deadLetterQueueUrl: ingestDlq.url,
      retryDelaysMs: options.ingestRetryDelaysMs,
    });
    closers.push(() => ingest.stop());
    functions[INGEST_FUNCTION] = { pool: ingestPool, async: ingest };
    const unsubscribe = servers.onObjectCreated((event) => {
      // s3rver also reports deletions; the deployed notification is for ObjectCreated only.
      const records = event.Records.filter(
        (r) => r.eventName.startsWith('ObjectCreated') && r.s3.bucket.name === BUCKET && matchesIngestTrigger(decodeEventKey(r.s3.object.key)),
      );
      // S3 sends one notification per object; each is its own async invocation.
      for (const record of records) {
        if (STEPS_ON) step(`ingest invoked ${record.s3.object.key}`);
        ingest.invoke({ Records: [record] });
      }
    });
    closers.push(unsubscribe);

    // Lambda's pollers are part of the service, not SQS clients on a network: ours reach the
    // embedded SQS in this process (same protocol and server, no socket), and skip the SDK's MD5
    // check of received bodies, which never left this process.
    const pollerSqs = createSqsClient(servers.env, { requestHandler: servers.sqsInProcess, md5: false });
    closers.push(() => pollerSqs.destroy());
    const transform = new SqsEventSource(transformPool, {
      sqs: pollerSqs,
      direct: servers.sqsInProcess.direct,
      queueUrl: fanout.url,
      queueArn: fanout.arn,
      region: servers.region,
      // Two per environment: the next batch is received while an environment runs one (the pool
      // queues the invocation; at most `concurrency` run), so no environment waits on a receive. A
      // batch waits at most one invocation before its own starts (its visibility clock runs meanwhile).
      pollers: 2 * Math.max(1, options.concurrency),
      onBatch: options.onBatch,
      onError: (kind, err) => appendFileSync(join(logDir, 'event-source.log'), JSON.stringify({ time: new Date().toISOString(), kind, name: err.name, message: err.message }) + '\n'),
      ...(chaos && { duplicate: () => chaos.strike('duplicate-delivery') }),
    });
    transform.start();
    closers.push(() => transform.stop());

    return {
      servers,
      s3,
      sqs,
      bucket: BUCKET,
      queues: { fanout, fanoutDlq, ingestDlq },
      stationsUri,
      inventoryUri,
      ingest,
      ingestPool,
      transformPool,
      transform,
      logDir,
      lambdaEndpoint: invokeEndpoint.url,
      faultProxies,
      depth: (queue) => depth(sqs, queue),
      onObjectEvent: (listener) =>
        servers.onObjectCreated((event) => {
          for (const record of event.Records) {
            if (record.s3.bucket.name === BUCKET) listener({ eventName: record.eventName, key: decodeEventKey(record.s3.object.key) });
          }
        }),
      async upload(file, key = `raw/${basename(file)}`) {
        const bad = findControlCharacter(key);
        if (bad) throw new InputFileError(file, `its key ${JSON.stringify(key)} holds the control character ${bad.codePoint}: the CSV's source column must be one line; rename the file`);
        const { etag } = await putObject(s3, BUCKET, key, createReadStream(file));
        return { key, etag };
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<QueueRef> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = QueueUrl ?? '';
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: Attributes?.QueueArn ?? '' };
}

async function depth(sqs: SQSClient, queue: QueueRef): Promise<QueueDepth> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const inFlight = Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  return {
    // local-aws-sqs counts in-flight messages in ApproximateNumberOfMessages too (real SQS does not).
    visible: Math.max(0, Number(Attributes.ApproximateNumberOfMessages ?? 0) - inFlight),
    inFlight,
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}
