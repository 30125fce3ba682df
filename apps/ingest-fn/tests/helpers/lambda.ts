import type { Context, S3Event, S3EventRecord } from 'aws-lambda';
import { encodeEventKey } from '@rydes/ride-model';

/** An `ObjectCreated:Put` event with one record per object, exactly in AWS's shape. */
export function s3Event(bucket: string, objects: Array<{ key: string; size?: number; eTag?: string }>): S3Event {
  return {
    Records: objects.map(
      (o, i): S3EventRecord => ({
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: '2026-01-01T00:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:EXAMPLE' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': `req-${i}`, 'x-amz-id-2': `id2-${i}` },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'raw-objects',
          bucket: { name: bucket, ownerIdentity: { principalId: 'EXAMPLE' }, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encodeEventKey(o.key), size: o.size ?? 0, eTag: o.eTag ?? '', sequencer: `00${i}` },
        },
      }),
    ),
  };
}

/** A Lambda context with a fixed request id and plenty of time left. */
export function lambdaContext(requestId = 'test-request-0001'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'ingest-fn',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ingest-fn',
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/ingest-fn',
    logStreamName: '2026/01/01/[$LATEST]0001',
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
