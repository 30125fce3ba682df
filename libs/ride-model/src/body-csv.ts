/*
 * Why a second reader of message bodies: decoding a body (JSON.parse, an object per ride, the
 * checks of validateRide) and then printing the same values back as CSV (a number-to-text
 * conversion per value) was most of the transform's share of the per-ride chain
 * (`nx run transform-fn:bench-floor` prints the stages). A body written by encodeMessage holds
 * each value as the very text the CSV needs: numbers as `String(n)`, names as they are. This
 * reads such a body once, checks every rule decodeMessage checks, asks for each ride's station,
 * and copies the value texts into the CSV. Anything it is not sure of — another layout, escapes,
 * a number whose text is not `String` of its value, a ride decodeMessage would reject — makes it
 * return undefined, and the caller takes the generic path (decodeMessage, then the CSV from the
 * rides), which gives the same bytes or the error. A spec holds both paths equal.
 */
import { ByteWriter } from './byte-writer';
import { CSV_HEADER, csvField } from './csv';
import { IndexGap, SourceRef } from './types';
import * as validate from './validate';

// Module-scope copies of imports used for every ride: a module compiled to CommonJS on its own (tsx,
// which runs the floor bench; Jest) reads an import through export getters at every use, which showed
// in its profile; a bundle refers to them directly either way.
const { daysInMonth, MAX_NAME_LENGTH } = validate;

/** What {@link bodyCsv} needs from a station lookup: the nearest station of a ride, if any. */
export type NearestStation = (latitude: number, longitude: number, year: number) => { station: { id: string }; distanceKm: number } | undefined;

/** A message's head and its processed/ CSV, as {@link bodyCsv} returns them. */
export interface BodyCsv {
  v: 1 | 2;
  source: SourceRef;
  chunk: number;
  firstIndex: number;
  /** Version 2 only. */
  gaps?: IndexGap[];
  /** The CSV's UTF-8 bytes (an S3 object's body: no string made of it). */
  csv: Buffer;
  rides: number;
  /** Rides written with an empty groundstation (no station for them). */
  unmatched: number;
}

const RIDES_AT = ',"rides":[';
const RIDES_AT_BYTES = Buffer.from(RIDES_AT, 'latin1');

/**
 * A key of a ride as doubles read from its bytes at `offsets` (0, 8, …, the last overlapping the
 * one before): key bytes are ASCII and not DEL, so none of these doubles is a NaN or a zero, and
 * two of them are equal exactly when their eight bytes are.
 */
interface Key {
  length: number;
  offsets: number[];
  values: number[];
}

function keyOf(text: string): Key {
  const bytes = Buffer.from(text, 'latin1');
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length; at += 8) offsets.push(Math.min(at, bytes.length - 8));
  return { length: bytes.length, offsets, values: offsets.map((at) => bytes.readDoubleLE(at)) };
}

const K_DISTANCE = keyOf('{"distance":');
const K_HEALTHPOINTS = keyOf(',"healthpoints":');
const K_LATITUDE = keyOf(',"latitude":');
const K_LONGITUDE = keyOf(',"longitude":');
const K_MAGICPOINTS = keyOf(',"magicpoints":');
const K_NAME = keyOf(',"name":"');
const K_STATUSTIME = keyOf('","statustime":"');
const K_FIELDSERVICE = keyOf(',"fieldservice":');

/** Whether `key` is at `p`: eight bytes a comparison (a byte at a time was most of the reading). */
function at(d: DataView, p: number, key: Key): boolean {
  const { offsets, values } = key;
  for (let k = 0; k < offsets.length; k++) if (d.getFloat64(p + offsets[k], true) !== values[k]) return false;
  return true;
}

// 10^0 … 10^15, all exact doubles.
const POW10 = Array.from({ length: 16 }, (_, d) => 10 ** d);

/** Where the number read last by {@link canonicalNumber} ends, and whether it had a fraction. */
let numberEnd = 0;
let numberIsInteger = false;
/**
 * The value of the number read last by {@link canonicalNumber}. Handed over in a typed array,
 * not returned: a double returned from a call that is not inlined is boxed in a new heap object
 * (three a ride: the distance and the coordinates).
 */
const numberValue = new Float64Array(1);

/**
 * Whether the JSON number at `p` has a text that is exactly `String` of its value; its value is
 * then in {@link numberValue}.
 * `-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?` with at most 15 digits, not `-0`, no exponent, and
 * 0 or at least 1e-6 in magnitude: such a text is m·10^-f with m < 10^15, read exactly as one
 * correctly rounded division (what JSON.parse gives), and it is the only decimal of at most 15
 * significant digits that rounds to that double, so it is the shortest one, which `String`
 * writes, in fixed notation from 1e-6 up, without trailing zeros.
 */
