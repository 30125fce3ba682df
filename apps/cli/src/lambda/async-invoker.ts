import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FunctionPool, InvokeOutcome } from './pool';

export interface AsyncInvokerOptions {
  sqs: SQSClient;
  /** The function's unqualified ARN (the record names `<arn>:$LATEST`, as Lambda does). */
  functionArn: string;
  /** The function's on-failure destination (Lambda's DLQ setting for async invocations). */
  deadLetterQueueUrl: string;
  /** Lambda retries a failed async invocation twice. */
  retries?: number;
  /** Delays before each retry, ms. Lambda waits ~1 min then ~2 min; local runs wait less. */
  retryDelaysMs?: number[];
}

export interface AsyncInvokerStats {
  invoked: number;
  succeeded: number;
  retries: number;
  deadLettered: number;
  pending: number;
}

/**
 * What Lambda sends an on-failure destination for an asynchronous invocation that failed every
 * attempt (AWS Lambda Developer Guide, "Capturing records of Lambda asynchronous invocations"):
 * the event in `requestPayload`, the last error in `responsePayload`.
 */
export interface InvocationRecord {
  version: '1.0';
  timestamp: string;
  requestContext: { requestId: string; functionArn: string; condition: 'RetriesExhausted' | 'EventAgeExceeded'; approximateInvokeCount: number };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion: string; functionError: 'Unhandled' | 'Handled' };
  responsePayload: { errorType: string; errorMessage: string; stackTrace: string[] };
}

/**
 * Lambda's asynchronous invocation (how S3 notifications reach a function): the event is
 * queued, a failed invocation is retried twice after a delay, and an event that still fails is
 * sent to the on-failure destination (the ingest DLQ) as Lambda's invocation record
 * ({@link InvocationRecord}), the same body the deployed stack's SqsDestination receives.
 * @example
 * const invoker = new AsyncInvoker(ingestPool, { sqs, deadLetterQueueUrl });
 * local.onObjectCreated((event) => invoker.invoke(event));
 */
export class AsyncInvoker {
  readonly stats: AsyncInvokerStats = { invoked: 0, succeeded: 0, retries: 0, deadLettered: 0, pending: 0 };
  /** Final outcome per event, in completion order (for summaries and tests). */
  readonly failures: Array<{ event: unknown; outcome: InvokeOutcome }> = [];
  private readonly settled = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly pool: FunctionPool, private readonly options: AsyncInvokerOptions) {}

  /** Queues the event and returns at once, as `InvocationType: 'Event'` does. */
  invoke(event: unknown): void {
    this.stats.invoked++;
    this.stats.pending++;
    const run = this.attempt(event, 0).finally(() => {
      this.stats.pending--;
      this.settled.delete(run);
    });
    this.settled.add(run);
  }

  /** Resolves once every queued event has succeeded or reached the DLQ. */
  async drain(): Promise<void> {
    while (this.settled.size) await Promise.all([...this.settled]);
  }

  /** Cancels pending retries (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async attempt(event: unknown, attempt: number): Promise<void> {
    // After stop() (shutdown), an invocation killed by the closing pool is neither retried nor dead-lettered.
    if (this.stopped) return;
    const outcome = await this.pool.invoke(event);
    if (this.stopped) return;
    if (outcome.ok) {
      this.stats.succeeded++;
      return;
    }
    const retries = this.options.retries ?? 2;
    if (attempt < retries) {
      this.stats.retries++;
      const delays = this.options.retryDelaysMs ?? [1000, 2000];
      await this.sleep(delays[Math.min(attempt, delays.length - 1)]);
      return this.attempt(event, attempt + 1);
    }
    this.failures.push({ event, outcome });
    await this.deadLetter(invocationRecord(this.options.functionArn, event, outcome, attempt + 1));
  }

  private async deadLetter(record: InvocationRecord): Promise<void> {
    await this.options.sqs.send(new SendMessageCommand({ QueueUrl: this.options.deadLetterQueueUrl, MessageBody: JSON.stringify(record) }));
    this.stats.deadLettered++;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

/**
 * The invocation record of an event whose last attempt failed (a thrown error, a timeout or a
 * crash are all `Unhandled` function errors with status 200, as Lambda reports them).
 * @example
 * invocationRecord('arn:aws:lambda:us-east-1:123456789012:function:rydes-ingest', event, outcome, 3);
 */
export function invocationRecord(functionArn: string, event: unknown, outcome: InvokeOutcome & { ok: false }, attempts: number): InvocationRecord {
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: { requestId: outcome.awsRequestId, functionArn: `${functionArn}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: attempts },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: outcome.errorType, errorMessage: outcome.errorMessage, stackTrace: outcome.stackTrace ?? [] },
  };
}
