import type { S3Client } from '@aws-sdk/client-s3';
import { openObject, parseS3Uri, type Logger } from '@rydes/aws-adapters';
import { DEFAULT_REQUIRED_ELEMENTS, DEFAULT_STATIONS, loadInventory, loadStations, StationLookup, type InventoryEntry, type Station } from '@rydes/geo-index';
import type { TransformConfig } from './config';
import { StationCatalogueError, StationInventoryError, StationsNotReadyError } from './errors';

/**
 * Builds the nearest-station lookup: the bundled stations or the catalogue at `STATIONS_URI`,
 * and, with `INVENTORY_URI`, NOAA's inventory so that a ride's candidates are the stations
 * reporting `REQUIRED_ELEMENTS` in its year (one index per year, built on first use). Both files
 * are streamed from S3. A failure becomes a {@link StationCatalogueError} or
 * {@link StationInventoryError} naming the URI and the reason (line and field for a bad line).
 */
export async function buildStationIndex(config: TransformConfig, s3: S3Client, logger: Logger): Promise<StationLookup> {
  const started = Date.now();
  const [stations, inventory] = await Promise.all([readCatalogue(config, s3, logger), readInventory(config, s3, logger)]);
  const requiredElements = config.requiredElements ?? DEFAULT_REQUIRED_ELEMENTS;
  const lookup = new StationLookup(stations, inventory ? { inventory, requiredElements } : {});
  logger.info(
    {
      stations: lookup.size,
      catalogue: config.stationsUri ?? 'bundled',
      ...(inventory && { inventory: config.inventoryUri, inventoryLines: inventory.length, requiredElements: lookup.requiredElements }),
      ms: Date.now() - started,
    },
    'station index built',
  );
  return lookup;
}

async function readCatalogue(config: TransformConfig, s3: S3Client, logger: Logger): Promise<readonly Station[]> {
  const uri = config.stationsUri;
  if (!uri) return DEFAULT_STATIONS;
  try {
    const { bucket, key } = parseS3Uri(uri);
    const { body } = await openObject(s3, bucket, key);
    return await loadStations(body, { source: uri });
  } catch (err) {
    const error = new StationCatalogueError(uri, err);
    logger.error({ catalogue: uri, reason: error.message }, 'station catalogue failed to load');
    throw error;
  }
}

async function readInventory(config: TransformConfig, s3: S3Client, logger: Logger): Promise<InventoryEntry[] | undefined> {
  const uri = config.inventoryUri;
  if (!uri) return undefined;
  try {
    const { bucket, key } = parseS3Uri(uri);
    const { body } = await openObject(s3, bucket, key);
    return await loadInventory(body, { source: uri, elements: config.requiredElements ?? DEFAULT_REQUIRED_ELEMENTS });
  } catch (err) {
    const error = new StationInventoryError(uri, err);
    logger.error({ inventory: uri, reason: error.message }, 'station inventory failed to load');
    throw error;
  }
}

/**
 * Runs `build` once and shares its promise; after a failure the next call tries again (a
 * transient S3 error must not poison a warm container forever).
 */
export function once<T>(build: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= build().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

/**
 * `pending`, or a {@link StationsNotReadyError} when it has not settled `marginMs` before the
 * invocation's deadline (`remainingMs()` is Lambda's `context.getRemainingTimeInMillis`). The
 * build goes on in the background, so the next invocation of this environment finds it done.
 */
export function readyBeforeDeadline<T>(pending: Promise<T>, remainingMs: () => number, marginMs = 1000): Promise<T> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StationsNotReadyError(Date.now() - started)), Math.max(0, remainingMs() - marginMs));
  });
  return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
}
