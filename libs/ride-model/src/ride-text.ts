/*
 * Why the parser keeps a ride's JSON: the Chunker wrote every ride's JSON again from its values,
 * a number-to-text conversion per number, which was most of the chunk stage of the per-ride
 * chain (`nx run transform-fn:bench-floor` prints the stages). A ride read from the file's bytes
 * whose numbers are written as `String` writes them already holds that JSON, but for the
 * whitespace: the parser copies it, compact, into a slab, and the Chunker copies it from there
 * when the ride it is given has the very values that were read (a caller may have changed them).
 * The JSON of such a ride is then, byte for byte, what the Chunker would have written.
 */
import { ByteWriter } from './byte-writer';
import { RawRecord, Ride } from './types';

/** Bytes of a slab; a ride's compact JSON is at most as long as its record in the file. */
const SLAB_BYTES = 256 * 1024;
/** Rides a slab holds at most: a compact ride is over 100 bytes. */
const SLAB_RIDES = 2048;
/** Room kept after the last ride, for word writes and word reads past a ride's end. */
const SLACK = 8;

/** Rides' compact JSON, with the values each was read as. Filled in order, never rewritten. */
export class RideTexts {
  readonly bytes: Buffer;
  readonly view: DataView;
  /** Per ride: start and end of its JSON in `bytes`. */
  readonly spans: Uint32Array;
  /** Per ride: distance, healthpoints, latitude, longitude, magicpoints, fieldservice (-1: absent). */
  readonly numbers: Float64Array;
  /** Per ride: name, statustime. */
  readonly strings: string[] = [];
  length = 0;
  rides = 0;

  constructor() {
    // One allocation, not zero-filled (each part is written before it is read): numbers, spans, then the text.
    const memory = Buffer.allocUnsafeSlow(SLAB_RIDES * (6 * 8 + 2 * 4) + SLAB_BYTES + SLACK);
    this.numbers = new Float64Array(memory.buffer, memory.byteOffset, 6 * SLAB_RIDES);
    this.spans = new Uint32Array(memory.buffer, memory.byteOffset + SLAB_RIDES * 6 * 8, 2 * SLAB_RIDES);
    this.bytes = memory.subarray(SLAB_RIDES * (6 * 8 + 2 * 4));
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
  }

  /** Whether a ride of at most `bytes` bytes of JSON fits. */
  fits(bytes: number): boolean {
    return this.rides < SLAB_RIDES && this.length + bytes <= SLAB_BYTES;
  }
}

/**
 * A record the parser read straight from the file's bytes with its numbers as `String` writes
 * them: its compact JSON is kept in a slab (private fields: the record compares and prints as
 * any other RawRecord), for {@link copyRideText}.
 */
export class TextRecord implements RawRecord {
  readonly #texts: RideTexts;
  readonly #slot: number;

  constructor(
    public index: number,
    public byteOffset: number,
    public endOffset: number,
    public record: unknown,
    texts: RideTexts,
    slot: number,
  ) {
    this.#texts = texts;
    this.#slot = slot;
  }

  /**
   * Writes `ride` as JSON into `w` by copying the text kept for `raw`, when `raw` has one and
   * `ride` has exactly the values it was read as; false (nothing written) otherwise.
   */
  static copy(w: ByteWriter, raw: RawRecord, ride: Ride): boolean {
    if (!(raw instanceof TextRecord)) return false;
    const texts = raw.#texts;
    const slot = raw.#slot;
    const n = texts.numbers;
    const k = 6 * slot;
    const fieldservice = ride.fieldservice === undefined ? -1 : ride.fieldservice;
    if (ride.distance !== n[k] || ride.healthpoints !== n[k + 1] || ride.latitude !== n[k + 2] || ride.longitude !== n[k + 3] || ride.magicpoints !== n[k + 4] || fieldservice !== n[k + 5]) return false;
    if (ride.name !== texts.strings[2 * slot] || ride.statustime !== texts.strings[2 * slot + 1]) return false;
    w.copy(texts.view, texts.spans[2 * slot], texts.spans[2 * slot + 1]);
    return true;
  }
}

/**
 * Writes `ride`'s JSON (what the Chunker writes for it) into `w` from the text the parser kept
 * for `raw`, when it kept one and `ride` has the values `raw` was read as; false otherwise.
 */
export function copyRideText(w: ByteWriter, raw: RawRecord, ride: Ride): boolean {
  return TextRecord.copy(w, raw, ride);
}
