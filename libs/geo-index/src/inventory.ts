import type { Readable } from 'node:stream';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { plainDecimal } from './catalogue/ghcn';
import { InventoryError } from './errors';

/** One line of a GHCN inventory: station `id` reports `element` from `firstYear` to `lastYear` (inclusive). */
export interface InventoryEntry {
  id: string;
  /** GHCN element code, e.g. `TMIN`, `TMAX`, `PRCP`. */
  element: string;
  firstYear: number;
  lastYear: number;
}

export type InventoryFormat = 'ghcn' | 'csv';

/** Options of {@link parseInventory} and {@link loadInventory}. */
export interface InventoryOptions {
  /** Skip detection and read the inventory as this format. */
  format?: InventoryFormat;
  /** Name used in error messages, e.g. `s3://bucket/stations/ghcnd-inventory.txt`; default `inventory`. */
  source?: string;
  /**
   * Keep only entries of these elements (every line is still checked). NOAA's file has ~750k
   * lines over ~70 elements; a lookup needs three.
   */
  elements?: readonly string[];
}

const DEFAULT_SOURCE = 'inventory';
const CSV_COLUMNS = ['id', 'element', 'firstyear', 'lastyear'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

// NOAA ghcnd-inventory.txt, 1-based inclusive columns → [start, end) string offsets.
type Column = readonly [field: string, start: number, end: number];
const ID: Column = ['ID (columns 1-11)', 0, 11];
const LATITUDE: Column = ['LATITUDE (columns 13-20)', 12, 20];
const LONGITUDE: Column = ['LONGITUDE (columns 22-30)', 21, 30];
const ELEMENT: Column = ['ELEMENT (columns 32-35)', 31, 35];
const FIRSTYEAR: Column = ['FIRSTYEAR (columns 37-40)', 36, 40];
const LASTYEAR: Column = ['LASTYEAR (columns 42-45)', 41, 45];

const ELEMENT_CODE = /^[A-Z0-9]{4}$/;
const SPACE = 32;
const YEAR = /^\d{4}$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/**
 * Detects an inventory's format from its first non-blank line: a comma-separated header naming
 * `id` and `element` → `csv`; an id of up to 11 characters, blanks and a number (a
 * `ghcnd-inventory.txt` line) → `ghcn`. Anything else throws {@link InventoryError}.
 *
 * @example
 * ```ts
 * detectInventoryFormat('USW00094728  40.7789  -73.9692 TMAX 1869 2024'); // 'ghcn'
 * detectInventoryFormat('id,element,firstyear,lastyear');                  // 'csv'
 * ```
 */
export function detectInventoryFormat(firstLine: string, source = DEFAULT_SOURCE): InventoryFormat {
  const line = firstLine.replace(/^\uFEFF/, '').replace(/\r$/, '');
  const fields = line.split(',').map((f) => f.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
  if (fields.includes('id') && fields.includes('element')) return 'csv';
  // An id (NOAA's are 11 characters; other catalogues' may be shorter), blanks, then a latitude.
  if (!line.includes(',') && /^\S{1,11} +[-+]?\d/.test(line)) return 'ghcn';
  throw new InventoryError(
    { source, line: 1 },
    `cannot tell the inventory format from the first line ${JSON.stringify(line.slice(0, 60))}; expected a ghcnd-inventory.txt line ` +
      `(ID 1-11, LATITUDE 13-20, LONGITUDE 22-30, ELEMENT 32-35, FIRSTYEAR 37-40, LASTYEAR 42-45) or a CSV header "id,element,firstyear,lastyear"`,
  );
}

/**
 * Parses a whole station inventory held in memory: NOAA's fixed-width `ghcnd-inventory.txt`
 * (ID 1–11, LATITUDE 13–20, LONGITUDE 22–30, ELEMENT 32–35, FIRSTYEAR 37–40, LASTYEAR 42–45) or
 * CSV with a header `id,element,firstyear,lastyear` (any order and case; other columns ignored).
 * Blank lines are skipped; a station may list one element on several lines (several ranges).
 * Every problem throws {@link InventoryError} naming the source, the 1-based line, the field and
 * the value.
 *
 * @example
 * ```ts
 * parseInventory('USW00094728  40.7789  -73.9692 TMAX 1869 2024\n');
 * // [{ id: 'USW00094728', element: 'TMAX', firstYear: 1869, lastYear: 2024 }]
 * parseInventory('id,element,firstyear,lastyear\nUS1NYNY0074,PRCP,2008,2024\n', { source: 'inv.csv' });
 * ```
 */
export function parseInventory(input: string | Buffer, options: InventoryOptions = {}): InventoryEntry[] {
  const source = options.source ?? DEFAULT_SOURCE;
  const text = (typeof input === 'string' ? input : input.toString('utf8')).replace(/^\uFEFF/, '');
  const keep = options.elements && new Set(options.elements);
  const entries: InventoryEntry[] = [];
  const add = (entry: InventoryEntry) => {
    if (!keep || keep.has(entry.element)) entries.push(entry);
  };
  const format = options.format ?? detectInventoryFormat(firstNonBlankLine(text), source);
  if (format === 'ghcn') {
    let line = 0;
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      line++;
      const raw = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
      if (raw.trim() !== '') add(parseInventoryLine(raw, source, line));
      start = end + 1;
    }
    return entries;
  }
  let layout: Record<CsvColumn, number> | undefined;
  let width = 0;
  for (const { record, line } of csvRecords(text, source)) {
    if (record.every((f) => f.trim() === '')) continue;
    if (!layout) {
      layout = readHeader(record, source, line);
      width = record.length;
      continue;
    }
    if (record.length !== width) {
      throw new InventoryError({ source, line }, `the record has ${record.length} field(s) but the header has ${width}`);
    }
    const where = { source, line };
    const id = readId(where, 'id', record[layout.id]);
    const element = readElement(where, 'element', record[layout.element]);
    const firstYear = readYear(where, 'firstyear', record[layout.firstyear]);
    const lastYear = readYear(where, 'lastyear', record[layout.lastyear]);
    add(checkRange({ id, element, firstYear, lastYear }, where, 'lastyear'));
  }
  return entries;
}

/**
 * Reads an inventory from a stream (e.g. an S3 `GetObject` body), a string or a Buffer. The
 * stream is read whole (NOAA's file is ~35 MB) and parsed by {@link parseInventory}; pass
 * `elements` to keep only what a lookup needs.
 *
 * @example
 * ```ts
 * const inventory = await loadInventory(fs.createReadStream('ghcnd-inventory.txt'), { elements: ['TMIN', 'TMAX', 'PRCP'] });
 * ```
 */
export async function loadInventory(input: Readable | string | Buffer, options: InventoryOptions = {}): Promise<InventoryEntry[]> {
  if (typeof input === 'string' || Buffer.isBuffer(input)) return parseInventory(input, options);
  const chunks: Buffer[] = [];
  for await (const chunk of input as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return parseInventory(Buffer.concat(chunks), options);
}

/**
 * CSV records with their 1-based line. Inventory fields (ids, element codes, years) never need
 * quotes, so unquoted text is split directly — csv-parse took seconds for a 263k-line file in
 * `nx run geo-index:lookup-bench` — and quoted text goes through csv-parse.
 */
function* csvRecords(text: string, source: string): Generator<{ record: string[]; line: number }> {
  if (!text.includes('"')) {
    let line = 0;
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      line++;
      const raw = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
      if (raw.trim() !== '') yield { record: raw.split(','), line };
      start = end + 1;
    }
    return;
  }
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parseCsvSync(text, { skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (err) {
    const line = err && typeof err === 'object' && 'lines' in err && typeof err.lines === 'number' ? err.lines : undefined;
    throw new InventoryError({ source, line }, `CSV syntax error: ${(err as Error).message}`, { cause: err });
  }
  for (const { record, info } of records) yield { record, line: info.lines };
}

/** Parses one non-blank `ghcnd-inventory.txt` line (trailing blanks may be trimmed away); internal, exported for its spec. */
export function parseInventoryLine(text: string, source: string, line: number): InventoryEntry {
  return parseRegularInventoryLine(text) ?? parseAnyInventoryLine(text, source, line);
}

/**
 * The common shape of a line, read by character codes: an id of 11 printable ASCII characters,
 * plain decimal coordinates in range, an element of 4 upper-case letters/digits, two 4-digit
 * years in order, blanks between and after. `undefined` for anything else, which
 * {@link parseAnyInventoryLine} then reads or names the bad field of. Every transform cold start
 * parses the whole file, so this path is the one that counts.
 */
function parseRegularInventoryLine(text: string): InventoryEntry | undefined {
  if (text.length < 45 || text.charCodeAt(11) !== SPACE || text.charCodeAt(20) !== SPACE || text.charCodeAt(30) !== SPACE) return undefined;
  if (text.charCodeAt(35) !== SPACE || text.charCodeAt(40) !== SPACE) return undefined;
  for (let i = 45; i < text.length; i++) if (text.charCodeAt(i) !== SPACE) return undefined;
  for (let i = 0; i < 11; i++) {
    const c = text.charCodeAt(i);
    if (c <= SPACE || c > 126) return undefined;
  }
  for (let i = 31; i < 35; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90))) return undefined;
  }
  const latitude = plainDecimal(text, 12, 20);
  const longitude = plainDecimal(text, 21, 30);
  if (!(latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180)) return undefined;
  const firstYear = fourDigits(text, 36);
  const lastYear = fourDigits(text, 41);
  if (firstYear < 0 || lastYear < firstYear) return undefined;
  return { id: text.slice(0, 11), element: text.slice(31, 35), firstYear, lastYear };
}

