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

// The chunk as latin1 text, made once per chunk when a record in it is read: a string of a
// record is then a slice of it (V8 shares the characters), not a decoder call per string.
let chunkBytes: Uint8Array | undefined;
let chunkText = '';
// The chunk as a DataView, for comparing keys four bytes at a time (a byte at a time was a large
// share of reading a ride).
let viewBytes: Uint8Array | undefined;
let view: DataView = new DataView(new ArrayBuffer(0));

/**
 * Forgets the text of the chunk read last: call before reading a chunk, since its buffer may
 * be one the caller refilled.
 *
 * @example
 * newChunk();
 * const record = rideFromBytes(chunk, i, chunk.length);
 */
export function newChunk(): void {
  chunkBytes = undefined;
  chunkText = '';
  viewBytes = undefined;
}

function text(buf: Uint8Array, start: number, end: number): string {
  if (buf !== chunkBytes) {
    chunkText = latin1 ? latin1.call(buf, 0, buf.length) : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
    chunkBytes = buf;
  }
  return chunkText.slice(start, end);
}

/** Where the scanner stopped; set by every helper that succeeds. */
let at = 0;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Skips whitespace from `p`, then expects the key (quotes included) and a colon. */
function key(buf: Uint8Array, p: number, limit: number, name: Key): boolean {
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p + name.length > limit) return false;
  if (buf !== viewBytes) {
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    viewBytes = buf;
  }
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

/** A string of printable ASCII without escapes, from `p` (after whitespace); undefined otherwise. */
function string(buf: Uint8Array, p: number, limit: number): string | undefined {
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p >= limit || buf[p] !== QUOTE) return undefined;
  const from = ++p;
  for (; p < limit; p++) {
    const c = buf[p];
    if (c === QUOTE) {
      at = p + 1;
      return text(buf, from, p);
    }
    // Escapes, control characters (invalid in JSON) and UTF-8 (needs decoding and checking).
    if (c === 0x5c || c < 0x20 || c > 0x7e) return undefined;
  }
  return undefined;
}

/** Skips whitespace from `at` and expects `c`. */
function punctuation(buf: Uint8Array, limit: number, c: number): boolean {
  let p = at;
  while (p < limit && isWhitespace(buf[p])) p++;
  if (p >= limit || buf[p] !== c) return false;
  at = p + 1;
  return true;
}

/** Where the record returned by the last successful {@link rideFromBytes} ends (exclusive). */
export function rideEnd(): number {
  return at;
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
  if (!key(buf, start + 1, limit, K_DISTANCE)) return undefined;
  const distance = number(buf, at, limit);
  if (distance !== distance || !punctuation(buf, limit, COMMA) || !key(buf, at, limit, K_HEALTHPOINTS)) return undefined;
  const healthpoints = number(buf, at, limit);
  if (healthpoints !== healthpoints || !punctuation(buf, limit, COMMA) || !key(buf, at, limit, K_LATITUDE)) return undefined;
  const latitude = number(buf, at, limit);
  if (latitude !== latitude || !punctuation(buf, limit, COMMA) || !key(buf, at, limit, K_LONGITUDE)) return undefined;
  const longitude = number(buf, at, limit);
  if (longitude !== longitude || !punctuation(buf, limit, COMMA) || !key(buf, at, limit, K_MAGICPOINTS)) return undefined;
  const magicpoints = number(buf, at, limit);
  if (magicpoints !== magicpoints || !punctuation(buf, limit, COMMA) || !key(buf, at, limit, K_NAME)) return undefined;
  const name = string(buf, at, limit);
  if (name === undefined || !punctuation(buf, limit, COMMA) || !key(buf, at, limit, K_STATUSTIME)) return undefined;
  const statustime = string(buf, at, limit);
  if (statustime === undefined) return undefined;
  if (punctuation(buf, limit, CLOSE_BRACE)) return { distance, healthpoints, latitude, longitude, magicpoints, name, statustime };
  if (!punctuation(buf, limit, COMMA) || !key(buf, at, limit, K_FIELDSERVICE)) return undefined;
  const fieldservice = number(buf, at, limit);
  if (fieldservice !== fieldservice || !punctuation(buf, limit, CLOSE_BRACE)) return undefined;
  return { distance, healthpoints, latitude, longitude, magicpoints, name, statustime, fieldservice };
}