function canonicalNumber(s: Uint8Array, p: number): boolean {
  let c = s[p];
  const negative = c === 0x2d;
  if (negative) c = s[++p];
  let m = 0;
  let digits = 0;
  if (c === 0x30) {
    c = s[++p];
  } else if (c >= 0x31 && c <= 0x39) {
    do {
      m = m * 10 + (c - 0x30);
      digits++;
      c = s[++p];
    } while (c >= 0x30 && c <= 0x39);
  } else {
    return false;
  }
  let f = 0;
  if (c === 0x2e) {
    const from = ++p;
    c = s[p];
    while (c >= 0x30 && c <= 0x39) {
      m = m * 10 + (c - 0x30);
      c = s[++p];
    }
    f = p - from;
    // `1.` is not JSON; `1.50` is not how String writes 1.5.
    if (f === 0 || s[p - 1] === 0x30) return false;
  }
  // A digit after a leading zero, an exponent, too many digits, -0, or below 1e-6 (String writes an exponent).
  if ((c >= 0x30 && c <= 0x39) || c === 0x65 || c === 0x45 || digits + f > 15 || (negative && m === 0) || (f > 6 && m < POW10[f - 6])) return false;
  numberEnd = p;
  numberIsInteger = f === 0;
  const value = f === 0 ? m : m / POW10[f];
  numberValue[0] = negative ? -value : value;
  return true;
}

