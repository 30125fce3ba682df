import { App, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTROL_TOWER_PLUGIN } from '../src/control-tower';
import { addPolicyChecks } from '../src/policy-checks';
import { type PolicyReport, synthWithPolicyChecks } from './helpers';

/** `rule @ where it is acknowledged: the constructs it covers`, sorted: the pinned suppressions. */
function suppressions(report: PolicyReport, plugin: string): string[] {
  const found = report.pluginReports.find((r) => r.pluginName === plugin);
  if (!found) throw new Error(`no report of ${plugin}`);
  return (found.suppressedViolations ?? [])
    .map((v) => `${v.ruleName} @ ${v.acknowledgedAt}: ${v.violatingConstructs.map((c) => c.constructPath).sort().join(', ')}`)
    .sort();
}

function expectPassedWithReasons(report: PolicyReport): void {
  // cdk-nag reports through annotations (a finding throws in synth); only the plugin report is in the file.
  expect(report.pluginReports.map((r) => r.pluginName)).toContain(CONTROL_TOWER_PLUGIN);
  for (const plugin of report.pluginReports) {
    expect({ plugin: plugin.pluginName, conclusion: plugin.conclusion, violations: plugin.violations }).toEqual({
      plugin: plugin.pluginName,
      conclusion: 'success',
      violations: [],
    });
    for (const suppressed of plugin.suppressedViolations ?? []) expect(suppressed.reason.length).toBeGreaterThan(40);
  }
}

