import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call the Lambda Invoke API received. */
export interface Invocation {
  functionName: string;
  invocationType: string;
  payload: unknown;
}

export interface InvokeEndpoint {
  /** Put into AWS_ENDPOINT_URL_LAMBDA. */
  url: string;
  invocations: Invocation[];
  close(): Promise<void>;
}

/**
 * The Lambda Invoke API mocked by a real HTTP server on 127.0.0.1: it records every
 * `POST /2015-03-31/functions/<name>/invocations` and answers 202 as Lambda does for
 * `InvocationType: Event`, without running anything. Tests feed the payloads back to the handler.
 */
export async function startInvokeEndpoint(): Promise<InvokeEndpoint> {
  const invocations: Invocation[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => {
      const name = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '')?.[1];
      if (req.method !== 'POST' || !name) {
        res.writeHead(404).end();
        return;
      }
      invocations.push({ functionName: decodeURIComponent(name), invocationType: String(req.headers['x-amz-invocation-type']), payload: JSON.parse(Buffer.concat(parts).toString('utf8')) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    invocations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
