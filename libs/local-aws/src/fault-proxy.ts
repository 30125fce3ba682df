import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

/** The faults a proxy can inject: a 503 on an S3 write, an S3 read or an SQS send. */
export type ProxyFault = 's3-put-error' | 's3-get-error' | 'sqs-send-error';

/** What a proxy asks before forwarding a request (`rydes run --chaos` passes its seeded injector). */
export interface ProxyFaults {
  /** True (and counted by the caller) when this opportunity gets the fault. */
  strike(fault: ProxyFault): boolean;
  /** True when writes of `key` are refused for good with a 403. */
  poisoned(key: string): boolean;
}

export type Service = 'S3' | 'SQS';

export interface ProxyStats {
  /** Requests received, by operation: the SQS action (X-Amz-Target) or the S3 HTTP method. */
  requests: Record<string, number>;
  /** Requests the SDK sent as a retry of an earlier attempt. */
  retries: number;
}

export interface FaultProxy {
  url: string;
  stats: ProxyStats;
  /** Stops listening and ends every client and upstream connection; nothing stays open. */
  close(): Promise<void>;
}

/** Which transient fault a request to S3 or SQS is an opportunity for (none for HEAD, DELETE, SQS reads). */
export function faultFor(service: Service, req: IncomingMessage): ProxyFault | undefined {
  if (service === 'S3') {
    if (req.method === 'PUT' || req.method === 'POST') return 's3-put-error';
    if (req.method === 'GET') return 's3-get-error';
    return undefined;
  }
  return /^(SendMessage|SendMessageBatch)$/.test(operationOf('SQS', req)) ? 'sqs-send-error' : undefined;
}

/**
 * The attempt number the AWS SDK v3 retry middleware stamps on every request
 * (`amz-sdk-request: attempt=2; max=3`); 1 when absent.
 */
export function attemptOf(req: IncomingMessage): number {
  const match = /attempt=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''));
  return match ? Number(match[1]) : 1;
}

function operationOf(service: Service, req: IncomingMessage): string {
  if (service === 'SQS') return String(req.headers['x-amz-target'] ?? req.method).split('.').pop() ?? 'unknown';
  return req.method ?? 'unknown';
}

/** The key of a path-style PutObject (`/bucket/key`), undefined for other requests. */
function putObjectKey(req: IncomingMessage): string | undefined {
  if (req.method !== 'PUT') return undefined;
  const url = new URL(req.url ?? '/', 'http://proxy');
  if (url.searchParams.has('uploadId')) return undefined;
  const key = url.pathname.split('/').slice(2).join('/');
  return key ? decodeURIComponent(key) : undefined;
}

/** Only the transform writes processed/ objects, one per fan-out message. */
const POISONABLE = /^processed\/.+\.csv$/;

/** What S3 and SQS (JSON protocol) answer; the SDKs parse the code into the error's name. */
function answer(service: Service, res: ServerResponse, status: 403 | 503): void {
  const code = status === 403 ? 'AccessDenied' : 'ServiceUnavailable';
  const message = `rydes --chaos: injected ${status === 403 ? 'permanent' : 'transient'} fault`;
  if (service === 'S3') {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  } else {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${code};Receiver` });
    res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }));
  }
}

/**
 * An HTTP proxy in front of a local S3 or SQS server, between the function bundles' own SDK
 * clients (AWS_ENDPOINT_URL_* point here) and the server: it answers some requests with a 503
 * (transient) or a 403 (poison-message, S3 only) instead of forwarding them, and counts the
 * SDK's retries. Everything else goes through untouched — raw header lines in order and case
 * (the client signed them), bodies streamed both ways, status line included — so a PutObject
 * through the proxy stores exactly the bytes sent.
 * @example
 * const proxy = await startFaultProxy('S3', 'http://127.0.0.1:4568', injector);
 * await proxy.close();
 */
export async function startFaultProxy(service: Service, target: string, faults: ProxyFaults): Promise<FaultProxy> {
  const upstream = new URL(target);
  // Own agent: the global one would keep upstream sockets alive after close().
  const agent = new Agent({ keepAlive: true });
  const stats: ProxyStats = { requests: {}, retries: 0 };
  const server: Server = createServer((req, res) => {
    const operation = operationOf(service, req);
    stats.requests[operation] = (stats.requests[operation] ?? 0) + 1;
    if (attemptOf(req) > 1) stats.retries++;
    const fault = faultFor(service, req);
    const key = service === 'S3' ? putObjectKey(req) : undefined;
    const refusal = key !== undefined && POISONABLE.test(key) && faults.poisoned(key) ? 403 : fault && faults.strike(fault) ? 503 : undefined;
    if (refusal) {
      // Read the whole body first: answering early would leave the client writing into a closed request.
      req.resume();
      req.on('end', () => answer(service, res, refusal));
      return;
    }
    const forward = request(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.rawHeaders, agent },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.statusMessage, reply.rawHeaders);
        // An upstream that breaks off mid-body must look broken to the client, not short.
        pipeline(reply, res, (err) => err && res.destroy());
      },
    );
    forward.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`rydes fault proxy: ${service} upstream ${target}: ${err.message}`);
      }
    });
    // A client that goes away mid-request takes the upstream request with it.
    res.on('close', () => res.writableFinished || forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
