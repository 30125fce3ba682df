import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

/** An SQS event-source batch, exactly in AWS's shape. */
export function sqsEvent(messages: Array<{ messageId: string; body: string }>, queueArn = 'arn:aws:sqs:us-east-1:123456789012:fanout'): SQSEvent {
  return {
    Records: messages.map(
      (m, i): SQSRecord => ({
        messageId: m.messageId,
        receiptHandle: `receipt-${m.messageId}`,
        body: m.body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(1_767_225_600_000 + i),
          SenderId: 'AIDAEXAMPLE',
          ApproximateFirstReceiveTimestamp: String(1_767_225_600_100 + i),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      }),
    ),
  };
}

/** A Lambda context with a fixed request id and plenty of time left. */
export function lambdaContext(requestId = 'test-request-0001', functionName = 'transform-fn'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/01/01/[$LATEST]0001',
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
