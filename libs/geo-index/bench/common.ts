import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStations, type Station } from '../src/index';

/** The real 111k-point catalogue, read in place from ../shared/data (never copied into the repo). */
export const REAL_CATALOGUE = join(__dirname, '..', '..', '..', '..', 'shared', 'data', 'stations-us-111k.csv');

/** Loads the real catalogue when present, else `undefined` (the scripts then skip those runs). */
export function loadRealCatalogue(): Station[] | undefined {
  if (!existsSync(REAL_CATALOGUE)) return undefined;
  return parseStations(readFileSync(REAL_CATALOGUE), { source: REAL_CATALOGUE });
}

/** New York City area used by the rides: lat 40.6–41.1, lon −74.1 to −73.6. */
export const NYC = [40.6, 41.1, -74.1, -73.6] as const;

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
