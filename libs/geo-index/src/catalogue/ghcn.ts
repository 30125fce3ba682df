import { MISSING_ELEVATION } from '../constants';
import { InvalidStationFieldError } from '../errors';
import type { Station } from '../types';
import { makeStation, optionalElevation, optionalName, requiredId, requiredNumber } from './fields';

// NOAA ghcnd-stations.txt, 1-based inclusive columns → [start, end) string offsets.
const ID: Column = ['ID (columns 1-11)', 0, 11];
const LATITUDE: Column = ['LATITUDE (columns 13-20)', 12, 20];
const LONGITUDE: Column = ['LONGITUDE (columns 22-30)', 21, 30];
const ELEVATION: Column = ['ELEVATION (columns 32-37)', 31, 37];
const NAME: Column = ['NAME (columns 42-71)', 41, 71];

type Column = readonly [field: string, start: number, end: number];

/**
 * Parses one non-blank `ghcnd-stations.txt` line. STATE, GSN, HCN/CRN and WMO columns are not
 * needed for the join and are ignored; trailing blanks may be trimmed away.
 */
export function parseGhcnLine(text: string, source: string, line: number): Station {
  return parseRegularGhcnLine(text) ?? parseAnyGhcnLine(text, source, line);
}

/**
 * The common shape of a line, read by character codes without intermediate strings: an id of 11
 * printable ASCII characters, plain decimals (`-73.9692`) in range. `undefined` for anything else,
 * which {@link parseAnyGhcnLine} then reads (or names the bad field of). The catalogue is parsed
 * in every cold start of the transform, so this path is the one that counts.
 */
function parseRegularGhcnLine(text: string): Station | undefined {
  if (text.length < 30 || text.charCodeAt(11) !== SPACE) return undefined;
  for (let i = 0; i < 11; i++) {
    const c = text.charCodeAt(i);
    if (c <= SPACE || c > 126) return undefined;
  }
  const latitude = plainDecimal(text, 12, 20);
  const longitude = plainDecimal(text, 21, 30);
  if (!(latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180)) return undefined;
  let elevation: number | undefined = plainDecimal(text, 31, 37);
  if (Number.isNaN(elevation)) {
    if (!isBlank(text, 31, 37)) return undefined;
    elevation = undefined;
  } else if (elevation === MISSING_ELEVATION) {
    elevation = undefined;
  } else if (elevation < -1000 || elevation > 9000) {
    return undefined;
  }
  const name = text.length > 41 ? text.slice(41, 71).trim() : '';
  return makeStation(text.slice(0, 11), latitude, longitude, elevation, name === '' ? undefined : name);
}

/** Any line, every field checked with its own message (internal; exported for the spec that holds the fast path to it). */
export function parseAnyGhcnLine(text: string, source: string, line: number): Station {
  const where = { source, line };
  if (text.length > ID[2] && text[ID[2]] !== ' ') {
    throw new InvalidStationFieldError({ ...where, field: ID[0] }, text.slice(0, 20), 'an 11-character id followed by a blank in column 12 (is this a GHCN fixed-width line?)');
  }
  const id = requiredId(where, ID[0], slice(text, ID));
  const latitude = requiredNumber(where, LATITUDE[0], slice(text, LATITUDE), -90, 90, 'degrees');
  const longitude = requiredNumber(where, LONGITUDE[0], slice(text, LONGITUDE), -180, 180, 'degrees');
  const elevation = optionalElevation(where, ELEVATION[0], slice(text, ELEVATION));
  const name = optionalName(where, NAME[0], slice(text, NAME));
  return makeStation(id, latitude, longitude, elevation, name);
}

/** True when a line looks like a GHCN station line (used for format detection). */
export function looksLikeGhcn(text: string): boolean {
  return /^[A-Z0-9]{11} +[-+]?\d/.test(text);
}

const SPACE = 32;
const ZERO = 48;
const POWERS_OF_TEN = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * The number in columns [start, end) when it is blanks, an optional sign, digits with at most one
 * point and at least one digit, blanks; NaN otherwise (and for no digits). Equal to `Number()` of
 * the same text: digits/10^k with both exact is correctly rounded, as Number's parse is.
 */
export function plainDecimal(text: string, start: number, end: number): number {
  const stop = Math.min(end, text.length);
  let i = start;
  while (i < stop && text.charCodeAt(i) === SPACE) i++;
  let negative = false;
  const sign = text.charCodeAt(i);
  if (sign === 45 || sign === 43) {
    negative = sign === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let decimals = -1;
  for (; i < stop; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && decimals < 0) decimals = 0;
    else if (c >= ZERO && c <= ZERO + 9) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
      if (decimals >= 0) decimals++;
    } else break;
  }
  if (digits === 0 || digits > 15) return NaN;
  for (; i < stop; i++) if (text.charCodeAt(i) !== SPACE) return NaN;
  const value = decimals > 0 ? mantissa / POWERS_OF_TEN[decimals] : mantissa;
  return negative ? -value : value;
}

function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < Math.min(end, text.length); i++) if (text.charCodeAt(i) !== SPACE) return false;
  return true;
}

function slice(text: string, [, start, end]: Column): string {
  return text.slice(start, end);
}
