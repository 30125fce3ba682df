import type { Station } from './types';

const NAMED: Readonly<Record<string, string>> = {
  USW00094728: 'NEW YORK CNTRL PK TWR',
  USW00014732: 'NEW YORK LAGUARDIA AP',
  USW00094789: 'NEW YORK JFK INTL AP',
  USW00093732: 'NEW YORK SHOALS AFS',
  US1NYNY0074: 'NEW YORK 8.8 N',
};

// id, latitude °, longitude °, elevation m — the workshop's GHCN-Daily stations around New York.
const ROWS: ReadonlyArray<readonly [string, number, number, number]> = [
  ['US1NYNY0074', 40.7969, -73.933, 6.1],
  ['USC00305798', 40.6, -73.9667, 6.1],
  ['USC00305799', 40.8667, -73.8833, 27.1],
  ['USC00305804', 40.7333, -73.9333, 3.0],
  ['USC00305806', 40.85, -73.9167, 54.9],
  ['USC00305816', 40.7, -74.0167, 3.0],
  ['USW00014732', 40.7794, -73.8803, 3.4],
  ['USW00014786', 40.5833, -73.8833, 4.9],
  ['USW00093732', 39.8, -72.6667, 25.9],
  ['USW00094728', 40.7789, -73.9692, 39.6],
  ['USW00094789', 40.6386, -73.7622, 3.4],
];

/**
 * The 11 GHCN-Daily stations around New York City used when no catalogue is configured
 * (`STATIONS_URI` unset), with elevations in metres and the names GHCN gives the five known ones.
 * Sorted by id; the array and every station are frozen.
 *
 * @example
 * ```ts
 * const index = new StationIndex(DEFAULT_STATIONS);
 * index.nearest(40.7812, -73.9665).station.id; // 'USW00094728' (Central Park)
 * ```
 */
export const DEFAULT_STATIONS: readonly Station[] = Object.freeze(
  ROWS.map(([id, latitude, longitude, elevation]) => {
    const name = NAMED[id];
    const station: Station = name === undefined ? { id, latitude, longitude, elevation } : { id, latitude, longitude, elevation, name };
    return Object.freeze(station);
  }),
);
