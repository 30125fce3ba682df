import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertTopicProps {
  /**
   * The stack's customer-managed key. CloudWatch cannot publish to a topic encrypted with the
   * AWS-managed SNS key (its key policy cannot be changed), so the topic is either encrypted with
   * this key or not at all.
   */
  key?: kms.IKey;
  /** Address subscribed by e-mail; AWS mails it a confirmation link first. */
  email?: string;
}

/**
 * The SNS topic every alarm of the stack notifies. Without a customer-managed key the topic is
 * unencrypted on purpose: alarm messages carry alarm names, states and metric values, never ride
 * data, and the only encryption CloudWatch could publish through is a customer-managed key.
 * @example
 * const alerts = new AlertTopic(stack, 'Alerts', { key, email: 'oncall@example.com' });
 * alarm.addAlarmAction(new SnsAction(alerts.topic));
 */
export class AlertTopic extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { masterKey: props.key, enforceSSL: true });
    // The enforceSSL statement replaces SNS's default topic policy, so CloudWatch alarms of this
    // account need an explicit allow.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
    // CloudWatch publishes as itself: it needs the data key of the topic's encryption key.
    props.key?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }
}
