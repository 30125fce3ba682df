import { ChunkerError, EnvelopeError } from './errors';
import { ByteWriter, type AsciiLiteral } from './byte-writer';
import { FanoutMessage, IndexGap, Ride, SourceRef } from './types';
import { acceptRide, validateRide } from './validate';

/**
 * Default rides per fan-out message (`RIDES_PER_MESSAGE`).
 *
 * @example
 * const ridesPerMessage = Number(process.env.RIDES_PER_MESSAGE ?? DEFAULT_RIDES_PER_MESSAGE);
 */
export const DEFAULT_RIDES_PER_MESSAGE = 1000;
/**
 * Default ceiling of an encoded message, in bytes; SQS allows 256 KiB per message.
 *
 * @example
 * new Chunker({ source, maxBytes: DEFAULT_MAX_MESSAGE_BYTES });
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 200 * 1024;
/**
 * The message version the {@link Chunker} writes by default; {@link decodeMessage} reads 1 and 2.
 *
 * @example
 * new Chunker({ source, version: MESSAGE_VERSION });
 */
export const MESSAGE_VERSION = 2;

/** What {@link Chunker.push} returns when the ride closed no message. */
const NONE_CLOSED: readonly FanoutMessage[] = Object.freeze([]);

/**
 * The body of a message a Chunker closed, so encodeMessage serialises each ride once: kept on the
 * message under this symbol, not enumerable (a copy of the message does not carry it). Not a
 * WeakMap: V8's young-generation collections (Node 20) kept the WeakMap's values alive although
 * their messages were dead, so the ~150 KB bodies were promoted to the old generation and waited
 * for a full collection (`node --trace-gc-nvp` on the floor bench: ~36 MB promoted a pass with
 * the WeakMap, ~2 MB without).
 */
const CLOSED_BODY = Symbol('rydes.closedBody');

/** The body a Chunker made for `m` when it closed it, if it did. */
function closedBody(m: FanoutMessage): string | undefined {
  return (m as FanoutMessage & { [CLOSED_BODY]?: string })[CLOSED_BODY];
}

// The fixed pieces of a ride's JSON, written four bytes at a time.
const K_DISTANCE = ByteWriter.prepare('{"distance":');
const K_HEALTHPOINTS = ByteWriter.prepare(',"healthpoints":');
const K_LATITUDE = ByteWriter.prepare(',"latitude":');
const K_LONGITUDE = ByteWriter.prepare(',"longitude":');
const K_MAGICPOINTS = ByteWriter.prepare(',"magicpoints":');
const K_NAME = ByteWriter.prepare(',"name":');
const K_STATUSTIME = ByteWriter.prepare(',"statustime":');
const K_FIELDSERVICE_0 = ByteWriter.prepare(',"fieldservice":0}');
const K_FIELDSERVICE_1 = ByteWriter.prepare(',"fieldservice":1}');

/*
 * Why names have prepared JSON: a file names few riders, and copying the same name a character
 * at a time into every ride was a visible share of the chunk stage. The text from the name's key
 * to the statustime's colon is prepared once per name, for names whose JSON is printable ASCII,
 * and written four bytes at a time. The reader interns names (ride-bytes.ts), so the lookup
 * finds a string whose hash is already known. At most MAX_NAME_LITERALS names are kept; a file
 * with more distinct names writes the rest as before.
 */
const MAX_NAME_LITERALS = 1024;
const MAX_LITERAL_NAME = 64;
/** Per name its prepared JSON, or null when that JSON is not printable ASCII (written as before). */
const nameLiterals = new Map<string, AsciiLiteral | null>();

/** `,"name":<name as JSON>,"statustime":` prepared, or undefined/null when the name has none. */
function nameLiteral(name: string): AsciiLiteral | null | undefined {
  const known = nameLiterals.get(name);
  if (known !== undefined || nameLiterals.size >= MAX_NAME_LITERALS || name.length > MAX_LITERAL_NAME) return known;
  const json = JSON.stringify(name);
  let literal: AsciiLiteral | null = ByteWriter.prepare(`,"name":${json},"statustime":`);
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f) literal = null;
  }
  nameLiterals.set(name, literal);
  return literal;
}

