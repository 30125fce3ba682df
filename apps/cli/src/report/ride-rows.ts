import { parse } from 'csv-parse/sync';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { decimalAt } from './decimal';
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
const RETURN = 0x0d;
const COMMA = 0x2c;
const QUOTE = 0x22;

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;
const textOf = (bytes: Buffer, start: number, end: number): string => (utf8Slice ? utf8Slice.call(bytes, start, end) : bytes.toString('utf8', start, end));

/** The number a CSV field holds, as Number gives it for the field's text. */
function numberAt(bytes: Buffer, start: number, end: number): number {
  const plain = decimalAt(bytes, start, end);
  return plain === plain ? plain : Number(textOf(bytes, start, end));
}

/** Distinct texts an {@link InternedTexts} keeps at most; beyond, new ones are decoded each time. */
const MAX_INTERNED = 1 << 16;

/**
 * The UTF-8 text of byte ranges, one string per distinct byte sequence: a field that repeats row
 * after row (a station id, the source key) is compared byte by byte with the ones seen, not
 * decoded again; the same string object comes back, whose hash V8 keeps, so counting it in a Map
 * does not hash it again either.
 */
class InternedTexts {
  private slots = new Int32Array(64);
  private bytes = Buffer.allocUnsafe(1024);
  private used = 0;
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly texts: string[] = [];

