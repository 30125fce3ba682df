import {
  DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, type DeleteMessageBatchCommandInput, type DeleteMessageBatchCommandOutput, type Message,
  type ReceiveMessageCommandInput, type ReceiveMessageCommandOutput, type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { Consumer } from 'sqs-consumer';
import type { FunctionPool } from './pool';

/**
 * The pollers' receive and delete served by the embedded SQS's own queues (`LocalServers.sqsInProcess.direct`),
 * each answer in the SDK's output shape; `undefined` when only the SDK's path can answer that request.
 */
export interface DirectQueueActions {
  receiveMessage(input: ReceiveMessageCommandInput, abortSignal?: AbortSignal): Promise<ReceiveMessageCommandOutput | undefined>;
  deleteMessageBatch(input: DeleteMessageBatchCommandInput): Promise<DeleteMessageBatchCommandOutput | undefined>;
}

export interface EventSourceOptions {
  sqs: SQSClient;
  /**
   * Receive and delete without the SQS protocol, where the queue is in this process (the local
   * run): every other request, and any these do not answer, goes through `sqs`.
   */
  direct?: DirectQueueActions;
  queueUrl: string;
  queueArn: string;
  region: string;
  /** Pollers, each handing one batch at a time to the function (Lambda scales pollers too). */
  pollers: number;
  /** ≤ 10, SQS's ReceiveMessage limit and Lambda's default batch size. */
  batchSize?: number;
  /**
   * Long-poll wait, s. local-aws-sqs holds a receive until the batch is full or the wait ends
   * (real SQS returns as soon as any message is there), so a short wait bounds the tail latency.
   */
  waitTimeSeconds?: number;
  /**
   * Fault injection, asked once per successfully processed message: true delivers it once more
   * (at-least-once delivery made visible) by putting an identical copy back on the queue before
   * deleting it. Leaving it undeleted instead would spend one of its receives, and a processed
   * message could reach the DLQ through duplicates alone.
   */
  duplicate?: () => boolean;
  /** Called after each batch with what it did, for progress. */
  onBatch?: (batch: BatchReport) => void;
  /** Called on each sqs-consumer `error` (receive/delete) or `processing_error`, for the log. */
  onError?: (kind: 'error' | 'processing_error', err: Error) => void;
}

export interface BatchReport {
  received: number;
  deleted: number;
  failed: number;
  /** The invocation failed as a whole (exception, timeout, crash, bad response). */
  wholeBatchFailed: boolean;
  errorMessage?: string;
  /** Bodies of the messages deleted (processed successfully). */
  deletedBodies: string[];
}

export interface EventSourceStats {
  batches: number;
  received: number;
  deleted: number;
  itemFailures: number;
  wholeBatchFailures: number;
  /** Messages handed back (not deleted) after their batch ran: they return after the visibility timeout. */
  failedDeliveries: number;
  /** Processed messages put back on the queue once more (fault injection). */
  duplicated: number;
  /** Messages whose DeleteMessageBatch entry failed: they come back and are processed again (idempotent). */
  deleteFailures: number;
  /** Messages received and not yet finished: batch running, or its delete not yet answered. */
  inFlight: number;
  /** sqs-consumer `error` events: a ReceiveMessage (or its own delete) that failed; the next poll retries. */
  pollErrors: number;
  /** sqs-consumer `processing_error` events: a batch handler that threw (the batch comes back). */
  processingErrors: number;
  /** The last of either, `name: message`, to say why a run stalls. */
  lastError?: string;
}

/** A received message as the function sees it, in AWS's exact SQS event shape. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.AWSTraceHeader && { AWSTraceHeader: attributes.AWSTraceHeader }),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
          ...(value.BinaryValue !== undefined && { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Which messages of a batch may be deleted, given the function's outcome, with Lambda's
 * ReportBatchItemFailures rules: an exception fails the whole batch; a response naming an
 * unknown or empty itemIdentifier fails the whole batch; otherwise all but the named ones
 * succeeded.
 * @example
 * toDelete(messages, { ok: true, result: { batchItemFailures: [{ itemIdentifier: 'id-3' }] } });
 */
export function toDelete(messages: Message[], outcome: { ok: boolean; result?: unknown }): Message[] | undefined {
  if (!outcome.ok) return undefined;
  const response = outcome.result as { batchItemFailures?: Array<{ itemIdentifier?: unknown }> } | null;
  const failures = response?.batchItemFailures ?? [];
  if (!Array.isArray(failures)) return undefined;
  const ids = new Set(messages.map((m) => m.MessageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = failure?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return undefined;
    failed.add(id);
  }
  return messages.filter((m) => !failed.has(m.MessageId ?? ''));
}

/**
 * `sqs` with ReceiveMessage and DeleteMessageBatch answered by `direct` where it can (the rest of
 * the client, and every other command, are `sqs`'s own). sqs-consumer takes an SQSClient and
 * calls only its `send`.
 */
function withDirectQueue(sqs: SQSClient, direct: DirectQueueActions): SQSClient {
  const viaSdk = sqs.send.bind(sqs) as (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>;
  const send = async (command: unknown, options?: { abortSignal?: AbortSignal }) => {
    if (command instanceof ReceiveMessageCommand) {
      const answer = await direct.receiveMessage(command.input, options?.abortSignal);
      if (answer) return answer;
    } else if (command instanceof DeleteMessageBatchCommand) {
      const answer = await direct.deleteMessageBatch(command.input);
      if (answer) return answer;
    }
    return viaSdk(command, options);
  };
  return Object.assign(Object.create(sqs) as SQSClient, { send });
}

/** local-aws-sqs may hand out the same message twice in one long poll; keep its last receipt. */
function distinct(messages: Message[]): Message[] {
  const byId = new Map<string, Message>();
  for (const message of messages) byId.set(message.MessageId ?? '', message);
  return [...byId.values()];
}

/**
 * Lambda's SQS event source mapping: pollers long-poll the queue, hand batches of ≤ 10 messages
 * to the function as an SQS event, delete the successful ones (DeleteMessageBatch) and leave the
 * failed ones to come back after the visibility timeout, until the queue's redrive policy moves
 * them to the DLQ. The delete runs while the poller already receives its next batch, off the
 * poller's critical path (`nx run cli:bench` compares); a batch counts as in flight until its
 * delete is answered, and an entry the
 * delete refuses simply comes back, as any undeleted message does.
 * @example
 * const source = new SqsEventSource(transformPool, { sqs, queueUrl, queueArn, region, pollers: 2 });
 * source.start();
 * await source.stop();
 */
export class SqsEventSource {
  readonly stats: EventSourceStats = {
    batches: 0, received: 0, deleted: 0, itemFailures: 0, wholeBatchFailures: 0, failedDeliveries: 0, duplicated: 0, deleteFailures: 0, inFlight: 0,
    pollErrors: 0, processingErrors: 0,
  };
  private stopping = false;
  private readonly consumers: Consumer[];
  private idleWaiters: Array<() => void> = [];

  private readonly sqs: SQSClient;

  constructor(private readonly pool: FunctionPool, private readonly options: EventSourceOptions) {
    this.sqs = options.direct ? withDirectQueue(options.sqs, options.direct) : options.sqs;
    this.consumers = Array.from({ length: Math.max(1, options.pollers) }, () =>
      Consumer.create({
        queueUrl: options.queueUrl,
        sqs: this.sqs,
        batchSize: options.batchSize ?? 10,
        waitTimeSeconds: options.waitTimeSeconds ?? 1,
        attributeNames: ['All'],
        messageSystemAttributeNames: ['All'],
        messageAttributeNames: ['All'],
        // handleBatch returns [] (sqs-consumer deletes nothing) and deletes in the background.
        strictReturn: true,
        handleMessageBatch: (messages) => this.handleBatch(messages),
      }),
    );
    // Receive/delete errors are retried by the next poll, but counted and reported: a queue that
    // cannot be read would otherwise show only as a stall. A closed server at shutdown is expected.
    for (const consumer of this.consumers) {
      consumer.on('error', (err) => this.recordError('error', err));
      consumer.on('processing_error', (err) => this.recordError('processing_error', err));
    }
  }

  private recordError(kind: 'error' | 'processing_error', err: Error): void {
    if (this.stopping) return;
    if (kind === 'error') this.stats.pollErrors++;
    else this.stats.processingErrors++;
    this.stats.lastError = `${err.name}: ${err.message}`;
    this.options.onError?.(kind, err);
  }

  /** Resolves when no batch is running or waiting for its delete (at once when none is). */
  whenIdle(): Promise<void> {
    return this.stats.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private finished(count: number): void {
    this.stats.inFlight -= count;
    if (this.stats.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  start(): void {
    for (const consumer of this.consumers) consumer.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const consumer of this.consumers) consumer.stop({ abort: true });
  }

  private async handleBatch(received: Message[]): Promise<Message[]> {
    const messages = distinct(received);
    const { queueArn, region } = this.options;
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, queueArn, region)) };
    this.stats.batches++;
    this.stats.received += messages.length;
    this.stats.inFlight += messages.length;
    try {
      const outcome = await this.pool.invoke(event);
      const deletable = toDelete(messages, outcome);
      const deleted = deletable ?? [];
      const duplicated = new Set(deleted.filter(() => this.options.duplicate?.() ?? false));
      // The copy is queued before the original is deleted, so the queue never looks drained in between.
      await Promise.all([...duplicated].map((m) => this.requeue(m)));
      const report: BatchReport = {
        received: messages.length,
        deleted: deleted.length,
        failed: messages.length - deleted.length,
        wholeBatchFailed: deletable === undefined,
        errorMessage: outcome.ok ? undefined : `${outcome.errorType}: ${outcome.errorMessage}`,
        deletedBodies: deleted.map((m) => m.Body ?? ''),
      };
      this.stats.deleted += report.deleted;
      this.stats.duplicated += duplicated.size;
      this.stats.failedDeliveries += report.failed;
      if (report.wholeBatchFailed) this.stats.wholeBatchFailures++;
      else this.stats.itemFailures += report.failed;
      this.options.onBatch?.(report);
      this.deleteInBackground(deleted, messages.length);
      return [];
    } catch (err) {
      this.finished(messages.length);
      throw err;
    }
  }

  /** Deletes a finished batch's successful messages without holding up the poller. */
  private deleteInBackground(messages: Message[], count: number): void {
    const done = () => this.finished(count);
    if (messages.length === 0) return done();
    const entries = messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' }));
    this.sqs
      .send(new DeleteMessageBatchCommand({ QueueUrl: this.options.queueUrl, Entries: entries }))
      .then(
        (out) => void (this.stats.deleteFailures += out.Failed?.length ?? 0),
        () => void (this.stats.deleteFailures += entries.length),
      )
      .finally(done);
  }

  private async requeue(message: Message): Promise<void> {
    const attributes = message.MessageAttributes && Object.keys(message.MessageAttributes).length ? message.MessageAttributes : undefined;
    await this.options.sqs.send(new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: message.Body ?? '', MessageAttributes: attributes }));
  }
}