/**
 * A ride as JSON, fields in {@link RIDE_FIELDS} order: the same text as `JSON.stringify` gives
 * for a ride built by validateRide, without its generic key walk, written as UTF-8 into `w`.
 * Numbers print as `String(n)` ({@link ByteWriter.number}), which is what JSON.stringify prints
 * for finite numbers (rides are validated: all finite).
 */
function writeRide(w: ByteWriter, r: Ride): void {
  w.literal(K_DISTANCE);
  w.number(r.distance);
  w.literal(K_HEALTHPOINTS);
  w.number(r.healthpoints);
  w.literal(K_LATITUDE);
  w.number(r.latitude);
  w.literal(K_LONGITUDE);
  w.number(r.longitude);
  w.literal(K_MAGICPOINTS);
  w.number(r.magicpoints);
  const name = nameLiteral(r.name);
  if (name) {
    w.literal(name);
  } else {
    w.literal(K_NAME);
    w.jsonString(r.name);
    w.literal(K_STATUSTIME);
  }
  w.jsonString(r.statustime);
  if (r.fieldservice === 0) w.literal(K_FIELDSERVICE_0);
  else if (r.fieldservice === 1) w.literal(K_FIELDSERVICE_1);
  else w.byte(0x7d);
}

const ridesText = new ByteWriter();
/** A closed message's body, made in one piece. */
const bodyText = new ByteWriter(256 * 1024);

/** The rides of a message as the JSON text of its `rides` array, without the brackets. */
function ridesJson(rides: Ride[]): string {
  const w = ridesText;
  w.length = 0;
  for (let i = 0; i < rides.length; i++) {
    if (i > 0) w.byte(0x2c);
    writeRide(w, rides[i]);
  }
  return w.take();
}

/** Everything of a body before its gaps (v2) or rides (v1). */
function head(v: 1 | 2, source: SourceRef, chunk: number, firstIndex: number): string {
  const { bucket, key, etag } = source;
  return `{"v":${v},"source":${JSON.stringify({ bucket, key, etag })},"chunk":${chunk},"firstIndex":${firstIndex},`;
}

function gapJson([at, skipped]: IndexGap): string {
  return `[${at},${skipped}]`;
}

function body(v: 1 | 2, messageHead: string, gaps: string, rides: string): string {
  return v === 1 ? `${messageHead}"rides":[${rides}]}` : `${messageHead}"gaps":[${gaps}],"rides":[${rides}]}`;
}

/**
 * Encodes a fan-out message as the JSON body of an SQS message (ARCHITECTURE.md): version 1
 * `{"v":1,"source":…,"chunk":…,"firstIndex":…,"rides":[…]}`, version 2 with `"gaps":[[at,skipped],…]`
 * before `rides`. A message a {@link Chunker} closed is encoded once, when it closed: do not
 * change its rides afterwards.
 *
 * @example
 * const body = encodeMessage({ v: 2, source, chunk: 0, firstIndex: 0, gaps: [[1, 3]], rides: [ride0, ride4] });
 */
