import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { RAW_PREFIX, RIDE_FILE_SUFFIXES } from '@rydes/ride-model';
import type { PipelineConfig } from './config';
import { AlertTopic } from './alert-topic';
import { acknowledgeControlTowerFindings } from './control-tower';
import { MissingBundleError } from './errors';
import { wireBucket, wireQueue } from './grants';
import { acknowledgeKeyGrantWildcards, acknowledgePrefixWildcard, acknowledgeStackFindings } from './nag-suppressions';
import { PipelineDashboard } from './pipeline-dashboard';
import { RideTable } from './ride-table';
import { TrainingSet, trainingSetContext } from './weather-table';

/** Suffixes under `raw/` that start an ingest; one S3 notification each. */

/**
 * Node.js 24 on Lambda: nodejs22.x is deprecated on 2027-04-30 (function updates blocked from
 * 2027-07-01), nodejs24.x on 2028-04-30. The handlers return promises (Node 24 dropped callback
 * handlers) and the bundles carry their own SDK. README "Lambda runtime" has the reasoning.
 */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Transform timeout; the fan-out queue's visibility timeout is derived from it. */
export const TRANSFORM_TIMEOUT = Duration.seconds(60);
export const TRANSFORM_BATCHING_WINDOW = Duration.seconds(5);

/** Output keys; `rydes doctor` and `rydes upload` find the resources through them. */
export const OUTPUT_KEYS = [
  'BucketName',
  'FanoutQueueUrl',
  'FanoutDlqUrl',
  'IngestDlqUrl',
  'IngestFunctionName',
  'TransformFunctionName',
  'DashboardUrl',
  'GlueDatabase',
  'GlueTable',
  'AlertTopicArn',
] as const;

export interface PipelineStackProps extends StackProps {
  config: PipelineConfig;
}

/**
 * The ride pipeline: data bucket → ingest → fan-out queue → transform → processed/ CSV, with
 * dead-letter queues, alarms, a dashboard and the Glue table Athena reads.
 */
