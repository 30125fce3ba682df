import type { S3Client } from '@aws-sdk/client-s3';
import { openObject, parseS3Uri, type Logger } from '@rydes/aws-adapters';
import { DEFAULT_STATIONS, loadStations, StationIndex } from '@rydes/geo-index';
import type { TransformConfig } from './config';
import { StationCatalogueError } from './errors';

/**
 * Builds the nearest-station index: the bundled stations, or the catalogue at `STATIONS_URI`,
 * streamed from S3 and parsed line by line. Any failure becomes a {@link StationCatalogueError}
 * naming the URI and the reason.
 */
export async function buildStationIndex(config: TransformConfig, s3: S3Client, logger: Logger): Promise<StationIndex> {
  const started = Date.now();
  if (!config.stationsUri) {
    const index = new StationIndex(DEFAULT_STATIONS);
    logger.info({ stations: index.size, catalogue: 'bundled', ms: Date.now() - started }, 'station index built');
    return index;
  }
  const uri = config.stationsUri;
  try {
    const { bucket, key } = parseS3Uri(uri);
    const { body } = await openObject(s3, bucket, key);
    const index = new StationIndex(await loadStations(body, { source: uri }));
    logger.info({ stations: index.size, catalogue: uri, ms: Date.now() - started }, 'station index built');
    return index;
  } catch (err) {
    const error = new StationCatalogueError(uri, err);
    logger.error({ catalogue: uri, reason: error.message }, 'station catalogue failed to load');
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
