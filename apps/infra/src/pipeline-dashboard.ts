import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Namespace of the EMF metrics the functions print (libs/aws-adapters/src/metrics.ts). */
export const METRICS_NAMESPACE = 'Rydes';

/**
 * Value of the `Function` dimension each function's EMF lines carry: the project name, fixed in
 * apps/ingest-fn/src/ingest-file.ts and apps/transform-fn/src/transform-batch.ts, not the deployed
 * function name, so two stacks in one account and region add up in these graphs.
 */
export const EMF_FUNCTION_DIMENSION = { ingest: 'ingest-fn', transform: 'transform-fn' } as const;

export interface PipelineDashboardProps {
  dashboardName: string;
  ingest: lambda.IFunction;
  transform: lambda.IFunction;
  fanout: sqs.IQueue;
  /** Dead-letter queues by display name; each gets a depth graph and an alarm. */
  deadLetterQueues: Record<string, sqs.IQueue>;
  /** Every alarm notifies this topic when it fires and when it recovers. */
  alarmTopic: sns.ITopic;
  /** Age of the oldest fan-out message above which the queue alarm fires, seconds. */
  queueAgeAlarmSeconds: number;
}

/**
 * One dashboard for the whole pipeline plus the alarms that reach a person through the alert
 * topic: a message in either DLQ (a ride file or a chunk of rides that was not processed), failed
 * invocations of either function, and a fan-out message waiting too long.
 */
export class PipelineDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const period = Duration.minutes(1);
    const functions = [props.ingest, props.transform];
    const perFunction = (title: string, metric: (fn: lambda.IFunction) => cloudwatch.IMetric) =>
      new cloudwatch.GraphWidget({ title, width: 6, left: functions.map(metric) });

    // An idle queue or function publishes no datapoints; that is the healthy state.
    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric, threshold: number) =>
      new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const fiveMinutes = Duration.minutes(5);
    this.alarms = [
      ...Object.entries(props.deadLetterQueues).map(([name, queue]) =>
        alarm(
          `${name}Alarm`,
          `${name}: at least one message could not be processed; inspect and redrive it`,
          queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
          0,
        ),
      ),
      ...Object.entries({ Ingest: props.ingest, Transform: props.transform }).map(([name, fn]) =>
        alarm(
          `${name}ErrorsAlarm`,
          `${name} function: invocations failed in the last 5 minutes (SQS or async retries follow; see its log group)`,
          fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
          0,
        ),
      ),
      alarm(
        'FanoutAgeAlarm',
        `Fan-out queue: a message has waited more than ${props.queueAgeAlarmSeconds} s; the transform is failing, throttled or capped too low`,
        props.fanout.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
        props.queueAgeAlarmSeconds,
      ),
    ];
    const action = new SnsAction(props.alarmTopic);
    for (const each of this.alarms) {
      each.addAlarmAction(action);
      each.addOkAction(action);
    }

    const rides = (metricName: string, fn: string, label: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { Function: fn },
        statistic: 'Sum',
        period,
        label,
      });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      widgets: [
        [
          perFunction('Invocations', (fn) => fn.metricInvocations({ period })),
          perFunction('Errors', (fn) => fn.metricErrors({ period })),
          perFunction('Duration (p90)', (fn) => fn.metricDuration({ period, statistic: 'p90' })),
          perFunction('Throttles', (fn) => fn.metricThrottles({ period })),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Rides',
            width: 8,
            left: [
              rides('RidesIngested', EMF_FUNCTION_DIMENSION.ingest, 'ingested'),
              rides('RidesRejected', EMF_FUNCTION_DIMENSION.ingest, 'rejected'),
              rides('RidesProcessed', EMF_FUNCTION_DIMENSION.transform, 'processed'),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Fan-out queue',
            width: 8,
            left: [
              props.fanout.metricApproximateNumberOfMessagesVisible({ period, label: 'visible' }),
              props.fanout.metricApproximateNumberOfMessagesNotVisible({ period, label: 'in flight' }),
            ],
            right: [props.fanout.metricApproximateAgeOfOldestMessage({ period, label: 'age of oldest (s)' })],
          }),
          new cloudwatch.GraphWidget({
            title: 'Dead-letter queues',
            width: 8,
            left: Object.entries(props.deadLetterQueues).map(([name, queue]) =>
              queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: name }),
            ),
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms (each notifies the alert topic)', width: 24, alarms: this.alarms })],
      ],
    });
  }
}
