/**
 * The embedded SQS: local-aws-sqs's request handler behind our own HTTP server, with a send gate
 * (holds sends while queues are deep) and SQS's early answer to long polls.
 */
import { createRequestHandler } from 'local-aws-sqs';
import { randomUUID } from 'node:crypto';
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
  const direct = directActions(service as unknown as LocalService, () => closed);
  return {
    port,
    inProcess: Object.assign(
      inProcessHandler((req, res) => {
        if (closed) throw Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port} (the embedded SQS server is closed)`), { code: 'ECONNREFUSED' });
        gate(req, res, () => void requestHandler(req, res));
      }),
      { direct },
    ),
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
  /** ReceiveMessage and DeleteMessageBatch served from the same server's queues with no protocol at all (see {@link DirectSqs}). */
  readonly direct: DirectSqs;
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
function inProcessHandler(serve: (req: IncomingMessage, res: ServerResponse) => void): Omit<InProcessSqsHandler, 'direct'> {
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

/** A message attribute as the AWS SDK returns it (binary values as bytes). */
interface SdkMessageAttribute {
  DataType: string | undefined;
  StringValue?: string;
  BinaryValue?: Uint8Array;
  StringListValues?: string[];
  BinaryListValues?: Uint8Array[];
}

/** A received message in the AWS SDK's output shape (ReceiveMessageCommandOutput's `Messages`). */
export interface DirectMessage {
  MessageId: string;
  ReceiptHandle: string;
  MD5OfBody: string;
  Body: string;
  Attributes?: Record<string, string>;
  MD5OfMessageAttributes?: string;
  MessageAttributes?: Record<string, SdkMessageAttribute>;
}

/** The SDK's `$metadata` of an answer that took one attempt. */
interface DirectMetadata {
  httpStatusCode: number;
  requestId: string;
  attempts: number;
  totalRetryDelay: number;
}

export interface DirectReceiveInput {
  QueueUrl?: string;
  MaxNumberOfMessages?: number;
  WaitTimeSeconds?: number;
  VisibilityTimeout?: number;
  AttributeNames?: string[];
  MessageSystemAttributeNames?: string[];
  MessageAttributeNames?: string[];
}

export interface DirectDeleteBatchInput {
  QueueUrl?: string;
  Entries?: Array<{ Id?: string; ReceiptHandle?: string }>;
}

/** As the SDK types it: both lists always named, `undefined` when empty (local-aws-sqs leaves an empty one out). */
export interface DirectDeleteBatchOutput {
  Successful: Array<{ Id: string }> | undefined;
  Failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }> | undefined;
  $metadata: DirectMetadata;
}

/**
 * ReceiveMessage and DeleteMessageBatch answered from local-aws-sqs's own queues, for the CLI's
 * pollers (Lambda's event source mapping, which is part of the service, not an SQS client on a
 * network). Through the SDK, each received body was written into a JSON answer, decoded from
 * bytes and parsed back into a copy; here the answer is the queue's own records: the same
 * `queue.receive` and `queue.delete` local-aws-sqs's actions call (visibility timeout, receive
 * count, redrive to the dead-letter queue, the in-flight limit all stay theirs), the fields its
 * JSON answer carries, in the SDK's output shape, each body the very string the queue holds.
 *
 * Each method serves only the requests it answers exactly as the protocol path would: a closed
 * server, an unknown or deleted queue, a parameter out of SQS's range, an attribute selection
 * other than all or none, or a receive the queue refuses (too many in flight) return `undefined`,
 * and the caller sends that request through the SDK, whose answer (the error included) is SQS's.
 * @example
 * const out = (await direct.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, AttributeNames: ['All'] }, signal)) ?? (await sqs.send(new ReceiveMessageCommand(input), { abortSignal: signal }));
 */
export interface DirectSqs {
  receiveMessage(input: DirectReceiveInput, abortSignal?: AbortSignalLike): Promise<{ Messages?: DirectMessage[]; $metadata: DirectMetadata } | undefined>;
  deleteMessageBatch(input: DirectDeleteBatchInput): Promise<DirectDeleteBatchOutput | undefined>;
}

/** A local-aws-sqs record as `queue.receive` returns it (a copy: its attributes object is the caller's). */
interface LocalRecord {
  MessageId: string;
  ReceiptHandle: string;
  MessageBody: string;
  MD5OfMessageBody: string;
  attributes: Record<string, string | undefined>;
  MessageAttributes?: Record<string, { DataType?: string; StringValue?: string; BinaryValue?: string; StringListValues?: string[]; BinaryListValues?: string[] }>;
  MD5OfMessageAttributes?: string;
}

/** What {@link directActions} uses of local-aws-sqs's service and queues. */
interface LocalService {
  Queues: Array<{
    QueueName: string;
    ReceiveMessageWaitTimeSeconds?: number;
    receive(options: { VisibilityTimeout?: unknown; WaitTimeSeconds?: unknown; MaxNumberOfMessages?: unknown }): Promise<LocalRecord[]>;
    delete(receiptHandle: string): boolean;
  }>;
  deletingQueues: Set<string>;
}

/** local-aws-sqs's range checks (its validators): a number or numeric string without spaces or dots, within [min, max]. */
function inRange(value: unknown, min: number, max: number): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'number' && typeof value !== 'string') return false;
  if (typeof value === 'string' && (value === '' || value.includes(' ') || value.includes('.'))) return false;
  const n = Number(value);
  return !Number.isNaN(n) && n >= min && n <= max;
}

/** Which attributes a receive asks for: none, all, or (undefined) a selection, which only the protocol path answers. */
function selection(names: unknown, all: readonly string[]): 'none' | 'all' | undefined {
  if (names === undefined || (Array.isArray(names) && names.length === 0)) return 'none';
  return Array.isArray(names) && names.some((name) => all.includes(name)) ? 'all' : undefined;
}

/** A batch entry id as local-aws-sqs accepts it: 1–80 letters, digits, '_' or '-'. */
const BATCH_ENTRY_ID = /^[\w-]{1,80}$/;

function directActions(service: LocalService, isClosed: () => boolean): DirectSqs {
  const metadata = (): DirectMetadata => ({ httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 });
  // local-aws-sqs names a queue by its URL's last path segment, or by the whole value when it is not a URL.
  const names = new Map<string, string>();
  const nameOf = (url: string) => {
    let name = names.get(url);
    if (name !== undefined) return name;
    try {
      name = new URL(url).pathname.split('/').filter(Boolean).pop() ?? url;
    } catch {
      name = url;
    }
    if (names.size < 1_000) names.set(url, name);
    return name;
  };
  const queueOf = (url: unknown) => {
    if (typeof url !== 'string' || url === '' || isClosed()) return undefined;
    const name = nameOf(url);
    const queue = service.Queues.find((q) => q.QueueName === name);
    return queue && !service.deletingQueues.has(queue.QueueName) ? queue : undefined;
  };
  return {
    async receiveMessage(input, abortSignal) {
      const queue = queueOf(input.QueueUrl);
      if (!queue || !inRange(input.MaxNumberOfMessages, 1, 10) || !inRange(input.WaitTimeSeconds, 0, 20) || !inRange(input.VisibilityTimeout, 0, 43_200)) return undefined;
      // local-aws-sqs reads AttributeNames only (MessageSystemAttributeNames is not in its answer).
      const attributes = selection(input.AttributeNames, ['All']);
      const messageAttributes = selection(input.MessageAttributeNames, ['All', '.*']);
      if (!attributes || !messageAttributes) return undefined;
      if (abortSignal?.aborted) throw abortError();
      answerLongPollsEarly(queue);
      const receiving = queue.receive({ VisibilityTimeout: input.VisibilityTimeout, WaitTimeSeconds: input.WaitTimeSeconds, MaxNumberOfMessages: input.MaxNumberOfMessages });
      let records: LocalRecord[];
      try {
        records = await untilAborted(receiving, abortSignal);
      } catch (err) {
        // OverLimit is thrown before the queue changes anything: the protocol path answers it as SQS.
        if ((err as Error)?.name === 'AbortError') throw err;
        return undefined;
      }
      const answer: { Messages?: DirectMessage[]; $metadata: DirectMetadata } = { $metadata: metadata() };
      if (records.length > 0) answer.Messages = records.map((record) => asSdkMessage(record, attributes === 'all', messageAttributes === 'all'));
      return answer;
    },
    async deleteMessageBatch(input) {
      const queue = queueOf(input.QueueUrl);
      const entries = input.Entries;
      if (!queue || !Array.isArray(entries) || entries.length === 0 || entries.length > 10) return undefined;
      const ids = new Set<string>();
      for (const entry of entries) {
        if (typeof entry?.Id !== 'string' || !BATCH_ENTRY_ID.test(entry.Id) || ids.has(entry.Id)) return undefined;
        if (entry.ReceiptHandle !== undefined && typeof entry.ReceiptHandle !== 'string') return undefined;
        ids.add(entry.Id);
      }
      const successful: Array<{ Id: string }> = [];
      const failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }> = [];
      for (const { Id, ReceiptHandle } of entries as Array<{ Id: string; ReceiptHandle?: string }>) {
        if (typeof ReceiptHandle !== 'string' || ReceiptHandle.trim() === '') {
          failed.push({ Id, Code: 'MissingParameter', Message: 'The request must contain the parameter ReceiptHandle.', SenderFault: true });
          continue;
        }
        try {
          if (queue.delete(ReceiptHandle)) successful.push({ Id });
          else failed.push({ Id, Code: 'ReceiptHandleIsInvalid', Message: `The input receipt handle "${ReceiptHandle}" is not a valid receipt handle.`, SenderFault: true });
        } catch (err) {
          const e = err as { Code?: string; message?: string };
          failed.push({ Id, Code: e.Code ?? 'InternalError', Message: e.message ?? String(err), SenderFault: true });
        }
      }
      return { Successful: successful.length > 0 ? successful : undefined, Failed: failed.length > 0 ? failed : undefined, $metadata: metadata() };
    },
  };
}

/** A record as local-aws-sqs's JSON answer carries it, in the SDK's output shape (its attributes with `All`). */
function asSdkMessage(record: LocalRecord, withAttributes: boolean, withMessageAttributes: boolean): DirectMessage {
  const message: DirectMessage = { MessageId: record.MessageId, ReceiptHandle: record.ReceiptHandle, MD5OfBody: record.MD5OfMessageBody, Body: record.MessageBody };
  if (withAttributes) {
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(record.attributes)) if (typeof value === 'string') attributes[name] = value;
    if (Object.keys(attributes).length > 0) message.Attributes = attributes;
  }
  const stored = record.MessageAttributes;
  if (withMessageAttributes && stored && Object.keys(stored).length > 0) {
    const attributes: Record<string, SdkMessageAttribute> = {};
    for (const [name, value] of Object.entries(stored)) {
      const attribute: SdkMessageAttribute = { DataType: value.DataType };
      if (value.StringValue !== undefined) attribute.StringValue = value.StringValue;
      if (value.BinaryValue !== undefined) attribute.BinaryValue = Buffer.from(value.BinaryValue, 'base64');
      if (value.StringListValues !== undefined) attribute.StringListValues = value.StringListValues;
      if (value.BinaryListValues !== undefined) attribute.BinaryListValues = value.BinaryListValues.map((v) => Buffer.from(v, 'base64'));
      attributes[name] = attribute;
    }
    message.MD5OfMessageAttributes = record.MD5OfMessageAttributes;
    message.MessageAttributes = attributes;
  }
  return message;
}

function abortError(): Error {
  return Object.assign(new Error('Request aborted'), { name: 'AbortError' });
}

/** `promise`, or an AbortError as soon as `signal` fires (what it would have given is then dropped, as an answer to a closed socket is). */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignalLike): Promise<T> {
  if (!signal?.addEventListener) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(abortError());
    signal.addEventListener?.('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener?.('abort', abort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener?.('abort', abort);
        reject(err);
      },
    );
  });
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
