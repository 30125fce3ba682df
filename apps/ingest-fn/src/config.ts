import { positiveIntEnv, requiredEnv } from '@rydes/aws-adapters';

export interface IngestConfig {
  /** Fan-out queue URL. */
  outputQueue: string;
  /** Rides per SQS message; 1 reproduces the workshop's one message per ride. */
  ridesPerMessage: number;
}

export const DEFAULT_RIDES_PER_MESSAGE = 100;

/** Reads the function's settings once; throws "OUTPUT_QUEUE is required" when unset. */
export function loadConfig(env: Record<string, string | undefined>): IngestConfig {
  return {
    outputQueue: requiredEnv(env, 'OUTPUT_QUEUE'),
    ridesPerMessage: positiveIntEnv(env, 'RIDES_PER_MESSAGE', DEFAULT_RIDES_PER_MESSAGE),
  };
}
