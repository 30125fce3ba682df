import { ChunkerError, EnvelopeError } from './errors';
import { FanoutMessage, Ride, SourceRef } from './types';
import { validateRide } from './validate';

/**
 * Default rides per fan-out message (`RIDES_PER_MESSAGE`).
 *
 * @example
 * const ridesPerMessage = Number(process.env.RIDES_PER_MESSAGE ?? DEFAULT_RIDES_PER_MESSAGE);
 */
export const DEFAULT_RIDES_PER_MESSAGE = 100;
/**
 * Default ceiling of an encoded message, in bytes; SQS allows 256 KiB per message.
 *
 * @example
 * new Chunker({ source, maxBytes: DEFAULT_MAX_MESSAGE_BYTES });
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 200 * 1024;

/**
 * Encodes a fan-out message as the JSON body of an SQS message (ARCHITECTURE.md, version 1).
 *
 * @example
 * const body = encodeMessage({ v: 1, source, chunk: 0, firstIndex: 0, rides: [ride] });
 */
export function encodeMessage(m: FanoutMessage): string {
  const { bucket, key, etag } = m.source;
  return JSON.stringify({ v: 1, source: { bucket, key, etag }, chunk: m.chunk, firstIndex: m.firstIndex, rides: m.rides });
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function fail(what: string): never {
  throw new EnvelopeError(`fan-out message ${what}; only bodies written by encodeMessage (v1) are accepted`);
}

/**
 * Parses and checks a fan-out message body: `v` is 1, `source` has non-empty `bucket`, `key`
 * and `etag`, `chunk` and `firstIndex` are integers ≥ 0, and every ride passes validateRide.
 * Returns the rides as validateRide normalised them.
 *
 * @throws EnvelopeError naming the first field that is wrong (for a ride: its position and reasons).
 * @example
 * const message = decodeMessage(record.body); // record: an SQS record
 * message.rides.forEach((ride, i) => write(ride, message.firstIndex + i));
 */
export function decodeMessage(body: string): FanoutMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    fail(`body is not JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('body is not a JSON object');
  const m = parsed as Record<string, unknown>;
  if (m.v !== 1) fail(`v is ${JSON.stringify(m.v)}, expected 1`);
  const source = m.source as Record<string, unknown> | null;
  if (typeof source !== 'object' || source === null) fail('source is missing or not an object');
  for (const field of ['bucket', 'key', 'etag'] as const) {
    if (typeof source[field] !== 'string' || source[field] === '') fail(`source.${field} is not a non-empty string`);
  }
  if (!isIndex(m.chunk)) fail(`chunk is ${JSON.stringify(m.chunk)}, expected an integer >= 0`);
  if (!isIndex(m.firstIndex)) fail(`firstIndex is ${JSON.stringify(m.firstIndex)}, expected an integer >= 0`);
  if (!Array.isArray(m.rides) || m.rides.length === 0) fail('rides is not a non-empty array');
  const firstIndex = m.firstIndex;
  const rides = m.rides.map((raw, i): Ride => {
    const result = validateRide(raw);
    if (!result.ok) fail(`rides[${i}] (ride_index ${firstIndex + i}) is invalid: ${result.reasons.join('; ')}`);
    return result.ride;
  });
  const ref: SourceRef = { bucket: source.bucket as string, key: source.key as string, etag: source.etag as string };
  return { v: 1, source: ref, chunk: m.chunk, firstIndex, rides };
}

export interface ChunkerOptions {
  source: SourceRef;
  /** Rides per message; default 100; 1 = one ride per message, as in the workshop. */
  ridesPerMessage?: number;
  /** Largest encoded message in bytes (UTF-8); default 200 KiB. */
  maxBytes?: number;
  /**
   * Continue a file whose earlier part closed `chunk` chunks and read rides before `index`
   * (nothing open): numbering goes on from `chunk`, and the first ride pushed must be ≥ `index`.
   */
  continueAt?: { chunk: number; index: number };
}

/**
 * Groups consecutive valid rides into fan-out messages. Because `ride_index` is
 * `firstIndex + i`, a gap in indexes (a rejected ride) closes the current message. A message
 * closes at `ridesPerMessage` rides, or before a ride that would take its encoded size over
 * `maxBytes` (computed exactly, without encoding the message). Chunks are numbered 0, 1, 2, …
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
  private nextChunk = 0;
  private lastIndex = -1;
  private rides: Ride[] = [];
  private firstIndex = 0;
  private bytes = 0;

  constructor(options: ChunkerOptions) {
    const { bucket, key, etag } = options.source;
    this.source = { bucket, key, etag };
    this.ridesPerMessage = options.ridesPerMessage ?? DEFAULT_RIDES_PER_MESSAGE;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isSafeInteger(this.ridesPerMessage) || this.ridesPerMessage < 1) {
      throw new ChunkerError(`ridesPerMessage is ${this.ridesPerMessage}; use an integer >= 1 (RIDES_PER_MESSAGE)`);
    }
    if (!(this.maxBytes > 0)) throw new ChunkerError(`maxBytes is ${this.maxBytes}; use a positive number of bytes`);
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

  /** Adds the ride at `index` (strictly increasing); returns the messages it completed. */
  push(index: number, ride: Ride): FanoutMessage[] {
    if (!Number.isSafeInteger(index) || index <= this.lastIndex) {
      throw new ChunkerError(`ride index ${index} after ${this.lastIndex}: push rides once each, in increasing index order`);
    }
    const done: FanoutMessage[] = [];
    const rideBytes = Buffer.byteLength(JSON.stringify(ride));
    if (this.rides.length > 0 && (index !== this.lastIndex + 1 || this.bytes + 1 + rideBytes > this.maxBytes)) {
      done.push(this.close());
    }
    if (this.rides.length === 0) {
      this.firstIndex = index;
      this.bytes = this.emptyBytes(index) + rideBytes;
      if (this.bytes > this.maxBytes) {
        throw new ChunkerError(`ride ${index} alone encodes to ${this.bytes} bytes, over maxBytes ${this.maxBytes}; raise maxBytes`);
      }
    } else {
      this.bytes += 1 + rideBytes; // a comma, then the ride
    }
    this.rides.push(ride);
    this.lastIndex = index;
    if (this.rides.length >= this.ridesPerMessage) done.push(this.close());
    return done;
  }

  /** Closes and returns the open message, if any. */
  flush(): FanoutMessage | undefined {
    return this.rides.length > 0 ? this.close() : undefined;
  }

  private emptyBytes(firstIndex: number): number {
    return Buffer.byteLength(encodeMessage({ v: 1, source: this.source, chunk: this.nextChunk, firstIndex, rides: [] }));
  }

  private close(): FanoutMessage {
    const message: FanoutMessage = { v: 1, source: this.source, chunk: this.nextChunk++, firstIndex: this.firstIndex, rides: this.rides };
    this.rides = [];
    this.bytes = 0;
    return message;
  }
}
