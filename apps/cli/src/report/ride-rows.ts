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

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
/** Fields of a line cut at its commas at most; a longer line takes the text path. */
const MAX_FIELDS = 256;
// 10^0 … 10^15, all exact doubles.
const POW10 = Array.from({ length: 16 }, (_, d) => 10 ** d);

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;
const textOf = (bytes: Buffer, start: number, end: number): string => (utf8Slice ? utf8Slice.call(bytes, start, end) : bytes.toString('utf8', start, end));

/**
 * `Number(text)` of the bytes from `start` to `end`. A plain decimal of at most 15 digits (a
 * coordinate) is read digit by digit: its digits and its power of ten are both exact doubles, so
 * their quotient is the correctly rounded value, the one Number gives. Anything else (17-digit
 * distances, exponents, blanks) goes through Number.
 */
function numberAt(bytes: Buffer, start: number, end: number): number {
  let at = start;
  const negative = bytes[at] === 0x2d;
  if (negative) at++;
  let value = 0;
  let digits = 0;
  let decimals = -1;
  for (; at < end; at++) {
    const c = bytes[at];
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      digits++;
      if (decimals >= 0) decimals++;
    } else if (c === 0x2e && decimals < 0) decimals = 0;
    else return Number(textOf(bytes, start, end));
  }
  if (digits === 0 || digits > 15) return Number(textOf(bytes, start, end));
  const magnitude = decimals > 0 ? value / POW10[decimals] : value;
  return negative ? -magnitude : magnitude;
}

/**
 * Streams the rows of a processed/ CSV (or rides.csv) to `onRow`, columns found by header name;
 * returns the rows read. Every record is one physical line (ARCHITECTURE.md: names with control
 * characters are rejected), so lines are cut from the bytes directly and split at their commas,
 * and only the six fields the report uses become values (coordinates read digit by digit, the
 * source string kept while consecutive rows share it); csv-parse takes the lines holding a quote
 * (a quoted name). Hand-written because splitting every line into a dozen strings, and a promise
 * per line before that, were most of the report's time on a 200,000-ride run; a spec holds it
 * to csv-parse and Number on the same rows.
 * `onRow` gets the same object every time: copy what it keeps.
 * @example
 * const rows = await readRideRows(createReadStream('out/rides.csv'), 'out/rides.csv', (row) => counts.add(row.station));
 */
export async function readRideRows(input: Readable, file: string, onRow: (row: RideRow) => void): Promise<number> {
  let columns: Columns | undefined;
  let lineNumber = 0;
  let rows = 0;
  const row: RideRow = { longitude: 0, latitude: 0, station: '', distanceKm: 0, source: '', rideIndex: 0 };
  const starts = new Int32Array(MAX_FIELDS);
  const ends = new Int32Array(MAX_FIELDS);
  let lastSource = Buffer.alloc(0);

  const missing = (found: number) => new ReportInputError(file, `line ${lineNumber}: expected ${NEEDED.join(', ')} columns, found ${found} fields`);

  /** A line as text: the header, and any line with a quote. */
  const takeText = (line: string) => {
    const fields = line.includes('"') ? (parse(line, { relax_column_count: true }) as string[][])[0] : line.split(',');
    if (!columns) {
      columns = columnsOf(fields, file);
      return;
    }
    // A header repeated (processed/ objects concatenated) is skipped.
    const index = fields[columns.ride_index];
    if (index === 'ride_index') return;
    const rideIndex = Number(index);
    if (fields.length <= columns.ride_index || index === '' || !Number.isFinite(rideIndex)) throw missing(fields.length);
    const distance = fields[columns.groundstation_distance_km];
    row.latitude = Number(fields[columns.latitude]);
    row.longitude = Number(fields[columns.longitude]);
    row.station = fields[columns.groundstation] ?? '';
    row.distanceKm = distance === '' || distance === undefined ? NaN : Number(distance);
    row.source = fields[columns.source];
    lastSource = Buffer.alloc(0);
    row.rideIndex = rideIndex;
    rows++;
    onRow(row);
  };

  /** `quoted`: the line holds a quote (the chunk's first quote from the line's start on is before its end). */
  const take = (bytes: Buffer, start: number, end: number, quoted: boolean) => {
    lineNumber++;
    if (end > start && bytes[end - 1] === RETURN) end--;
    if (start === end) return;
    // The header, and a line with a quote (a quoted name): csv-parse reads it.
    if (!columns || quoted) return takeText(textOf(bytes, start, end));
    // Any other line (almost every one) is only searched for commas, one comparison per byte.
    let count = 0;
    let from = start;
    for (let at = start; at < end; at++) {
      if (bytes[at] === COMMA) {
        if (count === MAX_FIELDS - 1) return takeText(textOf(bytes, start, end));
        starts[count] = from;
        ends[count++] = at;
        from = at + 1;
      }
    }
    starts[count] = from;
    ends[count++] = end;
    const c = columns;
    if (count <= c.ride_index) throw missing(count);
    const indexStart = starts[c.ride_index];
    const indexEnd = ends[c.ride_index];
    if (indexEnd - indexStart === 10 && textOf(bytes, indexStart, indexEnd) === 'ride_index') return;
    const rideIndex = numberAt(bytes, indexStart, indexEnd);
    if (indexEnd === indexStart || !Number.isFinite(rideIndex)) throw missing(count);
    row.latitude = numberAt(bytes, starts[c.latitude], ends[c.latitude]);
    row.longitude = numberAt(bytes, starts[c.longitude], ends[c.longitude]);
    row.station = textOf(bytes, starts[c.groundstation], ends[c.groundstation]);
    const distanceStart = starts[c.groundstation_distance_km];
    const distanceEnd = ends[c.groundstation_distance_km];
    row.distanceKm = distanceEnd === distanceStart ? NaN : numberAt(bytes, distanceStart, distanceEnd);
    const sourceStart = starts[c.source];
    const sourceEnd = ends[c.source];
    if (sourceEnd - sourceStart !== lastSource.length || bytes.compare(lastSource, 0, lastSource.length, sourceStart, sourceEnd) !== 0) {
      lastSource = Buffer.from(bytes.subarray(sourceStart, sourceEnd));
      row.source = textOf(bytes, sourceStart, sourceEnd);
    }
    row.rideIndex = rideIndex;
    rows++;
    onRow(row);
  };

  let rest: Buffer | undefined;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const piece = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const bytes = rest ? Buffer.concat([rest, piece]) : piece;
    let start = 0;
    let quote = bytes.indexOf(QUOTE);
    for (let end = bytes.indexOf(NEWLINE); end >= 0; end = bytes.indexOf(NEWLINE, start)) {
      if (quote >= 0 && quote < start) quote = bytes.indexOf(QUOTE, start);
      take(bytes, start, end, quote >= 0 && quote < end);
      start = end + 1;
    }
    rest = start < bytes.length ? bytes.subarray(start) : undefined;
  }
  if (rest) take(rest, 0, rest.length, rest.includes(QUOTE));
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
