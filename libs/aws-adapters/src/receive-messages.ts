import { ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';

export interface ReceiveBatchOptions {
  /** Hide what is returned for this many seconds (default: the queue's visibility timeout). */
  visibilityTimeout?: number;
  /** Message attribute names to return, e.g. `['All']`. */
  messageAttributeNames?: string[];
  /** Long poll this many seconds before an empty answer is believed; default 1. */
  confirmSeconds?: number;
}

/**
 * Receives up to 10 waiting messages, for loops that stop when a queue is empty. An empty short
 * poll proves nothing: SQS samples a subset of its servers, and local-aws-sqs gives a short poll
 * a 40 ms scan that a busy event loop can miss entirely. So a short poll comes first and an empty
 * answer is confirmed by a long poll of `confirmSeconds` before it is returned.
 * @example
 * for (let batch = await receiveBatch(sqs, url); batch.length > 0; batch = await receiveBatch(sqs, url)) handle(batch);
 */
export async function receiveBatch(sqs: SQSClient, queueUrl: string, options: ReceiveBatchOptions = {}): Promise<Message[]> {
  const receive = async (waitSeconds: number) => {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        ...(options.visibilityTimeout !== undefined && { VisibilityTimeout: options.visibilityTimeout }),
        ...(options.messageAttributeNames && { MessageAttributeNames: options.messageAttributeNames }),
      }),
    );
    return out.Messages ?? [];
  };
  const first = await receive(0);
  return first.length > 0 ? first : receive(options.confirmSeconds ?? 1);
}
