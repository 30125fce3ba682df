import type { StationIndex } from '@rydes/geo-index';
import { encodeCsv, objectKeys, type FanoutMessage, type ProcessedRow } from '@rydes/ride-model';

/** One fan-out message as a processed/ CSV object: key and bytes depend on the message only. */
export interface ProcessedObject {
  key: string;
  csv: string;
  rides: number;
}

/**
 * Joins every ride of a message with its nearest station (great-circle) and encodes the CSV.
 * @example
 * const { key, csv } = transformMessage(decodeMessage(record.body), new StationIndex(DEFAULT_STATIONS));
 */
export function transformMessage(message: FanoutMessage, index: StationIndex): ProcessedObject {
  const rows = message.rides.map((ride, i): ProcessedRow => {
    const { station, distanceKm } = index.nearest(ride.latitude, ride.longitude);
    return { ...ride, groundstation: station.id, groundstation_distance_km: distanceKm, source: message.source.key, ride_index: message.firstIndex + i };
  });
  return { key: objectKeys(message.source).processed(message.chunk), csv: encodeCsv(rows), rides: rows.length };
}
