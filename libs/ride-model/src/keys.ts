import { ObjectKeyError } from './errors';
import { SourceRef } from './types';

/**
 * Prefix of input objects.
 *
 * @example
 * key.startsWith(RAW_PREFIX);
 */
export const RAW_PREFIX = 'raw/';
/**
 * The one list of accepted ride-file suffixes: the ingest's key check, the CDK stack's S3 trigger
 * filters and the CLI's checks all use it. Longest first, so `.ndjson.gz` wins over `.json.gz`
 * (which it does not end with: S3 suffix filters compare strings, and the filters never overlap).
 * Case-sensitive, like S3 filters. The content decides the shape and gzip, never the suffix.
 *
 * @example
 * RIDE_FILE_SUFFIXES.map((suffix) => ({ prefix: RAW_PREFIX, suffix })); // S3 notification filters
 */
export const RIDE_FILE_SUFFIXES = ['.ndjson.gz', '.json.gz', '.ndjson', '.json'] as const;

/** One of {@link RIDE_FILE_SUFFIXES}. */
export type RideFileSuffix = (typeof RIDE_FILE_SUFFIXES)[number];

/**
 * The accepted suffix a file name or key ends with, or undefined.
 *
 * @example
 * rideFileSuffix('rides.ndjson.gz'); // '.ndjson.gz'
 * rideFileSuffix('rides.txt');       // undefined
 */
export function rideFileSuffix(name: string): RideFileSuffix | undefined {
  return RIDE_FILE_SUFFIXES.find((s) => name.endsWith(s));
}

/** Output keys derived from one ride file (ARCHITECTURE.md, "Keys in the bucket"). */
export interface ObjectKeys {
  /** Key without `raw/` and the suffix; sub-folders kept: `raw/a/b.json` → `a/b`. */
  stem: string;
  /** First 8 hex characters of the ETag, lower-case. */
  etag8: string;
  /** `processed/<stem>-<etag8>-<chunk:000000>.csv` */
  processed(chunk: number): string;
  /** `rejects/<stem>-<etag8>.ndjson` */
  rejects: string;
  /**
   * `rejects/<stem>-<etag8>-part<part:0000>.ndjson`: the rejects of one part of a file ingested
   * in several invocations, until the last part joins them into `rejects` (never hex, so no
   * other stem's keys look like it).
   */
  rejectsPart(part: number): string;
  /** `manifests/<stem>-<etag8>.json` */
  manifest: string;
  /** `processed/<stem>-<etag8>-`: lists this version's chunks (and, for a stem `a`, none of `a-b`'s once parsed). */
  processedPrefix: string;
  /** `rejects/<stem>-<etag8>-part`: lists the rejects parts a continuation left. */
  rejectsPartPrefix: string;
  /** `manifests/<stem>-`: lists the manifests of every version of this stem (and of longer stems: parse them). */
  manifestsPrefix: string;
}

/** What {@link parseOutputKey} reads from a key under processed/, rejects/ or manifests/. */
export type OutputKey =
  | { kind: 'processed'; stem: string; etag8: string; chunk: number }
  | { kind: 'rejects'; stem: string; etag8: string }
  | { kind: 'rejectsPart'; stem: string; etag8: string; part: number }
  | { kind: 'manifest'; stem: string; etag8: string };

/**
 * True for keys the deployed S3 trigger fires on: prefix `raw/` and a ride file suffix, the
 * notification filters and nothing more ({@link isRideFileKey} also checks the name).
 *
 * @example
 * matchesIngestTrigger('raw/rides.ndjson'); // true
 * matchesIngestTrigger('raw//rides.json');  // true: the trigger fires, the ingest skips it
 */
export function matchesIngestTrigger(key: string): boolean {
  return key.startsWith(RAW_PREFIX) && RIDE_FILE_SUFFIXES.some((suffix) => key.endsWith(suffix));
}

function stemOf(key: string): string | undefined {
  if (!key.startsWith(RAW_PREFIX)) return undefined;
  const suffix = rideFileSuffix(key);
  if (!suffix) return undefined;
  const stem = key.slice(RAW_PREFIX.length, key.length - suffix.length);
  // Every path segment must be a real name: no '', '.', '..' (raw//x.json, raw/../x.json, raw/a/.json).
  const segments = stem.split('/');
  return segments.every((s) => s !== '' && s !== '.' && s !== '..') ? stem : undefined;
}

/**
 * True for keys of ride files: under `raw/`, ending in one of {@link RIDE_FILE_SUFFIXES}, with a
 * non-empty name and no empty, `.` or `..` path segments.
 *
 * @example
 * isRideFileKey('raw/2018/rides.json.gz'); // true
 * isRideFileKey('processed/rides.csv');    // false
 */
export function isRideFileKey(key: string): boolean {
  return stemOf(key) !== undefined;
}

