import { InvalidOptionError } from '../errors';
/** Names and settings of the local stack; mirror apps/infra/src/pipeline-stack.ts where they can. */
export const BUCKET = 'rydes-local';
export const FANOUT_QUEUE = 'rydes-fanout';
export const FANOUT_DLQ = 'rydes-fanout-dlq';
export const INGEST_DLQ = 'rydes-ingest-dlq';
export const INGEST_FUNCTION = 'rydes-ingest';
export const TRANSFORM_FUNCTION = 'rydes-transform';

/** Node.js major of the deployed functions (apps/infra `LAMBDA_RUNTIME`, nodejs24.x; an infra spec pins the two together). */
export const DEPLOYED_NODE_MAJOR = 24;

/** As deployed: ingest 15 min / 1024 MB, transform 60 s / 512 MB. */
export const INGEST_TIMEOUT_SECONDS = 15 * 60;
export const INGEST_MEMORY_MB = 1024;
export const TRANSFORM_TIMEOUT_SECONDS = 60;
export const TRANSFORM_MEMORY_MB = 512;

/** MaximumMessageSize of the local fan-out queue: SQS's long-standing default; messages stay ≤ 200 KiB. */
export const FANOUT_MAX_MESSAGE_BYTES = 262_144;

/** Receives before the redrive policy moves a fan-out message to its DLQ (as deployed). */
export const MAX_RECEIVE_COUNT = 5;

/** As deployed: the ingest hands the rest of a file to a continuation with 60 s of its 900 s left. */
export const INGEST_HAND_OFF_MARGIN_MS = 60_000;
/** AWS's recommendation for an SQS event source, as deployed: visibility timeout = 6 × function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/**
 * Local default of `--function-timeout`, s: the transform's timeout. Locally a failed message
 * should come back in seconds, not minutes: with the deployed relations kept (below), 5 s gives
 * a 30 s visibility timeout (a crashed batch is redelivered within the run's 60 s stall
 * timeout), a 75 s ingest timeout and a 5 s hand-off margin.
 */
export const LOCAL_FUNCTION_TIMEOUT_SECONDS = 5;

/** Timeouts of the local stack. */
export interface LocalTimeouts {
  transformSeconds: number;
  ingestSeconds: number;
  visibilitySeconds: number;
  /** The ingest's CONTINUE_BELOW_MS. */
  handOffMarginMs: number;
}

/**
 * The local stack's timeouts from the transform's, keeping the relations of the deployed stack
 * rather than its absolute numbers: ingest timeout = 15 × (900 s : 60 s), hand-off margin =
 * 1/15 of the ingest timeout (60 s : 900 s), visibility timeout = 6 × the transform timeout
 * unless given. A visibility timeout shorter than the function timeout is refused, as AWS
 * refuses such an event source mapping; given alone, it caps the transform timeout instead.
 * @example
 * localTimeouts(1); // → { transformSeconds: 1, ingestSeconds: 15, visibilitySeconds: 6, handOffMarginMs: 1000 }
 */
export function localTimeouts(functionSeconds?: number, visibilitySeconds?: number): LocalTimeouts {
  const transformSeconds = functionSeconds ?? Math.min(LOCAL_FUNCTION_TIMEOUT_SECONDS, visibilitySeconds ?? Infinity);
  const visibility = visibilitySeconds ?? VISIBILITY_TIMEOUT_FACTOR * transformSeconds;
  if (visibility < transformSeconds) {
    throw new InvalidOptionError(
      '--visibility-timeout',
      String(visibility),
      `at least the function timeout (${transformSeconds} s): AWS refuses an SQS event source whose queue hides a message for less time than the function may run (6 × is its recommendation)`,
    );
  }
  // A visibility timeout given alone only caps the transform; the ingest keeps the default's budget.
  const ingestSeconds = (functionSeconds ?? LOCAL_FUNCTION_TIMEOUT_SECONDS) * (INGEST_TIMEOUT_SECONDS / TRANSFORM_TIMEOUT_SECONDS);
  return {
    transformSeconds,
    ingestSeconds,
    visibilitySeconds: visibility,
    handOffMarginMs: Math.round((ingestSeconds * INGEST_HAND_OFF_MARGIN_MS) / INGEST_TIMEOUT_SECONDS),
  };
}

/**
 * Keys asked for per ListObjects page by the CLI's own listings (completion check, ./out mirror).
 * Real S3 returns at most 1,000 whatever is asked; s3rver honours more, and it walks its whole
 * bucket directory for every page, so fewer, larger pages mean fewer walks (one object per ride
 * makes hundreds of thousands of keys).
 */
export const LIST_PAGE_KEYS = 10_000;
