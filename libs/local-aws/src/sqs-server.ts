/**
 * The embedded SQS: local-aws-sqs's request handler behind our own HTTP server, with a send gate
 * (holds sends while queues are deep) and SQS's early answer to long polls.
 */
import { createRequestHandler } from 'local-aws-sqs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/**
 * Messages in a queue above which SendMessage(Batch) requests are held until consumers catch up
 * (local-aws-sqs's ApproximateNumberOfMessages, which counts in-flight messages too). local-aws-sqs checks SQS's 120,000 in-flight limit against the *visible* messages,
 * so once about 120,000 wait, every ReceiveMessage fails with OverLimit and nothing can drain the
 * queue again (real SQS has no limit on waiting messages). It also walks every message of the
 * queue on each receive, each count of its attributes (the gate's own included) and each
 * dead-lettering, so the cost of a message grows with the queue: with one ride per message a
 * 200,000-ride file would keep tens of thousands waiting. 5,000 is 5 × the default file's 1,000
 * messages per million rides and far more than the pollers can take at once. Holding a send
 * looks to the sender like a slow network, which AWS's own SDK and our batch sender tolerate;
 * an ingest held past its time hands the rest to a continuation as it does on AWS.
 */
export const LOCAL_SQS_HIGH_WATER = 5_000;

/** The embedded SQS: its port, and a way to reach it from this process without a socket. */
export interface LocalSqs {
  port: number;
  /**
   * An AWS SDK request handler (an SQSClient's `requestHandler`) that hands each request to this
   * server in this process: the same protocol bytes, the same local-aws-sqs actions, the same
   * send gate, no socket, no HTTP parsing on either side.
   */
  inProcess: InProcessSqsHandler;
  close(): Promise<void>;
}

/** local-aws-sqs on its own HTTP server, with the send gate in front of its request handler. */
export async function startSqs(highWater = LOCAL_SQS_HIGH_WATER): Promise<LocalSqs> {
  const { service, requestHandler } = createRequestHandler({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  let depth = 0;
  let measuredAt = 0;
  const deepest = () => {
    // getAttributes scans every message: measure at most every 100 ms.
    if (Date.now() - measuredAt > 100) {
      depth = Math.max(0, ...service.Queues.map((q) => Number(q.getAttributes(['ApproximateNumberOfMessages'])?.ApproximateNumberOfMessages ?? 0)));
      measuredAt = Date.now();
    }
    return depth;
  };
  const held = new Set<NodeJS.Timeout>();
  const gate = (req: IncomingMessage, res: ServerResponse, serve: () => void) => {
    for (const queue of service.Queues) answerLongPollsEarly(queue);
    if (!/\.SendMessage(Batch)?$/.test(String(req.headers['x-amz-target'] ?? '')) || deepest() < highWater) return serve();
    const timer = setTimeout(() => {
      held.delete(timer);
      gate(req, res, serve);
    }, 50);
    held.add(timer);
  };
  const server = createServer((req, res) =>
    gate(req, res, () =>
      void wholeRequest(req).then(
        (whole) => requestHandler(whole, res),
        () => res.destroy(),
      ),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // Queue URLs carry the port; createSqsServer sets it the same way once listening.
  service.PORT = port;
  let closed = false;
  return {
    port,
    inProcess: inProcessHandler((req, res) => {
      if (closed) throw Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port} (the embedded SQS server is closed)`), { code: 'ECONNREFUSED' });
      gate(req, res, () => void requestHandler(req, res));
    }),
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        for (const timer of held) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The parts of the AWS SDK's HttpRequest an SQS request needs here. */
interface SdkHttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

/** The AWS SDK's HttpResponse, as its deserializers read it. */
interface SdkHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The AbortSignal an SDK client passes its request handler (a DOM AbortSignal, or the SDK's own). */
interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener?(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
}

/** The AWS SDK's HttpHandler interface (what an SDK client's `requestHandler` option takes). */
export interface InProcessSqsHandler {
  readonly metadata: { handlerProtocol: string };
  handle(request: SdkHttpRequest, options?: { abortSignal?: AbortSignalLike }): Promise<{ response: SdkHttpResponse }>;
  updateHttpClientConfig(): void;
  httpHandlerConfigs(): Record<string, never>;
  destroy(): void;
}

/**
 * An SDK request handler that serves each request by `serve(req, res)` in this process: `req` a
 * stream of the request's body with its method, path and (lower-cased) headers, `res` the part of
 * a ServerResponse local-aws-sqs writes (statusCode, setHeader, end). An aborted request rejects
 * with an AbortError, as the SDK's own handler does.
 */
function inProcessHandler(serve: (req: IncomingMessage, res: ServerResponse) => void): InProcessSqsHandler {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
    destroy: () => undefined,
    handle: (request, options) =>
      new Promise((resolve, reject) => {
        const signal = options?.abortSignal;
        const abort = () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
        if (signal?.aborted) return abort();
        signal?.addEventListener?.('abort', abort, { once: true });
        const answer = (response: SdkHttpResponse) => {
          signal?.removeEventListener?.('abort', abort);
          resolve({ response });
        };
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
        const body = request.body === undefined || request.body === null ? Buffer.alloc(0) : typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : Buffer.from(request.body as Uint8Array);
        let pushed = false;
        const req = Object.assign(
          new Readable({
            read() {
              if (pushed) return;
              pushed = true;
              if (body.length > 0) this.push(body);
              this.push(null);
            },
          }),
          { headers, method: request.method, url: request.path },
        );
        const responseHeaders: Record<string, string> = {};
        const res = {
          statusCode: 200,
          setHeader(name: string, value: string | number | readonly string[]) {
            responseHeaders[name.toLowerCase()] = String(value);
            return res;
          },
          getHeader: (name: string) => responseHeaders[name.toLowerCase()],
          end(data?: string | Uint8Array) {
            const bytes = data === undefined ? new Uint8Array(0) : typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
            answer({ statusCode: res.statusCode, headers: { ...responseHeaders, 'content-length': String(bytes.length) }, body: bytes });
            return res;
          },
        };
        try {
          serve(req as unknown as IncomingMessage, res as unknown as ServerResponse);
        } catch (err) {
          signal?.removeEventListener?.('abort', abort);
          reject(err);
        }
      }),
  };
}

/**
 * `req` as local-aws-sqs's request handler reads it (headers, method, url; the body through
 * 'data' and 'end'), once its body has arrived: one 'data' event carrying all of it, then 'end'
 * (no 'data' for an empty body, as from a socket). local-aws-sqs appends each chunk it gets by
 * `Buffer.concat([body, chunk])`, copying the body so far once per chunk: a 1 MiB
 * SendMessageBatch in 64 KiB chunks was copied 16 times. Here the chunks are copied once into
 * one Buffer (not at all when the body came in one chunk). Rejects when the request fails (the
 * client went away) before its end.
 * @example
 * wholeRequest(req).then((whole) => requestHandler(whole, res), () => res.destroy());
 */
export function wholeRequest(req: IncomingMessage): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    req.once('error', reject);
    req.once('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
      let pushed = false;
      const whole = new Readable({
        read() {
          if (pushed) return;
          pushed = true;
          if (body.length > 0) this.push(body);
          this.push(null);
        },
      });
      resolve(Object.assign(whole, { headers: req.headers, rawHeaders: req.rawHeaders, method: req.method, url: req.url, httpVersion: req.httpVersion }) as unknown as IncomingMessage);
    });
  });
}

/** A local-aws-sqs queue, as far as {@link answerLongPollsEarly} needs it. */
interface LocalQueue {
  ReceiveMessageWaitTimeSeconds?: number;
  receive(options: { VisibilityTimeout?: unknown; WaitTimeSeconds?: unknown; MaxNumberOfMessages?: unknown }): Promise<unknown[]>;
}

const longPollPatched = new WeakSet<object>();

/**
 * SQS's long poll: ReceiveMessage returns as soon as any message is there (AWS: "Long polling
 * ... returns messages as soon as they become available"), up to MaxNumberOfMessages, and waits
 * the whole WaitTimeSeconds only on an empty queue. local-aws-sqs instead holds every receive
 * until the batch is full or the wait is over, so the last few messages of a run (fewer than a
 * batch) waited out the whole wait. Its own short poll (wait 0) gathers for at most 40 ms; a long
 * poll becomes a series of those, ending with the first that finds anything.
 */
function answerLongPollsEarly(queue: LocalQueue): void {
  const prototype = Object.getPrototypeOf(queue) as LocalQueue;
  if (longPollPatched.has(prototype)) return;
  longPollPatched.add(prototype);
  const receive = prototype.receive;
  prototype.receive = async function (this: LocalQueue, options) {
    const wait = Number(options.WaitTimeSeconds ?? this.ReceiveMessageWaitTimeSeconds ?? 0);
    const deadline = Date.now() + (Number.isFinite(wait) ? wait : 0) * 1000;
    for (;;) {
      const received = await receive.call(this, { ...options, WaitTimeSeconds: 0 });
      if (received.length > 0 || Date.now() >= deadline) return received;
    }
  };
}
