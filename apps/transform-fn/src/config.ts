import { requiredEnv } from '@rydes/aws-adapters';

export interface TransformConfig {
  /** Bucket receiving processed/ CSV objects. */
  outputBucket: string;
  /** `s3://bucket/key` of a station catalogue; the bundled NYC stations when absent. */
  stationsUri?: string;
}

/** Reads the function's settings once; throws "OUTPUT_BUCKET is required" when unset. */
export function loadConfig(env: Record<string, string | undefined>): TransformConfig {
  const stationsUri = env.STATIONS_URI?.trim();
  return { outputBucket: requiredEnv(env, 'OUTPUT_BUCKET'), ...(stationsUri && { stationsUri }) };
}
