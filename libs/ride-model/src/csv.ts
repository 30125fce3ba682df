import { numberText } from './number-text';
import { ProcessedRow, Ride } from './types';

/**
 * processed/ CSV columns, in order; the first nine match the workshop's Athena table.
 *
 * @example
 * CSV_COLUMNS.join(','); // the header line of every processed/ object
 */
export const CSV_COLUMNS = [
  'distance',
  'healthpoints',
  'latitude',
  'longitude',
  'magicpoints',
  'name',
  'statustime',
  'fieldservice',
  'groundstation',
  'groundstation_distance_km',
  'source',
  'ride_index',
] as const;

/**
 * The header line of every processed/ object, with its `\n`.
 *
 * @example
 * const csv = CSV_HEADER + rows.map(line).join('');
 */
export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\n`;

// RFC 4180: a field holding a comma, a quote, CR or LF is quoted, its quotes doubled; nothing else.
const NEEDS_QUOTES = /[",\r\n]/;
const QUOTES = /"/g;

/**
 * A text field as RFC 4180 writes it: as is, or quoted (quotes doubled) when it holds `,`, `"`,
 * CR or LF.
 *
 * @example
 * csvField('Comma, Unicorn'); // '"Comma, Unicorn"'
 */
export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replace(QUOTES, '""')}"` : text;
}

// The source key is the same for every row of a message: quote it once.
let lastSource = '';
let lastSourceField = '';

/**
 * One processed/ CSV line, `\n` included, for a ride and its nearest station, straight from the
 * ride: no row object. Hand-written rather than csv-stringify (kept as the oracle of the specs):
 * its generic per-field work (option objects, casts, separator scans) was most of the transform's
 * CPU. Numbers print as `String(n)`, which round-trips exactly (`-0` prints `0`); `fieldservice`
 * is empty when absent; `groundstation` and its distance are empty when there is no station
 * (`''` and `undefined`).
 *
 * @example
 * csvLine(ride, 'USW00094728', 1.2, 'raw/rides.json', 0); // '29.2,217,…,USW00094728,1.2,raw/rides.json,0\n'
 */
export function csvLine(ride: Ride, groundstation: string, groundstationKm: number | undefined, source: string, rideIndex: number): string {
  if (source !== lastSource) {
    lastSourceField = csvField(source);
    lastSource = source;
  }
  const fieldservice = ride.fieldservice === 0 || ride.fieldservice === 1 ? ride.fieldservice : '';
  const km = groundstationKm === undefined ? '' : numberText(groundstationKm);
  return (
    `${numberText(ride.distance)},${ride.healthpoints},${numberText(ride.latitude)},${numberText(ride.longitude)},${ride.magicpoints},${csvField(ride.name)},` +
    `${csvField(ride.statustime)},${fieldservice},${csvField(groundstation)},${km},${lastSourceField},${rideIndex}\n`
  );
}

/**
 * Encodes rows as processed/ CSV: the header, then one line per row, each ending in `\n`; RFC 4180
 * quoting (fields holding `,`, `"`, CR or LF are quoted, quotes doubled). Numbers are written with
 * `String(n)`, the shortest text that parses back to the same double (`-0` is written `0`).
 * `fieldservice` is empty when absent. Text is written as is, a leading `=` included: the
 * consumers are Athena and notebooks, not spreadsheets. Byte for byte what csv-stringify writes
 * with these settings (a fuzz spec checks it).
 *
 * @example
 * encodeCsv([{ ...ride, groundstation: 'USW00094728', groundstation_distance_km: 1.2, source: 'raw/rides.json', ride_index: 0 }]);
 * // 'distance,healthpoints,…,ride_index\n29.2,217,…,0\n'
 */
export function encodeCsv(rows: ProcessedRow[]): string {
  let csv = CSV_HEADER;
  for (const r of rows) csv += csvLine(r, r.groundstation, r.groundstation_distance_km, r.source, r.ride_index);
  return csv;
}
