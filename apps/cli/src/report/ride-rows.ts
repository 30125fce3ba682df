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

/**
 * Rows in columns: row i is `latitude[i]`, `longitude[i]`, … for i < `count`. A reader hands its
 * rows over a chunk at a time this way, so the aggregates run as short loops over typed arrays
 * rather than a call per row. The arrays are reused for the next chunk: copy what is kept.
 */
export interface RowBatch {
  count: number;
  latitude: Float64Array;
  longitude: Float64Array;
  /** NaN when the row has no station. */
  distanceKm: Float64Array;
  rideIndex: Float64Array;
  /** '' when the row has no station; the same string object for every row of a station (when read from bytes). */
  station: string[];
  source: string[];
}

/** What takes a reader's rows a batch at a time (the report's collector). */
export interface RowBatchSink {
  addRows(batch: RowBatch): void;
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
 * characters are rejected), so lines are cut at newlines and fields at commas by one loop over the
 * bytes, up to the last column the report uses (the fields after it are never looked at); only the
 * six fields the report uses become values, straight from the bytes: numbers by
 * {@link decimalAt} (Number's double, no string made), the station and the source as strings
 * made once per distinct value (see {@link InternedTexts}; the source, the same on every line of
 * an object, is compared with the last one instead of being scanned). csv-parse takes the lines
 * holding a quote (a quoted name) and any line short of a column. Hand-written because the
 * report reads every row of a run, on the CLI's thread while the pipeline runs: strings per
 * field, then a comma search per field in a latin1 string of each chunk, and Number of the
 * 17-digit distance's string were most of its CPU (figures in the README's report section); a
 * spec holds it to csv-parse and Number on the same rows.
 * `onRow` gets the same object every time: copy what it keeps. A {@link RowBatchSink} instead
 * gets the rows of each chunk at once.
 * @example
 * const rows = await readRideRows(createReadStream('out/rides.csv'), 'out/rides.csv', (row) => counts.add(row.station));
 */
export async function readRideRows(input: Readable | AsyncIterable<Buffer>, file: string, onRow: ((row: RideRow) => void) | RowBatchSink): Promise<number> {
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
  /**
   * Starts on another file (its header first), keeping what is worth keeping between files: the
   * strings of the stations and sources seen, and the code the engine optimised for this reader.
   */
  next(file: string): void;
}

/**
 * The synchronous reader behind {@link readRideRows}, for bytes already in memory. One reader
 * given {@link RideRowReader.next} for each file reads many files (a run's processed/ objects).
 * @example
 * const reader = rideRowReader('processed/x.csv', (row) => counts.add(row.station));
 * reader.take(readFileSync('processed/x.csv'));
 * reader.end(); // rows read
 */
export function rideRowReader(file: string, onRow: ((row: RideRow) => void) | RowBatchSink): RideRowReader {
  return new RowScanner(file, typeof onRow === 'function' ? rowByRow(onRow) : onRow);
}

/** A sink handing each row of a batch to `onRow`, in one reused object. */
function rowByRow(onRow: (row: RideRow) => void): RowBatchSink {
  const row: RideRow = { longitude: 0, latitude: 0, station: '', distanceKm: 0, source: '', rideIndex: 0 };
  return {
    addRows(batch) {
      for (let i = 0; i < batch.count; i++) {
        row.latitude = batch.latitude[i];
        row.longitude = batch.longitude[i];
        row.station = batch.station[i];
        row.distanceKm = batch.distanceKm[i];
        row.source = batch.source[i];
        row.rideIndex = batch.rideIndex[i];
        onRow(row);
      }
    },
  };
}

/** A batch of room for `capacity` rows. */
function newBatch(capacity: number): RowBatch {
  return {
    count: 0,
    latitude: new Float64Array(capacity),
    longitude: new Float64Array(capacity),
    distanceKm: new Float64Array(capacity),
    rideIndex: new Float64Array(capacity),
    station: new Array<string>(capacity).fill(''),
    source: new Array<string>(capacity).fill(''),
  };
}

/** `batch` with room for at least one more row (a larger copy when full). */
function roomFor(batch: RowBatch): RowBatch {
  if (batch.count < batch.latitude.length) return batch;
  const bigger = newBatch(2 * batch.latitude.length);
  bigger.count = batch.count;
  bigger.latitude.set(batch.latitude);
  bigger.longitude.set(batch.longitude);
  bigger.distanceKm.set(batch.distanceKm);
  bigger.rideIndex.set(batch.rideIndex);
  for (let i = 0; i < batch.count; i++) {
    bigger.station[i] = batch.station[i];
    bigger.source[i] = batch.source[i];
  }
  return bigger;
}

