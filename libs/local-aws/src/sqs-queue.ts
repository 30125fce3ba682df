import { randomUUID } from 'node:crypto';

/**
 * An indexed message store for local-aws-sqs's standard queues. local-aws-sqs keeps a queue's
 * messages in one array and walks all of it for every receive (its in-flight check), every
 * delete (find + splice), every count of its attributes, and polls it every 10 ms while a
 * receive waits: with thousands of messages waiting (one ride per message) each message cost
 * the CLI's main thread several such walks. Here the same records live in a Map by MessageId
 * (insertion order = local-aws-sqs's array order), with running counts, and a waiting receive is
 * woken by the message that arrives instead of polling.
 *
 * Only the queue's record-keeping methods are replaced, on the queue object itself; local-aws-sqs
 * still parses and validates every request, builds every record (`createRecord`: ids, MD5s,
 * attributes), writes every answer, and its `setRecord`, `purge`, message move tasks and actions
 * call these methods as they called its own. FIFO queues are left to local-aws-sqs.
 *
 * What differs from local-aws-sqs, each as SQS itself does it:
 * - a receive returns at once with what is visible (up to MaxNumberOfMessages) and waits the
 *   whole WaitTimeSeconds only while nothing is (local-aws-sqs gathered for 10–40 ms at least);
 * - the 120,000 limit is on messages in flight (local-aws-sqs counted the visible ones);
 * - a message sent without a delay is visible at once (local-aws-sqs: one timer tick later);
 * - a message past the retention period is dropped when the queue is next looked at (receive,
 *   attributes), not by a timer per message.
 * Kept as local-aws-sqs has them: ApproximateNumberOfMessages counts in-flight messages too,
 * ChangeMessageVisibility counts as a receive, redrive to the dead-letter queue when the
 * visibility timeout of a message received maxReceiveCount times ends, receipt handles of the
 * same form, oldest message first.
 */

/** SQS's limit on in-flight messages of a standard queue. */
export const STANDARD_IN_FLIGHT_LIMIT = 120_000;

/** A record as local-aws-sqs's `createRecord` builds it. */
interface QueueRecord {
  MessageId: string;
  ReceiptHandle: string;
  MessageBody: string;
  attributes: Record<string, string | undefined>;
  MessageAttributes?: Record<string, unknown>;
  MD5OfMessageBody: string;
  MD5OfMessageAttributes?: string;
}

/** One stored message, as local-aws-sqs's `newRecord` returns it (its callers read `record`). */
interface Entry {
  record: QueueRecord;
  visible: boolean;
  delayed: boolean;
  sentAt: number;
  tm?: NodeJS.Timeout;
  tmStart?: number;
  MD5OfMessageSystemAttributes?: string;
}

type ReceiveOptions = { VisibilityTimeout?: unknown; WaitTimeSeconds?: unknown; MaxNumberOfMessages?: unknown };

/** The parts of a local-aws-sqs queue (its class `Xt`) this store uses or replaces. */
export interface LocalSqsQueue {
  QueueName: string;
  FifoQueue: boolean;
  DelaySeconds: number;
  VisibilityTimeout: number;
  MessageRetentionPeriod: number;
  ReceiveMessageWaitTimeSeconds: number;
  RedrivePolicy?: { maxReceiveCount: number | string; deadLetterTargetArn: string };
  service: { REGION: string; ACCOUNT_ID: string; Queues: LocalSqsQueue[] };
  setRecord(message: Record<string, unknown>, messageId?: string): unknown;
  newRecord(record: QueueRecord, delaySeconds: number): Entry;
  receive(options: ReceiveOptions): Promise<QueueRecord[]>;
  delete(receiptHandle: string): boolean;
  changeVisibility(receiptHandle: string, visibilityTimeout: unknown): boolean;
  getAttributes(names: unknown): Record<string, string> | undefined;
  clearRecords(): void;
}

/** local-aws-sqs's error base class (`toJSON`, `getJsonErrorCode`: what its request handler answers with). */
type SqsErrorClass = new (fields: { Code: string; Type: string; Message: string }) => Error;

const installed = new WeakSet<object>();
/** Queues that keep local-aws-sqs's own store (checked once). */
const declined = new WeakSet<object>();

/**
 * Gives `queue` the indexed store, unless it is FIFO, already has it, or already holds messages
 * in local-aws-sqs's own (they stay there). True when the queue uses the indexed store now.
 * @example
 * for (const queue of service.Queues) installIndexedStore(queue);
 */
