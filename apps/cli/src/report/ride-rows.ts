import { parse } from 'csv-parse/sync';
import type { Readable } from 'node:stream';
import { ReportInputError } from './errors';

/** The columns of a processed/ CSV row the report reads. */
export interface RideRow {
  longitude: number;
  latitude: number;
  station: string;
  /** NaN when the row has no station (inventory runs). */
  distanceKm: number;
  source: string;
  rideIndex: number;
}

const NEEDED = ['latitude', 'longitude', 'groundstation', 'groundstation_distance_km', 'source', 'ride_index'] as const;
type Columns = Record<(typeof NEEDED)[number], number>;

/**
 * Streams the rows of a processed/ CSV (or rides.csv) to `onRow`, columns found by header name;
 * returns the rows read. Every record is one physical line (ARCHITECTURE.md: names with control
 * characters are rejected), so lines are cut from the byte stream directly and split on commas;
 * csv-parse takes the lines holding a quote (a quoted name). Lines are cut by hand rather than
 * with readline's async iterator, and rows handed to a callback rather than yielded from an async
 * generator: a promise per line dominated the report's one pass over millions of rows.
 * `onRow` gets the same object every time: copy what it keeps.
 * @example
 * const rows = await readRideRows(createReadStream('out/rides.csv'), 'out/rides.csv', (row) => counts.add(row.station));
 */
export async function readRideRows(input: Readable, file: string, onRow: (row: RideRow) => void): Promise<number> {
  let columns: Columns | undefined;
  let lineNumber = 0;
  let rows = 0;
  const row: RideRow = { longitude: 0, latitude: 0, station: '', distanceKm: 0, source: '', rideIndex: 0 };
  const take = (line: string) => {
    lineNumber++;
    if (line === '' || line === '\r') return;
    const fields = line.includes('"') ? (parse(line, { relax_column_count: true }) as string[][])[0] : line.split(',');
    if (!columns) {
      columns = columnsOf(fields, file);
      return;
    }
    // A header repeated (processed/ objects concatenated) is skipped.
    const index = fields[columns.ride_index];
    if (index === 'ride_index') return;
    const rideIndex = Number(index);
    if (fields.length <= columns.ride_index || index === '' || !Number.isFinite(rideIndex)) {
      throw new ReportInputError(file, `line ${lineNumber}: expected ${NEEDED.join(', ')} columns, found ${fields.length} fields`);
    }
    const distance = fields[columns.groundstation_distance_km];
    row.latitude = Number(fields[columns.latitude]);
    row.longitude = Number(fields[columns.longitude]);
    row.station = fields[columns.groundstation] ?? '';
    row.distanceKm = distance === '' || distance === undefined ? NaN : Number(distance);
    row.source = fields[columns.source];
    row.rideIndex = rideIndex;
    rows++;
    onRow(row);
  };
  input.setEncoding('utf8');
  let rest = '';
  for await (const chunk of input as AsyncIterable<string>) {
    const text = rest + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      take(text.slice(start, end));
      start = end + 1;
    }
    rest = text.slice(start);
  }
  if (rest !== '') take(rest);
  return rows;
}

function columnsOf(header: string[], file: string): Columns {
  const columns = {} as Columns;
  for (const name of NEEDED) {
    const at = header.indexOf(name);
    if (at < 0) throw new ReportInputError(file, `line 1: no "${name}" column in the header (${header.join(',')})`);
    columns[name] = at;
  }
  return columns;
}