/** The 4-digit number at `start`, or -1. */
function fourDigits(text: string, start: number): number {
  let value = 0;
  for (let i = start; i < start + 4; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

/** Any line, every field checked with its own message (internal; exported for the spec that holds the fast path to it). */
export function parseAnyInventoryLine(text: string, source: string, line: number): InventoryEntry {
  const where = { source, line };
  if (text.length > ID[2] && text[ID[2]] !== ' ') {
    throw new InventoryError({ ...where, field: ID[0] }, `value ${JSON.stringify(text.slice(0, 20))}, expected an 11-character id followed by a blank in column 12`);
  }
  const id = readId(where, ID[0], slice(text, ID));
  readNumber(where, LATITUDE[0], slice(text, LATITUDE), -90, 90);
  readNumber(where, LONGITUDE[0], slice(text, LONGITUDE), -180, 180);
  const element = readElement(where, ELEMENT[0], slice(text, ELEMENT));
  const firstYear = readYear(where, FIRSTYEAR[0], slice(text, FIRSTYEAR));
  const lastYear = readYear(where, LASTYEAR[0], slice(text, LASTYEAR));
  return checkRange({ id, element, firstYear, lastYear }, where, LASTYEAR[0]);
}

interface Where {
  source: string;
  line: number;
}

function readHeader(record: string[], source: string, line: number): Record<CsvColumn, number> {
  const names = record.map((f) => f.trim().toLowerCase());
  const missing = CSV_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) {
    throw new InventoryError({ source, line }, `CSV header ${JSON.stringify(record.join(','))} lacks ${missing.join(', ')}; the first line must be "id,element,firstyear,lastyear"`);
  }
  return Object.fromEntries(CSV_COLUMNS.map((c) => [c, names.indexOf(c)])) as Record<CsvColumn, number>;
}

function fieldError(where: Where, field: string, raw: string | undefined, expected: string): InventoryError {
  const value = raw === undefined || raw.trim() === '' ? 'empty' : JSON.stringify(raw.trim());
  return new InventoryError({ ...where, field }, `value ${value}, expected ${expected}; fix or remove this line`);
}

function readId(where: Where, field: string, raw: string | undefined): string {
  const id = raw?.trim() ?? '';
  if (id === '' || /\s/.test(id)) throw fieldError(where, field, raw, 'a station id without blanks, e.g. USW00094728');
  return id;
}

function readElement(where: Where, field: string, raw: string | undefined): string {
  const element = raw?.trim() ?? '';
  if (!ELEMENT_CODE.test(element)) throw fieldError(where, field, raw, 'a 4-character GHCN element such as TMAX, TMIN or PRCP');
  return element;
}

function readYear(where: Where, field: string, raw: string | undefined): number {
  const text = raw?.trim() ?? '';
  if (!YEAR.test(text)) throw fieldError(where, field, raw, 'a 4-digit year');
  return Number(text);
}

function readNumber(where: Where, field: string, raw: string, min: number, max: number): void {
  const text = raw.trim();
  const value = Number(text);
  if (!NUMBER.test(text) || value < min || value > max) throw fieldError(where, field, raw, `degrees in [${min}, ${max}]`);
}

function checkRange(entry: InventoryEntry, where: Where, field: string): InventoryEntry {
  if (entry.lastYear < entry.firstYear) {
    throw fieldError(where, field, String(entry.lastYear), `a year ≥ FIRSTYEAR ${entry.firstYear}`);
  }
  return entry;
}

function slice(text: string, [, start, end]: Column): string {
  return text.slice(start, end);
}

function firstNonBlankLine(text: string): string {
  for (const line of text.split('\n', 1000)) if (line.trim() !== '') return line;
  return text.slice(0, 200);
}