class RowScanner implements RideRowReader {
  private columns: Columns | undefined;
  /** The highest column index the report uses: a line's fields are cut up to it. */
  private lastNeeded = 0;
  private lineNumber = 0;
  private rows = 0;
  /** The rows of the chunk being read, handed to the sink at its end. */
  private batch = newBatch(1024);
  private starts = new Int32Array(0);
  private ends = new Int32Array(0);
  private readonly stations = new InternedTexts();
  private readonly sources = new InternedTexts();
  /** The bytes of the last source field read (its text: `sourceText`), to skip it on the next line; length -1: none. */
  private sourceBytes = Buffer.alloc(0);
  private sourceLength = -1;
  private sourceText = '';
  /** The start of a line cut at the previous chunk's end (a copy). */
  private rest: Buffer | undefined;

  constructor(
    private file: string,
    private readonly sink: RowBatchSink,
  ) {}

  next(file: string): void {
    this.file = file;
    this.columns = undefined;
    this.lineNumber = 0;
    this.rows = 0;
    this.rest = undefined;
  }

  take(chunk: Buffer): void {
    let bytes = chunk;
    if (this.rest) {
      const rest = this.rest;
      // The line cut at the previous chunk's end, read alone.
      const newline = bytes.indexOf(NEWLINE);
      if (newline < 0) {
        this.rest = Buffer.concat([rest, bytes]);
        return;
      }
      this.rest = undefined;
      this.takeLines(Buffer.concat([rest, bytes.subarray(0, newline)]), rest.length + newline);
      bytes = bytes.subarray(newline + 1);
    }
    const last = bytes.lastIndexOf(NEWLINE);
    if (last >= 0) this.takeLines(bytes, last + 1);
    // Copied: the chunk's memory may be reused for the next one (see fileChunks).
    if (last + 1 < bytes.length) this.rest = Buffer.from(bytes.subarray(last + 1));
  }

  end(): number {
    const rest = this.rest;
    this.rest = undefined;
    if (rest) this.takeLines(rest, rest.length);
    return this.rows;
  }

  /** Hands the rows read so far to the sink. */
  private flush(): void {
    if (this.batch.count === 0) return;
    this.sink.addRows(this.batch);
    this.batch.count = 0;
  }

  /** The error for a line short of the needed columns; the rows before it are handed over first. */
  private missing(found: number): ReportInputError {
    this.flush();
    return new ReportInputError(this.file, `line ${this.lineNumber}: expected ${NEEDED.join(', ')} columns, found ${found} fields`);
  }

  /** A line as text: the header, any line with a quote, a line short of a column. */
  private takeText(line: string): void {
    const fields = line.includes('"') ? (parse(line, { relax_column_count: true }) as string[][])[0] : line.split(',');
    const columns = this.columns;
    if (!columns) {
      this.columns = columnsOf(fields, this.file);
      this.lastNeeded = Math.max(...Object.values(this.columns));
      if (this.starts.length <= this.lastNeeded) {
        this.starts = new Int32Array(this.lastNeeded + 1);
        this.ends = new Int32Array(this.lastNeeded + 1);
      }
      return;
    }
    // A header repeated (processed/ objects concatenated) is skipped.
    const index = fields[columns.ride_index];
    if (index === 'ride_index') return;
    const rideIndex = Number(index);
    if (fields.length <= columns.ride_index || index === '' || !Number.isFinite(rideIndex)) throw this.missing(fields.length);
    const distance = fields[columns.groundstation_distance_km];
    const batch = (this.batch = roomFor(this.batch));
    const i = batch.count++;
    batch.latitude[i] = Number(fields[columns.latitude]);
    batch.longitude[i] = Number(fields[columns.longitude]);
    batch.station[i] = fields[columns.groundstation] ?? '';
    batch.distanceKm[i] = distance === '' || distance === undefined ? NaN : Number(distance);
    batch.source[i] = fields[columns.source];
    batch.rideIndex[i] = rideIndex;
    this.rows++;
  }

