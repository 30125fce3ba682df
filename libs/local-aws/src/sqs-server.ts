/**
 * The embedded SQS: local-aws-sqs's request handler behind our own HTTP server, with a send gate
 * (holds sends while queues are deep) and SQS's early answer to long polls.
 */
import { createRequestHandler } from 'local-aws-sqs';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { installIndexedStore, type LocalSqsQueue } from './sqs-queue';

/**
 * Messages in a queue above which SendMessage(Batch) requests are held until consumers catch up
 * (ApproximateNumberOfMessages as local-aws-sqs counts it: in-flight messages too). Every waiting
 * message is held in this process (a 200,000-ride file at one ride per message would otherwise
 * keep tens of thousands of bodies and records here), and a FIFO queue or any queue left to
 * local-aws-sqs's own store (see sqs-queue.ts) walks all its messages on each receive and count,
 * and refuses every receive once about 120,000 wait (its in-flight limit counts the visible ones).
 * 5,000 is 5 × the default file's 1,000 messages per million rides and far more than the pollers
 * can take at once. Holding a send looks to the sender like a slow network, which AWS's own SDK
 * and our batch sender tolerate; an ingest held past its time hands the rest to a continuation
 * as it does on AWS.
 */
export const LOCAL_SQS_HIGH_WATER = 5_000;

/**
 * Bytes of message bodies deleted through the pollers' direct path after which the embedded SQS
 * has V8 collect them (see {@link DeletedBodies}). Every body of a run passes through this
 * process as a string of up to ~200 KiB, which V8 keeps in its large-object space; one that
 * outlived a scavenge (any body that waited in the queue) goes only at a mark-compact, which V8
 * schedules by the heap's growth: at 200,000 rides (~40 MB of bodies) the CLI's main heap held
 * 40–57 MB of large objects just before each of its own mark-compacts, most of them bodies
 * deleted seconds before. A mark-compact of that heap takes ~30–90 ms of one core here; at 8 MiB
 * a 200,000-ride run (~40 MB of bodies) asks for at most about five (README, "Memory and cold starts").
 */
