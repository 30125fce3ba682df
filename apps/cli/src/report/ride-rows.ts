import { parse } from 'csv-parse/sync';
import { isAscii } from 'node:buffer';
import { open } from 'node:fs/promises';
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

const NEWLINE = 0x0a;
const RETURN = 13;
// 10^0 … 10^15, all exact doubles.
const POW10 = Array.from({ length: 16 }, (_, d) => 10 ** d);

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (start: number, end: number) => string }).latin1Slice;
const textOf = (bytes: Buffer, start: number, end: number): string => (utf8Slice ? utf8Slice.call(bytes, start, end) : bytes.toString('utf8', start, end));
/** One char per byte: char offsets are byte offsets, and an ASCII field's text is its UTF-8 text. */
const bytesAsText = (bytes: Buffer, start: number, end: number): string => (latin1Slice ? latin1Slice.call(bytes, start, end) : bytes.toString('latin1', start, end));

/**
 * The value of a plain decimal of at most 15 digits (a coordinate) written at `text[start, end)`,
 * read digit by digit: its digits and its power of ten are both exact doubles, so their quotient
 * is the correctly rounded value, the one Number gives. NaN for anything else (17-digit distances,
 * exponents, blanks), which the caller gives to Number.
 */
function plainDecimal(text: string, start: number, end: number): number {
  let at = start;
  const negative = text.charCodeAt(at) === 0x2d;
  if (negative) at++;
  let value = 0;
  let digits = 0;
  let decimals = -1;
  for (; at < end; at++) {
    const c = text.charCodeAt(at);
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      digits++;
      if (decimals >= 0) decimals++;
    } else if (c === 0x2e && decimals < 0) decimals = 0;
    else return NaN;
  }
  if (digits === 0 || digits > 15) return NaN;
  const magnitude = decimals > 0 ? value / POW10[decimals] : value;
  return negative ? -magnitude : magnitude;
}

/** Bytes of a file read at a time by {@link fileChunks}. */
export const FILE_CHUNK = 1 << 20;

/**
 * A file's bytes in chunks of {@link FILE_CHUNK}, all read into the same buffer: each chunk is
 * valid until the next is asked for. A stream allocates fresh memory for every 64 KiB it reads,
 * and touching those new pages cost more CPU than reading rides.csv's lines.
 * @example
 * for await (const chunk of fileChunks('out/rides.csv')) lines += countNewlines(chunk);
 */
