import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../src/clients';
import { DEFAULT_MAX_ATTEMPTS } from '../src/endpoints';
import { SqsSendError } from '../src/errors';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { sendMessages } from '../src/send-messages';

/**
 * An HTTP front before local-aws-sqs that answers the first `failures` SendMessageBatch requests
 * with 503 (local-aws-sqs never fails on its own) and counts every SendMessageBatch it sees.
 */
async function flakyFront(upstream: string, failures: number): Promise<{ url: string; seen: () => number; close(): Promise<void> }> {
  const target = new URL(upstream);
  let seen = 0;
  const server: Server = createServer((req, res) => {
    const batch = String(req.headers['x-amz-target'] ?? '').endsWith('.SendMessageBatch');
    if (batch && ++seen <= failures) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'ServiceUnavailable;Receiver' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#ServiceUnavailable', message: 'injected' }));
      return;
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.rawHeaders }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('retries in one place (local-aws-sqs behind a front that answers 503)', () => {
  let local: LocalServers;
  beforeAll(async () => {
    local = await startLocalServers();
  });
  afterAll(() => local.close());

  it('leaves a 5xx of the whole call to the SDK: exactly maxAttempts requests, none added by our code', async () => {
    const front = await flakyFront(local.sqsEndpoint, Infinity);
    const sqs = createSqsClient({ ...local.env, AWS_ENDPOINT_URL_SQS: front.url });
    try {
      const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'always-503' }));
      const error = await sendMessages(sqs, QueueUrl, ['a', 'b'], { baseDelayMs: 1, maxDelayMs: 2 }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(SqsSendError);
      expect((error as SqsSendError).failed.map((f) => f.code)).toEqual(['ServiceUnavailable', 'ServiceUnavailable']);
      expect(front.seen()).toBe(DEFAULT_MAX_ATTEMPTS);
    } finally {
      sqs.destroy();
      await front.close();
    }
  }, 60_000);

  it('gets through a transient 5xx with the SDK\'s retry, and counts no retry of ours', async () => {
    const front = await flakyFront(local.sqsEndpoint, 2);
    const sqs = createSqsClient({ ...local.env, AWS_ENDPOINT_URL_SQS: front.url });
    try {
      const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: 'twice-503' }));
      const stats = await sendMessages(sqs, QueueUrl, ['a', 'b', 'c']);
      expect(stats).toEqual({ sent: 3, calls: 1, retries: 0 });
      expect(front.seen()).toBe(3);
    } finally {
      sqs.destroy();
      await front.close();
    }
  }, 60_000);
});
