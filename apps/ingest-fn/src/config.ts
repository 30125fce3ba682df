import { positiveIntEnv, requiredEnv } from '@rydes/aws-adapters';
import { DEFAULT_RIDES_PER_MESSAGE } from '@rydes/ride-model';

export interface IngestConfig {
  /** Fan-out queue URL. */
  outputQueue: string;
  /** Rides per SQS message; 1 reproduces the workshop's one message per ride. */
  ridesPerMessage: number;
  /** Hand the rest of a file to a continuation when less than this many ms remain. */
  continueBelowMs: number;
}

/** Enough for the calls in flight, the rejects upload and the hand-off itself. */
export const DEFAULT_CONTINUE_BELOW_MS = 60_000;

/** Reads the function's settings once; throws "OUTPUT_QUEUE is required" when unset. */
export function loadConfig(env: Record<string, string | undefined>): IngestConfig {
  return {
    outputQueue: requiredEnv(env, 'OUTPUT_QUEUE'),
    ridesPerMessage: positiveIntEnv(env, 'RIDES_PER_MESSAGE', DEFAULT_RIDES_PER_MESSAGE),
    continueBelowMs: positiveIntEnv(env, 'CONTINUE_BELOW_MS', DEFAULT_CONTINUE_BELOW_MS),
  };
}