export async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(FILE_CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, FILE_CHUNK, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Streams the rows of a processed/ CSV (or rides.csv) to `onRow`, columns found by header name;
 * returns the rows read. Every record is one physical line (ARCHITECTURE.md: names with control
 * characters are rejected), so the complete lines of each chunk become one string of one char
 * per byte, and a line's fields are found with the string's native comma search up to the last
 * column the report uses (the fields after it are never looked at); only the six fields the report
 * uses become values (coordinates read digit by digit, the source string kept while consecutive
 * rows share it). csv-parse takes the lines holding a quote (a quoted name) and any line short of
 * a column. Hand-written because splitting every line into a dozen strings, and then a JavaScript
 * loop over every byte, were most of the report's time on a 200,000-ride run; a spec holds it to
 * csv-parse and Number on the same rows.
 * `onRow` gets the same object every time: copy what it keeps.
 * @example
 * const rows = await readRideRows(createReadStream('out/rides.csv'), 'out/rides.csv', (row) => counts.add(row.station));
 */
export async function readRideRows(input: Readable | AsyncIterable<Buffer>, file: string, onRow: (row: RideRow) => void): Promise<number> {
  const reader = rideRowReader(file, onRow);
  for await (const chunk of input as AsyncIterable<Buffer | string>) reader.take(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return reader.end();
}

/** Reads a CSV's rows from the chunks it is given in order; see {@link readRideRows}. */
export interface RideRowReader {
  /** The next bytes of the file; they may be reused once this returns. */
  take(bytes: Buffer): void;
  /** The file's end: reads the last line (with no newline) and returns the rows read. */
  end(): number;
}

/**
 * The synchronous reader behind {@link readRideRows}, for bytes already in memory.
 * @example
 * const reader = rideRowReader('processed/x.csv', (row) => counts.add(row.station));
 * reader.take(readFileSync('processed/x.csv'));
 * reader.end(); // rows read
 */
export function rideRowReader(file: string, onRow: (row: RideRow) => void): RideRowReader {
  let columns: Columns | undefined;
  /** The highest column index the report uses: a line's fields are cut up to it. */
  let lastNeeded = 0;
  let lineNumber = 0;
  let rows = 0;
  const row: RideRow = { longitude: 0, latitude: 0, station: '', distanceKm: 0, source: '', rideIndex: 0 };
  let starts = new Int32Array(0);
  let ends = new Int32Array(0);
  /** The last source field, one char per byte (equal texts: equal bytes). */
  let lastSource: string | undefined;

  const missing = (found: number) => new ReportInputError(file, `line ${lineNumber}: expected ${NEEDED.join(', ')} columns, found ${found} fields`);

  /** A line as text: the header, any line with a quote, a line short of a column. */
  const takeText = (line: string) => {
    const fields = line.includes('"') ? (parse(line, { relax_column_count: true }) as string[][])[0] : line.split(',');
    if (!columns) {
      columns = columnsOf(fields, file);
      lastNeeded = Math.max(...Object.values(columns));
      starts = new Int32Array(lastNeeded + 1);
      ends = new Int32Array(lastNeeded + 1);
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
    lastSource = undefined;
    row.rideIndex = rideIndex;
    rows++;
    onRow(row);
  };

  /**
   * The complete lines of `bytes[0, length)` (the last one may lack its newline). `text` holds
   * them one char per byte; `ascii`: no byte above 127, so a field's text is a slice of `text`.
   */
  const takeLines = (bytes: Buffer, length: number) => {
    const text = bytesAsText(bytes, 0, length);
    const ascii = isAscii(bytes.subarray(0, length));
    const value = (start: number, end: number) => (ascii ? text.slice(start, end) : textOf(bytes, start, end));
    const numberIn = (start: number, end: number) => {
      const plain = plainDecimal(text, start, end);
      return plain === plain ? plain : Number(value(start, end));
    };
    let quote = text.indexOf('"');
    let start = 0;
    while (start < length) {
      let next = text.indexOf('\n', start);
      if (next < 0) next = length;
      let end = next;
      const lineStart = start;
      start = next + 1;
      lineNumber++;
      if (end > lineStart && text.charCodeAt(end - 1) === RETURN) end--;
      if (end === lineStart) continue;
      if (quote >= 0 && quote < lineStart) quote = text.indexOf('"', lineStart);
      // The header, and a line with a quote (a quoted name): csv-parse reads it.
      if (!columns || (quote >= 0 && quote < end)) {
        takeText(textOf(bytes, lineStart, end));
        continue;
      }
      // Any other line (almost every one): the commas up to the last column used, natively found.
      let count = 0;
      let from = lineStart;
      while (count <= lastNeeded) {
        const comma = text.indexOf(',', from);
        starts[count] = from;
        if (comma < 0 || comma >= end) {
          ends[count++] = end;
          break;
        }
        ends[count++] = comma;
        from = comma + 1;
      }
      if (count <= lastNeeded) {
        takeText(textOf(bytes, lineStart, end));
        continue;
      }
      const c = columns;
      const indexStart = starts[c.ride_index];
      const indexEnd = ends[c.ride_index];
      if (indexEnd - indexStart === 10 && text.startsWith('ride_index', indexStart)) continue;
      const rideIndex = numberIn(indexStart, indexEnd);
      if (indexEnd === indexStart || !Number.isFinite(rideIndex)) throw missing(count);
      row.latitude = numberIn(starts[c.latitude], ends[c.latitude]);
      row.longitude = numberIn(starts[c.longitude], ends[c.longitude]);
      row.station = value(starts[c.groundstation], ends[c.groundstation]);
      const distanceStart = starts[c.groundstation_distance_km];
      const distanceEnd = ends[c.groundstation_distance_km];
      row.distanceKm = distanceEnd === distanceStart ? NaN : numberIn(distanceStart, distanceEnd);
      const sourceStart = starts[c.source];
      const sourceEnd = ends[c.source];
      // A slice of a string this long shares the chunk's text; it is compared, and only kept when it differs.
      const source = text.slice(sourceStart, sourceEnd);
      if (source !== lastSource) {
        lastSource = source;
        row.source = ascii ? source : textOf(bytes, sourceStart, sourceEnd);
      }
      row.rideIndex = rideIndex;
      rows++;
      onRow(row);
    }
  };

  let rest: Buffer | undefined;
  const take = (chunk: Buffer) => {
    let bytes = chunk;
    if (rest) {
      // The line cut at the previous chunk's end, read alone.
      const newline = bytes.indexOf(NEWLINE);
      if (newline < 0) {
        rest = Buffer.concat([rest, bytes]);
        return;
      }
      takeLines(Buffer.concat([rest, bytes.subarray(0, newline)]), rest.length + newline);
      rest = undefined;
      bytes = bytes.subarray(newline + 1);
    }
    const last = bytes.lastIndexOf(NEWLINE);
    if (last >= 0) takeLines(bytes, last + 1);
    // Copied: the chunk's memory may be reused for the next one (see fileChunks).
    if (last + 1 < bytes.length) rest = Buffer.from(bytes.subarray(last + 1));
  };
  const end = () => {
    if (rest) takeLines(rest, rest.length);
    rest = undefined;
    return rows;
  };
  return { take, end };
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
