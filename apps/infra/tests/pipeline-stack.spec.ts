import { Match, type Template } from 'aws-cdk-lib/assertions';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUNDLES_DIR } from '../src/config';
import { EMF_FUNCTION_DIMENSION } from '../src/pipeline-dashboard';
import { RIDE_FILE_SUFFIXES } from '@rydes/ride-model';
import { LAMBDA_RUNTIME, OUTPUT_KEYS } from '../src/pipeline-stack';
import { allStatements, asArray, type Cfn, logicalId, resourceText, roleStatements, synthPipeline } from './helpers';

/** The processed/ CSV header from ARCHITECTURE.md: the oracle for the Glue table. */
const CSV_HEADER =
  'distance,healthpoints,latitude,longitude,magicpoints,name,statustime,fieldservice,groundstation,groundstation_distance_km,source,ride_index';

describe('PipelineStack with default context', () => {
  // Prepare (once per file: synthesis is the slow part)
  const { app, stack, template } = synthPipeline();
  const id = (type: string, prefix: string) => logicalId(template, type, prefix);
  const bucket = id('AWS::S3::Bucket', 'DataBucket');
  const fanout = id('AWS::SQS::Queue', 'FanoutQueue');
  const fanoutDlq = id('AWS::SQS::Queue', 'FanoutDlq');
  const ingestDlq = id('AWS::SQS::Queue', 'IngestDlq');
  const ingest = id('AWS::Lambda::Function', 'IngestFunction');
  const transform = id('AWS::Lambda::Function', 'TransformFunction');
  const fn = (logical: string) => template.toJSON().Resources[logical].Properties;

  describe('data bucket', () => {
    it('blocks all public access and encrypts with S3-managed keys', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      });
    });

    it('denies every request that does not use TLS', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucket },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('is retained on stack deletion and unversioned unless asked otherwise', () => {
      const resource = template.toJSON().Resources[bucket];
      expect(resource.DeletionPolicy).toBe('Retain');
      expect(resource.UpdateReplacePolicy).toBe('Retain');
      expect(resource.Properties.VersioningConfiguration).toBeUndefined();
      template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    });

    it('aborts incomplete multipart uploads', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } })]) },
      });
    });
  });

  describe('S3 trigger', () => {
    it('invokes the ingest function for ObjectCreated under raw/, one notification per suffix', () => {
      const [notifications] = Object.values(template.findResources('Custom::S3BucketNotifications'));
      const configs = notifications.Properties.NotificationConfiguration.LambdaFunctionConfigurations;
      const filters = configs.map((c: Cfn) => {
        expect(c.Events).toEqual(['s3:ObjectCreated:*']);
        expect(c.LambdaFunctionArn).toEqual({ 'Fn::GetAtt': [ingest, 'Arn'] });
        const rules = Object.fromEntries(c.Filter.Key.FilterRules.map((r: Cfn) => [r.Name.toLowerCase(), r.Value]));
        return `${rules.prefix}*${rules.suffix}`;
      });
      expect(filters.sort()).toEqual(RIDE_FILE_SUFFIXES.map((suffix) => `raw/*${suffix}`).sort());
      expect([...RIDE_FILE_SUFFIXES].sort()).toEqual(['.json', '.json.gz', '.ndjson', '.ndjson.gz']);
    });

    it('lets only this bucket invoke the ingest function', () => {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [ingest, 'Arn'] },
        Principal: 's3.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [bucket, 'Arn'] },
      });
    });
  });

  describe('queues', () => {
    it('encrypts every queue at rest (SSE-SQS) and refuses plain HTTP', () => {
      const queues = template.findResources('AWS::SQS::Queue');
      expect(Object.values(queues).map((q) => q.Properties.SqsManagedSseEnabled)).toEqual([true, true, true]);
      for (const queue of Object.keys(queues)) {
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queue }],
          PolicyDocument: {
            Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
          },
        });
      }
    });

    it('redrives a fan-out message to the fan-out DLQ after 5 receives', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [fanoutDlq, 'Arn'] }, maxReceiveCount: 5 },
      });
      expect(template.toJSON().Resources[fanout].Properties.RedrivePolicy).toBeDefined();
    });

    it('keeps a fan-out message invisible for at least 6 × the transform timeout', () => {
      const visibility = template.toJSON().Resources[fanout].Properties.VisibilityTimeout;
      expect(visibility).toBeGreaterThanOrEqual(6 * fn(transform).Timeout);
    });

    it('keeps dead letters for 14 days', () => {
      for (const dlq of [fanoutDlq, ingestDlq]) {
        expect(template.toJSON().Resources[dlq].Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      }
    });
  });

  describe('ingest function', () => {
    it('runs the ingest-fn bundle on Node.js 24, arm64, 15 minutes, 1024 MB', () => {
      expect(fn(ingest)).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'main.handler',
        Timeout: 900,
        MemorySize: 1024,
      });
      expect(stack.ingest.node.metadata).toBeDefined();
    });

    it('runs the Node major the local function environments compare this machine with (cli stack/names.ts)', () => {
      const names = readFileSync(join(__dirname, '../../cli/src/stack/names.ts'), 'utf8');
      const major = /DEPLOYED_NODE_MAJOR = (\d+);/.exec(names)?.[1];
      expect(`nodejs${major}.x`).toBe(LAMBDA_RUNTIME.name);
    });

    it('gets the fan-out queue URL, rides per message and log level from its environment', () => {
      expect(fn(ingest).Environment.Variables).toEqual({
        OUTPUT_QUEUE: { Ref: fanout },
        RIDES_PER_MESSAGE: '1000',
        LOG_LEVEL: 'info',
      });
    });

    it('retries a failed asynchronous invocation twice, then sends it to the ingest DLQ', () => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: ingest },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ingestDlq, 'Arn'] } } },
      });
    });
  });

  describe('transform function', () => {
    it('runs the transform-fn bundle on Node.js 24, arm64, with a timeout the queue is sized from', () => {
      expect(fn(transform)).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'main.handler', Timeout: 60 });
    });

    it('gets the bucket name and no STATIONS_URI (bundled stations) by default', () => {
      expect(fn(transform).Environment.Variables).toEqual({ OUTPUT_BUCKET: { Ref: bucket }, LOG_LEVEL: 'info' });
    });

    it('consumes the fan-out queue in batches of 10 with a window, partial failures and capped concurrency', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [fanout, 'Arn'] },
        FunctionName: { Ref: transform },
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: 5,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 10 },
      });
    });

    it('packages each function from its Nx build output folder', () => {
      const assembly = app.synth();
      for (const [logical, project] of [
        [ingest, 'ingest-fn'],
        [transform, 'transform-fn'],
      ]) {
        const hash = String(fn(logical).Code.S3Key).replace(/\.zip$/, '');
        const staged = join(assembly.directory, `asset.${hash}`, 'main.js');
        expect(readFileSync(staged)).toEqual(readFileSync(join(DEFAULT_BUNDLES_DIR, project, 'main.js')));
      }
    });
  });

  describe('IAM', () => {
    /** `action resource` lines of a role's allowed actions starting with `service`, sorted. */
    const grants = (rolePrefix: string, service: string) =>
      roleStatements(template, rolePrefix)
        .filter((s) => s.Effect === 'Allow')
        .flatMap((s) => asArray(s.Action).filter((a) => a.startsWith(service)).flatMap((a) => asArray(s.Resource).map((r) => `${a} ${resourceText(r)}`)))
        .sort();
    const s3Grants = (rolePrefix: string) => grants(rolePrefix, 's3:');

    it('lets ingest read raw/, rejects/ (joining continuation parts) and manifests/, write rejects/ and manifests/, delete superseded outputs, nothing else', () => {
      const arn = `<${bucket}.Arn>`;
      expect(s3Grants('IngestRole')).toEqual(
        [
          `s3:GetObject ${arn}/raw/*`,
          `s3:GetObject ${arn}/rejects/*`,
          `s3:GetObject ${arn}/manifests/*`,
          `s3:PutObject ${arn}/rejects/*`,
          `s3:PutObject ${arn}/manifests/*`,
          `s3:AbortMultipartUpload ${arn}/rejects/*`,
          `s3:AbortMultipartUpload ${arn}/manifests/*`,
          `s3:DeleteObject ${arn}/processed/*`,
          `s3:DeleteObject ${arn}/rejects/*`,
          `s3:DeleteObject ${arn}/manifests/*`,
          `s3:ListBucket ${arn}`,
        ].sort(),
      );
    });

    it('lets transform read stations/ and raw/ (HeadObject), write and delete processed/, nothing else', () => {
      const arn = `<${bucket}.Arn>`;
      expect(s3Grants('TransformRole')).toEqual(
        [
          `s3:GetObject ${arn}/stations/*`,
          `s3:GetObject ${arn}/raw/*`,
          `s3:PutObject ${arn}/processed/*`,
          `s3:AbortMultipartUpload ${arn}/processed/*`,
          `s3:DeleteObject ${arn}/processed/*`,
          `s3:ListBucket ${arn}`,
        ].sort(),
      );
    });

    it('lets ingest invoke itself (continuations of long files) and nothing else in Lambda', () => {
      const ingestFn = id('AWS::Lambda::Function', 'IngestFunction');
      expect(grants('IngestRole', 'lambda:')).toEqual([`lambda:InvokeFunction <${ingestFn}.Arn>`, `lambda:InvokeFunction <${ingestFn}.Arn>:*`]);
      expect(grants('TransformRole', 'lambda:')).toEqual([]);
    });

    it('lets ingest send to the fan-out queue and its DLQ only', () => {
      expect(grants('IngestRole', 'sqs:')).toEqual(
        [fanout, ingestDlq].flatMap((q) => ['GetQueueAttributes', 'GetQueueUrl', 'SendMessage'].map((a) => `sqs:${a} <${q}.Arn>`)).sort(),
      );
    });

    it('lets transform receive and delete from the fan-out queue only', () => {
      expect(grants('TransformRole', 'sqs:')).toEqual(
        ['ChangeMessageVisibility', 'DeleteMessage', 'GetQueueAttributes', 'GetQueueUrl', 'ReceiveMessage'].map((a) => `sqs:${a} <${fanout}.Arn>`),
      );
    });

    it('lets each function write only to its own log group', () => {
      for (const [role, logGroup] of [
        ['IngestRole', id('AWS::Logs::LogGroup', 'IngestLogs')],
        ['TransformRole', id('AWS::Logs::LogGroup', 'TransformLogs')],
      ]) {
        const logs = roleStatements(template, role).filter((s) => asArray(s.Action).some((a) => a.startsWith('logs:')));
        expect(logs).toEqual([{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] } }]);
      }
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] },
        ManagedPolicyArns: Match.absent(),
      });
    });

    it('has no statement with a * in any action', () => {
      const statements = allStatements(template);
      expect(statements.length).toBeGreaterThan(10);
      const wildcards = statements.filter(({ statement }) => asArray(statement.Action ?? []).some((a) => a.includes('*')));
      // The bucket's TLS-only statement is a Deny: it takes rights away, never grants them.
      expect(wildcards.map(({ statement }) => statement.Effect)).toEqual(['Deny', 'Deny', 'Deny', 'Deny']);
      expect(statements.filter(({ statement }) => statement.Effect === 'Allow' && asArray(statement.Action).some((a) => a.includes('*')))).toEqual([]);
    });

    it('grants nothing on a bare * resource', () => {
      const star = allStatements(template).filter(({ statement }) => statement.Effect === 'Allow' && asArray(statement.Resource).includes('*'));
      expect(star).toEqual([]);
    });
  });

  describe('monitoring', () => {
    const dashboard = JSON.parse(
      resourceText(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody),
    );
    /** `namespace metric dimension=value` of every graphed metric. */
    const graphed: string[] = dashboard.widgets
      .flatMap((w: { properties: { metrics?: unknown[][] } }) => w.properties.metrics ?? [])
      .map((m: string[]) => `${m[0]} ${m[1]} ${m[2]}=${m[3]}`);

    it('names the dashboard after the stack', () => {
      template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'wildrydes-ride-pipeline' });
    });

    it.each(['Invocations', 'Errors', 'Duration', 'Throttles'])('graphs %s of both functions', (metric) => {
      expect(graphed).toEqual(expect.arrayContaining([`AWS/Lambda ${metric} FunctionName=<${ingest}>`, `AWS/Lambda ${metric} FunctionName=<${transform}>`]));
    });

    it.each(['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateAgeOfOldestMessage'])(
      'graphs %s of the fan-out queue',
      (metric) => {
        expect(graphed).toContain(`AWS/SQS ${metric} QueueName=<${fanout}.QueueName>`);
      },
    );

    it('graphs the depth of both DLQs', () => {
      for (const dlq of [fanoutDlq, ingestDlq]) expect(graphed).toContain(`AWS/SQS ApproximateNumberOfMessagesVisible QueueName=<${dlq}.QueueName>`);
    });

    it.each([
      ['RidesIngested', 'ingest-fn'],
      ['RidesRejected', 'ingest-fn'],
      ['RidesProcessed', 'transform-fn'],
    ])('graphs the EMF metric Rydes/%s with the dimension Function=%s the function prints', (metric, dimension) => {
      expect(graphed).toContain(`Rydes ${metric} Function=${dimension}`);
    });

    it('uses the Function dimension values the function sources emit', () => {
      // A contract check across projects: the graphs stay empty if the two drift apart.
      const source = (file: string) => readFileSync(join(__dirname, '../..', file), 'utf8');
      expect(source('ingest-fn/src/ingest-file.ts')).toContain(`Function: '${EMF_FUNCTION_DIMENSION.ingest}'`);
      expect(source('transform-fn/src/transform-batch.ts')).toContain(`Function: '${EMF_FUNCTION_DIMENSION.transform}'`);
    });

    it('alarms on the first message in each DLQ', () => {
      for (const dlq of [fanoutDlq, ingestDlq]) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
      }
    });

    it('alarms on failed invocations of either function within 5 minutes', () => {
      for (const fnId of [ingest, transform]) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
          Statistic: 'Sum',
          Period: 300,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
        });
      }
    });

    it('alarms when the oldest fan-out message has waited over 10 minutes', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [fanout, 'QueueName'] } }],
        Threshold: 600,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });

    it('notifies the alert topic from every alarm, when it fires and when it recovers', () => {
      const topic = { Ref: id('AWS::SNS::Topic', 'AlertsTopic') };
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      expect(alarms).toHaveLength(5);
      for (const alarm of alarms) expect([alarm.Properties.AlarmActions, alarm.Properties.OKActions]).toEqual([[topic], [topic]]);
    });

    it('leaves the alert topic unencrypted without kms=true, requires TLS and lets this account’s alarms publish', () => {
      const topicId = id('AWS::SNS::Topic', 'AlertsTopic');
      expect(template.toJSON().Resources[topicId].Properties?.KmsMasterKeyId).toBeUndefined();
      const [policy] = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
      const statements = policy.Properties.PolicyDocument.Statement as Cfn[];
      expect(statements).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          expect.objectContaining({ Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      );
      expect(template.findResources('AWS::SNS::Subscription')).toEqual({});
    });
  });

  describe('Glue table', () => {
    const table = () => Object.values(template.findResources('AWS::Glue::Table'))[0].Properties;

    it('has exactly the processed/ CSV columns, in order', () => {
      const columns = table().TableInput.StorageDescriptor.Columns;
      expect(columns.map((c: { Name: string }) => c.Name).join(',')).toBe(CSV_HEADER);
      expect(columns.map((c: { Type: string }) => c.Type)).toEqual(
        ['double', 'int', 'double', 'double', 'int', 'string', 'string', 'int', 'string', 'double', 'string', 'bigint'],
      );
    });

    it('reads RFC 4180 CSV under processed/ with OpenCSVSerde and skips the header line', () => {
      expect(table()).toMatchObject({
        DatabaseName: 'wildrydes_ride_pipeline',
        TableInput: {
          Name: 'ridetelemetry',
          TableType: 'EXTERNAL_TABLE',
          Parameters: { 'skip.header.line.count': '1', classification: 'csv' },
          StorageDescriptor: {
            Location: { 'Fn::Join': ['', ['s3://', { Ref: bucket }, '/processed/']] },
            InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.serde2.OpenCSVSerde', Parameters: { separatorChar: ',', quoteChar: '"' } },
          },
        },
      });
      template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'wildrydes_ride_pipeline' } });
    });
  });

  it('outputs the bucket, queue URLs, function names, dashboard URL, Glue table and alert topic', () => {
    const outputs = template.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual([...OUTPUT_KEYS].sort());
    expect(outputs).toMatchObject({
      BucketName: { Value: { Ref: bucket } },
      FanoutQueueUrl: { Value: { Ref: fanout } },
      FanoutDlqUrl: { Value: { Ref: fanoutDlq } },
      IngestDlqUrl: { Value: { Ref: ingestDlq } },
      IngestFunctionName: { Value: { Ref: ingest } },
      TransformFunctionName: { Value: { Ref: transform } },
      GlueTable: { Value: 'wildrydes_ride_pipeline.ridetelemetry' },
      AlertTopicArn: { Value: { Ref: id('AWS::SNS::Topic', 'AlertsTopic') } },
    });
    expect(resourceText(outputs.DashboardUrl.Value)).toContain('#dashboards:name=wildrydes-ride-pipeline');
  });

  describe('cdk-nag AwsSolutions', () => {
    it('reports no unacknowledged finding', () => {
      const report = new AwsSolutionsChecks(app).validateScope(stack);
      expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`)).toEqual([]);
      expect(report.success).toBe(true);
    });

    it('gives a reason for every acknowledgement', () => {
      const acknowledged = stack.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        .flatMap((m) => Object.entries(m.data as Record<string, string>));
      expect(acknowledged.length).toBeGreaterThanOrEqual(6);
      for (const [rule, reason] of acknowledged) {
        expect(rule).toMatch(/^Annotation::AwsSolutions-|^cdk-validator-cfnguard::/);
        expect(reason.length).toBeGreaterThan(30);
      }
    });
  });

  it('has the expected resource counts', () => {
    const count = (t: Template, type: string) => Object.keys(t.findResources(type)).length;
    expect({
      buckets: count(template, 'AWS::S3::Bucket'),
      queues: count(template, 'AWS::SQS::Queue'),
      functions: count(template, 'AWS::Lambda::Function'),
      eventSourceMappings: count(template, 'AWS::Lambda::EventSourceMapping'),
      alarms: count(template, 'AWS::CloudWatch::Alarm'),
      dashboards: count(template, 'AWS::CloudWatch::Dashboard'),
      glueDatabases: count(template, 'AWS::Glue::Database'),
      glueTables: count(template, 'AWS::Glue::Table'),
    }).toEqual({ buckets: 1, queues: 3, functions: 3, eventSourceMappings: 1, alarms: 5, dashboards: 1, glueDatabases: 1, glueTables: 2 });
  });
});
