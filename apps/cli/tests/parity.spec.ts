import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLambdaClient, createSqsClient, receiveBatch } from '@rydes/aws-adapters';
import type { InvocationRecord } from '../src/lambda/async-invoker';
import { SqsEventSource } from '../src/lambda/event-source';
import { FunctionPool } from '../src/lambda/pool';
import { describeIngestDeadLetter, ingestDeadLetters } from '../src/run/dead-letters';
import { startStack, type LocalStack } from '../src/stack/local-stack';

const ECHO = join(__dirname, 'fixtures/echo-fn.js');

describe('the local Lambda runtime as strict as AWS (real s3rver + local-aws-sqs, test bundles)', () => {
  let stack: LocalStack;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-cli-parity-'));
    stack = await startStack({
      dataDir: dir,
      concurrency: 1,
      ridesPerMessage: 100,
      functionTimeoutSeconds: 1,
      ingestRetryDelaysMs: [50, 50],
      bundles: { ingest: ECHO, transform: ECHO },
    });
  });
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes AWS\'s invocation record to the ingest DLQ after the retries, and the run reads the file and the error from it', async () => {
    // Act: an S3 event whose every attempt fails
    const event = { Records: [{ s3: { bucket: { name: stack.bucket }, object: { key: 'raw/broken+file.json', eTag: 'abc' } } }], fail: 'poison file' };
    stack.ingest.invoke(event);
    await stack.ingest.drain();
    const [message] = await receiveBatch(stack.sqs, stack.queues.ingestDlq.url, { visibilityTimeout: 0 });
    // Assess
    const record = JSON.parse(message.Body ?? '') as InvocationRecord;
    expect(record).toEqual({
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      requestContext: { requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), functionArn: expect.stringMatching(/^arn:aws:lambda:us-east-1:\d{12}:function:rydes-ingest:\$LATEST$/), condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'TypeError', errorMessage: 'asked to fail: poison file', stackTrace: expect.arrayContaining([expect.stringContaining('echo-fn.js')]) },
    });
    const [entry] = ingestDeadLetters(message.Body ?? '');
    expect(entry).toMatchObject({ key: 'raw/broken file.json', errorType: 'TypeError', condition: 'RetriesExhausted', attempts: 3 });
    expect(describeIngestDeadLetter(entry)).toBe('raw/broken file.json: TypeError: asked to fail: poison file (RetriesExhausted after 3 attempt(s))');
  });

  it('derives the timeouts from --function-timeout with the deployed relations: visibility 6×, ingest 15×, hand-off margin 1/15 of the ingest timeout', async () => {
    const { Attributes } = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queues.fanout.url, AttributeNames: ['VisibilityTimeout'] }));
    expect(Attributes?.VisibilityTimeout).toBe('6');
    expect(stack.transformPool.config.timeoutSeconds).toBe(1);
    expect(stack.ingestPool.config.timeoutSeconds).toBe(15);
    expect(stack.ingestPool.config.environment.CONTINUE_BELOW_MS).toBe('1000');
  });

  it('refuses a visibility timeout shorter than the function timeout, as AWS refuses such an event source', async () => {
    await expect(startStack({ concurrency: 1, ridesPerMessage: 100, functionTimeoutSeconds: 10, visibilityTimeoutSeconds: 5, bundles: { ingest: ECHO, transform: ECHO } })).rejects.toThrow(
      /--visibility-timeout .*at least the function timeout \(10 s\)/,
    );
  });

  it('refuses Invoke payloads over AWS\'s limits: 1 MB asynchronous, 6 MB synchronous (413 RequestEntityTooLargeException)', async () => {
    const lambda = createLambdaClient({ ...stack.servers.env, AWS_ENDPOINT_URL_LAMBDA: stack.lambdaEndpoint });
    const payload = (bytes: number) => Buffer.from(JSON.stringify({ pad: 'x'.repeat(bytes - 10) }));
    const status = (p: Promise<unknown>) => p.then(() => 200, (err: { $metadata?: { httpStatusCode?: number }; name?: string }) => `${err.$metadata?.httpStatusCode} ${err.name}`);
    try {
      expect(await status(lambda.send(new InvokeCommand({ FunctionName: 'rydes-ingest', InvocationType: 'Event', Payload: payload(1_048_576 + 1) })))).toBe('413 RequestEntityTooLargeException');
      expect(await status(lambda.send(new InvokeCommand({ FunctionName: 'rydes-ingest', Payload: payload(6_291_456 + 1) })))).toBe('413 RequestEntityTooLargeException');
      expect(await status(lambda.send(new InvokeCommand({ FunctionName: 'rydes-ingest', Payload: payload(1_000_000) })))).toBe(200);
    } finally {
      lambda.destroy();
    }
  });

  it('refuses a message over the queue\'s MaximumMessageSize, as SQS does', async () => {
    const { Attributes } = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queues.fanout.url, AttributeNames: ['MaximumMessageSize'] }));
    const max = Number(Attributes?.MaximumMessageSize);
    expect(max).toBeGreaterThanOrEqual(262_144);
    const error = await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.fanout.url, MessageBody: 'x'.repeat(max + 1) })).catch((err: unknown) => err as { name?: string });
    expect(error).toMatchObject({ name: expect.stringMatching(/InvalidParameterValue|MessageTooLong|InvalidMessageContents/) });
  });

  it('receives the next batch while its one environment still runs a batch (two pollers per environment), and delivers each message once', async () => {
    // Prepare: 20 messages whose batches each take 400 ms in the function
    const start = { ...stack.transform.stats };
    const send = (from: number) =>
      stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queues.fanout.url, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${from + i}`, MessageBody: 'sleep:400' })) }));

    // Act
    await send(0);
    await send(10);
    let mostInFlight = 0;
    for (const deadline = Date.now() + 20_000; stack.transform.stats.deleted - start.deleted < 20 && Date.now() < deadline; ) {
      mostInFlight = Math.max(mostInFlight, stack.transform.stats.inFlight);
      await new Promise((r) => setTimeout(r, 20));
    }

    // Assess: the second batch was in hand (received, waiting for the environment) while the first ran
    expect(stack.transformPool.config.maxConcurrency).toBe(1);
    expect(mostInFlight).toBe(20);
    expect(stack.transform.stats.deleted - start.deleted).toBe(20);
    expect(stack.transform.stats.received - start.received).toBe(20);
  }, 30_000);

  it('pollers given the queue itself (direct) receive and delete without the SQS protocol, deliver each message once and leave the queue empty', async () => {
    // Prepare: a queue of its own, a poller client that records every request it sends through the protocol
    const { QueueUrl = '' } = await stack.sqs.send(new CreateQueueCommand({ QueueName: 'direct-pollers', Attributes: { VisibilityTimeout: '6' } }));
    const handler = stack.servers.sqsInProcess;
    const viaProtocol: string[] = [];
    const counting = Object.assign(Object.create(handler) as typeof handler, {
      handle: (request: { headers: Record<string, string> }, options?: object) => {
        viaProtocol.push(String(request.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, ''));
        return handler.handle.call(handler, request as Parameters<typeof handler.handle>[0], options);
      },
    });
    const sqs = createSqsClient(stack.servers.env, { requestHandler: counting, md5: false });
    const pool = new FunctionPool({ name: 'echo', bundle: ECHO, environment: {}, timeoutSeconds: 1, memoryMb: 128, maxConcurrency: 1, logFd: 'inherit' });
    const bodies: string[] = [];
    const source = new SqsEventSource(pool, {
      sqs, direct: handler.direct, queueUrl: QueueUrl, queueArn: 'arn:aws:sqs:us-east-1:000000000000:direct-pollers', region: 'us-east-1', pollers: 2,
      onBatch: (batch) => bodies.push(...batch.deletedBodies),
    });
    const sent = Array.from({ length: 25 }, (_, i) => `message ${i} "quoted" ☂`);
    // Act
    source.start();
    for (let from = 0; from < sent.length; from += 10) {
      await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: sent.slice(from, from + 10).map((MessageBody, i) => ({ Id: `m${from + i}`, MessageBody })) }));
    }
    for (const deadline = Date.now() + 20_000; source.stats.deleted < sent.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    await source.whenIdle();
    await source.stop();
    await pool.close();
    sqs.destroy();
    const left = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    // Assess
    expect(bodies.sort()).toEqual([...sent].sort());
    expect(source.stats).toMatchObject({ received: sent.length, deleted: sent.length, deleteFailures: 0, pollErrors: 0 });
    expect(left.Attributes?.ApproximateNumberOfMessages).toBe('0');
    expect(viaProtocol.filter((target) => target === 'ReceiveMessage' || target === 'DeleteMessageBatch')).toEqual([]);
  }, 30_000);

  it('pollers given the queue itself still report a queue it cannot answer for (the protocol path\'s QueueDoesNotExist)', async () => {
    const pool = new FunctionPool({ name: 'echo', bundle: ECHO, environment: {}, timeoutSeconds: 1, memoryMb: 128, maxConcurrency: 1, logFd: 'inherit' });
    const source = new SqsEventSource(pool, {
      sqs: stack.sqs, direct: stack.servers.sqsInProcess.direct, queueUrl: `${stack.queues.fanout.url}-missing`, queueArn: 'arn:aws:sqs:us-east-1:000000000000:missing', region: 'us-east-1', pollers: 1,
    });
    source.start();
    const deadline = Date.now() + 20_000;
    while (source.stats.pollErrors === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await source.stop();
    await pool.close();
    expect(source.stats.lastError).toMatch(/queue does not exist/);
  }, 30_000);

  it('counts and reports the sqs-consumer errors of a poller that cannot receive, instead of only stalling', async () => {
    const pool = new FunctionPool({ name: 'echo', bundle: ECHO, environment: {}, timeoutSeconds: 1, memoryMb: 128, maxConcurrency: 1, logFd: 'inherit' });
    const errors: string[] = [];
    const source = new SqsEventSource(pool, {
      sqs: stack.sqs, queueUrl: `${stack.queues.fanout.url}-missing`, queueArn: 'arn:aws:sqs:us-east-1:000000000000:missing', region: 'us-east-1', pollers: 1,
      onError: (kind, err) => errors.push(`${kind} ${err.name}`),
    });
    source.start();
    const deadline = Date.now() + 20_000;
    while (source.stats.pollErrors === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await source.stop();
    await pool.close();
    expect(source.stats.pollErrors).toBeGreaterThan(0);
    expect(source.stats.lastError).toMatch(/queue does not exist/);
    expect(errors[0]).toMatch(/^error /);
  }, 30_000);
});
