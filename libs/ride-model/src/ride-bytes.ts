/*
 * Why a hand-written scanner for one shape of record: JSON.parse per record (after decoding the
 * record's bytes to a string and scanning them once more to find its end) was the largest stage
 * of the per-ride chain (`nx run transform-fn:bench-floor` prints the stages). Rides written
 * the way encodeMessage and `rydes generate` write them — the seven or eight lower-case fields
 * in column order, numbers without exponent, printable-ASCII strings without escapes, any JSON
 * whitespace — are read here straight from the bytes, in one pass that also finds the record's
 * end. Anything else returns undefined and takes the generic path (the splitter, JSON.parse),
 * so what this accepts it must read exactly as JSON.parse would: the parse-oracle and
 * ride-bytes specs compare the two on random records.
 */

import * as validate from './validate';

// Module-scope copies of imports used for every ride: a module compiled to CommonJS on its own (tsx,
// which runs the floor bench; Jest) reads an import through export getters at every use, which showed
// in its profile; a bundle refers to them directly either way.
const { daysInMonth, MAX_NAME_LENGTH } = validate;

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const CLOSE_BRACE = 0x7d;

/** A key with its quotes, as the 32-bit little-endian words at `offsets` (the last may overlap the one before). */
interface Key {
  length: number;
  offsets: number[];
  words: number[];
}

function keyOf(name: string): Key {
  const bytes = Buffer.from(`"${name}"`, 'latin1');
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length; at += 4) offsets.push(Math.min(at, bytes.length - 4));
  return { length: bytes.length, offsets, words: offsets.map((at) => bytes.readUInt32LE(at)) };
}

const [K_DISTANCE, K_HEALTHPOINTS, K_LATITUDE, K_LONGITUDE, K_MAGICPOINTS, K_NAME, K_STATUSTIME, K_FIELDSERVICE] = ['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints', 'name', 'statustime', 'fieldservice'].map(keyOf);

// 10^0 … 10^15: exact doubles, so m / 10^f is one correctly rounded division.
const POW10 = Array.from({ length: 16 }, (_, d) => 10 ** d);
/** Digits a number may have and still be read exactly as an integer m scaled by 10^-f (m < 10^15 < 2^53). */
const MAX_DIGITS = 15;

// Buffer's own latin1 decoder without the argument checks of toString.
const latin1 = (Buffer.prototype as unknown as { latin1Slice?: (start: number, end: number) => string }).latin1Slice;

/**
 * The bytes `[start, end)` of `buf` (printable ASCII) as a string of their own. Not a slice of a
 * text of the whole chunk: a slice keeps its chunk's text alive while the ride lives, and the
 * rides of an open message then held tens of 64 KiB chunk texts through every young-generation
 * collection, which copied and promoted them.
 */
function text(buf: Uint8Array, start: number, end: number): string {
  return latin1 ? latin1.call(buf, start, end) : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1', start, end);
}

/*
 * Why names are interned: a ride file names few riders (the generator's eight unicorns), and a
 * new string per ride for the name cost an allocation and a copy. A name of 1 to 16 bytes is
 * kept in a slot, with its length and its bytes as two doubles (the first eight bytes from its
 * start, the last eight of it when it has that many); the next name whose length and doubles
 * are equal is that very string. Equal doubles mean equal bytes here: the first double's lowest
 * byte and the second's highest are name bytes (printable ASCII, not zero), so neither double is
 * a zero, and a NaN only ever misses. A name under eight bytes is compared with the bytes that
 * follow it, which only makes a miss more likely. Interned names also let encodeMessage find
 * their prepared JSON (envelope.ts).
 */
const NAME_SLOTS = 256;
const MAX_INTERNED_NAME = 16;
const nameLengths = new Int32Array(NAME_SLOTS);
const nameDoubles = new Float64Array(2 * NAME_SLOTS);
const names: string[] = new Array<string>(NAME_SLOTS).fill('');

/** The name in `[from, end)` (printable ASCII, no escapes): an interned string when one fits. */
function nameText(buf: Uint8Array, from: number, end: number): string {
  const length = end - from;
  if (length < 1 || length > MAX_INTERNED_NAME || from + 8 > buf.length) return text(buf, from, end);
  const v = viewOf(buf);
  const head = v.getFloat64(from, true);
  const tail = length >= 8 ? v.getFloat64(end - 8, true) : 0;
  const slot = (buf[from] * 961 + buf[from + (length >> 1)] * 31 + buf[end - 1] + length * 7) & (NAME_SLOTS - 1);
  if (nameLengths[slot] === length && nameDoubles[2 * slot] === head && nameDoubles[2 * slot + 1] === tail) return names[slot];
  const name = text(buf, from, end);
  nameLengths[slot] = length;
  nameDoubles[2 * slot] = head;
  nameDoubles[2 * slot + 1] = tail;
  names[slot] = name;
  return name;
}

