import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Fault, FaultInjector } from './spec';

export interface FaultProxy {
  url: string;
  close(): Promise<void>;
}

/** Which fault a request to S3 or SQS is an opportunity for (none for reads of SQS etc.). */
export function faultFor(service: 'S3' | 'SQS', req: IncomingMessage): Fault | undefined {
  if (service === 'S3') {
    if (req.method === 'PUT' || req.method === 'POST') return 's3-put-error';
    if (req.method === 'GET') return 's3-get-error';
    return undefined;
  }
  const target = String(req.headers['x-amz-target'] ?? '');
  return /\.SendMessage(Batch)?$/.test(target) ? 'sqs-send-error' : undefined;
}

/** A 503 each SDK treats as transient and retries with backoff. */
function reject(service: 'S3' | 'SQS', res: import('node:http').ServerResponse): void {
  if (service === 'S3') {
    res.writeHead(503, { 'content-type': 'application/xml' });
    res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>rydes --chaos: injected fault</Message></Error>');
  } else {
    res.writeHead(503, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'ServiceUnavailable;Receiver' });
    res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#ServiceUnavailable', message: 'rydes --chaos: injected fault' }));
  }
}

/**
 * An HTTP proxy in front of a local S3 or SQS server that answers some requests with a 503
 * instead of forwarding them — faults beneath the function bundles, which see them through
 * their own SDK clients (AWS_ENDPOINT_URL_* point here) and must retry.
 * @example
 * const proxy = await startFaultProxy('S3', 'http://127.0.0.1:4568', injector);
 */
export async function startFaultProxy(service: 'S3' | 'SQS', target: string, injector: FaultInjector): Promise<FaultProxy> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const fault = faultFor(service, req);
    if (fault && injector.strike(fault)) {
      req.resume();
      req.on('end', () => reject(service, res));
      return;
    }
    const forward = request(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