/** Two decimal digits at `p`, or -1. */
function two(s: Uint8Array, p: number): number {
  const a = s[p] - 0x30;
  const b = s[p + 1] - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * The statustime starting at `p` and ending at the quote that follows it, checked as
 * validateRide checks it (`YYYY-MM-DD HH:MM:SS[.fraction]`, 1 to 9 fraction digits, a real
 * calendar time); its year, or -1 when it is not one. Sets {@link numberEnd} to the closing quote.
 */
function statustimeYear(s: Uint8Array, p: number): number {
  const century = two(s, p);
  const yy = two(s, p + 2);
  const month = two(s, p + 5);
  const day = two(s, p + 8);
  const hour = two(s, p + 11);
  const minute = two(s, p + 14);
  const second = two(s, p + 17);
  if (century < 0 || yy < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return -1;
  if (s[p + 4] !== 0x2d || s[p + 7] !== 0x2d || s[p + 10] !== 0x20 || s[p + 13] !== 0x3a || s[p + 16] !== 0x3a) return -1;
  const year = century * 100 + yy;
  if (day > daysInMonth(year, month)) return -1;
  let q = p + 19;
  if (s[q] === 0x2e) {
    const from = ++q;
    let c = s[q];
    while (c >= 0x30 && c <= 0x39) c = s[++q];
    if (q === from || q - from > 9) return -1;
  }
  if (s[q] !== 0x22) return -1;
  numberEnd = q;
  return year;
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The head's gaps when they are what decodeMessage accepts for some ride count (checked against the count later). */
function gapsOf(raw: unknown): IndexGap[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  let previous = 0;
  for (const gap of raw as unknown[]) {
    if (!Array.isArray(gap) || gap.length !== 2 || !isIndex(gap[0]) || !isIndex(gap[1]) || gap[0] <= previous || gap[1] < 1) return undefined;
    previous = gap[0];
  }
  return raw as IndexGap[];
}

/**
 * Copies `from[start, end)` to `to` at `o`, four bytes at a time (so up to three bytes more are
 * read after `end` and written after the copy: callers leave room); returns the copy's end.
 */
function copy(to: DataView, o: number, from: DataView, start: number, end: number): number {
  for (let k = start, p = o; k < end; k += 4, p += 4) to.setUint32(p, from.getUint32(k, true), true);
  return o + end - start;
}

const out = new ByteWriter();
/** Room after a body's bytes, so that key comparisons near its end stay inside the buffer. */
const SLACK = 64;
/** The body as UTF-8, rewritten for each body: the rides are read from bytes, which is faster than from the string. */
let body = Buffer.allocUnsafe(256 * 1024);
let view = new DataView(body.buffer, body.byteOffset, body.length);

/** A DataView of the CSV writer's current buffer (`outBytes`: compared by identity, the view's own getters cost more). */
let outView = new DataView(out.bytes.buffer, out.bytes.byteOffset, out.bytes.length);
let outBytes = out.bytes;

/** The CSV fields of station ids (a few hundred at most for one message), as bytes with a comma before. */
const idFields = new Map<string, DataView>();
const NO_ID = fieldView('');

function fieldView(text: string): DataView {
  const bytes = Buffer.alloc(Buffer.byteLength(text) + 8, 0);
  const length = bytes.write(text, 0, 'utf8');
  return new DataView(bytes.buffer, bytes.byteOffset, length + 4);
}

function idField(id: string): DataView {
  let field = idFields.get(id);
  if (field === undefined) {
    if (idFields.size >= 4096) idFields.clear();
    field = fieldView(csvField(id));
    idFields.set(id, field);
  }
  return field;
}

/**
 * The processed/ CSV of a fan-out message body written by encodeMessage, straight from its
 * text: the same bytes as the CSV of `decodeMessage(text)` with each ride's station from
 * `nearest`, without a ride object or a number conversion per value (see the file's header).
 * Undefined when the body is not in that form or anything in it would make decodeMessage throw:
 * decode it then, which gives the rides or the error.
 *
 * @example
 * const fast = bodyCsv(record.body, (lat, lon, year) => lookup.nearest(lat, lon, year));
 * const csv = fast?.csv ?? encodeTheGenericWay(decodeMessage(record.body)); // UTF-8 bytes
 */
export function bodyCsv(text: string, nearest: NearestStation): BodyCsv | undefined {
  const headEnd = text.indexOf(RIDES_AT);
  if (!text.startsWith('{"v":') || headEnd < 0 || !text.endsWith(']}')) return undefined;
  let head: Record<string, unknown>;
  try {
    head = JSON.parse(`${text.slice(0, headEnd)}}`) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof head !== 'object' || head === null) return undefined;
  const v = head.v;
  const source = head.source as Record<string, unknown> | null;
  if ((v !== 1 && v !== 2) || typeof source !== 'object' || source === null || !isIndex(head.chunk) || !isIndex(head.firstIndex)) return undefined;
  const { bucket, key, etag } = source;
  if (typeof bucket !== 'string' || bucket === '' || typeof key !== 'string' || key === '' || typeof etag !== 'string' || etag === '') return undefined;
  let gaps: IndexGap[] | undefined;
  if (v === 1) {
    if (head.gaps !== undefined) return undefined;
  } else {
    gaps = gapsOf(head.gaps);
    if (gaps === undefined) return undefined;
  }
  const firstIndex = head.firstIndex;
  const sourceField = fieldView(`,${csvField(key)},`);

  const w = out;
  w.length = 0;
  w.ascii(CSV_HEADER);
  if (body.length < 3 * text.length + SLACK) {
    body = Buffer.allocUnsafe(3 * text.length + SLACK);
    view = new DataView(body.buffer, body.byteOffset, body.length);
  }
  const s: Uint8Array = body;
  const d = view;
  const end = body.write(text, 0, 'utf8') - 2; // the `]}` that closes rides and the body
  // A stop after the body, so that no scan runs on into an earlier body's bytes.
  s[end + 2] = 0;
  // The same place in bytes: the head before it may hold UTF-8, the rides must be ASCII.
  let p = body.indexOf(RIDES_AT_BYTES) + RIDES_AT.length;
  let rides = 0;
  let unmatched = 0;
  let index = firstIndex;
  let g = 0;
  const gapCount = gaps === undefined ? 0 : gaps.length;
  for (;;) {
    if (!at(d, p, K_DISTANCE)) return undefined;
    const d0 = p + K_DISTANCE.length;
    if (!canonicalNumber(s, d0)) return undefined;
    const distance = numberValue[0];
    if (!(distance >= 0)) return undefined;
    const d1 = numberEnd;
    if (!at(d, d1, K_HEALTHPOINTS)) return undefined;
    const h0 = d1 + K_HEALTHPOINTS.length;
    if (!canonicalNumber(s, h0)) return undefined;
    const healthpoints = numberValue[0];
    if (!(healthpoints >= 0) || !numberIsInteger) return undefined;
    const h1 = numberEnd;
    if (!at(d, h1, K_LATITUDE)) return undefined;
    const la0 = h1 + K_LATITUDE.length;
    if (!canonicalNumber(s, la0)) return undefined;
    const latitude = numberValue[0];
    if (!(latitude >= -90 && latitude <= 90)) return undefined;
    const la1 = numberEnd;
    if (!at(d, la1, K_LONGITUDE)) return undefined;
    const lo0 = la1 + K_LONGITUDE.length;
    if (!canonicalNumber(s, lo0)) return undefined;
    const longitude = numberValue[0];
    if (!(longitude >= -180 && longitude <= 180)) return undefined;
    const lo1 = numberEnd;
    if (!at(d, lo1, K_MAGICPOINTS)) return undefined;
    const m0 = lo1 + K_MAGICPOINTS.length;
    if (!canonicalNumber(s, m0)) return undefined;
    const magicpoints = numberValue[0];
    if (!(magicpoints >= 0) || !numberIsInteger) return undefined;
    const m1 = numberEnd;
    if (!at(d, m1, K_NAME)) return undefined;
    // The name: printable ASCII with no quote, backslash (escapes) or comma (CSV quoting), not blank.
    const n0 = m1 + K_NAME.length;
    let q = n0;
    let blank = true;
    for (let c = s[q]; c !== 0x22; c = s[++q]) {
      if (!(c >= 0x20 && c <= 0x7e) || c === 0x5c || c === 0x2c) return undefined;
      if (c !== 0x20) blank = false;
    }
    const n1 = q;
    if (blank || n1 - n0 > MAX_NAME_LENGTH || !at(d, n1, K_STATUSTIME)) return undefined;
    const s0 = n1 + K_STATUSTIME.length;
    const year = statustimeYear(s, s0);
    if (year < 0) return undefined;
    const s1 = numberEnd;
    p = s1 + 1;
    let fieldservice = -1;
    if (at(d, p, K_FIELDSERVICE)) {
      p += K_FIELDSERVICE.length;
      fieldservice = s[p++] - 0x30;
      if (fieldservice !== 0 && fieldservice !== 1) return undefined;
    }
    if (s[p] !== 0x7d) return undefined;
    p++;

    if (g < gapCount && (gaps as IndexGap[])[g][0] === rides) index += (gaps as IndexGap[])[g++][1];
    const match = nearest(latitude, longitude, year);
    if (match === undefined) unmatched++;

    const id = match === undefined ? NO_ID : idField(match.station.id);
    // The line, at most: the texts copied, the id, the distance (25), the source, the index (16),
    // separators, and the bytes the four-byte copies write past their end.
    w.reserve(p - d0 + id.byteLength + sourceField.byteLength + 64);
    let bytes = w.bytes;
    if (bytes !== outBytes) {
      outView = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      outBytes = bytes;
    }
    let v = outView;
    let o = copy(v, w.length, d, d0, d1);
    bytes[o++] = 0x2c;
    o = copy(v, o, d, h0, h1);
    bytes[o++] = 0x2c;
    o = copy(v, o, d, la0, la1);
    bytes[o++] = 0x2c;
    o = copy(v, o, d, lo0, lo1);
    bytes[o++] = 0x2c;
    o = copy(v, o, d, m0, m1);
    bytes[o++] = 0x2c;
    o = copy(v, o, d, n0, n1);
    bytes[o++] = 0x2c;
    o = copy(v, o, d, s0, s1);
    bytes[o++] = 0x2c;
    if (fieldservice >= 0) bytes[o++] = 0x30 + fieldservice;
    bytes[o++] = 0x2c;
    o = copy(v, o, id, 0, id.byteLength - 4);
    bytes[o++] = 0x2c;
    if (match !== undefined) {
      w.length = o;
      w.number(match.distanceKm);
      o = w.length;
      if (w.bytes !== bytes) {
        bytes = w.bytes;
        v = outView = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
        outBytes = bytes;
      }
    }
    o = copy(v, o, sourceField, 0, sourceField.byteLength - 4);
    if (index < 0x80000000) {
      let v = index;
      let digits = 1;
      while (digits < 10 && v >= POW10[digits]) digits++;
      o += digits;
      let k = o;
      do {
        const next = (v / 10) | 0;
        bytes[--k] = 0x30 + v - next * 10;
        v = next;
      } while (v > 0);
    } else {
      w.length = o;
      w.number(index);
      bytes = w.bytes;
      o = w.length;
    }
    bytes[o++] = 0x0a;
    w.length = o;
    rides++;
    index++;

    if (p === end) break;
    if (s[p] !== 0x2c) return undefined;
    p++;
  }
  // decodeMessage's gap rules that need the ride count: every gap before the last ride, indexes safe.
  if (gapCount > 0 && ((gaps as IndexGap[])[gapCount - 1][0] >= rides || !Number.isSafeInteger(index - 1))) return undefined;
  const result: BodyCsv = { v, source: { bucket, key, etag }, chunk: head.chunk, firstIndex, csv: w.takeBytes(), rides, unmatched };
  if (gaps !== undefined) result.gaps = gaps;
  return result;
}