// The chunk as a DataView, for comparing keys four bytes at a time (a byte at a time was a large
// share of reading a ride).
let viewBytes: Uint8Array | undefined;
let view: DataView = new DataView(new ArrayBuffer(0));

/**
 * Forgets the view of the chunk read last: call before reading a chunk, since its buffer may
 * be one the caller refilled.
 *
 * @example
 * newChunk();
 * const record = rideFromBytes(chunk, i, chunk.length);
 */
export function newChunk(): void {
  viewBytes = undefined;
}

/** Where the scanner stopped; set by every helper that succeeds. */
let at = 0;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function viewOf(buf: Uint8Array): DataView {
  if (buf !== viewBytes) {
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    viewBytes = buf;
  }
  return view;
}

/** Skips whitespace from `p`, then expects the key (quotes included) and a colon. */
function key(buf: Uint8Array, p: number, limit: number, name: Key): boolean {
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p + name.length > limit) return false;
  const view = viewOf(buf);
  const { offsets, words } = name;
  for (let k = 0; k < offsets.length; k++) if (view.getUint32(p + offsets[k], true) !== words[k]) return false;
  p += name.length;
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p >= limit || buf[p] !== COLON) return false;
  at = p + 1;
  return true;
}

/**
 * A JSON number without exponent and with at most 15 digits, from `p` (after whitespace);
 * NaN when the text is anything else (the generic path reads it, or reports it malformed).
 * `-?(0|[1-9][0-9]*)(\.[0-9]+)?` is m·10^-f with m < 2^53: m / 10^f is the correctly rounded
 * double of the decimal, which is what JSON.parse returns.
 */
function number(buf: Uint8Array, p: number, limit: number): number {
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p >= limit) return NaN;
  let negative = false;
  if (buf[p] === 0x2d) {
    negative = true;
    p++;
  }
  let m = 0;
  let digits = 0;
  let c = p < limit ? buf[p] : 0;
  if (c === 0x30) {
    p++;
    digits = 1;
  } else if (c >= 0x31 && c <= 0x39) {
    while (p < limit && (c = buf[p]) >= 0x30 && c <= 0x39) {
      m = m * 10 + (c - 0x30);
      p++;
      digits++;
    }
  } else {
    return NaN;
  }
  let fraction = 0;
  if (p < limit && buf[p] === 0x2e) {
    const from = ++p;
    while (p < limit && (c = buf[p]) >= 0x30 && c <= 0x39) {
      m = m * 10 + (c - 0x30);
      p++;
    }
    fraction = p - from;
    if (fraction === 0) return NaN;
    digits += fraction;
  }
  // An exponent, a digit after a leading zero or a number cut by the chunk: not this path's.
  if (digits > MAX_DIGITS || p >= limit) return NaN;
  c = buf[p];
  if (c === 0x65 || c === 0x45 || (c >= 0x30 && c <= 0x39)) return NaN;
  at = p;
  const value = fraction === 0 ? m : m / POW10[fraction];
  return negative ? -value : value;
}

/**
 * The value of the number read last by {@link decimal}. Handed over in a typed array, not
 * returned: a double (not a small integer) returned from a call that is not inlined is boxed in
 * a new heap object, and so was every coordinate and distance, once more than the ride object
 * needs. The counts keep {@link number}'s return: small integers are not boxed, and a ride's
 * integer fields stay small integers, as JSON.parse makes them.
 */
const decimalValue = new Float64Array(1);

/** {@link number} into {@link decimalValue}: whether there is one. */
function decimal(buf: Uint8Array, p: number, limit: number): boolean {
  const value = number(buf, p, limit);
  decimalValue[0] = value;
  return value === value;
}

/**
 * A string of printable ASCII without escapes, from `p` (after whitespace): where its characters
 * start (`at` is then just past its closing quote); -1 otherwise.
 */
function stringFrom(buf: Uint8Array, p: number, limit: number): number {
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p >= limit || buf[p] !== QUOTE) return -1;
  const from = ++p;
  for (; p < limit; p++) {
    const c = buf[p];
    if (c === QUOTE) {
      at = p + 1;
      return from;
    }
    // Escapes, control characters (invalid in JSON) and UTF-8 (needs decoding and checking).
    if (c === 0x5c || c < 0x20 || c > 0x7e) return -1;
  }
  return -1;
}

