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

function slice(text: string, [, start, end]: Column): string {
  return text.slice(start, end);
}
