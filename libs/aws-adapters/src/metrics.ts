/** CloudWatch namespace of every pipeline metric (the dashboard graphs these names). */
export const METRICS_NAMESPACE = 'Rydes';

export type MetricUnit = 'Count' | 'Milliseconds' | 'Bytes';

export interface MetricsInput {
  /** Dimension values, e.g. `{ Function: 'ingest-fn' }`. */
  dimensions: Record<string, string>;
  /** Metric name → value; unit `Count` unless given in `units`. */
  values: Record<string, number>;
  units?: Record<string, MetricUnit>;
  /** Searchable fields logged with the metrics, not metrics themselves (e.g. the source key). */
  properties?: Record<string, string | number>;
  timestamp?: number;
}

/**
 * One CloudWatch Embedded Metric Format line (JSON, no trailing newline). Lambda ships stdout to
 * CloudWatch Logs, which extracts the metrics: no PutMetricData call, no extra latency.
 * @example
 * emfLine({ dimensions: { Function: 'ingest-fn' }, values: { RidesIngested: 200, RidesRejected: 3 } });
 * // → '{"_aws":{"Timestamp":…,"CloudWatchMetrics":[{"Namespace":"Rydes",…}]},"Function":"ingest-fn","RidesIngested":200,…}'
 */
export function emfLine(input: MetricsInput): string {
  const names = Object.keys(input.values);
  return JSON.stringify({
    _aws: {
      Timestamp: input.timestamp ?? Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(input.dimensions)],
          Metrics: names.map((name) => ({ Name: name, Unit: input.units?.[name] ?? 'Count' })),
        },
      ],
    },
    ...input.properties,
    ...input.dimensions,
    ...input.values,
  });
}

/**
 * Writes an EMF line to stdout (or `out`).
 * @example
 * emitMetrics({ dimensions: { Function: 'transform-fn' }, values: { RidesProcessed: 1000 } });
 */
export function emitMetrics(input: MetricsInput, out: { write(line: string): unknown } = process.stdout): void {
  out.write(emfLine(input) + '\n');
}
