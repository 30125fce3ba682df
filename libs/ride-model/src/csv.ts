import { ByteWriter } from './byte-writer';
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

const COMMA = 0x2c;

/**
 * {@link csvField} written to `w`: printable ASCII needing no quotes byte by byte, anything else
 * through csvField.
 *
 * @example
 * writeField(w, 'Comma, Unicorn'); // writes "Comma, Unicorn" with its quotes
 */
export function writeField(w: ByteWriter, text: string): void {
  const start = w.length;
  w.reserve(text.length);
  const bytes = w.bytes;
  let at = start;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2c || c === 0x22 || c === 0x0d || c === 0x0a || c >= 0x80) {
      w.length = start;
      w.utf8(csvField(text));
      return;
    }
    bytes[at++] = c;
  }
  w.length = at;
}

/**
 * {@link csvLine} written into `w` (UTF-8), for code that builds a whole object: no string per
 * line or per number. Hand-written rather than csv-stringify (kept as the oracle of the specs):
 * its generic per-field work (option objects, casts, separator scans), and then string building
 * and number formatting, were most of the transform's CPU (`nx run transform-fn:bench-floor`).
 *
 * @example
 * const w = new ByteWriter();
 * w.ascii(CSV_HEADER);
 * for (const [i, ride] of rides.entries()) writeCsvLine(w, ride, 'USW00094728', 1.2, 'raw/rides.json', i);
 * const csv = w.take();
 */
export function writeCsvLine(w: ByteWriter, ride: Ride, groundstation: string, groundstationKm: number | undefined, source: string, rideIndex: number): void {
  w.number(ride.distance);
  w.byte(COMMA);
  w.number(ride.healthpoints);
  w.byte(COMMA);
  w.number(ride.latitude);
  w.byte(COMMA);
  w.number(ride.longitude);
  w.byte(COMMA);
  w.number(ride.magicpoints);
  w.byte(COMMA);
  writeField(w, ride.name);
  w.byte(COMMA);
  writeField(w, ride.statustime);
  w.byte(COMMA);
  if (ride.fieldservice === 0 || ride.fieldservice === 1) w.byte(0x30 + ride.fieldservice);
  w.byte(COMMA);
  writeField(w, groundstation);
  w.byte(COMMA);
  if (groundstationKm !== undefined) w.number(groundstationKm);
  w.byte(COMMA);
  writeField(w, source);
  w.byte(COMMA);
  w.number(rideIndex);
  w.byte(0x0a);
}

const line = new ByteWriter(1024);

/**
 * One processed/ CSV line, `\n` included, for a ride and its nearest station, straight from the
 * ride: no row object (see {@link writeCsvLine}). Numbers print as `String(n)`, which
 * round-trips exactly (`-0` prints `0`); `fieldservice` is empty when absent; `groundstation`
 * and its distance are empty when there is no station (`''` and `undefined`). Text with an
 * unpaired surrogate (which validateRide rejects in names) comes out with U+FFFD there, as its
 * UTF-8 bytes would.
 *
 * @example
 * csvLine(ride, 'USW00094728', 1.2, 'raw/rides.json', 0); // '29.2,217,…,USW00094728,1.2,raw/rides.json,0\n'
 */
export function csvLine(ride: Ride, groundstation: string, groundstationKm: number | undefined, source: string, rideIndex: number): string {
  line.length = 0;
  writeCsvLine(line, ride, groundstation, groundstationKm, source, rideIndex);
  return line.take();
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
  const w = new ByteWriter();
  w.ascii(CSV_HEADER);
  for (const r of rows) writeCsvLine(w, r, r.groundstation, r.groundstation_distance_km, r.source, r.ride_index);
  return w.take();
}
