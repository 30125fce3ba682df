import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsvStream } from 'csv-parse';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { MalformedCatalogueError, UnknownCatalogueFormatError } from './errors';
import type { CatalogueFormat, Station } from './types';
import { isBlankRecord, looksLikeCsvHeader, readCsvHeader, readCsvRecord, startLine, type CsvLayout } from './catalogue/csv';
import { StationCollector } from './catalogue/fields';
import { looksLikeGhcn, parseGhcnLine } from './catalogue/ghcn';
import { parseJsonCatalogue } from './catalogue/json';

/** Options of {@link parseStations} and {@link loadStations}. */
export interface CatalogueOptions {
  /** Skip detection and read the catalogue as this format. */
  format?: CatalogueFormat;
  /** Name used in error messages, e.g. `s3://bucket/stations/ghcnd-stations.txt`; default `catalogue`. */
  source?: string;
}

const DEFAULT_SOURCE = 'catalogue';
const CSV_OPTIONS = { bom: true, skip_empty_lines: true, relax_column_count: true, info: true } as const;

/**
 * Detects a catalogue's format from its first non-blank line (after an optional UTF-8 BOM):
 * `[` or `{` first → `json`; 11 upper-case letters/digits, blanks, then a number (a
 * `ghcnd-stations.txt` line) → `ghcn`; comma-separated fields one of which is `id` (a CSV
 * header) → `csv`. Anything else throws {@link UnknownCatalogueFormatError}.
 *
 * @example
 * ```ts
 * detectCatalogueFormat('USW00094728  40.7789  -73.9692   39.6 NY NEW YORK CNTRL PK TWR'); // 'ghcn'
 * detectCatalogueFormat('id,latitude,longitude\nA,1,2');                                 // 'csv'
 * ```
 */
export function detectCatalogueFormat(firstLine: string, source = DEFAULT_SOURCE): CatalogueFormat {
  const line = firstLine.replace(/^\uFEFF/, '').replace(/\r$/, '');
  const head = line.trimStart();
  if (head.startsWith('[') || head.startsWith('{')) return 'json';
  if (looksLikeGhcn(line)) return 'ghcn';
  if (looksLikeCsvHeader(line)) return 'csv';
  throw new UnknownCatalogueFormatError(source, line);
}

/**
 * Parses a whole station catalogue held in memory: NOAA `ghcnd-stations.txt` fixed-width, CSV
 * with header `id,latitude,longitude[,elevation][,name]`, or a JSON array of stations. The format
 * is detected from the content unless named (see {@link detectCatalogueFormat}). Blank lines are
 * skipped; GHCN's −999.9 and blank elevations become `undefined`. Throws a {@link CatalogueError}
 * subclass naming the source, line (JSON: element), field and value for a bad or out-of-range
 * field, and {@link DuplicateStationIdError} naming both lines for a repeated id.
 *
 * @example
 * ```ts
 * const stations = parseStations(fs.readFileSync('ghcnd-stations.txt'), { source: 'ghcnd-stations.txt' });
 * parseStations('id,latitude,longitude,name\nX1,40.7,-74,"NEW YORK, NY"\n');
 * // [{ id: 'X1', latitude: 40.7, longitude: -74, name: 'NEW YORK, NY' }]
 * ```
 */
export function parseStations(input: string | Buffer, options: CatalogueOptions = {}): Station[] {
  const source = options.source ?? DEFAULT_SOURCE;
  const text = (typeof input === 'string' ? input : input.toString('utf8')).replace(/^\uFEFF/, '');
  const format = options.format ?? detectCatalogueFormat(firstNonBlankLine(text), source);
  if (format === 'json') return parseJsonCatalogue(text, source);
  if (format === 'ghcn') {
    const collector = new StationCollector();
    text.split('\n').forEach((raw, i) => addGhcnLine(collector, raw, source, i + 1));
    return collector.stations;
  }
  const csv = new CsvReader(source);
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parseCsvSync(text, CSV_OPTIONS) as unknown as typeof records;
  } catch (err) {
    throw csvSyntaxError(err, source);
  }
  for (const { record, info } of records) csv.add(record, info.lines);
  return csv.finish();
}

