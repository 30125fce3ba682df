import { FieldSlots, readFields, RIDE_FIELDS } from './normalise';
import { RawRecord, Ride, SkippedRecord, ValidationResult } from './types';
import { findControlCharacter } from './control-characters';

/**
 * Longest accepted ride name, in UTF-16 code units.
 *
 * @example
 * name.length <= MAX_NAME_LENGTH;
 */
export const MAX_NAME_LENGTH = 256;

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${show(value)}`;
}

/** Days in `month` (1–12) of `year`, Gregorian. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function checkNumber(field: string, value: unknown, reasons: string[]): value is number {
  if (value === undefined) reasons.push(`${field}: missing`);
  else if (typeof value !== 'number') reasons.push(`${field}: expected a number, got ${kind(value)}`);
  else if (!Number.isFinite(value)) reasons.push(`${field}: ${show(value)} is not a finite number`);
  else return true;
  return false;
}

function checkRange(field: string, value: unknown, min: number, max: number, reasons: string[]): void {
  if (checkNumber(field, value, reasons) && (value < min || value > max)) {
    reasons.push(`${field}: ${show(value)} is outside [${min}, ${max}]`);
  }
}

function checkCount(field: string, value: unknown, reasons: string[]): void {
  if (!checkNumber(field, value, reasons)) return;
  if (!Number.isInteger(value)) reasons.push(`${field}: ${show(value)} is not an integer`);
  else if (value < 0) reasons.push(`${field}: ${show(value)} is negative`);
  else if (value > Number.MAX_SAFE_INTEGER) reasons.push(`${field}: ${show(value)} is above ${Number.MAX_SAFE_INTEGER}`);
}

function checkName(value: unknown, reasons: string[]): void {
  if (value === undefined) reasons.push('name: missing');
  else if (typeof value !== 'string') reasons.push(`name: expected a string, got ${kind(value)}`);
  else if (value.trim() === '') reasons.push('name: is empty or blank');
  else if (value.length > MAX_NAME_LENGTH) reasons.push(`name: ${value.length} characters is over the ${MAX_NAME_LENGTH}-character limit`);
  else if (!hasSurrogateOrControl(value)) return;
  else if (UNPAIRED_SURROGATE.test(value)) reasons.push('name: contains an unpaired UTF-16 surrogate (not encodable as UTF-8)');
  else checkOneLine(value, reasons);
}

/** Whether the two regular-expression checks below have anything to find: one loop instead of two regexes per ride. */
function hasSurrogateOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** Athena reads a processed/ CSV record as one row only if it is one physical line. */
function checkOneLine(name: string, reasons: string[]): void {
  const bad = findControlCharacter(name);
  if (bad) reasons.push(`name: contains the control character ${bad.codePoint} at position ${bad.index} (a CSV record must stay one line for Athena)`);
}

/** `n` decimal digits of `s` from `at`, or -1 if any is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let k = at; k < at + n; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

// `YYYY-MM-DD HH:MM:SS[.fraction]`, hand-parsed: a regex plus `match.map(Number)` allocates per
// ride, a large share of validation (`nx run ride-model:bench-validate`).
function isStatustimeShape(s: string): boolean {
  if (s.length < 19) return false;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  if (s.length === 19) return true;
  // Optional '.fraction' of 1 to 9 digits.
  return s.charCodeAt(19) === 46 && s.length >= 21 && s.length <= 29 && digits(s, 20, s.length - 20) >= 0;
}

/** What is wrong with a statustime text: not `YYYY-MM-DD HH:MM:SS[.fraction]` (`shape`), not a real time (`calendar`), or nothing. */
function statustimeFault(s: string): 'shape' | 'calendar' | undefined {
  if (!isStatustimeShape(s)) return 'shape';
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return 'shape';
  const real = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59;
  return real ? undefined : 'calendar';
}

function checkStatustime(value: unknown, reasons: string[]): void {
  if (value === undefined) return void reasons.push('statustime: missing');
  if (typeof value !== 'string') return void reasons.push(`statustime: expected a string, got ${kind(value)}`);
  const fault = statustimeFault(value);
  if (fault === 'shape') reasons.push(`statustime: ${show(value)} is not YYYY-MM-DD HH:MM:SS[.fraction]`);
  else if (fault === 'calendar') reasons.push(`statustime: ${show(value)} is not a real calendar time`);
}

function checkFieldservice(value: unknown, reasons: string[]): void {
  if (value !== undefined && value !== null && value !== 0 && value !== 1) {
    reasons.push(`fieldservice: ${show(value)} is not 0/1, true/false or absent`);
  }
}

// Reused by every call (validation is synchronous); saves an allocation per ride.
const scratch = new FieldSlots();
const scratchReasons: string[] = [];

/** Checks the fields in `f`, pushing one reason per failure. */
function checkFields(f: FieldSlots, reasons: string[]): void {
  if (checkNumber('distance', f.distance, reasons) && f.distance < 0) reasons.push(`distance: ${show(f.distance)} is negative`);
  checkCount('healthpoints', f.healthpoints, reasons);
  checkRange('latitude', f.latitude, -90, 90, reasons);
  checkRange('longitude', f.longitude, -180, 180, reasons);
  checkCount('magicpoints', f.magicpoints, reasons);
  checkName(f.name, reasons);
  checkStatustime(f.statustime, reasons);
  checkFieldservice(f.fieldservice, reasons);
}

/**
 * Normalises a parsed record (see {@link normaliseRecord}) and checks every field, listing every
 * failure: name a non-blank string of at most 256 UTF-16 units; statustime
 * `YYYY-MM-DD HH:MM:SS[.fraction]` naming a real time (kept as given); latitude in [-90, 90];
 * longitude in [-180, 180]; distance ≥ 0; healthpoints and magicpoints integers ≥ 0; all numbers
 * finite; fieldservice absent, null (= absent) or 0/1. `-0` becomes `0`. A {@link SkippedRecord}
 * (oversize or too deep) is rejected with its own reason.
 *
 * @example
 * validateRide({ Name: 'Shadowfax', StatusTime: '2018-05-07 20:11:04.247', Latitude: 91, Longitude: -73.9,
 *                Distance: '29.2', HealthPoints: 217, MagicPoints: 112 });
 * // { ok: false, reasons: ['latitude: 91 is outside [-90, 90]'] }
 */
export function validateRide(record: unknown): ValidationResult {
  const canonical = acceptRide(record);
  if (canonical !== undefined) return { ok: true, ride: canonical, dropped: [] };
  if (record instanceof SkippedRecord) return { ok: false, reasons: [record.reason] };
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { ok: false, reasons: [`record: expected a JSON object, got ${kind(record)}`] };
  }
  const f = scratch.reset();
  const dropped = readFields(record, f);
  const reasons: string[] = [];
  checkFields(f, reasons);
  if (reasons.length > 0) return { ok: false, reasons };
  // `+ 0` turns -0 into 0, so CSV and JSON agree on the value.
  const ride: Ride = {
    distance: (f.distance as number) + 0,
    healthpoints: (f.healthpoints as number) + 0,
    latitude: (f.latitude as number) + 0,
    longitude: (f.longitude as number) + 0,
    magicpoints: (f.magicpoints as number) + 0,
    name: f.name as string,
    statustime: f.statustime as string,
  };
  if (f.fieldservice === 0 || f.fieldservice === 1) ride.fieldservice = f.fieldservice;
  return { ok: true, ride, dropped };
}

/** The `dropped` of a record the parser checked: none, one shared frozen array (not one per ride). */
const NONE_DROPPED: readonly string[] = Object.freeze([]);

/**
 * validateRide's answer for a record from parseRides, without checking again what the parser
 * has already checked ({@link RawRecord.checked}: rides read in the common shape were checked
 * while their bytes were read, from the values in hand).
 *
 * @example
 * for await (const raw of parseRides(stream)) {
 *   const result = validateRecord(raw);
 *   if (result.ok) chunker.push(raw.index, result.ride);
 * }
 */
export function validateRecord(raw: RawRecord): ValidationResult {
  return raw.checked === true ? { ok: true, ride: raw.record as Ride, dropped: NONE_DROPPED } : validateRide(raw.record);
}

/** A count as checkCount accepts it: an integer in [0, 2^53 - 1]. */
function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;
}

/**
 * The common case of acceptRide, decided without a reason list or a slot object: the fields
 * read once into locals (not into FieldSlots' untyped fields, which box every double), a name of
 * printable ASCII that is not all spaces, keys in order, nothing to change (no -0). False sends
 * the record through the full checks, which decide it.
 */
function isPlainRide(r: Record<string, unknown>): boolean {
  const { distance, healthpoints, latitude, longitude, magicpoints, name, statustime, fieldservice } = r;
  if (typeof distance !== 'number' || !(distance > 0 && distance <= Number.MAX_VALUE)) return false;
  if (!isCount(healthpoints) || healthpoints === 0) return false;
  if (typeof latitude !== 'number' || !(latitude >= -90 && latitude <= 90) || latitude === 0) return false;
  if (typeof longitude !== 'number' || !(longitude >= -180 && longitude <= 180) || longitude === 0) return false;
  if (!isCount(magicpoints) || magicpoints === 0) return false;
  if (fieldservice !== undefined && fieldservice !== 0 && fieldservice !== 1) return false;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  let visible = false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
    if (c !== 0x20) visible = true;
  }
  if (!visible || typeof statustime !== 'string' || statustimeFault(statustime) !== undefined) return false;
  let k = 0;
  for (const key in r) if (key !== RIDE_FIELDS[k++]) return false;
  return k === (fieldservice === undefined ? 7 : 8);
}

/**
 * The record itself, checked in place, when it already has the shape validateRide returns
 * (a plain object with exactly the lower-case fields in CSV column order, numbers as numbers,
 * fieldservice 0/1 or absent) and passes every rule of validateRide (`-0` is set to `0`);
 * otherwise undefined, and validateRide gives the normalised ride or the reasons. validateRide
 * tries it first, and decoding a message uses it: files written in that shape and message rides
 * need no copy, which was most of the cost of validating them.
 *
 * @example
 * const ride = acceptRide(parsed) ?? validateRide(parsed);
 */
export function acceptRide(record: unknown): Ride | undefined {
  if (typeof record !== 'object' || record === null || Object.getPrototypeOf(record) !== Object.prototype) return undefined;
  const r = record as Record<string, unknown>;
  if (isPlainRide(r)) return r as unknown as Ride;
  // A cheap screen first: records spelled otherwise (`Latitude`, numeric strings) go straight to validateRide.
  if (typeof r.distance !== 'number' || typeof r.latitude !== 'number' || typeof r.longitude !== 'number' || typeof r.name !== 'string' || typeof r.statustime !== 'string') {
    return undefined;
  }
  const f = scratch;
  f.distance = r.distance;
  f.healthpoints = r.healthpoints;
  f.latitude = r.latitude;
  f.longitude = r.longitude;
  f.magicpoints = r.magicpoints;
  f.name = r.name;
  f.statustime = r.statustime;
  f.fieldservice = r.fieldservice;
  if (f.fieldservice !== undefined && f.fieldservice !== 0 && f.fieldservice !== 1) return undefined;
  const reasons = scratchReasons;
  checkFields(f, reasons);
  if (reasons.length > 0) {
    reasons.length = 0;
    return undefined;
  }
  // Own keys in order, without Object.keys' array (for-in: the prototype is Object.prototype, which has no enumerable keys).
  let k = 0;
  for (const key in r) if (key !== RIDE_FIELDS[k++]) return undefined;
  if (k !== (f.fieldservice === undefined ? 7 : 8)) return undefined;
  if (r.distance === 0) r.distance = 0;
  if (r.healthpoints === 0) r.healthpoints = 0;
  if (r.latitude === 0) r.latitude = 0;
  if (r.longitude === 0) r.longitude = 0;
  if (r.magicpoints === 0) r.magicpoints = 0;
  return r as unknown as Ride;
}
