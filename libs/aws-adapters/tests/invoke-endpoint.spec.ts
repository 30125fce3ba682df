import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLambdaClient, invokeEvent } from '../src';

interface Received {
  method?: string;
  url?: string;
  invocationType?: string | string[];
  body: string;
}

/**
 * A stand-in for the local stack's Invoke endpoint: a real HTTP server on 127.0.0.1 that answers
 * the Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`) with 202.
 */
async function startInvokeEndpoint(status = 202): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, invocationType: req.headers['x-amz-invocation-type'], body: Buffer.concat(parts).toString('utf8') });
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 202 ? '' : '{"Type":"User","message":"no such function"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

describe('createLambdaClient endpoints (a local HTTP Invoke endpoint, no mock)', () => {
  const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };

  it.each([
    ['AWS_ENDPOINT_URL_LAMBDA', (url: string) => ({ ...env, AWS_ENDPOINT_URL_LAMBDA: url, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' })],
    ['AWS_ENDPOINT_URL', (url: string) => ({ ...env, AWS_ENDPOINT_URL: url })],
  ])('sends an asynchronous Event invocation to %s', async (_name, envFor) => {
    // Prepare
    const endpoint = await startInvokeEndpoint();
    const lambda = createLambdaClient(envFor(endpoint.url));
    try {
      // Act
      await invokeEvent(lambda, 'ingest-fn', { rydesContinuation: { nextIndex: 4200 } });
      // Assess
      expect(endpoint.received).toEqual([
        { method: 'POST', url: '/2015-03-31/functions/ingest-fn/invocations', invocationType: 'Event', body: '{"rydesContinuation":{"nextIndex":4200}}' },
      ]);
    } finally {
      lambda.destroy();
      endpoint.server.close();
    }
  });

  it('fails, naming the function, when the endpoint does not answer 202', async () => {
    const endpoint = await startInvokeEndpoint(404);
    const lambda = createLambdaClient({ ...env, AWS_ENDPOINT_URL_LAMBDA: endpoint.url });
    try {
      await expect(invokeEvent(lambda, 'ingest-fn', {})).rejects.toThrow(/asynchronous invoke of ingest-fn failed/);
    } finally {
      lambda.destroy();
      endpoint.server.close();
    }
  });
});