/**
 * Reads a station catalogue from a stream (e.g. an S3 `GetObject` body), a string or a Buffer.
 * GHCN and CSV streams are read line by line, so memory holds the stations, not the file; JSON is
 * read whole (catalogues are ~10 MB). Same formats, detection and errors as {@link parseStations}.
 *
 * @example
 * ```ts
 * const stations = await loadStations(fs.createReadStream('ghcnd-stations.txt'), { source: 'ghcnd-stations.txt' });
 * const index = new StationIndex(stations);
 * ```
 */
export async function loadStations(input: Readable | string | Buffer, options: CatalogueOptions = {}): Promise<Station[]> {
  if (typeof input === 'string' || Buffer.isBuffer(input)) return parseStations(input, options);
  const source = options.source ?? DEFAULT_SOURCE;
  // Lines come in batches (one per chunk read): a cold start reads ~125k lines, and an await per
  // line would cost more than parsing them.
  const batches = readLineBatches(input)[Symbol.asyncIterator]();
  // Batches read before the format is known; replayed into the chosen reader.
  const head: string[][] = [];
  let format = options.format;
  while (format === undefined) {
    const next = await batches.next();
    if (next.done) break;
    head.push(next.value);
    const first = next.value.find((line) => line.trim() !== '');
    if (first !== undefined) format = detectCatalogueFormat(first, source);
  }
  const all = replay(head, batches);
  if (format === undefined) return [];
  if (format === 'json') {
    const parts: string[] = [];
    for await (const batch of all) parts.push(...batch);
    return parseJsonCatalogue(parts.join('\n'), source);
  }
  if (format === 'ghcn') {
    const collector = new StationCollector();
    let n = 0;
    for await (const batch of all) for (const line of batch) addGhcnLine(collector, line, source, ++n);
    return collector.stations;
  }
  const csv = new CsvReader(source);
  const parser = Readable.from(withNewlines(all)).pipe(parseCsvStream(CSV_OPTIONS));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) csv.add(record, info.lines);
  } catch (err) {
    throw csvSyntaxError(err, source);
  }
  return csv.finish();
}

/** Turns CSV records (header first) into stations; blank records are skipped. */
class CsvReader {
  private layout: CsvLayout | undefined;
  private readonly collector = new StationCollector();

  constructor(private readonly source: string) {}

  add(record: string[], endLine: number): void {
    if (isBlankRecord(record)) return;
    const line = startLine(record, endLine);
    if (this.layout === undefined) {
      this.layout = readCsvHeader(record, this.source, line);
      return;
    }
    this.collector.add(readCsvRecord(record, this.layout, this.source, line), { source: this.source, line });
  }

  finish(): Station[] {
    return this.collector.stations;
  }
}

function addGhcnLine(collector: StationCollector, raw: string, source: string, line: number): void {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (text.trim() === '') return;
  const station = parseGhcnLine(text, source, line);
  collector.add(station, { source, line });
}

function csvSyntaxError(err: unknown, source: string): Error {
  if (err instanceof MalformedCatalogueError || !(err instanceof Error)) return err as Error;
  if ('code' in err && typeof err.code === 'string' && err.code.startsWith('CSV_')) {
    const line = 'lines' in err && typeof err.lines === 'number' ? err.lines : undefined;
    return new MalformedCatalogueError({ source, line }, `CSV syntax error: ${err.message}; check the quoting on this line`, { cause: err });
  }
  return err;
}

function firstNonBlankLine(text: string): string {
  for (const line of text.split('\n', 1000)) if (line.trim() !== '') return line;
  return text.slice(0, 200);
}

/** Splits a byte or string stream into lines (without `\n`), one batch per chunk, decoding UTF-8 across chunk borders. */
async function* readLineBatches(stream: Readable): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (first && rest.length > 0) {
      rest = rest.replace(/^\uFEFF/, '');
      first = false;
    }
    const lines: string[] = [];
    let start = 0;
    for (let end = rest.indexOf('\n'); end !== -1; end = rest.indexOf('\n', start)) {
      lines.push(rest.slice(start, end));
      start = end + 1;
    }
    rest = rest.slice(start);
    if (lines.length > 0) yield lines;
  }
  rest += decoder.end();
  if (rest !== '') yield [rest];
}

async function* replay(head: string[][], rest: AsyncIterator<string[]>): AsyncGenerator<string[]> {
  yield* head;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

async function* withNewlines(batches: AsyncIterable<string[]>): AsyncGenerator<string> {
  for await (const batch of batches) yield batch.join('\n') + '\n';
}
