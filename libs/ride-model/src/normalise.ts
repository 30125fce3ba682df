/**
 * The fields of a ride, lower-case, in CSV column order.
 *
 * @example
 * RIDE_FIELDS.includes('latitude'); // true
 */
export const RIDE_FIELDS = ['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints', 'name', 'statustime', 'fieldservice'] as const;

export type RideField = (typeof RIDE_FIELDS)[number];

/** A record's known fields under lower-case names, with numbers and flags converted. */
export interface NormalisedRecord {
  /** Null-prototype object holding only known fields; values not yet validated. */
  fields: Partial<Record<RideField, unknown>>;
  /** Original names of the unknown fields that were dropped, in input order. */
  dropped: string[];
}

const NUMERIC = new Set<string>(['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints']);
const KNOWN = new Set<string>(RIDE_FIELDS);
// JSON number syntax, plus leading '+', leading/trailing '.', and surrounding blanks.
const NUMERIC_STRING = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;
const TRUE_STRINGS = new Set(['1', 'true']);
const FALSE_STRINGS = new Set(['0', 'false']);

// Input keys repeat on every record ("Latitude", "latitude"); caching their canonical form saves
// a toLowerCase per key. Bounded so that hostile files with unique keys cannot grow it.
const canonicalCache = new Map<string, string | null>();
const CACHE_LIMIT = 1024;

function canonical(key: string): string | null {
  const hit = canonicalCache.get(key);
  if (hit !== undefined) return hit;
  const lower = key.toLowerCase();
  const name = KNOWN.has(lower) ? lower : null;
  if (canonicalCache.size < CACHE_LIMIT) canonicalCache.set(key, name);
  return name;
}

function convert(field: string, value: unknown): unknown {
  if (NUMERIC.has(field)) {
    return typeof value === 'string' && NUMERIC_STRING.test(value) ? Number(value) : value;
  }
  if (field === 'fieldservice') {
    if (value === true) return 1;
    if (value === false) return 0;
    if (typeof value === 'string') {
      const s = value.trim().toLowerCase();
      if (TRUE_STRINGS.has(s)) return 1;
      if (FALSE_STRINGS.has(s)) return 0;
    }
  }
  return value;
}

/**
 * Fixed-shape holder for the known fields (a stable hidden class, unlike a null-prototype
 * object, which V8 keeps in slow dictionary mode). Only these
 * eight names are ever written, so input keys never reach a prototype.
 */
export class FieldSlots {
  distance: unknown = undefined;
  healthpoints: unknown = undefined;
  latitude: unknown = undefined;
  longitude: unknown = undefined;
  magicpoints: unknown = undefined;
  name: unknown = undefined;
  statustime: unknown = undefined;
  fieldservice: unknown = undefined;

  reset(): this {
    this.distance = this.healthpoints = this.latitude = this.longitude = undefined;
    this.magicpoints = this.name = this.statustime = this.fieldservice = undefined;
    return this;
  }
}

/**
 * Reads the known fields of an object record into `slots` (converted, see normaliseRecord) and
 * returns the original names of the unknown ones.
 */
export function readFields(record: object, slots: FieldSlots): string[] {
  const dropped: string[] = [];
  const source = record as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const field = canonical(key);
    if (field === null) dropped.push(key);
    else slots[field as RideField] = convert(field, source[key]);
  }
  return dropped;
}

/**
 * Maps a parsed record onto the known ride fields: keys lower-cased (`HealthPoints` →
 * `healthpoints`), numeric strings turned into numbers (`"29.212845"` → 29.212845), fieldservice
 * `true`/`false`/`"1"`/`"false"`… → 1/0. Only known fields are copied, into a null-prototype
 * object, so keys such as `__proto__` or `constructor` can never reach a prototype; unknown
 * fields are listed in `dropped`. When two keys differ only in case, the later one wins, as
 * JSON.parse does for exact duplicates. A non-object yields no fields.
 *
 * @example
 * normaliseRecord({ Name: 'Shadowfax', Distance: '29.2', Colour: 'white' });
 * // { fields: { name: 'Shadowfax', distance: 29.2 }, dropped: ['Colour'] }
 */
export function normaliseRecord(record: unknown): NormalisedRecord {
  const fields: Partial<Record<RideField, unknown>> = Object.create(null);
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return { fields, dropped: [] };
  const slots = new FieldSlots();
  const dropped = readFields(record, slots);
  for (const field of RIDE_FIELDS) if (slots[field] !== undefined) fields[field] = slots[field];
  return { fields, dropped };
}