export function encodeMessage(m: FanoutMessage): string {
  const closed = closedBody(m);
  if (closed !== undefined) return closed;
  const gaps = m.gaps ?? [];
  if (m.v === 1 && gaps.length > 0) throw new EnvelopeError('a version-1 message cannot carry gaps; encode it as version 2');
  return body(m.v, head(m.v, m.source, m.chunk, m.firstIndex), gaps.map(gapJson).join(','), ridesJson(m.rides));
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function fail(what: string): never {
  throw new EnvelopeError(`fan-out message ${what}; only bodies written by encodeMessage (v1 or v2) are accepted`);
}

/** Checks `gaps` against `count` rides: pairs of integers, `at` in 1..count-1 increasing, `skipped` ≥ 1. */
function checkGaps(raw: unknown, count: number, firstIndex: number): IndexGap[] {
  if (!Array.isArray(raw)) fail('gaps is not an array (version 2 needs one, empty when no ride was skipped)');
  let previous = 0;
  let last = firstIndex + count - 1;
  for (let g = 0; g < raw.length; g++) {
    const gap = raw[g] as unknown;
    const ok = Array.isArray(gap) && gap.length === 2 && isIndex(gap[0]) && isIndex(gap[1]) && gap[0] > previous && gap[0] < count && gap[1] >= 1;
    if (!ok) fail(`gaps[${g}] is ${JSON.stringify(gap)}, expected [at, skipped] with at increasing within 1..${count - 1} and skipped >= 1`);
    previous = gap[0] as number;
    last += gap[1] as number;
  }
  if (!Number.isSafeInteger(last)) fail(`gaps take ride indexes past ${Number.MAX_SAFE_INTEGER}`);
  return raw as IndexGap[];
}

/**
 * The ride_index of every ride of a message, in order (`firstIndex + i`, plus the gaps of v2).
 *
 * @example
 * rideIndexes({ v: 2, source, chunk: 0, firstIndex: 10, gaps: [[2, 5]], rides: [a, b, c, d] }); // [10, 11, 17, 18]
 */
export function rideIndexes(m: FanoutMessage): number[] {
  const gaps = m.gaps ?? [];
  const out = new Array<number>(m.rides.length);
  let index = m.firstIndex;
  let g = 0;
  for (let i = 0; i < out.length; i++) {
    if (g < gaps.length && gaps[g][0] === i) index += gaps[g++][1];
    out[i] = index++;
  }
  return out;
}

/**
 * Parses and checks a fan-out message body: `v` is 1 or 2, `source` has non-empty `bucket`,
 * `key` and `etag`, `chunk` and `firstIndex` are integers ≥ 0, v2's `gaps` are well formed, and
 * every ride passes validateRide. Rides in the shape encodeMessage writes are checked in place
 * and returned as parsed (no copy); anything else is normalised by validateRide.
 *
 * @throws EnvelopeError naming the first field that is wrong (for a ride: its position and reasons).
 * @example
 * const message = decodeMessage(record.body); // record: an SQS record
 * const indexes = rideIndexes(message);
 * message.rides.forEach((ride, i) => write(ride, indexes[i]));
 */
export function decodeMessage(text: string): FanoutMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    fail(`body is not JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('body is not a JSON object');
  const m = parsed as Record<string, unknown>;
  if (m.v !== 1 && m.v !== 2) fail(`v is ${JSON.stringify(m.v)}, expected 1 or 2`);
  const v = m.v;
  const source = m.source as Record<string, unknown> | null;
  if (typeof source !== 'object' || source === null) fail('source is missing or not an object');
  for (const field of ['bucket', 'key', 'etag'] as const) {
    if (typeof source[field] !== 'string' || source[field] === '') fail(`source.${field} is not a non-empty string`);
  }
  if (!isIndex(m.chunk)) fail(`chunk is ${JSON.stringify(m.chunk)}, expected an integer >= 0`);
  if (!isIndex(m.firstIndex)) fail(`firstIndex is ${JSON.stringify(m.firstIndex)}, expected an integer >= 0`);
  if (!Array.isArray(m.rides) || m.rides.length === 0) fail('rides is not a non-empty array');
  const rides = m.rides as unknown[];
  if (v === 1 && m.gaps !== undefined) fail('gaps is set in a version-1 message');
  const gaps = v === 2 ? checkGaps(m.gaps, rides.length, m.firstIndex) : undefined;
  for (let i = 0; i < rides.length; i++) {
    const ride = acceptRide(rides[i]);
    if (ride !== undefined) continue;
    const result = validateRide(rides[i]);
    if (!result.ok) {
      const at = (gaps ?? []).reduce((index, [from, skipped]) => (from <= i ? index + skipped : index), m.firstIndex + i);
      fail(`rides[${i}] (ride_index ${at}) is invalid: ${result.reasons.join('; ')}`);
    }
    rides[i] = result.ride;
  }
  const ref: SourceRef = { bucket: source.bucket as string, key: source.key as string, etag: source.etag as string };
  const message: FanoutMessage = { v, source: ref, chunk: m.chunk, firstIndex: m.firstIndex, rides: rides as Ride[] };
  if (gaps !== undefined) message.gaps = gaps;
  return message;
}

const RIDE_START = '{"distance":';

/**
 * A message's source, chunk and ride count without parsing its rides, for code that only
 * counts (progress): the head is parsed, the rides are counted by the `{"distance":` that starts
 * each ride encodeMessage writes (inside a JSON string that text would be escaped). Any other
 * body is parsed whole; undefined when it is not a message.
 *
 * @example
 * peekMessage(body); // { source: { bucket, key, etag }, chunk: 42, rides: 100 }
 */
export function peekMessage(text: string): { source: SourceRef; chunk: number; rides: number } | undefined {
  try {
    const cut = text.indexOf(',"firstIndex":');
    const ridesAt = text.indexOf('"rides":[');
    if (text.startsWith('{"v":') && cut > 0 && ridesAt > cut) {
      const head = JSON.parse(`${text.slice(0, cut)}}`) as { source?: SourceRef; chunk?: unknown };
      let rides = 0;
      for (let at = text.indexOf(RIDE_START, ridesAt); at >= 0; at = text.indexOf(RIDE_START, at + RIDE_START.length)) rides++;
      if (head.source && isIndex(head.chunk) && rides > 0) return { source: head.source, chunk: head.chunk, rides };
    }
    const whole = JSON.parse(text) as { source?: SourceRef; chunk?: unknown; rides?: unknown };
    if (!whole.source || !isIndex(whole.chunk) || !Array.isArray(whole.rides)) return undefined;
    return { source: whole.source, chunk: whole.chunk, rides: whole.rides.length };
  } catch {
    return undefined;
  }
}

export interface ChunkerOptions {
  source: SourceRef;
  /** Rides per message; default 100; 1 = one ride per message, as in the workshop. */
  ridesPerMessage?: number;
  /** Largest encoded message in bytes (UTF-8); default 200 KiB. */
  maxBytes?: number;
  /**
   * Message version to write; default 2 ({@link MESSAGE_VERSION}). Version 1 has no gaps, so a
   * rejected ride closes the open message; kept for comparison and for readers of v1 only.
   */
  version?: 1 | 2;
  /**
   * Continue a file whose earlier part closed `chunk` chunks and read rides before `index`
   * (nothing open): numbering goes on from `chunk`, and the first ride pushed must be ≥ `index`.
   */
  continueAt?: { chunk: number; index: number };
}

/**
 * Groups valid rides, in index order, into fan-out messages. A message closes at
 * `ridesPerMessage` rides, or before a ride that would take its encoded size over `maxBytes`
 * (computed exactly, from each ride's JSON, which is kept and becomes the message body). In
 * version 2 (the default) a gap in indexes, a rejected ride, is recorded in the message's `gaps`;
 * in version 1 it closes the message, so that ride_index = firstIndex + i holds. Chunks are
 * numbered 0, 1, 2, …
 *
 * @example
 * const chunker = new Chunker({ source, ridesPerMessage: 100 });
 * for (const [index, ride] of valid) for (const m of chunker.push(index, ride)) await send(encodeMessage(m));
 * const last = chunker.flush();
 * if (last) await send(encodeMessage(last));
 */
export class Chunker {
  private readonly source: SourceRef;
  private readonly ridesPerMessage: number;
  private readonly maxBytes: number;
  private readonly version: 1 | 2;
  private nextChunk = 0;
  private lastIndex = -1;
  private rides: Ride[] = [];
  /** The open message's rides as JSON, commas between them. */
  private readonly json = new ByteWriter();
  private gaps: IndexGap[] = [];
  private gapText = '';
  private firstIndex = 0;
  private messageHead = '';
  private bytes = 0;

  constructor(options: ChunkerOptions) {
    const { bucket, key, etag } = options.source;
    this.source = { bucket, key, etag };
    this.ridesPerMessage = options.ridesPerMessage ?? DEFAULT_RIDES_PER_MESSAGE;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.version = options.version ?? MESSAGE_VERSION;
    if (!Number.isSafeInteger(this.ridesPerMessage) || this.ridesPerMessage < 1) {
      throw new ChunkerError(`ridesPerMessage is ${this.ridesPerMessage}; use an integer >= 1 (RIDES_PER_MESSAGE)`);
    }
    if (!(this.maxBytes > 0)) throw new ChunkerError(`maxBytes is ${this.maxBytes}; use a positive number of bytes`);
    if (this.version !== 1 && this.version !== 2) throw new ChunkerError(`version is ${String(this.version)}; use 1 or 2`);
    const at = options.continueAt;
    if (at) {
      if (!Number.isSafeInteger(at.chunk) || at.chunk < 0 || !Number.isSafeInteger(at.index) || at.index < 0) {
        throw new ChunkerError(`continueAt ${JSON.stringify(at)}: chunk and index must be integers >= 0`);
      }
      this.nextChunk = at.chunk;
      this.lastIndex = at.index - 1;
    }
  }

  /** Messages completed so far, including any returned by flush(). */
  get chunks(): number {
    return this.nextChunk;
  }

  /** Index of the first ride of the open message; undefined when no message is open. */
  get openFirstIndex(): number | undefined {
    return this.rides.length > 0 ? this.firstIndex : undefined;
  }

  /**
   * Adds the ride at `index` (strictly increasing); returns the messages it completed, most
   * often none: then one shared, frozen empty array (no array per ride).
   */
  push(index: number, ride: Ride): readonly FanoutMessage[] {
    if (!Number.isSafeInteger(index) || index <= this.lastIndex) {
      throw new ChunkerError(`ride index ${index} after ${this.lastIndex}: push rides once each, in increasing index order`);
    }
    /** The open message, closed before this ride (a v1 gap, or no room for the ride). */
    let before: FanoutMessage | undefined;
    const w = this.json;
    const open = this.rides.length;
    // The ride is written after the open message's rides; when it starts the next message, its
    // bytes move to the front.
    const end = w.length;
    if (open > 0) w.byte(0x2c);
    const start = w.length;
    writeRide(w, ride);
    const rideBytes = w.length - start;
    if (open > 0) {
      const skipped = index - this.lastIndex - 1;
      let gap = '';
      if (skipped > 0) {
        if (this.version === 1) before = this.close(end);
        else gap = gapJson([open, skipped]);
      }
      if (before === undefined) {
        const gapBytes = gap === '' ? 0 : gap.length + (this.gaps.length > 0 ? 1 : 0);
        if (this.bytes + gapBytes + 1 + rideBytes > this.maxBytes) {
          before = this.close(end);
        } else {
          if (gap !== '') {
            this.gaps.push([open, skipped]);
            this.gapText = this.gaps.length > 1 ? `${this.gapText},${gap}` : gap;
          }
          this.bytes += gapBytes + 1 + rideBytes; // the gap, a comma, then the ride
        }
      }
      if (before !== undefined) {
        w.bytes.copyWithin(0, start, start + rideBytes);
        w.length = rideBytes;
      }
    }
    if (this.rides.length === 0) {
      this.firstIndex = index;
      this.messageHead = head(this.version, this.source, this.nextChunk, index);
      this.bytes = Buffer.byteLength(body(this.version, this.messageHead, '', '')) + rideBytes;
      if (this.bytes > this.maxBytes) {
        w.length = 0;
        throw new ChunkerError(`ride ${index} alone encodes to ${this.bytes} bytes, over maxBytes ${this.maxBytes}; raise maxBytes`);
      }
    }
    this.rides.push(ride);
    this.lastIndex = index;
    if (this.rides.length >= this.ridesPerMessage) {
      const full = this.close(w.length);
      w.length = 0;
      return before === undefined ? [full] : [before, full];
    }
    return before === undefined ? NONE_CLOSED : [before];
  }

  /** Closes and returns the open message, if any. */
  flush(): FanoutMessage | undefined {
    if (this.rides.length === 0) return undefined;
    const message = this.close(this.json.length);
    this.json.length = 0;
    return message;
  }

  /**
   * The body of the open message, whose rides are the JSON bytes before `end`, as one flat
   * string: pieces joined as strings make a rope that every later reader of the body flattens
   * (a copy of the whole body).
   */
  private body(end: number): string {
    const w = bodyText;
    w.length = 0;
    w.utf8(this.messageHead);
    w.ascii(this.version === 1 ? '"rides":[' : `"gaps":[${this.gapText}],"rides":[`);
    w.reserve(end + 2);
    this.json.bytes.copy(w.bytes, w.length, 0, end);
    w.length += end;
    w.byte(0x5d);
    w.byte(0x7d);
    return w.take();
  }

  /** Closes the open message, whose rides are the JSON bytes before `end`. */
  private close(end: number): FanoutMessage {
    const message: FanoutMessage = { v: this.version, source: this.source, chunk: this.nextChunk++, firstIndex: this.firstIndex, rides: this.rides };
    if (this.version === 2) message.gaps = this.gaps;
    Object.defineProperty(message, CLOSED_BODY, { value: this.body(end) });
    this.rides = [];
    this.gaps = [];
    this.gapText = '';
    this.bytes = 0;
    return message;
  }
}