/**
 * Derives the stem, the ETag prefix and the output keys of a ride file. Sub-folders under `raw/`
 * are kept in the stem, so `raw/a/b.json` writes `processed/a/b-<etag8>-000000.csv`. Quotes
 * and a weak `W/` prefix are stripped from the ETag; a multipart ETag (`"…-3"`) works the same.
 *
 * @throws ObjectKeyError when the key is not a ride file key or the ETag has < 8 hex characters.
 * @example
 * const keys = objectKeys({ bucket: 'b', key: 'raw/rides.json', etag: '"0123456789abcdef"' });
 * keys.processed(42); // 'processed/rides-01234567-000042.csv'
 */
export function objectKeys(source: SourceRef): ObjectKeys {
  const stem = stemOf(source.key);
  if (stem === undefined) {
    throw new ObjectKeyError(
      `key ${JSON.stringify(source.key)} is not a ride file: use raw/<name>${RIDE_FILE_SUFFIXES.map((s) => s).join('|')} (no empty, . or .. segments)`,
    );
  }
  const etag = source.etag.replace(/^W\//, '').replace(/"/g, '');
  if (!/^[0-9a-fA-F]{8}/.test(etag)) {
    throw new ObjectKeyError(`ETag ${JSON.stringify(source.etag)} of ${source.key} does not start with 8 hex characters; pass the ETag S3 reported`);
  }
  const etag8 = etag.slice(0, 8).toLowerCase();
  const base = `${stem}-${etag8}`;
  return {
    stem,
    etag8,
    processed(chunk: number): string {
      if (!Number.isSafeInteger(chunk) || chunk < 0) throw new ObjectKeyError(`chunk ${chunk} is not an integer >= 0`);
      return `processed/${base}-${String(chunk).padStart(6, '0')}.csv`;
    },
    rejects: `rejects/${base}.ndjson`,
    rejectsPart(part: number): string {
      if (!Number.isSafeInteger(part) || part < 0) throw new ObjectKeyError(`part ${part} is not an integer >= 0`);
      return `rejects/${base}-part${String(part).padStart(4, '0')}.ndjson`;
    },
    manifest: `manifests/${base}.json`,
    processedPrefix: `processed/${base}-`,
    rejectsPartPrefix: `rejects/${base}-part`,
    manifestsPrefix: `manifests/${stem}-`,
  };
}

// Read from the end: a stem may itself contain '-' and hex, the etag8 and the counters may not.
const OUTPUT_KEY_PATTERNS: Array<[OutputKey['kind'], RegExp]> = [
  ['processed', /^processed\/(.+)-([0-9a-f]{8})-(\d{6,})\.csv$/],
  ['rejectsPart', /^rejects\/(.+)-([0-9a-f]{8})-part(\d{4,})\.ndjson$/],
  ['rejects', /^rejects\/(.+)-([0-9a-f]{8})\.ndjson$/],
  ['manifest', /^manifests\/(.+)-([0-9a-f]{8})\.json$/],
];

/**
 * Reads a key that {@link objectKeys} writes back into its parts: the inverse of `processed`,
 * `rejects`, `rejectsPart` and `manifest`. Any other key gives `undefined`.
 *
 * @example
 * parseOutputKey('processed/a-b-01234567-000042.csv'); // { kind: 'processed', stem: 'a-b', etag8: '01234567', chunk: 42 }
 * parseOutputKey('processed/a-b.csv');                 // undefined
 */
export function parseOutputKey(key: string): OutputKey | undefined {
  for (const [kind, pattern] of OUTPUT_KEY_PATTERNS) {
    const match = pattern.exec(key);
    if (!match) continue;
    const [, stem, etag8, counter] = match;
    if (kind === 'processed') return { kind, stem, etag8, chunk: Number(counter) };
    if (kind === 'rejectsPart') return { kind, stem, etag8, part: Number(counter) };
    return { kind, stem, etag8 };
  }
  return undefined;
}

/**
 * True when `key` (any output key) belongs to the same source version as `keys`.
 *
 * @example
 * const keys = objectKeys({ bucket: 'b', key: 'raw/a.json', etag: '01234567' });
 * sameVersion(parseOutputKey('processed/a-01234567-000003.csv'), keys); // true
 * sameVersion(parseOutputKey('processed/a-b-01234567-000003.csv'), keys); // false
 */
export function sameVersion(parsed: OutputKey | undefined, keys: Pick<ObjectKeys, 'stem' | 'etag8'>): boolean {
  return parsed !== undefined && parsed.stem === keys.stem && parsed.etag8 === keys.etag8;
}

/**
 * The object key in an S3 event notification, decoded: S3 URL-encodes it with a space as `+`.
 *
 * @example
 * decodeEventKey('raw/day+7%2B1.json'); // 'raw/day 7+1.json'
 */
export function decodeEventKey(eventKey: string): string {
  return decodeURIComponent(eventKey.replace(/\+/g, ' '));
}

/**
 * An object key as S3 writes it into an event notification: URL-encoded, `/` kept, a space as `+`.
 *
 * @example
 * encodeEventKey('raw/day 7+1.json'); // 'raw/day+7%2B1.json'
 */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');
}
