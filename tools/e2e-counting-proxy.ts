/**
 * A loopback HTTP proxy that forwards every request to one S3- or SQS-protocol server and counts
 * them by API operation, so the e2e run reports requests it observed rather than computed.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  endpoint: string;
  counts: Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

/** SQS JSON protocol names the operation in X-Amz-Target; S3 by method, path and query. */
function operationOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').pop() ?? target;
  const url = new URL(req.url ?? '/', 'http://x');
  const hasKey = url.pathname.split('/').filter(Boolean).length > 1;
  const q = url.searchParams;
  switch (req.method) {
    case 'GET':
      return hasKey ? 'GetObject' : 'ListObjects';
    case 'HEAD':
      return hasKey ? 'HeadObject' : 'HeadBucket';
    case 'PUT':
      return q.has('uploadId') ? 'UploadPart' : hasKey ? 'PutObject' : 'CreateBucket';
    case 'POST':
      return q.has('uploads') ? 'CreateMultipartUpload' : q.has('uploadId') ? 'CompleteMultipartUpload' : q.has('delete') ? 'DeleteObjects' : 'POST';
    case 'DELETE':
      return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return req.method ?? 'unknown';
  }
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const to = new URL(target);
  const counts: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const op = operationOf(req);
    counts[op] = (counts[op] ?? 0) + 1;
    // Headers unchanged, Host included: the client signed them (SigV4).
    const upstream = request({ hostname: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    reset() {
      for (const k of Object.keys(counts)) delete counts[k];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