  /** The header, the next line at `start`: taken as text; returns where the line after starts. */
  private takeHeader(bytes: Buffer, start: number, length: number): number {
    let next = bytes.indexOf(NEWLINE, start);
    if (next < 0 || next > length) next = length;
    this.lineNumber++;
    const end = next > start && bytes[next - 1] === RETURN ? next - 1 : next;
    if (end > start) this.takeText(textOf(bytes, start, end));
    return next + 1;
  }

  /**
   * The complete lines of `bytes[0, length)` (the last one may lack its newline): one comparison
   * per byte finds the commas, the line's end and any quote.
   */
  private takeLines(bytes: Buffer, length: number): void {
    let start = 0;
    while (!this.columns && start < length) start = this.takeHeader(bytes, start, length);
    const c = this.columns;
    if (!c) return;
    const last = this.lastNeeded;
    const starts = this.starts;
    const ends = this.ends;
    // The comma count after which the source field starts (0: it is the first field, never skipped).
    const sourceAfter = c.source;
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
            starts[count] = from;
            ends[count++] = at;
          }
          from = at + 1;
          // The source's bytes hold no comma, quote or newline: when they are the last line's, the scan resumes at the comma after them.
          if (count === sourceAfter && this.sameSourceAt(bytes, from, length)) {
            sameSource = true;
            at = from + this.sourceLength - 1;
          }
        } else if (byte === NEWLINE) break;
        else if (byte === QUOTE) quoted = true;
      }
      start = at + 1;
      this.lineNumber++;
      const end = at > lineStart && bytes[at - 1] === RETURN ? at - 1 : at;
      if (end === lineStart) continue;
      // A line with a quote (a quoted name), or one short of a column: csv-parse reads it.
      if (quoted || count < last) {
        this.takeText(textOf(bytes, lineStart, end));
        continue;
      }
      if (count === last) {
        starts[count] = from;
        ends[count++] = end;
      }
      this.takeFields(bytes, c, count, sameSource);
    }
    this.flush();
  }

  /** Whether the bytes at `from` are the last source field's, followed by a comma. */
  private sameSourceAt(bytes: Buffer, from: number, length: number): boolean {
    const n = this.sourceLength;
    if (n < 0 || from + n >= length || bytes[from + n] !== COMMA) return false;
    const kept = this.sourceBytes;
    for (let i = 0; i < n; i++) if (bytes[from + i] !== kept[i]) return false;
    return true;
  }

  /** The row of a line whose fields are cut (`starts`, `ends`; `count` of them). */
  private takeFields(bytes: Buffer, c: Columns, count: number, sameSource: boolean): void {
    const starts = this.starts;
    const ends = this.ends;
    const indexStart = starts[c.ride_index];
    const indexEnd = ends[c.ride_index];
    // A header repeated (processed/ objects concatenated) is skipped.
    if (indexEnd - indexStart === 10 && bytes[indexStart] === 0x72 && textOf(bytes, indexStart, indexEnd) === 'ride_index') return;
    const rideIndex = numberAt(bytes, indexStart, indexEnd);
    if (indexEnd === indexStart || !Number.isFinite(rideIndex)) throw this.missing(count);
    const batch = (this.batch = roomFor(this.batch));
    const i = batch.count++;
    batch.latitude[i] = numberAt(bytes, starts[c.latitude], ends[c.latitude]);
    batch.longitude[i] = numberAt(bytes, starts[c.longitude], ends[c.longitude]);
    const stationStart = starts[c.groundstation];
    const stationEnd = ends[c.groundstation];
    batch.station[i] = stationEnd === stationStart ? '' : this.stations.textOf(bytes, stationStart, stationEnd);
    const distanceStart = starts[c.groundstation_distance_km];
    const distanceEnd = ends[c.groundstation_distance_km];
    batch.distanceKm[i] = distanceEnd === distanceStart ? NaN : numberAt(bytes, distanceStart, distanceEnd);
    if (!sameSource) this.keepSource(bytes, starts[c.source], ends[c.source]);
    batch.source[i] = this.sourceText;
    batch.rideIndex[i] = rideIndex;
    this.rows++;
  }

  private keepSource(bytes: Buffer, start: number, end: number): void {
    const length = end - start;
    if (this.sourceBytes.length < length) this.sourceBytes = Buffer.allocUnsafe(Math.max(length, 2 * this.sourceBytes.length));
    bytes.copy(this.sourceBytes, 0, start, end);
    this.sourceLength = length;
    this.sourceText = this.sources.textOf(bytes, start, end);
  }
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
