import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Bound to every line, e.g. the function name. */
  name?: string;
  /** pino level; default `LOG_LEVEL`, else `info`. */
  level?: string;
  /** Where lines go; stdout when omitted (what Lambda ships to CloudWatch Logs). */
  destination?: DestinationStream;
}

/**
 * The one logger of the functions: JSON lines, level from `LOG_LEVEL`. No transports: they run
 * in worker threads loading files from outside the bundle, which breaks in Lambda (PITFALLS #9).
 * Make a `logger.child({ requestId, source })` per invocation; log counts and timings, never
 * every ride.
 * @example
 * const logger = createLogger({ name: 'ingest-fn' });
 * logger.child({ requestId: context.awsRequestId }).info({ rides: 200 }, 'file ingested');
 */
export function createLogger(options: LoggerOptions = {}, env: Record<string, string | undefined> = process.env): Logger {
  const level = options.level ?? (env.LOG_LEVEL || 'info');
  const settings = {
    name: options.name,
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