export class PipelineStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly fanout: sqs.Queue;
  readonly ingest: lambda.Function;
  readonly transform: lambda.Function;
  /** The customer-managed key of `kms=true`. */
  readonly key?: kms.Key;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, { ...props, stackName: props.config.stackName });
    const { config } = props;
    const removalPolicy = config.destroyable ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    this.key = config.kms ? this.encryptionKey(removalPolicy) : undefined;
    const accessLogsBucket = config.accessLogs ? this.accessLogsBucket(config, removalPolicy) : undefined;

    this.bucket = new s3.Bucket(this, 'DataBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      ...(this.key
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: this.key, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      ...(accessLogsBucket && { serverAccessLogsBucket: accessLogsBucket, serverAccessLogsPrefix: 'data-bucket/' }),
      enforceSSL: true,
      versioned: config.versioned,
      removalPolicy,
      autoDeleteObjects: config.destroyable,
      // `rydes upload` is multipart; an interrupted upload leaves billable parts behind.
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });

    const ingestDlq = this.deadLetterQueue('IngestDlq');
    const fanoutDlq = this.deadLetterQueue('FanoutDlq');
    this.fanout = new sqs.Queue(this, 'FanoutQueue', {
      ...this.queueEncryption(),
      enforceSSL: true,
      // AWS guidance for SQS event sources: at least 6 × the function timeout (+ batching window),
      // so a message is not redelivered while a throttled retry of its batch may still run.
      visibilityTimeout: Duration.seconds(6 * TRANSFORM_TIMEOUT.toSeconds() + TRANSFORM_BATCHING_WINDOW.toSeconds()),
      deadLetterQueue: { queue: fanoutDlq, maxReceiveCount: 5 },
    });

    this.ingest = this.pipelineFunction('Ingest', 'ingest-fn', {
      description: 'Streams ride files from raw/, validates them and fans the rides out over SQS',
      timeout: Duration.minutes(15),
      // Streaming keeps memory flat whatever the file size; the 1024 MB buy CPU (Lambda scales
      // CPU with memory) for gunzip, JSON parsing and concurrent SendMessageBatch calls.
      memorySize: 1024,
      retryAttempts: 2,
      onFailure: new SqsDestination(ingestDlq),
      environment: { RIDES_PER_MESSAGE: String(config.ridesPerMessage), LOG_LEVEL: config.logLevel },
    }, config, removalPolicy);
    wireQueue(this.ingest, this.fanout, 'OUTPUT_QUEUE');
    // Reads its file and the manifests of earlier versions; writes rejects and manifests; reads
    // rejects/ to copy and join the rejects of a file's continuation parts; deletes the outputs
    // of a version a re-upload superseded (ingest-fn/src/versions.ts).
    wireBucket(this.ingest, this.bucket, {
      read: ['raw/', 'rejects/', 'manifests/'],
      write: ['rejects/', 'manifests/'],
      remove: ['processed/', 'rejects/', 'manifests/'],
      list: true,
    });
    this.allowSelfInvoke(this.ingest);
    for (const suffix of RIDE_FILE_SUFFIXES) {
      this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(this.ingest), {
        prefix: RAW_PREFIX,
        suffix,
      });
    }

    this.transform = this.pipelineFunction('Transform', 'transform-fn', {
      description: 'Joins each ride with its nearest GHCN station and writes processed/ CSV',
      timeout: TRANSFORM_TIMEOUT,
      // Ten messages of at most 1,000 rides (≤ 200 KiB each) and an in-memory station index need little memory.
      memorySize: 512,
      environment: { LOG_LEVEL: config.logLevel },
    }, config, removalPolicy);
    // HeadObject of the ride file after each write (s3:GetObject on raw/, ListBucket for a 404 once
    // it is deleted): a chunk of a superseded version is deleted again (transform-batch.ts).
    wireBucket(this.transform, this.bucket, {
      env: 'OUTPUT_BUCKET',
      read: ['stations/', 'raw/'],
      write: ['processed/'],
      remove: ['processed/'],
      list: true,
    });
    this.transform.addEventSource(
      new SqsEventSource(this.fanout, {
        batchSize: 10,
        maxBatchingWindow: TRANSFORM_BATCHING_WINDOW,
        reportBatchItemFailures: true,
        maxConcurrency: config.transformMaxConcurrency,
      }),
    );
    if (config.stationsFile) this.deployStations(config.stationsFile);

    const alerts = new AlertTopic(this, 'Alerts', { key: this.key, email: config.alertEmail });
    new PipelineDashboard(this, 'Monitoring', {
      dashboardName: config.stackName,
      ingest: this.ingest,
      transform: this.transform,
      fanout: this.fanout,
      deadLetterQueues: { IngestDlq: ingestDlq, FanoutDlq: fanoutDlq },
      alarmTopic: alerts.topic,
      queueAgeAlarmSeconds: config.queueAgeAlarmSeconds,
    });
    const table = new RideTable(this, 'RideTable', {
      bucket: this.bucket,
      databaseName: config.stackName.toLowerCase().replace(/-/g, '_'),
    });
    new TrainingSet(this, 'TrainingSet', { ...trainingSetContext((key) => this.node.tryGetContext(key)), bucket: this.bucket, rideTable: table, transform: this.transform, key: this.key });

    const outputs: Record<(typeof OUTPUT_KEYS)[number], string> = {
      BucketName: this.bucket.bucketName,
      FanoutQueueUrl: this.fanout.queueUrl,
      FanoutDlqUrl: fanoutDlq.queueUrl,
      IngestDlqUrl: ingestDlq.queueUrl,
      IngestFunctionName: this.ingest.functionName,
      TransformFunctionName: this.transform.functionName,
      DashboardUrl: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${config.stackName}`,
      GlueDatabase: table.databaseName,
      GlueTable: `${table.databaseName}.${table.tableName}`,
      AlertTopicArn: alerts.topic.topicArn,
    };
    for (const [key, value] of Object.entries(outputs)) new CfnOutput(this, key, { value });

    acknowledgeStackFindings(this, { bucket: this.bucket, accessLogsBucket, ingestDlq, alertTopic: alerts.topic, kms: config.kms });
    acknowledgeControlTowerFindings(this, { dataBucket: this.bucket, accessLogsBucket, ingestDlq, fanoutDlq }, config);
  }

  /**
   * The one customer-managed key of `kms=true`: bucket, queues, log groups and the alert topic.
   * Key policy: the account root (CDK's default, so IAM grants work), CloudWatch Logs for this
   * region's log groups of this account, and CloudWatch alarms (added by AlertTopic). Lambda,
   * S3 and SQS use it through the callers' IAM grants.
   */
  private encryptionKey(removalPolicy: RemovalPolicy): kms.Key {
    const key = new kms.Key(this, 'EncryptionKey', {
      description: `${this.stackName}: bucket, queues, logs and alarm topic`,
      enableKeyRotation: true,
      removalPolicy,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsOfThisStackRegion',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` },
        },
      }),
    );
    // Control Tower CT.KMS.PR.3: only AWS services acting for a resource may create grants.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'GrantsOnlyForAwsServices',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      }),
    );
    return key;
  }

  /** Server access logs of the data bucket, kept as long as the function logs. */
  private accessLogsBucket(config: PipelineConfig, removalPolicy: RemovalPolicy): s3.Bucket {
    return new s3.Bucket(this, 'AccessLogsBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // S3 delivers access logs only to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: config.versioned,
      removalPolicy,
      autoDeleteObjects: config.destroyable,
      lifecycleRules: [
        {
          expiration: Duration.days(config.logRetentionDays),
          ...(config.versioned && { noncurrentVersionExpiration: Duration.days(1) }),
        },
      ],
    });
  }

  private queueEncryption(): Pick<sqs.QueueProps, 'encryption' | 'encryptionMasterKey'> {
    return this.key ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: this.key } : { encryption: sqs.QueueEncryption.SQS_MANAGED };
  }

  /**
   * An ingest invocation near its time limit hands the rest of the file to an asynchronous
   * invocation of itself (ingest-fn/src/continuation.ts). A separate policy, not the role's
   * default one: the function depends on its default policy, which cannot name the function's
   * own ARN without a dependency cycle.
   */
  private allowSelfInvoke(fn: lambda.Function): void {
    const policy = new iam.Policy(this, `${fn.node.id}SelfInvoke`, {
      roles: [fn.role as iam.IRole],
      // Qualified ARNs too: the continuation invokes the ARN it runs under (fn:alias, fn:version).
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn, `${fn.functionArn}:*`] })],
    });
    const fnId = Stack.of(this).getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
      reason: 'The wildcard covers only the qualifiers (versions, aliases) of this one function, so a continuation can invoke the ARN it was invoked under.',
    });
  }

  private deadLetterQueue(id: string): sqs.Queue {
    return new sqs.Queue(this, id, {
      ...this.queueEncryption(),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }

  /** {@link LAMBDA_RUNTIME} on arm64 from the Nx esbuild bundle; its own role and a log group it may write. */
  private pipelineFunction(
    id: string,
    project: string,
    props: Omit<lambda.FunctionProps, 'runtime' | 'architecture' | 'code' | 'handler'>,
    config: PipelineConfig,
    removalPolicy: RemovalPolicy,
  ): lambda.Function {
    const directory = join(config.bundlesDir, project);
    if (!existsSync(join(directory, 'main.js'))) throw new MissingBundleError(project, directory);
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: config.logRetentionDays as logs.RetentionDays,
      encryptionKey: this.key,
      removalPolicy,
    });
    // An own role instead of AWSLambdaBasicExecutionRole, whose logs actions apply to every group.
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    if (this.key) {
      // Objects under SSE-KMS: GetObject needs Decrypt, PutObject GenerateDataKey, multipart both.
      role.addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.key.keyArn] }));
      acknowledgeKeyGrantWildcards(role);
    }
    return new lambda.Function(this, `${id}Function`, {
      ...props,
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      code: lambda.Code.fromAsset(directory),
      handler: 'main.handler',
      role,
      logGroup,
    });
  }

  /**
   * Uploads the catalogue as an asset and copies it to `stations/` with one CopyObject call, so
   * the copying function needs GetObject on one asset object and PutObject on `stations/*` only.
   */
  private deployStations(file: string): void {
    const asset = new Asset(this, 'StationsAsset', { path: file });
    const key = `stations/${basename(file)}`;
    const copy = new cr.AwsCustomResource(this, 'StationsCopy', {
      onUpdate: {
        service: 'S3',
        action: 'copyObject',
        parameters: { Bucket: this.bucket.bucketName, Key: key, CopySource: `${asset.s3BucketName}/${asset.s3ObjectKey}` },
        physicalResourceId: cr.PhysicalResourceId.of(`${key}@${asset.assetHash}`),
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:${Aws.PARTITION}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`] }),
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('stations/*')] }),
      ]),
      installLatestAwsSdk: false,
    });
    acknowledgePrefixWildcard(copy, this.bucket, 'stations/');
    if (this.key) {
      copy.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.key.keyArn] }),
      );
    }
    this.transform.addEnvironment('STATIONS_URI', `s3://${this.bucket.bucketName}/${key}`);
    this.transform.node.addDependency(copy);
  }
}