describe('Control Tower proactive controls and cdk-nag at synth', () => {
  it('stop the synth on an unacknowledged finding and name the rule', () => {
    // Prepare: a queue with no dead-letter queue, which CT.SQS.PR.1 refuses
    const outdir = mkdtempSync(join(tmpdir(), 'rydes-infra-finding-'));
    const app = new App({ outdir });
    new sqs.Queue(new Stack(app, 'Bad'), 'NoDlq', { enforceSSL: true });
    addPolicyChecks(app);
    // Act / Assess
    try {
      expect(() => app.synth()).toThrow(/sqs_dlq_check[\s\S]*Bad\/NoDlq/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  describe('with default context', () => {
    const { report } = synthWithPolicyChecks();

    it('passes both rule packs', () => expectPassedWithReasons(report));

    it('suppresses exactly these Control Tower rules: per resource, or stack-wide for reasons about the stack or its context', () => {
      expect(suppressions(report, CONTROL_TOWER_PLUGIN)).toEqual([
        'athena_workgroup_results_encrypted_at_rest_kms_check @ Pipeline/TrainingSet/WorkGroup: Pipeline/TrainingSet/WorkGroup',
        'cloudwatch_log_group_encrypted_check @ Pipeline: Pipeline/IngestLogs/Resource, Pipeline/TransformLogs/Resource',
        'cloudwatch_log_group_retention_period_check @ Pipeline: Pipeline/IngestLogs/Resource, Pipeline/TransformLogs/Resource',
        'lambda_inside_vpc_check @ Pipeline: Pipeline/BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Resource, Pipeline/IngestFunction/Resource, Pipeline/TransformFunction/Resource',
        's3_bucket_default_encryption_kms_check @ Pipeline: Pipeline/DataBucket/Resource',
        's3_bucket_logging_enabled_check @ Pipeline: Pipeline/DataBucket/Resource',
        's3_bucket_object_lock_enabled_check @ Pipeline: Pipeline/DataBucket/Resource',
        's3_bucket_versioning_enabled_check @ Pipeline: Pipeline/DataBucket/Resource',
        's3_event_notifications_enabled_check @ Pipeline/DataBucket: Pipeline/DataBucket/Resource',
        'sqs_dlq_check @ Pipeline/FanoutDlq: Pipeline/FanoutDlq/Resource',
        'sqs_dlq_check @ Pipeline/IngestDlq: Pipeline/IngestDlq/Resource',
      ]);
    });

    it('names the context that lifts each context-dependent suppression', () => {
      const reasons = Object.fromEntries(
        (report.pluginReports.find((r) => r.pluginName === CONTROL_TOWER_PLUGIN)?.suppressedViolations ?? []).map((v) => [v.ruleName, v.reason]),
      );
      expect(reasons.cloudwatch_log_group_retention_period_check).toContain('logRetentionDays=30');
      expect(reasons.cloudwatch_log_group_encrypted_check).toContain('kms=true');
      expect(reasons.s3_bucket_versioning_enabled_check).toContain('versioned=true');
      expect(reasons.s3_bucket_logging_enabled_check).toContain('accessLogs=true');
    });
  });

  describe('with kms, logRetentionDays=365, accessLogs and versioned on', () => {
    const { report, template } = synthWithPolicyChecks({
      kms: 'true',
      logRetentionDays: '365',
      accessLogs: 'true',
      versioned: 'true',
      alertEmail: 'oncall@example.com',
    });

    it('passes both rule packs', () => expectPassedWithReasons(report));

    it('keeps only the suppressions whose reason is not a context setting', () => {
      expect(suppressions(report, CONTROL_TOWER_PLUGIN)).toEqual([
        'lambda_inside_vpc_check @ Pipeline: Pipeline/BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Resource, Pipeline/IngestFunction/Resource, Pipeline/TransformFunction/Resource',
        's3_bucket_default_encryption_kms_check @ Pipeline/AccessLogsBucket: Pipeline/AccessLogsBucket/Resource',
        's3_bucket_logging_enabled_check @ Pipeline/AccessLogsBucket: Pipeline/AccessLogsBucket/Resource',
        's3_bucket_object_lock_enabled_check @ Pipeline: Pipeline/AccessLogsBucket/Resource, Pipeline/DataBucket/Resource',
        's3_event_notifications_enabled_check @ Pipeline/AccessLogsBucket: Pipeline/AccessLogsBucket/Resource',
        's3_event_notifications_enabled_check @ Pipeline/DataBucket: Pipeline/DataBucket/Resource',
        'sqs_dlq_check @ Pipeline/FanoutDlq: Pipeline/FanoutDlq/Resource',
        'sqs_dlq_check @ Pipeline/IngestDlq: Pipeline/IngestDlq/Resource',
      ]);
    });

    it('encrypts the bucket, every queue, both log groups and the alert topic with the one stack key', () => {
      const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
      const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }],
        },
      });
      const queues = Object.values(template.findResources('AWS::SQS::Queue'));
      expect(queues.map((q) => q.Properties.KmsMasterKeyId)).toEqual([keyArn, keyArn, keyArn]);
      const logGroups = Object.values(template.findResources('AWS::Logs::LogGroup'));
      expect(logGroups.map((g) => [g.Properties.KmsKeyId, g.Properties.RetentionInDays])).toEqual([
        [keyArn, 365],
        [keyArn, 365],
      ]);
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    });

    it('lets CloudWatch alarms and this region’s CloudWatch Logs use the key, and only AWS services create grants', () => {
      const [key] = Object.values(template.findResources('AWS::KMS::Key'));
      const statements = key.Properties.KeyPolicy.Statement as { Sid?: string; Effect: string; Principal: unknown; Action: unknown }[];
      const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid, s]));
      expect(bySid.CloudWatchAlarmsPublishToEncryptedTopic).toMatchObject({ Principal: { Service: 'cloudwatch.amazonaws.com' } });
      expect(JSON.stringify(bySid.CloudWatchLogsOfThisStackRegion.Principal)).toContain('logs.');
      expect(bySid.GrantsOnlyForAwsServices).toMatchObject({ Effect: 'Deny', Action: 'kms:CreateGrant' });
      expect(key.Properties.EnableKeyRotation).toBe(true);
    });

    it('logs the data bucket into the access-log bucket, kept as long as the function logs', () => {
      const [logsId] = Object.keys(template.findResources('AWS::S3::Bucket', { Properties: { OwnershipControls: {} } }));
      template.hasResourceProperties('AWS::S3::Bucket', { LoggingConfiguration: { DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'data-bucket/' } });
      const logsBucket = template.toJSON().Resources[logsId];
      expect(logsBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
      expect(logsBucket.Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(365);
    });

    it('subscribes the alert address to the topic', () => {
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    });
  });
});