/** Skips whitespace from `at` and expects `c`. */
function punctuation(buf: Uint8Array, limit: number, c: number): boolean {
  let p = at;
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p >= limit || buf[p] !== c) return false;
  at = p + 1;
  return true;
}

/*
 * Why gaps are kept: the bytes between two values of a ride (whitespace, a comma, the next key,
 * the colon, whitespace) are the same in every ride of a file written by one program —
 * `,\n    "latitude": ` in a pretty-printed file — and reading them a byte at a time was a large
 * share of reading a ride. Each gap of the last ride read the long way (key and punctuation,
 * above) is kept, and the next ride's bytes at that place are first compared with it eight bytes
 * at a time, as doubles: gap bytes are ASCII and not DEL, so a kept gap is never a NaN or a zero,
 * and equality of such doubles is equality of their bytes. Bytes equal to a gap the long way
 * accepted are accepted by it and leave the scanner where it left it (the value's reader skips
 * any further whitespace, as before), so the record read is the same; other bytes take the long
 * way, which keeps them as that gap from then on. ride-bytes.spec changes single gap bytes.
 */

/** Most bytes a kept gap may hold; longer gaps are always read the long way. */
const MAX_GAP = 64;
/** Gaps of a ride: before distance, healthpoints, latitude, longitude, magicpoints, name, statustime, fieldservice. */
const GAPS = 8;
/** Per gap: its length (0 = none kept), then its bytes as doubles at offsets 0, 8, … and length − 8. */
const gapLength = new Int32Array(GAPS);
const gapChunks = new Int32Array(GAPS);
const gapValues = new Float64Array(GAPS * (MAX_GAP / 8 + 1));
const GAP_STRIDE = MAX_GAP / 8 + 1;

/** Whether the bytes at `p` are gap `g` as kept; `at` is then just past them. */
function sameGap(buf: Uint8Array, p: number, limit: number, g: number): boolean {
  const length = gapLength[g];
  if (length === 0 || p + length > limit) return false;
  const v = viewOf(buf);
  const base = g * GAP_STRIDE;
  const last = gapChunks[g] - 1;
  for (let k = 0; k < last; k++) if (v.getFloat64(p + 8 * k, true) !== gapValues[base + k]) return false;
  if (v.getFloat64(p + length - 8, true) !== gapValues[base + last]) return false;
  at = p + length;
  return true;
}

/** Keeps the bytes `[from, to)`, read the long way, as gap `g` (nothing kept outside 8..MAX_GAP bytes). */
function keepGap(buf: Uint8Array, from: number, to: number, g: number): void {
  const length = to - from;
  if (length < 8 || length > MAX_GAP) {
    gapLength[g] = 0;
    return;
  }
  const v = viewOf(buf);
  const base = g * GAP_STRIDE;
  const chunks = (length + 7) >> 3;
  for (let k = 0; k < chunks - 1; k++) gapValues[base + k] = v.getFloat64(from + 8 * k, true);
  gapValues[base + chunks - 1] = v.getFloat64(to - 8, true);
  gapChunks[g] = chunks;
  gapLength[g] = length;
}

/**
 * From `p` (just after the `{` or the previous value): for gap 0 whitespace, for the others
 * whitespace and a comma; then the key `name` and its colon, then whitespace. Sets `at` to the
 * first byte after them.
 */
function gap(buf: Uint8Array, p: number, limit: number, g: number, name: Key): boolean {
  if (sameGap(buf, p, limit, g)) return true;
  at = p;
  if (g > 0 && !punctuation(buf, limit, COMMA)) return false;
  if (!key(buf, at, limit, name)) return false;
  let q = at;
  while (q < limit && isWhitespace(buf[q])) q++;
  keepGap(buf, p, q, g);
  at = q;
  return true;
}

/** Where the record returned by the last successful {@link rideFromBytes} ends (exclusive). */
export function rideEnd(): number {
  return at;
}

/** Whether the record returned by the last successful {@link rideFromBytes} passes validateRide unchanged. */
let checked = false;

/**
 * True when the record returned by the last successful {@link rideFromBytes} passes every rule
 * of validateRide as it is (no -0 to change): validateRide would return that very object.
 *
 * @example
 * const record = rideFromBytes(chunk, i, chunk.length);
 * if (record !== undefined && rideChecked()) accept(record);
 */
export function rideChecked(): boolean {
  return checked;
}

