import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
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
}

/**
 * One dashboard for the whole pipeline plus an alarm on every dead-letter queue: a message in a
 * DLQ is a ride file or a chunk of rides that was not processed.
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

    this.alarms = Object.entries(props.deadLetterQueues).map(
      ([name, queue]) =>
        new cloudwatch.Alarm(this, `${name}Alarm`, {
          alarmDescription: `${name}: at least one message could not be processed; inspect and redrive it`,
          metric: queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          // An idle queue publishes no datapoints; that is the healthy state.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
    );

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
        [new cloudwatch.AlarmStatusWidget({ title: 'DLQ alarms', width: 24, alarms: this.alarms })],
      ],
    });
  }
}
