import { GetQueueAttributesCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';

export interface ReceiveBatchOptions {
  /** Hide what is returned for this many seconds (default: the queue's visibility timeout). */
  visibilityTimeout?: number;
  /** Message attribute names to return, e.g. `['All']`. */
  messageAttributeNames?: string[];
  /** Long poll this many seconds when a short poll came back empty from a non-empty queue; default 1. */
  confirmSeconds?: number;
}

/**
 * Receives up to 10 waiting messages, for loops that stop when a queue is empty. An empty short
 * poll proves nothing: SQS samples a subset of its servers, and local-aws-sqs gives a short poll
 * a 40 ms scan that a busy event loop can miss entirely. So an empty answer is checked against
 * the queue's ApproximateNumberOfMessages; when that is not 0, a long poll of `confirmSeconds`
 * decides (local-aws-sqs counts in-flight messages there too, which only costs that poll).
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
  if (first.length > 0) return first;
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) === 0 ? [] : receive(options.confirmSeconds ?? 1);
}
