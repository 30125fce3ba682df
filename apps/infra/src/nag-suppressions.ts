import { Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

const BASIC_EXECUTION_ROLE =
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/** Singleton functions CDK adds for S3 notifications and AwsCustomResource; we cannot set their roles. */
const CDK_SINGLETON_PREFIXES = ['BucketNotificationsHandler', 'AWS679f53fac002430cb0da5b7982bd2287'];

/**
 * Acknowledges a cdk-nag IAM5 finding for an object-prefix wildcard on `bucket`, on `scope` only.
 * Object keys under a prefix are chosen at run time (`processed/<stem>-<etag8>-<chunk>.csv`), so
 * `prefix*` is the narrowest resource that works.
 * @example
 * acknowledgePrefixWildcard(fn.role!, bucket, 'raw/');
 */
export function acknowledgePrefixWildcard(scope: IConstruct, bucket: s3.IBucket, prefix: string): void {
  const stack = Stack.of(bucket);
  const bucketId = stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
  Validations.of(scope).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
    reason: `Keys under ${prefix} are only known at run time; the grant is limited to that prefix and exact actions.`,
  });
}

/**
 * Acknowledges the `kms:*` action wildcards that CDK's SQS grants (send, consume, Lambda's
 * on-failure destination) add for a KMS-encrypted queue, on `role` only. They name one resource,
 * the stack's key, which encrypts nothing but this stack's bucket, queues, logs and topic.
 * @example
 * acknowledgeKeyGrantWildcards(fn.role!);
 */
export function acknowledgeKeyGrantWildcards(role: IConstruct): void {
  for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason: "CDK's grants for a KMS-encrypted queue; the statement names only the stack's own key, which encrypts only this stack's data.",
    });
  }
}

/**
 * The cdk-nag AwsSolutions findings we accept for the stack, each with its reason. Call after
 * every resource exists (CDK's singleton functions appear when the first notification is added).
 */
export function acknowledgeStackFindings(
  stack: Stack,
  resources: { bucket: IConstruct; accessLogsBucket?: IConstruct; ingestDlq: IConstruct; alertTopic: IConstruct; kms: boolean },
): void {
  if (resources.accessLogsBucket) {
    Validations.of(resources.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination of the data bucket; logging it into itself would loop.',
    });
  } else {
    Validations.of(resources.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'accessLogs=false (context): server access logs would need a second bucket per stack; object-level auditing belongs ' +
        'to CloudTrail data events, and every object the pipeline writes is accounted for in its manifest.',
    });
  }
  Validations.of(resources.ingestDlq).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself a dead-letter queue: the on-failure destination of the ingest function.',
  });
  if (!resources.kms) {
    Validations.of(resources.alertTopic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'kms=false (context): alarm messages carry alarm names, states and metric values, never ride data, and CloudWatch ' +
        'cannot publish to a topic encrypted with the AWS-managed SNS key; kms=true encrypts it with the stack key.',
    });
  }
  for (const child of stack.node.children) {
    if (!CDK_SINGLETON_PREFIXES.some((prefix) => child.node.id.startsWith(prefix))) continue;
    Validations.of(child).acknowledge({
      id: BASIC_EXECUTION_ROLE,
      reason: 'CDK-owned singleton function (S3 notification / custom resource handler); it only needs to write its own logs.',
    });
  }
}
