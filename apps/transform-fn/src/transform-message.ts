import type { Neighbour, StationLookup } from '@rydes/geo-index';
import { bodyCsv, ByteWriter, CSV_HEADER, decodeMessage, objectKeys, rideIndexes, writeCsvLine, type FanoutMessage, type SourceRef } from '@rydes/ride-model';

/** One fan-out message as a processed/ CSV object: key and bytes depend on the message only. */
export interface ProcessedObject {
  key: string;
  /** The CSV as UTF-8 bytes, the object's body. */
  csv: Buffer;
  rides: number;
  /** Rides written with an empty groundstation: no station reports the required elements in their year. */
  unmatched: number;
}

/**
 * The nearest station of every ride of a message, in ride order: the one call into the station
 * lookup (with an inventory, among the stations reporting the required elements in the ride's
 * year; `undefined` when none does).
 *
 * @example
 * const matches = nearestStations(message, new StationLookup(DEFAULT_STATIONS));
 */
export function nearestStations(message: FanoutMessage, index: StationLookup): Array<Neighbour | undefined> {
  return message.rides.map((ride) => index.nearest(ride.latitude, ride.longitude, ride.statustime));
}

// One buffer for every object this container writes (each is copied out before the next).
const csvBytes = new ByteWriter();

/**
 * The processed/ CSV of a message whose rides were matched by {@link nearestStations}: encoded
 * straight from each ride and its match (no row object; PITFALLS #25), with ride_index from the
 * message (v1: firstIndex + i; v2: its gaps too). A ride without a match gets empty
 * groundstation cells.
 *
 * @example
 * const csv = processedCsv(message, nearestStations(message, index));
 */
export function processedCsv(message: FanoutMessage, matches: ReadonlyArray<Neighbour | undefined>): Buffer {
  const indexes = rideIndexes(message);
  const source = message.source.key;
  const w = csvBytes;
  w.length = 0;
  w.ascii(CSV_HEADER);
  for (let i = 0; i < message.rides.length; i++) {
    const match = matches[i];
    writeCsvLine(w, message.rides[i], match?.station.id ?? '', match?.distanceKm, source, indexes[i]);
  }
  return w.takeBytes();
}

/**
 * Joins every ride of a message with its nearest station (great-circle; with an inventory, among
 * the stations reporting the required elements in the ride's year) and encodes the CSV. A ride
 * no station qualifies for keeps an empty groundstation and is counted in `unmatched`.
 * @example
 * const { key, csv } = transformMessage(decodeMessage(record.body), new StationLookup(DEFAULT_STATIONS));
 */
export function transformMessage(message: FanoutMessage, index: StationLookup): ProcessedObject {
  const matches = nearestStations(message, index);
  let unmatched = 0;
  for (const match of matches) if (!match) unmatched++;
  return { key: objectKeys(message.source).processed(message.chunk), csv: processedCsv(message, matches), rides: message.rides.length, unmatched };
}

/**
 * A message body (an SQS record's) as its processed/ CSV object, and the source it came from.
 * A body as encodeMessage writes it is read straight into the CSV (ride-model's bodyCsv: no ride
 * objects, value texts copied); any other body is decoded (decodeMessage, which throws
 * EnvelopeError for a bad one) and goes through {@link transformMessage}. Both give the same bytes.
 *
 * @example
 * const { key, csv, source } = transformBody(record.body, new StationLookup(DEFAULT_STATIONS));
 */
export function transformBody(body: string, index: StationLookup): ProcessedObject & { source: SourceRef } {
  // One answer object for the body's rides: bodyCsv reads each match before it asks for the next.
  const match: Neighbour = { station: { id: '', latitude: 0, longitude: 0 }, distanceKm: NaN };
  const fast = bodyCsv(body, (lat, lon, year) => index.nearestInto(lat, lon, year, match));
  if (fast !== undefined) return { key: objectKeys(fast.source).processed(fast.chunk), csv: fast.csv, rides: fast.rides, unmatched: fast.unmatched, source: fast.source };
  const message = decodeMessage(body);
  return { ...transformMessage(message, index), source: message.source };
}
