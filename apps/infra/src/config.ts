import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_RIDES_PER_MESSAGE, DEFAULT_STACK_NAME } from '@rydes/ride-model';
import { InvalidContextError, MissingStationsFileError } from './errors';

/** Settings of one pipeline stack; every field has a default except none. */
export interface PipelineConfig {
  /** CloudFormation stack name; also names the dashboard and the Glue database. */
  stackName: string;
  /** `RIDES_PER_MESSAGE` of the ingest function: rides per fan-out message (1 = the workshop). */
  ridesPerMessage: number;
  /** Keep object versions in the data bucket. */
  versioned: boolean;
  /** Delete bucket (with its objects), queues and logs on `cdk destroy`; RETAIN otherwise. */
  destroyable: boolean;
  /** Upper bound of concurrent transform invocations the SQS event source starts (2–1000). */
  transformMaxConcurrency: number;
  /** Local station catalogue (absolute, or relative to the repository root) deployed to `stations/` and passed as `STATIONS_URI`. */
  stationsFile?: string;
  /** pino level of both functions. */
  logLevel: string;
  /** Folder holding `ingest-fn/` and `transform-fn/` bundles (the Nx esbuild output). */
  bundlesDir: string;
  /** One customer-managed KMS key for the bucket, queues, log groups and alarm topic (about $1 a month plus requests). */
  kms: boolean;
  /** Days CloudWatch keeps the functions' logs; one of the values CloudWatch Logs accepts. */
  logRetentionDays: number;
  /** Server access logs of the data bucket into a second bucket of the stack. */
  accessLogs: boolean;
  /** Address subscribed to the alarm topic (the owner confirms a mail from AWS). */
  alertEmail?: string;
  /** Alarm when the oldest fan-out message has waited longer than this, seconds. */
  queueAgeAlarmSeconds: number;
}

/** Resolved from this file, never the working directory: jest and cdk run in different folders. */
export const WORKSPACE_ROOT = resolve(__dirname, '../../..');
export const DEFAULT_BUNDLES_DIR = resolve(WORKSPACE_ROOT, 'dist/apps');

/** The retention periods CloudWatch Logs accepts, days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Context = (key: string) => unknown;

/**
 * Reads the stack settings from CDK context (`-c key=value` arrives as a string, cdk.json
 * values keep their JSON type) and checks them.
 * @example
 * const config = configFromContext((key) => app.node.tryGetContext(key));
 */
export function configFromContext(get: Context): PipelineConfig {
  const stackName = text(get, 'stackName', DEFAULT_STACK_NAME);
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    throw new InvalidContextError('stackName', stackName, 'a letter then letters, digits or hyphens (max 128)');
  }
  const logLevel = text(get, 'logLevel', 'info');
  if (!LOG_LEVELS.includes(logLevel)) throw new InvalidContextError('logLevel', logLevel, LOG_LEVELS.join('|'));
  // Relative to the repository root: `nx deploy infra` runs cdk inside apps/infra, a folder the
  // user did not type the path from.
  const stationsFile = get('stationsFile') === undefined ? undefined : resolve(WORKSPACE_ROOT, String(get('stationsFile')));
  if (stationsFile !== undefined && !existsSync(stationsFile)) throw new MissingStationsFileError(stationsFile);
  const logRetentionDays = integer(get, 'logRetentionDays', 30, 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new InvalidContextError('logRetentionDays', get('logRetentionDays'), `one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  const alertEmail = get('alertEmail') === undefined ? undefined : String(get('alertEmail'));
  if (alertEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alertEmail)) {
    throw new InvalidContextError('alertEmail', alertEmail, 'an e-mail address');
  }
  return {
    stackName,
    ridesPerMessage: integer(get, 'ridesPerMessage', DEFAULT_RIDES_PER_MESSAGE, 1, 10_000),
    versioned: flag(get, 'versioned', false),
    destroyable: flag(get, 'destroyable', false),
    transformMaxConcurrency: integer(get, 'transformMaxConcurrency', 10, 2, 1000),
    stationsFile,
    logLevel,
    bundlesDir: resolve(text(get, 'bundlesDir', DEFAULT_BUNDLES_DIR)),
    kms: flag(get, 'kms', false),
    logRetentionDays,
    accessLogs: flag(get, 'accessLogs', false),
    alertEmail,
    // 10 minutes: a healthy batch is written within seconds, and a message retried five times
    // (6 min visibility each) would sit in the queue for half an hour before reaching the DLQ.
    queueAgeAlarmSeconds: integer(get, 'queueAgeAlarmSeconds', 600, 60, 1_209_600),
  };
}

function text(get: Context, key: string, fallback: string): string {
  const value = get(key);
  return value === undefined ? fallback : String(value);
}

function flag(get: Context, key: string, fallback: boolean): boolean {
  const value = get(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new InvalidContextError(key, value, 'true|false');
}

function integer(get: Context, key: string, fallback: number, min: number, max: number): number {
  const value = get(key);
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value));
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidContextError(key, value, `an integer ${min}..${max}`);
  return n;
}
