import type { Neighbour, StationIndex } from '@rydes/geo-index';
import { CSV_HEADER, csvLine, objectKeys, rideIndexes, type FanoutMessage } from '@rydes/ride-model';

/** One fan-out message as a processed/ CSV object: key and bytes depend on the message only. */
export interface ProcessedObject {
  key: string;
  csv: string;
  rides: number;
}

/**
 * The nearest station of every ride of a message, in ride order: the one call into the station
 * lookup.
 *
 * @example
 * const matches = nearestStations(message, new StationIndex(DEFAULT_STATIONS));
 */
export function nearestStations(message: FanoutMessage, index: StationIndex): Neighbour[] {
  return message.rides.map((ride) => index.nearest(ride.latitude, ride.longitude));
}

/**
 * The processed/ CSV of a message whose rides were matched by {@link nearestStations}: encoded
 * straight from each ride and its match (no row object; PITFALLS #25), with ride_index from the
 * message (v1: firstIndex + i; v2: its gaps too).
 *
 * @example
 * const csv = processedCsv(message, nearestStations(message, index));
 */
export function processedCsv(message: FanoutMessage, matches: readonly Neighbour[]): string {
  const indexes = rideIndexes(message);
  const source = message.source.key;
  let csv = CSV_HEADER;
  for (let i = 0; i < message.rides.length; i++) {
    const match = matches[i];
    csv += csvLine(message.rides[i], match.station.id, match.distanceKm, source, indexes[i]);
  }
  return csv;
}

/**
 * Joins every ride of a message with its nearest station (great-circle) and encodes the CSV.
 * @example
 * const { key, csv } = transformMessage(decodeMessage(record.body), new StationIndex(DEFAULT_STATIONS));
 */
export function transformMessage(message: FanoutMessage, index: StationIndex): ProcessedObject {
  const csv = processedCsv(message, nearestStations(message, index));
  return { key: objectKeys(message.source).processed(message.chunk), csv, rides: message.rides.length };
}
