/**
 * The embedded default: an S3-protocol server (s3rver) and an SQS-protocol server
 * (local-aws-sqs) started in-process on free 127.0.0.1 ports. Used by the `rydes` CLI and by
 * integration tests; never bundled into a Lambda function.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { createSqsServer } from 'local-aws-sqs';
import type { S3Event } from 'aws-lambda';

export interface LocalServersOptions {
  /** Where s3rver keeps objects; a fresh temp dir (removed on close) when omitted. */
  directory?: string;
  /** Buckets to create at start (3–63 chars, s3rver checks). */
  buckets?: string[];
  region?: string;
}

export interface LocalServers {
  s3Endpoint: string;
  sqsEndpoint: string;
  region: string;
  directory: string;
  /**
   * Environment for AWS SDK clients pointed at these servers (endpoints, region, dummy
   * credentials s3rver accepts). Merge into `process.env` or pass to the client factories.
   */
  env: Record<string, string>;
  /** s3rver's object-created notifications, in the shape of an S3 event. */
  onObjectCreated(listener: (event: S3Event) => void): () => void;
  close(): Promise<void>;
}

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
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'rydes-s3-')));

  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  const s3Address = (await s3.run()) as unknown as AddressInfo;
  const s3Endpoint = `http://127.0.0.1:${s3Address.port}`;

  let sqs: Server;
  try {
    sqs = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  } catch (err) {
    await s3.close();
    throw err;
  }
  const sqsEndpoint = `http://127.0.0.1:${(sqs.address() as AddressInfo).port}`;

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
    region,
    directory,
    env,
    onObjectCreated(listener) {
      // s3rver is a Koa app (an EventEmitter); its typings omit the emitter methods.
      const emitter = s3 as unknown as EventEmitter;
      const wrapped = (event: S3Event) => listener(encodeEventKeys(event));
      emitter.on('event', wrapped);
      return () => emitter.off('event', wrapped);
    },
    async close() {
      await Promise.all([
        s3.close(),
        new Promise<void>((resolve) => {
          sqs.closeAllConnections?.();
          sqs.close(() => resolve());
        }),
      ]);
      if (ownDir) await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * s3rver puts keys into its events verbatim; S3 form-encodes them (spaces as `+`, UTF-8
 * percent-escapes, `/` kept), and handlers decode them, so `raw/a+b.json` would otherwise
 * become `raw/a b.json`.
 */
function encodeEventKeys(event: S3Event): S3Event {
  const encode = (key: string) => encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');
  return {
    ...event,
    Records: event.Records.map((r) => ({ ...r, s3: { ...r.s3, object: { ...r.s3.object, key: encode(r.s3.object.key) } } })),
  };
}
