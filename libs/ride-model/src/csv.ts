import { stringify } from 'csv-stringify/sync';
import { ProcessedRow } from './types';

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

function toCells(r: ProcessedRow): Array<string | number> {
  return [
    r.distance,
    r.healthpoints,
    r.latitude,
    r.longitude,
    r.magicpoints,
    r.name,
    r.statustime,
    r.fieldservice ?? '',
    r.groundstation,
    r.groundstation_distance_km,
    r.source,
    r.ride_index,
  ];
}

/**
 * Encodes rows as processed/ CSV: the header, then one line per row, each ending in `\n`; RFC 4180
 * quoting (fields holding `,`, `"`, CR or LF are quoted, quotes doubled). Numbers are written with
 * `String(n)`, the shortest text that parses back to the same double (`-0` is written `0`).
 * `fieldservice` is empty when absent. Text is written as is, a leading `=` included: the
 * consumers are Athena and notebooks, not spreadsheets.
 *
 * @example
 * encodeCsv([{ ...ride, groundstation: 'USW00094728', groundstation_distance_km: 1.2, source: 'raw/rides.json', ride_index: 0 }]);
 * // 'distance,healthpoints,…,ride_index\n29.2,217,…,0\n'
 */
export function encodeCsv(rows: ProcessedRow[]): string {
  return stringify([CSV_COLUMNS as unknown as string[], ...rows.map(toCells)], {
    record_delimiter: '\n',
    // csv-stringify quotes LF but not a lone CR with '\n' line ends; RFC 4180 wants both quoted.
    quoted_match: /\r/,
    cast: { number: (n) => String(n) },
  });
}
