import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AsyncInvoker } from '../lambda/async-invoker';
import type { FunctionPool } from '../lambda/pool';

export interface LocalFunction {
  pool: FunctionPool;
  /** Where `InvocationType: Event` goes (retries and DLQ as for S3 notifications). */
  async: AsyncInvoker;
}

export interface InvokeEndpoint {
  url: string;
  close(): Promise<void>;
}

/** `my-fn`, `arn:aws:lambda:us-east-1:123:function:my-fn[:qualifier]` → `my-fn`. */
export function functionNameOf(raw: string): string {
  const name = decodeURIComponent(raw);
  const arn = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(name);
  return arn ? arn[1] : name.split(':')[0];
}

/**
 * Lambda's payload limits (Lambda API Reference, Invoke): 6 MB for a synchronous invocation,
 * 1 MB for an asynchronous one (raised from 256 KB in 2025).
 */
export const SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_BYTES = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations) for the local functions,
 * on a free loopback port: `Event` invocations are queued like Lambda's async invocations (202),
 * `RequestResponse` ones run and answer with the payload (X-Amz-Function-Error on failure).
 * The ingest bundle hands the rest of a long file to itself through it.
 * @example
 * const endpoint = await startInvokeEndpoint({ 'rydes-ingest': { pool, async: invoker } });
 * // AWS_ENDPOINT_URL_LAMBDA=endpoint.url
 */
export async function startInvokeEndpoint(functions: Record<string, LocalFunction>): Promise<InvokeEndpoint> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
      const target = match ? functions[functionNameOf(match[1])] : undefined;
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      if (req.method !== 'POST' || !target) {
        reply(404, { Type: 'User', message: `Function not found: ${match ? functionNameOf(match[1]) : req.url}` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
        return;
      }
      const text = await readBody(req);
      const async = req.headers['x-amz-invocation-type'] === 'Event';
      const limit = async ? ASYNC_PAYLOAD_BYTES : SYNC_PAYLOAD_BYTES;
      const bytes = Buffer.byteLength(text);
      if (bytes > limit) {
        const message = `${async ? 'Event' : 'RequestResponse'} invocation payload of ${bytes} bytes exceeds the maximum allowed payload size (${limit} bytes)`;
        reply(413, { Type: 'User', message }, { 'x-amzn-errortype': 'RequestEntityTooLargeException' });
        return;
      }
      const event = text ? JSON.parse(text) : {};
      if (async) {
        target.async.invoke(event);
        reply(202, undefined);
        return;
      }
      const outcome = await target.pool.invoke(event);
      if (outcome.ok) reply(200, outcome.result, { 'x-amz-executed-version': '$LATEST' });
      else reply(200, { errorType: outcome.errorType, errorMessage: outcome.errorMessage }, { 'x-amz-function-error': 'Unhandled' });
    })().catch((err: unknown) => {
      res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidRequestContentException' });
      res.end(JSON.stringify({ Type: 'User', message: err instanceof Error ? err.message : String(err) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