/** `n` ≤ 4 decimal digits at `p`, or -1. */
function digitsAt(buf: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let k = p; k < p + n; k++) {
    const d = buf[k] - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Whether the bytes `[from, end)` (printable ASCII) are a statustime validateRide accepts:
 * `YYYY-MM-DD HH:MM:SS[.fraction]` with 1 to 9 fraction digits, naming a real calendar time.
 */
function isStatustime(buf: Uint8Array, from: number, end: number): boolean {
  const length = end - from;
  if (length !== 19 && (length < 21 || length > 29 || buf[from + 19] !== 0x2e || digitsAt(buf, from + 20, length - 20) < 0)) return false;
  if (buf[from + 4] !== 0x2d || buf[from + 7] !== 0x2d || buf[from + 10] !== 0x20 || buf[from + 13] !== 0x3a || buf[from + 16] !== 0x3a) return false;
  const year = digitsAt(buf, from, 4);
  const month = digitsAt(buf, from + 5, 2);
  const day = digitsAt(buf, from + 8, 2);
  const hour = digitsAt(buf, from + 11, 2);
  const minute = digitsAt(buf, from + 14, 2);
  const second = digitsAt(buf, from + 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  return day <= daysInMonth(year, month);
}

/** A number validateRide keeps as it is in a count: an integer ≥ 0 that is not -0 (the reader's texts stay below 2^53). */
function isCount(x: number): boolean {
  return Number.isInteger(x) && (x > 0 || (x === 0 && 1 / x > 0));
}

/** Not -0, which validateRide turns into 0. */
function notMinusZero(x: number): boolean {
  return x !== 0 || 1 / x > 0;
}

/** A name validateRide accepts, given that it is printable ASCII: 1 to 256 characters, not all spaces. */
function isName(buf: Uint8Array, from: number, end: number): boolean {
  if (end - from > MAX_NAME_LENGTH) return false;
  for (let p = from; p < end; p++) if (buf[p] !== 0x20) return true;
  return false;
}

/**
 * The record that starts with the `{` at `start` and ends before `limit`, read as JSON.parse
 * would, when it is a ride in the fixed shape described above; otherwise undefined (the caller
 * reads it the generic way). {@link rideEnd} then gives the index just past its `}`.
 *
 * @example
 * const record = rideFromBytes(chunk, i, chunk.length);
 * if (record !== undefined) i = rideEnd();
 */
export function rideFromBytes(buf: Uint8Array, start: number, limit: number): object | undefined {
  if (!gap(buf, start + 1, limit, 0, K_DISTANCE) || !decimal(buf, at, limit)) return undefined;
  const distance = decimalValue[0];
  if (!gap(buf, at, limit, 1, K_HEALTHPOINTS)) return undefined;
  const healthpoints = number(buf, at, limit);
  if (healthpoints !== healthpoints || !gap(buf, at, limit, 2, K_LATITUDE) || !decimal(buf, at, limit)) return undefined;
  const latitude = decimalValue[0];
  if (!gap(buf, at, limit, 3, K_LONGITUDE) || !decimal(buf, at, limit)) return undefined;
  const longitude = decimalValue[0];
  if (!gap(buf, at, limit, 4, K_MAGICPOINTS)) return undefined;
  const magicpoints = number(buf, at, limit);
  if (magicpoints !== magicpoints || !gap(buf, at, limit, 5, K_NAME)) return undefined;
  const nameFrom = stringFrom(buf, at, limit);
  if (nameFrom < 0) return undefined;
  const nameEnd = at - 1;
  const name = nameText(buf, nameFrom, nameEnd);
  if (!gap(buf, at, limit, 6, K_STATUSTIME)) return undefined;
  const timeFrom = stringFrom(buf, at, limit);
  if (timeFrom < 0) return undefined;
  const timeEnd = at - 1;
  const statustime = text(buf, timeFrom, timeEnd);
  // validateRide's rules, decided here from the values in hand (a record that fails one is
  // still returned: validateRide gives its reasons).
  checked =
    (distance > 0 || (distance === 0 && 1 / distance > 0)) &&
    isCount(healthpoints) &&
    latitude >= -90 && latitude <= 90 && notMinusZero(latitude) &&
    longitude >= -180 && longitude <= 180 && notMinusZero(longitude) &&
    isCount(magicpoints) &&
    isName(buf, nameFrom, nameEnd) &&
    isStatustime(buf, timeFrom, timeEnd);
  const afterTime = at;
  if (punctuation(buf, limit, CLOSE_BRACE)) return { distance, healthpoints, latitude, longitude, magicpoints, name, statustime };
  if (!gap(buf, afterTime, limit, 7, K_FIELDSERVICE)) return undefined;
  const fieldservice = number(buf, at, limit);
  if (fieldservice !== fieldservice || !punctuation(buf, limit, CLOSE_BRACE)) return undefined;
  if (fieldservice !== 0 && fieldservice !== 1) checked = false;
  return { distance, healthpoints, latitude, longitude, magicpoints, name, statustime, fieldservice };
}
