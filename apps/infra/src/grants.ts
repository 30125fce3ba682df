import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { acknowledgePrefixWildcard } from './nag-suppressions';

export interface BucketAccess {
  /** Environment variable that receives the bucket name. */
  env?: string;
  /** Key prefixes (with trailing slash) the function may read objects from. */
  read?: string[];
  /** Key prefixes the function may write objects to (single and multipart PUT). */
  write?: string[];
  /** Key prefixes the function may delete objects from (superseded outputs of a re-upload). */
  remove?: string[];
  /**
   * s3:ListBucket on the bucket: the function lists keys (stale versions' outputs), or needs S3 to
   * answer 404 rather than 403 for a missing key — HeadObject of a deleted source, GetObject of a
   * manifest not yet written. S3 only tells "no such key" apart from "access denied" to callers
   * that may list the bucket, whatever the prefix.
   */
  list?: boolean;
}

/**
 * Gives a function exact object actions on some prefixes of a bucket and, optionally, the bucket
 * name in an environment variable. Exact action names, not `bucket.grantRead`, whose
 * `s3:GetObject*`/`s3:List*` wildcards grant more than the pipeline uses.
 * @example
 * wireBucket(transform, bucket, { env: 'OUTPUT_BUCKET', read: ['stations/', 'raw/'], write: ['processed/'], remove: ['processed/'], list: true });
 */
export function wireBucket(fn: lambda.Function, bucket: s3.IBucket, access: BucketAccess): void {
  if (access.env) fn.addEnvironment(access.env, bucket.bucketName);
  // A prefix wildcard is the narrowest resource for objects whose keys are chosen at run time.
  const prefixes = new Set([...(access.read ?? []), ...(access.write ?? []), ...(access.remove ?? [])]);
  for (const prefix of prefixes) acknowledgePrefixWildcard(fn.role ?? fn, bucket, prefix);
  if (access.read?.length) {
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: access.read.map((prefix) => bucket.arnForObjects(`${prefix}*`)) }),
    );
  }
  if (access.write?.length) {
    fn.addToRolePolicy(
      new PolicyStatement({
        // AbortMultipartUpload lets lib-storage clean up a failed multipart write.
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: access.write.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      }),
    );
  }
  if (access.remove?.length) {
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:DeleteObject'], resources: access.remove.map((prefix) => bucket.arnForObjects(`${prefix}*`)) }),
    );
  }
  if (access.list) fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
}

/**
 * Lets a function send to a queue and passes the queue URL in an environment variable.
 * @example
 * wireQueue(ingest, fanout, 'OUTPUT_QUEUE');
 */
export function wireQueue(fn: lambda.Function, queue: sqs.IQueue, env: string): void {
  fn.addEnvironment(env, queue.queueUrl);
  queue.grantSendMessages(fn);
}
