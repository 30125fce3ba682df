/*
 * Why the parser keeps where a ride's values are: the Chunker wrote every ride's JSON again from
 * its values, a number-to-text conversion per number, which was most of the chunk stage of the
 * per-ride chain (`nx run transform-fn:bench-floor` prints the stages). A ride read from the
 * file's bytes whose numbers are written as `String` writes them already holds those texts: the
 * parser notes where they are in the chunk's text (an immutable string its records' names
 * already share) and the values it read, and the Chunker copies the texts between its keys when
 * the ride it is given still has those very values (a caller may have changed them). The JSON
 * of such a ride is then, byte for byte, what the Chunker would have written.
 */
import { ByteWriter } from './byte-writer';
import { RawRecord, Ride } from './types';

/** Rides a slab holds. */
const SLAB_RIDES = 2048;

/** Where the values of rides were read, and the values read. Filled in order, never rewritten. */
export class RideTexts {
  /** Per ride: start and end in its chunk's text of distance, healthpoints, latitude, longitude, magicpoints, name and statustime (quotes included). */
  readonly spans = new Int32Array(14 * SLAB_RIDES);
  /** Per ride: distance, healthpoints, latitude, longitude, magicpoints, fieldservice (-1: absent). */
  readonly numbers = new Float64Array(6 * SLAB_RIDES);
  /** Per ride: name, statustime, the chunk's text. */
  readonly strings: string[] = [];
  rides = 0;

  get full(): boolean {
    return this.rides === SLAB_RIDES;
  }
}

// The ride's JSON around its values, as the Chunker writes it (envelope.ts).
const J_DISTANCE = ByteWriter.prepare('{"distance":');
const J_HEALTHPOINTS = ByteWriter.prepare(',"healthpoints":');
const J_LATITUDE = ByteWriter.prepare(',"latitude":');
const J_LONGITUDE = ByteWriter.prepare(',"longitude":');
const J_MAGICPOINTS = ByteWriter.prepare(',"magicpoints":');
const J_NAME = ByteWriter.prepare(',"name":');
const J_STATUSTIME = ByteWriter.prepare(',"statustime":');
const J_FIELDSERVICE_0 = ByteWriter.prepare(',"fieldservice":0}');
const J_FIELDSERVICE_1 = ByteWriter.prepare(',"fieldservice":1}');

/**
 * A record the parser read straight from the file's bytes with its numbers as `String` writes
 * them: where its value texts are is kept (private fields: the record compares and prints as any
 * other RawRecord), for {@link copyRideText}.
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
   * Writes `ride` as JSON into `w` from the value texts kept for `raw`, when `raw` has them and
   * `ride` has exactly the values they were read as; false (nothing written) otherwise.
   */
  static copy(w: ByteWriter, raw: RawRecord, ride: Ride): boolean {
    if (!(raw instanceof TextRecord)) return false;
    const texts = raw.#texts;
    const slot = raw.#slot;
    const n = texts.numbers;
    const k = 6 * slot;
    const fieldservice = ride.fieldservice === undefined ? -1 : ride.fieldservice;
    if (ride.distance !== n[k] || ride.healthpoints !== n[k + 1] || ride.latitude !== n[k + 2] || ride.longitude !== n[k + 3] || ride.magicpoints !== n[k + 4] || fieldservice !== n[k + 5]) return false;
    const strings = texts.strings;
    if (ride.name !== strings[3 * slot] || ride.statustime !== strings[3 * slot + 1]) return false;
    const text = strings[3 * slot + 2];
    const s = texts.spans;
    const at = 14 * slot;
    w.literal(J_DISTANCE);
    w.asciiRange(text, s[at], s[at + 1]);
    w.literal(J_HEALTHPOINTS);
    w.asciiRange(text, s[at + 2], s[at + 3]);
    w.literal(J_LATITUDE);
    w.asciiRange(text, s[at + 4], s[at + 5]);
    w.literal(J_LONGITUDE);
    w.asciiRange(text, s[at + 6], s[at + 7]);
    w.literal(J_MAGICPOINTS);
    w.asciiRange(text, s[at + 8], s[at + 9]);
    w.literal(J_NAME);
    w.asciiRange(text, s[at + 10], s[at + 11]);
    w.literal(J_STATUSTIME);
    w.asciiRange(text, s[at + 12], s[at + 13]);
    if (fieldservice === 0) w.literal(J_FIELDSERVICE_0);
    else if (fieldservice === 1) w.literal(J_FIELDSERVICE_1);
    else w.byte(0x7d);
    return true;
  }
}

/**
 * Writes `ride`'s JSON (what the Chunker writes for it) into `w` from the value texts the parser
 * kept for `raw`, when it kept them and `ride` has the values `raw` was read as; false otherwise.
 */
export function copyRideText(w: ByteWriter, raw: RawRecord, ride: Ride): boolean {
  return TextRecord.copy(w, raw, ride);
}
