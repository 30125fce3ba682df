import { ConfigError, requiredEnv } from '@rydes/aws-adapters';
import { isGhcnElement } from '@rydes/geo-index';

export interface TransformConfig {
  /** Bucket receiving processed/ CSV objects. */
  outputBucket: string;
  /** `s3://bucket/key` of a station catalogue; the bundled NYC stations when absent. */
  stationsUri?: string;
  /** `s3://bucket/key` of a GHCN inventory: candidates must report `requiredElements` in the ride's year. */
  inventoryUri?: string;
  /** GHCN elements a station must report (with an inventory only); default TMIN, TMAX, PRCP. */
  requiredElements?: string[];
}

/**
 * Reads the function's settings once; throws "OUTPUT_BUCKET is required" when unset, and names
 * REQUIRED_ELEMENTS when it is malformed or set without INVENTORY_URI.
 */
export function loadConfig(env: Record<string, string | undefined>): TransformConfig {
  const stationsUri = env.STATIONS_URI?.trim();
  const inventoryUri = env.INVENTORY_URI?.trim();
  const elements = env.REQUIRED_ELEMENTS?.trim();
  let requiredElements: string[] | undefined;
  if (elements) {
    if (!inventoryUri) throw new ConfigError('REQUIRED_ELEMENTS', 'needs INVENTORY_URI: without an inventory every station is a candidate');
    requiredElements = elements.split(',').map((e) => e.trim());
    const bad = requiredElements.find((e) => !isGhcnElement(e));
    if (bad !== undefined) throw new ConfigError('REQUIRED_ELEMENTS', `must be comma-separated GHCN-Daily elements (NOAA's readme.txt) such as TMIN,TMAX,PRCP; "${bad}" is not one`);
  }
  return {
    outputBucket: requiredEnv(env, 'OUTPUT_BUCKET'),
    ...(stationsUri && { stationsUri }),
    ...(inventoryUri && { inventoryUri }),
    ...(requiredElements && { requiredElements }),
  };
}
