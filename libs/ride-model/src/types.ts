/** A validated unicorn ride, keys lower-cased, numbers as numbers (see ARCHITECTURE.md). */
export interface Ride {
  distance: number;
  healthpoints: number;
  /** Degrees, [-90, 90]. */
  latitude: number;
  /** Degrees, [-180, 180]. */
  longitude: number;
  magicpoints: number;
  name: string;
  /** `YYYY-MM-DD HH:MM:SS[.fff]`, kept exactly as it came in. */
  statustime: string;
  /** Absent when the input has none. */
  fieldservice?: 0 | 1;
}

/** One record as it came out of the file, before validation. */
export interface RawRecord {
  /** 0-based position in the source file, counting invalid records too. */
  index: number;
  /**
   * The parsed JSON value; a {@link SkippedRecord} when the record was too large or too deeply
   * nested to parse (validateRide rejects it with the reason).
   */
  record: unknown;
  /** Offset of the record's first byte in the decompressed stream. */
  byteOffset?: number;
  /** Offset just past the record's last byte: where parsing resumes after it (see {@link ResumePoint}). */
  endOffset?: number;
  /** Set when the record was larger than `maxRecordBytes`: its size in bytes (it was skipped). */
  oversize?: number;
  /**
   * True when the parser has already checked `record` against every rule of validateRide and it
   * passes them as it is: validateRide would return `{ ok: true, ride: record, dropped: [] }`.
   * {@link validateRecord} answers from it without checking again. False or absent: not known.
   */
  checked?: boolean;
}

/**
 * Stands in for a record the parser skipped without parsing (over `maxRecordBytes`, or nested
 * deeper than `maxDepth`). `validateRide` rejects it with `reason`; JSON-encodes as
 * `{"skipped": reason, "bytes": n}` so a rejects/ line stays small.
 *
 * @example
 * const raw = { index: 7, record: new SkippedRecord('record: 104857700 bytes exceeds the 65536-byte limit', 104857700) };
 * validateRide(raw.record); // { ok: false, reasons: ['record: 104857700 bytes exceeds the 65536-byte limit'] }
 */
export class SkippedRecord {
  constructor(
    readonly reason: string,
    readonly bytes: number,
  ) {}

  toJSON(): { skipped: string; bytes: number } {
    return { skipped: this.reason, bytes: this.bytes };
  }
}

export type ValidationResult =
  | { ok: true; ride: Ride; /** names of unknown fields that were dropped */ dropped: readonly string[] }
  | { ok: false; reasons: string[] };

/** Where a ride file lives; `etag` as S3 reports it (quotes allowed, stripped when used). */
export interface SourceRef {
  bucket: string;
  key: string;
  etag: string;
}

/**
 * `[at, skipped]`: `skipped` (≥ 1) indexes of the source file, rejected rides, lie between
 * `rides[at - 1]` and `rides[at]` of a version-2 message.
 */
export type IndexGap = [at: number, skipped: number];

/**
 * Fan-out message (ARCHITECTURE.md). Version 1: `rides[i]` has ride_index `firstIndex + i`.
 * Version 2 adds `gaps`, so a rejected ride no longer ends a message: ride_index of `rides[i]`
 * is `firstIndex + i` plus the `skipped` of every gap at or before `i` (see {@link rideIndexes}).
 */
export interface FanoutMessage {
  v: 1 | 2;
  source: SourceRef;
  chunk: number;
  firstIndex: number;
  /** Version 2: the skipped indexes, `at` strictly increasing; absent or empty when there are none. */
  gaps?: IndexGap[];
  rides: Ride[];
}

/** A processed/ CSV row: the ride plus its nearest station and provenance. */
export interface ProcessedRow extends Ride {
  /** Empty when no station qualifies (an inventory with no station covering the ride's year). */
  groundstation: string;
  /** Absent (an empty cell) with an empty groundstation. */
  groundstation_distance_km?: number;
  /** The source object key, e.g. `raw/rides.json`. */
  source: string;
  ride_index: number;
}

/** manifests/<stem>-<etag8>.json */
export interface Manifest {
  bucket: string;
  source: string;
  etag: string;
  total: number;
  valid: number;
  rejected: number;
  chunks: number;
  ridesPerMessage: number;
  /** Unknown fields dropped from otherwise valid rides. */
  droppedFields: number;
  startedAt: string;
  finishedAt: string;
  /**
   * Why ingest stopped early. `code: 'source-deleted'`: the raw object was deleted before ingest
   * read all of it; rides after `lastGoodIndex` were never read (not lost: nothing retries them).
   */
  error?: { message: string; byteOffset: number; lastGoodIndex: number; code?: 'source-deleted' };
}

/** The top-level shape of a ride file: `[…]`, `{"travel_data": […]}`, or values one after another. */
export type FileLayout = 'array' | 'wrapper' | 'stream';

/**
 * Where parsing of a file can pick up again without reading what came before: just after a
 * record (between records, the splitter's state is only the layout). `byteOffset` counts
 * decompressed bytes; a plain file is read from there (an S3 byte range), a gzip file is
 * inflated from its start and the first `byteOffset` bytes are dropped unparsed.
 *
 * @example
 * parseRides(rangedStream, { resume: { index: 1200, byteOffset: 281_344, layout: 'array', gzip: false } });
 */
export interface ResumePoint {
  /** Index of the first record after the resume point. */
  index: number;
  /** Decompressed offset just past the record before it (its `endOffset`). */
  byteOffset: number;
  layout: FileLayout;
  gzip: boolean;
}