  textOf(source: Buffer, start: number, end: number): string {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ source[i], 0x01000193);
    const mask = this.slots.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot] - 1;
      if (entry < 0) return this.add(slot, source, start, end);
      if (this.equal(entry, source, start, end)) return this.texts[entry];
    }
  }

  private equal(entry: number, source: Buffer, start: number, end: number): boolean {
    const at = this.starts[entry];
    if (this.ends[entry] - at !== end - start) return false;
    const kept = this.bytes;
    for (let i = start, j = at; i < end; i++, j++) if (kept[j] !== source[i]) return false;
    return true;
  }

  private add(slot: number, source: Buffer, start: number, end: number): string {
    if (this.texts.length >= MAX_INTERNED) return textOf(source, start, end);
    const length = end - start;
    if (this.used + length > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, this.used + length));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    source.copy(this.bytes, this.used, start, end);
    const entry = this.texts.length;
    this.starts.push(this.used);
    this.ends.push(this.used + length);
    this.used += length;
    const text = textOf(source, start, end);
    this.texts.push(text);
    this.slots[slot] = entry + 1;
    // At most half full, so a probe ends soon at an empty slot.
    if (2 * this.texts.length > this.slots.length) this.rehash();
    return text;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let entry = 0; entry < this.texts.length; entry++) {
      let h = 0x811c9dc5;
      for (let i = this.starts[entry]; i < this.ends[entry]; i++) h = Math.imul(h ^ this.bytes[i], 0x01000193);
      let slot = h & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = entry + 1;
    }
  }
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
  const stations = new InternedTexts();
  const sources = new InternedTexts();

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
    row.rideIndex = rideIndex;
    rows++;
    onRow(row);
  };

  /** The header, when it is the next line: taken as text; returns where the next line starts. */
  const takeHeader = (bytes: Buffer, start: number, length: number): number => {
    let next = bytes.indexOf(NEWLINE, start);
    if (next < 0 || next > length) next = length;
    lineNumber++;
    const end = next > start && bytes[next - 1] === RETURN ? next - 1 : next;
    if (end > start) takeText(textOf(bytes, start, end));
    return next + 1;
  };

  /** The bytes of the last source field read (`sourceText`), to skip the same source on the next line. */
  let sourceBytes = Buffer.alloc(0);
  let sourceLength = -1;
  let sourceText = '';

  /**
   * The complete lines of `bytes[0, length)` (the last one may lack its newline), read byte by
   * byte: one comparison per byte finds the commas, the line's end and any quote; the fields the
   * report uses are then read from the bytes (numbers by {@link decimalAt}, the station as an
   * interned string: see {@link InternedTexts}). The source field, the same on every line of an
   * object, is compared with the last one instead of being scanned.
   */
  const takeLines = (bytes: Buffer, length: number) => {
    let start = 0;
    while (!columns && start < length) start = takeHeader(bytes, start, length);
    if (!columns) return;
    const c = columns;
    const last = lastNeeded;
    const fieldStarts = starts;
    const fieldEnds = ends;
    // The comma count at which the source field starts (-1: it is the first field, never skipped).
    const sourceAt = c.source - 1;
    while (start < length) {
      const lineStart = start;
      let count = 0;
      let from = lineStart;
      let quoted = false;
      let sameSource = false;
      let at = lineStart;
      for (; at < length; at++) {
        const byte = bytes[at];
        // Digits, letters, '-', '.', '/' are all above ',': one comparison for almost every byte.
        if (byte > COMMA) continue;
        if (byte === COMMA) {
          if (count <= last) {
            fieldStarts[count] = from;
            fieldEnds[count++] = at;
          }
          from = at + 1;
          if (count === sourceAt + 1 && sourceLength >= 0 && from + sourceLength < length && bytes[from + sourceLength] === COMMA) {
            let same = true;
            for (let i = 0; i < sourceLength; i++) {
              if (bytes[from + i] !== sourceBytes[i]) {
                same = false;
                break;
              }
            }
            // The source's bytes hold no comma, quote or newline: the scan resumes at the comma after it.
            if (same) {
              sameSource = true;
              at = from + sourceLength - 1;
            }
          }
        } else if (byte === NEWLINE) break;
        else if (byte === QUOTE) quoted = true;
      }
      start = at + 1;
      lineNumber++;
      const end = at > lineStart && bytes[at - 1] === RETURN ? at - 1 : at;
      if (end === lineStart) continue;
      // A line with a quote (a quoted name), or one short of a column: csv-parse reads it.
      if (quoted || count < last) {
        takeText(textOf(bytes, lineStart, end));
        continue;
      }
      if (count === last) {
        fieldStarts[count] = from;
        fieldEnds[count++] = end;
      }
      const indexStart = fieldStarts[c.ride_index];
      const indexEnd = fieldEnds[c.ride_index];
      // A header repeated (processed/ objects concatenated) is skipped.
      if (indexEnd - indexStart === 10 && bytes[indexStart] === 0x72 && textOf(bytes, indexStart, indexEnd) === 'ride_index') continue;
      const rideIndex = numberAt(bytes, indexStart, indexEnd);
      if (indexEnd === indexStart || !Number.isFinite(rideIndex)) throw missing(count);
      row.latitude = numberAt(bytes, fieldStarts[c.latitude], fieldEnds[c.latitude]);
      row.longitude = numberAt(bytes, fieldStarts[c.longitude], fieldEnds[c.longitude]);
      const stationStart = fieldStarts[c.groundstation];
      const stationEnd = fieldEnds[c.groundstation];
      row.station = stationEnd === stationStart ? '' : stations.textOf(bytes, stationStart, stationEnd);
      const distanceStart = fieldStarts[c.groundstation_distance_km];
      const distanceEnd = fieldEnds[c.groundstation_distance_km];
      row.distanceKm = distanceEnd === distanceStart ? NaN : numberAt(bytes, distanceStart, distanceEnd);
      if (!sameSource) {
        const sourceStart = fieldStarts[c.source];
        const sourceEnd = fieldEnds[c.source];
        sourceLength = sourceEnd - sourceStart;
        if (sourceBytes.length < sourceLength) sourceBytes = Buffer.allocUnsafe(Math.max(sourceLength, 2 * sourceBytes.length));
        bytes.copy(sourceBytes, 0, sourceStart, sourceEnd);
        sourceText = sources.textOf(bytes, sourceStart, sourceEnd);
      }
      row.source = sourceText;
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
