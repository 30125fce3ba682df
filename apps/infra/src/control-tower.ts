import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { type Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { PipelineConfig } from './config';

/** The validation namespace of the cfn-guard plugin: acknowledgements are `<namespace>::<rule>`. */
export const CONTROL_TOWER_PLUGIN = 'cdk-validator-cfnguard';

/**
 * AWS Control Tower's proactive controls (the cfn-guard rules and binary that
 * @cdklabs/cdk-validator-cfnguard ships), run on every synthesized template: a finding stops
 * `cdk synth` and `cdk deploy` unless it is fixed or acknowledged with a reason.
 * @example
 * Validations.of(app).addPlugins(controlTowerChecks());
 */
export function controlTowerChecks(): CfnGuardValidator {
  return new CfnGuardValidator();
}

export interface ControlTowerScopes {
  dataBucket: IConstruct;
  accessLogsBucket?: IConstruct;
  ingestDlq: IConstruct;
  fanoutDlq: IConstruct;
}

/** One acknowledgement: the rule it silences, where, and why. */
export interface ControlTowerAcknowledgement {
  rule: string;
  scope: IConstruct;
  reason: string;
}

/**
 * The Control Tower findings this stack accepts, each with its reason: on the resource where the
 * reason is about that resource, on the stack where it is about the whole stack, and only while
 * the context that causes them is in force (kms, logRetentionDays, versioned, accessLogs).
 * @example
 * for (const { rule, scope, reason } of controlTowerAcknowledgements(stack, scopes, config)) …
 */
export function controlTowerAcknowledgements(stack: Stack, scopes: ControlTowerScopes, config: PipelineConfig): ControlTowerAcknowledgement[] {
  const found: ControlTowerAcknowledgement[] = [
    {
      rule: 'lambda_inside_vpc_check',
      scope: stack,
      reason:
        'The functions call only S3 and SQS (and Lambda itself), over TLS with IAM authorization; a VPC would add NAT ' +
        'gateways or interface endpoints and protect nothing the pipeline reaches.',
    },
    {
      rule: 's3_bucket_object_lock_enabled_check',
      scope: stack,
      reason:
        'Object Lock (WORM) is for compliance archives; this pipeline rewrites processed/ objects on redelivery and deletes ' +
        'the outputs of a superseded upload, which a lock would forbid.',
    },
    {
      rule: 's3_event_notifications_enabled_check',
      scope: scopes.dataBucket,
      reason:
        'The bucket does notify the ingest function on raw/, but CDK configures that through its Custom::S3BucketNotifications ' +
        'resource, which the rule cannot see in the template.',
    },
    ...[scopes.ingestDlq, scopes.fanoutDlq].map((scope) => ({
      rule: 'sqs_dlq_check',
      scope,
      reason: 'This queue is itself a dead-letter queue; a DLQ of a DLQ would only move the same dead messages once more.',
    })),
  ];
  if (config.logRetentionDays < 365) {
    found.push({
      rule: 'cloudwatch_log_group_retention_period_check',
      scope: stack,
      reason:
        `logRetentionDays=${config.logRetentionDays} (context): function logs serve debugging of recent runs, and every ride is ` +
        'accounted for in manifests/ and rejects/. Deploy with --context logRetentionDays=365 to meet the control.',
    });
  }
  if (!config.kms) {
    for (const rule of ['cloudwatch_log_group_encrypted_check', 's3_bucket_default_encryption_kms_check']) {
      found.push({
        rule,
        scope: stack,
        reason:
          'kms=false (context): logs and objects are encrypted with AWS-owned keys (CloudWatch Logs default, SSE-S3); a ' +
          'customer-managed key costs about $1 a month plus requests. Deploy with --context kms=true to meet the control.',
      });
    }
  }
  if (!config.versioned) {
    found.push({
      rule: 's3_bucket_versioning_enabled_check',
      scope: stack,
      reason:
        'versioned=false (context): processed/, rejects/ and manifests/ are derived data that a re-upload of raw/ recreates. ' +
        'Deploy with --context versioned=true to keep versions.',
    });
  }
  if (!config.accessLogs) {
    found.push({
      rule: 's3_bucket_logging_enabled_check',
      scope: stack,
      reason:
        'accessLogs=false (context): a second bucket per stack; object-level auditing belongs to CloudTrail data events, and ' +
        'every object the pipeline writes is counted in its manifest. Deploy with --context accessLogs=true to meet the control.',
    });
  }
  if (scopes.accessLogsBucket) {
    const scope = scopes.accessLogsBucket;
    found.push(
      { rule: 's3_bucket_logging_enabled_check', scope, reason: 'This is the access-log destination; logging it into itself would loop.' },
      { rule: 's3_event_notifications_enabled_check', scope, reason: 'Nothing processes access logs as they arrive; they are read on demand.' },
      {
        rule: 's3_bucket_default_encryption_kms_check',
        scope,
        reason: 'S3 server access logging delivers only to destination buckets encrypted with SSE-S3, never SSE-KMS.',
      },
    );
  }
  return found;
}

/**
 * Records the acknowledgements of {@link controlTowerAcknowledgements} on their constructs,
 * where CDK's validation report finds them (and lists them as suppressed, with the reason).
 * @example
 * acknowledgeControlTowerFindings(stack, { dataBucket, ingestDlq, fanoutDlq }, config);
 */
export function acknowledgeControlTowerFindings(stack: Stack, scopes: ControlTowerScopes, config: PipelineConfig): void {
  for (const { rule, scope, reason } of controlTowerAcknowledgements(stack, scopes, config)) {
    Validations.of(scope).acknowledge({ id: `${CONTROL_TOWER_PLUGIN}::${rule}`, reason });
  }
}