export function installIndexedStore(queue: LocalSqsQueue): boolean {
  if (installed.has(queue)) return true;
  if (declined.has(queue)) return false;
  const prototype = Object.getPrototypeOf(queue) as LocalSqsQueue;
  const own = queue.FifoQueue ? undefined : prototype.getAttributes.call(queue, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed']);
  const invalidHandle = own && errorClassOf(() => prototype.delete.call(queue, '-'));
  const baseError = invalidHandle && (Object.getPrototypeOf(invalidHandle) as SqsErrorClass);
  if (own?.ApproximateNumberOfMessages !== '0' || own?.ApproximateNumberOfMessagesDelayed !== '0' || !invalidHandle || typeof baseError !== 'function') {
    declined.add(queue);
    return false;
  }
  const store = new IndexedStore(queue, prototype, invalidHandle as unknown as new (handle: string) => Error, baseError);
  Object.assign(queue, {
    newRecord: (record: QueueRecord, delaySeconds: number) => store.add(record, delaySeconds),
    receive: (options: ReceiveOptions) => store.receive(options),
    delete: (receiptHandle: string) => store.delete(receiptHandle),
    changeVisibility: (receiptHandle: string, timeout: unknown) => store.changeVisibility(receiptHandle, timeout),
    getAttributes: (names: unknown) => store.attributes(names),
    clearRecords: () => store.clear(),
  });
  installed.add(queue);
  return true;
}

/** The class of what `fn` throws (local-aws-sqs's own error classes, which it answers with). */
function errorClassOf(fn: () => unknown): (new (...args: never[]) => Error) | undefined {
  try {
    fn();
  } catch (err) {
    return typeof (err as Error)?.constructor === 'function' && typeof (err as { toJSON?: unknown }).toJSON === 'function' ? ((err as Error).constructor as new (...args: never[]) => Error) : undefined;
  }
  return undefined;
}

class IndexedStore {
  /** By MessageId, oldest first. */
  private readonly entries = new Map<string, Entry>();
  private inFlight = 0;
  private delayed = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly queue: LocalSqsQueue,
    private readonly prototype: LocalSqsQueue,
    private readonly InvalidHandle: new (handle: string) => Error,
    private readonly SqsError: SqsErrorClass,
  ) {}

  add(record: QueueRecord, delaySeconds: number): Entry {
    const delayMs = (Number.isNaN(delaySeconds) ? this.queue.DelaySeconds : delaySeconds) * 1000;
    const entry: Entry = { visible: true, record, delayed: delayMs > 0, sentAt: Date.now() };
    this.entries.set(record.MessageId, entry);
    if (entry.delayed) {
      this.delayed++;
      setTimeout(() => {
        if (!entry.delayed) return;
        entry.delayed = false;
        this.delayed--;
        this.wake();
      }, delayMs).unref();
    } else this.wake();
    return entry;
  }

  async receive({ VisibilityTimeout, WaitTimeSeconds, MaxNumberOfMessages }: ReceiveOptions): Promise<QueueRecord[]> {
    const wait = Number(WaitTimeSeconds ?? this.queue.ReceiveMessageWaitTimeSeconds);
    const max = Number(MaxNumberOfMessages ?? 1);
    if (max + this.inFlight >= STANDARD_IN_FLIGHT_LIMIT) {
      throw new this.SqsError({ Code: 'OverLimit', Type: 'com.amazonaws.sqs#OverLimit', Message: 'The maximum number of in flight messages is reached' });
    }
    const visibility = Number(VisibilityTimeout);
    const deadline = Date.now() + (Number.isFinite(wait) && wait > 0 ? wait * 1000 : 0);
    for (;;) {
      const received = this.take(max, visibility);
      const left = deadline - Date.now();
      if (received.length > 0 || left <= 0) return received;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        timer.unref();
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Up to `max` visible messages, oldest first, each made invisible (copies, as local-aws-sqs returns). */
  private take(max: number, visibility: number): QueueRecord[] {
    this.expire();
    const received: QueueRecord[] = [];
    if (this.entries.size === 0) return received;
    for (const entry of this.entries.values()) {
      if (entry.delayed || !entry.visible) continue;
      this.hide(entry, visibility, false);
      received.push({ ...entry.record, attributes: { ...entry.record.attributes } });
      if (received.length === max) break;
    }
    return received;
  }

  /** local-aws-sqs's receive bookkeeping: receive count, first receive time, new handle, the visibility timer that redrives or shows it again. */
  private hide(entry: Entry, visibility: number, keepHandle: boolean): void {
    const queue = this.queue;
    const ms = Number.isNaN(visibility) ? queue.VisibilityTimeout * 1000 : visibility * 1000;
    const { attributes } = entry.record;
    const count = Number(attributes.ApproximateReceiveCount) + 1;
    attributes.ApproximateReceiveCount = String(count);
    if (count === 1) attributes.ApproximateFirstReceiveTimestamp = Date.now().toString();
    if (entry.visible) this.inFlight++;
    entry.visible = false;
    if (!keepHandle) entry.record.ReceiptHandle = receiptHandle(entry.record.MessageId, queue.QueueName);
    if (entry.tm) clearTimeout(entry.tm);
    entry.tm = setTimeout(() => {
      entry.tm = undefined;
      if (this.entries.get(entry.record.MessageId) !== entry) return;
      const policy = queue.RedrivePolicy;
      if (policy && Number(entry.record.attributes.ApproximateReceiveCount) >= Number(policy.maxReceiveCount)) this.redrive(entry, policy.deadLetterTargetArn);
      else {
        entry.visible = true;
        this.inFlight--;
        this.wake();
      }
    }, ms);
    entry.tm.unref();
    entry.tmStart = Date.now();
  }

  /** To the dead-letter queue as local-aws-sqs moves it: same MessageId, body and attributes, DeadLetterQueueSourceArn. */
  private redrive(entry: Entry, deadLetterTargetArn: string): void {
    const { queue } = this;
    const dlqName = deadLetterTargetArn.split(':').pop();
    const dlq = queue.service.Queues.find((q) => q.QueueName === dlqName);
    const { MessageId, MessageBody, attributes, MessageAttributes } = entry.record;
    const system: Record<string, { DataType: string; StringValue: string }> = {
      DeadLetterQueueSourceArn: { DataType: 'String', StringValue: `arn:aws:sqs:${queue.service.REGION}:${queue.service.ACCOUNT_ID}:${queue.QueueName}` },
    };
    if (attributes.AWSTraceHeader) system.AWSTraceHeader = { DataType: 'String', StringValue: attributes.AWSTraceHeader };
    this.remove(entry);
    dlq?.setRecord(
      { MessageBody, MessageAttributes, MessageSystemAttributes: system, MessageDeduplicationId: attributes.MessageDeduplicationId, MessageGroupId: attributes.MessageGroupId },
      MessageId,
    );
  }

  delete(handle: string): boolean {
    const entry = this.entries.get(this.messageIdOf(handle));
    if (entry) this.remove(entry);
    return true;
  }

  changeVisibility(handle: string, timeout: unknown): boolean {
    const entry = this.entries.get(this.messageIdOf(handle));
    if (!entry) return false;
    this.hide(entry, Number(timeout), true);
    return true;
  }

  /** local-aws-sqs's own answer, its three counts taken from this store. */
  attributes(names: unknown): Record<string, string> | undefined {
    const answer = this.prototype.getAttributes.call(this.queue, names);
    if (!answer) return answer;
    this.expire();
    if ('ApproximateNumberOfMessages' in answer) answer.ApproximateNumberOfMessages = String(this.entries.size - this.delayed);
    if ('ApproximateNumberOfMessagesNotVisible' in answer) answer.ApproximateNumberOfMessagesNotVisible = String(this.inFlight);
    if ('ApproximateNumberOfMessagesDelayed' in answer) answer.ApproximateNumberOfMessagesDelayed = String(this.delayed);
    return answer;
  }

  clear(): void {
    for (const entry of [...this.entries.values()]) this.remove(entry);
  }

  private remove(entry: Entry): void {
    if (this.entries.get(entry.record.MessageId) !== entry) return;
    this.entries.delete(entry.record.MessageId);
    if (entry.tm) clearTimeout(entry.tm);
    entry.tm = undefined;
    if (!entry.visible) this.inFlight--;
    if (entry.delayed) {
      entry.delayed = false;
      this.delayed--;
    }
  }

  /** Drops the messages past the retention period (the oldest are first). */
  private expire(): void {
    const cutoff = Date.now() - this.queue.MessageRetentionPeriod * 1000;
    for (const entry of this.entries.values()) {
      if (entry.sentAt > cutoff) return;
      this.remove(entry);
    }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** The MessageId in a receipt handle of this queue, checked as local-aws-sqs checks it (else its ReceiptHandleIsInvalid). */
  private messageIdOf(handle: string): string {
    try {
      const text = Buffer.from(handle, 'base64').toString('utf-8');
      const fields = JSON.parse(text.slice(text.indexOf('{'))) as { date?: unknown; MessageId?: unknown; QueueName?: unknown };
      if (!fields.date || !fields.MessageId || !fields.QueueName || fields.QueueName !== this.queue.QueueName) throw new Error();
      return String(fields.MessageId);
    } catch {
      throw new this.InvalidHandle(handle);
    }
  }
}

/** local-aws-sqs's receipt handle: base64 of a random UUID and the JSON it reads back on delete. */
function receiptHandle(messageId: string, queueName: string): string {
  return Buffer.from(randomUUID() + JSON.stringify({ date: Date.now(), MessageId: messageId, QueueName: queueName }), 'utf-8').toString('base64');
}