export const LOCAL_SQS_COLLECT_BYTES = 8 * 1024 * 1024;

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
export async function startSqs(highWater = LOCAL_SQS_HIGH_WATER, collectBytes = LOCAL_SQS_COLLECT_BYTES): Promise<LocalSqs> {
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
    prepareQueues(service.Queues);
    if (!/\.SendMessage(Batch)?$/.test(String(req.headers['x-amz-target'] ?? '')) || deepest() < highWater) return serve();
    const timer = setTimeout(() => {
      held.delete(timer);
      gate(req, res, serve);
    }, 50);
    held.add(timer);
  };
  const server = createServer((req, res) =>
    gate(req, res, () =>
      void wholeRequest(req, { release: true }).then(
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
  const deletedBodies = new DeletedBodies(collectBytes);
  const direct = directActions(service as unknown as LocalService, () => closed, deletedBodies);
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
        deletedBodies.close();
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

/**
 * Has V8 collect the message bodies this process let go of, once {@link LOCAL_SQS_COLLECT_BYTES}
 * of them were deleted since its last mark-compact (V8's own ones count: a process that
 * collects often by itself is never asked for more). Each body's size is noted when a poller
 * receives it and counted when that receipt is deleted; the collection runs a few milliseconds
 * after the delete that crossed the line, once the poller's batch (which still holds the bodies
 * while it reports the delete) is over. A threshold of 0 turns it off.
 * @example
 * const bodies = new DeletedBodies(16 * 1024 * 1024);
 * bodies.received(message.ReceiptHandle, message.Body.length);
 * bodies.deleted(message.ReceiptHandle); // true once 16 MiB were deleted: a collection follows
 */
export class DeletedBodies {
  /** Receipt handles received and not yet deleted, with their body's length (oldest first). */
  private readonly sizes = new Map<string, number>();
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private observer: PerformanceObserver | undefined;
  private readonly collect: (() => void) | undefined;
  /** Collections this object asked for. */
  collections = 0;

  constructor(
    private readonly thresholdBytes: number,
    collect: (() => void) | undefined = thresholdBytes > 0 ? majorGc() : undefined,
    /** Receipts remembered at most (those received and never deleted, e.g. dead-lettered, fall out first). */
    private readonly maxReceipts = 20_000,
  ) {
    this.collect = collect;
    if (!this.collect) return;
    this.observer = new PerformanceObserver((list) => {
      if (list.getEntries().some((entry) => (entry as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR)) this.pendingBytes = 0;
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Bytes deleted since the last mark-compact. */
  get pending(): number {
    return this.pendingBytes;
  }

  received(receiptHandle: string, bodyLength: number): void {
    if (!this.collect) return;
    this.sizes.set(receiptHandle, bodyLength);
    if (this.sizes.size > this.maxReceipts) this.sizes.delete(this.sizes.keys().next().value as string);
  }

  /** Counts a deleted receipt's body; true when that delete asked for a collection. */
  deleted(receiptHandle: string): boolean {
    const length = this.sizes.get(receiptHandle);
    if (length === undefined || !this.collect) return false;
    this.sizes.delete(receiptHandle);
    this.pendingBytes += length;
    if (this.pendingBytes < this.thresholdBytes || this.timer) return false;
    const collect = this.collect;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pendingBytes = 0;
      this.collections++;
      collect();
    }, 5);
    this.timer.unref();
    return true;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.observer?.disconnect();
    this.observer = undefined;
    this.sizes.clear();
  }
}

/**
 * A function that runs a full mark-compact of this isolate: `gc` when node runs with
 * --expose-gc, else the one V8 installs in a new context while the flag is set (the flag is
 * cleared again, so nothing else sees it); undefined when neither works.
 */
function majorGc(): (() => void) | undefined {
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === 'function') return () => own();
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
  } catch {
    return undefined;
  }
}

function directActions(service: LocalService, isClosed: () => boolean, deletedBodies?: DeletedBodies): DirectSqs {
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
      prepareQueues(service.Queues);
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
      if (deletedBodies) for (const record of records) deletedBodies.received(record.ReceiptHandle, record.MessageBody.length);
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
          if (queue.delete(ReceiptHandle)) {
            successful.push({ Id });
            deletedBodies?.deleted(ReceiptHandle);
          }
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
 *
 * With `release`, the memory of the body (and of the chunks it came in) is given back to the
 * system right after the 'end' listeners ran, instead of when V8 next collects the Buffers that
 * hold it: a consumer must be done with the chunk by its 'end', as local-aws-sqs is (it decodes
 * the body into a string there). Each Buffer is garbage by then, but a Buffer that outlived a
 * scavenge (a body arriving while the ingest sends its batches) stays with its memory until the
 * next mark-compact, seconds later; at 200,000 rides the CLI held 30–45 MB of such request
 * bytes at the tree's peak (README, "Memory and cold starts").
 * @example
 * wholeRequest(req, { release: true }).then((whole) => requestHandler(whole, res), () => res.destroy());
 */
export function wholeRequest(req: IncomingMessage, options: { release?: boolean } = {}): Promise<IncomingMessage> {
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
      if (options.release) {
        // After every 'end' listener (added by the consumer before the stream ends) has run.
        whole.once('end', () => setImmediate(() => releaseAll(chunks.length === 1 ? chunks : [...chunks, body])));
      }
      resolve(Object.assign(whole, { headers: req.headers, rawHeaders: req.rawHeaders, method: req.method, url: req.url, httpVersion: req.httpVersion }) as unknown as IncomingMessage);
    });
  });
}

/**
 * Gives back the memory of Buffers no longer used, now: each one that is the whole of its own
 * ArrayBuffer (a request chunk Node copied out of the socket, a Buffer.concat result; never a
 * slice of Node's shared pool) has that ArrayBuffer moved into a fresh one that nothing refers
 * to, which the next scavenge frees with its memory; the Buffer itself is left empty (detached).
 * Returns the bytes released.
 * @example
 * releaseAll([Buffer.concat(chunks)]); // the body's length
 */
export function releaseAll(buffers: Buffer[]): number {
  let released = 0;
  for (const buffer of buffers) {
    const { buffer: memory } = buffer;
    if (!(memory instanceof ArrayBuffer) || buffer.byteOffset !== 0 || buffer.byteLength !== memory.byteLength || memory.byteLength <= Buffer.poolSize) continue;
    try {
      structuredClone(memory, { transfer: [memory] });
      released += buffer.byteLength;
    } catch {
      // Not transferable (marked so by its owner): it goes with its Buffer, as before.
    }
  }
  return released;
}

/**
 * Before local-aws-sqs serves a request: each standard queue keeps its messages in the indexed
 * store (sqs-queue.ts), any other gets SQS's early answer to long polls.
 */
function prepareQueues(queues: unknown[]): void {
  for (const queue of queues) {
    if (!installIndexedStore(queue as LocalSqsQueue)) answerLongPollsEarly(queue as LocalQueue);
  }
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
