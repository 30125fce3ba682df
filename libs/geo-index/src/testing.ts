/*
 * Test helpers for geo-index and its callers (`@rydes/geo-index/testing`); never shipped in the
 * index. The oracles scan every station with the same `haversineKm` the index reports and sort by
 * (distance, id), which is the contract the index must meet exactly.
 */
import { haversineKm } from './haversine';
import type { Neighbour, Station } from './types';


/**
 * Nearest station by a full haversine scan; the smallest id wins a tie. O(n) per query.
 *
 * @example
 * ```ts
 * expect(index.nearest(lat, lon)).toEqual(bruteForceNearest(DEFAULT_STATIONS, lat, lon));
 * ```
 */
export function bruteForceNearest(stations: readonly Station[], lat: number, lon: number): Neighbour {
  if (stations.length === 0) throw new Error('bruteForceNearest needs at least one station');
  let best = stations[0];
  let bestKm = haversineKm(lat, lon, best.latitude, best.longitude);
  for (let i = 1; i < stations.length; i++) {
    const station = stations[i];
    const km = haversineKm(lat, lon, station.latitude, station.longitude);
    if (km < bestKm || (km === bestKm && station.id < best.id)) {
      best = station;
      bestKm = km;
    }
  }
  return { station: best, distanceKm: bestKm };
}

/**
 * The k nearest stations within `maxDistanceKm` by a full scan, sorted by (distance, id).
 *
 * @example
 * ```ts
 * expect(ids(index.kNearest(lat, lon, 5))).toEqual(ids(bruteForceKNearest(stations, lat, lon, 5)));
 * ```
 */
export function bruteForceKNearest(stations: readonly Station[], lat: number, lon: number, k: number, maxDistanceKm = Infinity): Neighbour[] {
  return stations
    .map((station) => ({ station, distanceKm: haversineKm(lat, lon, station.latitude, station.longitude) }))
    .filter((n) => n.distanceKm <= maxDistanceKm)
    .sort((a, b) => a.distanceKm - b.distanceKm || (a.station.id < b.station.id ? -1 : a.station.id > b.station.id ? 1 : 0))
    .slice(0, k);
}

export * from './testing-data';

/**
 * Nearest station among those whose inventory lines cover every required element in `year`, by
 * a full scan; `undefined` when none does. The oracle for `StationLookup`.
 *
 * @example
 * ```ts
 * expect(lookup.nearest(lat, lon, 2018)).toEqual(bruteForceNearestIn(stations, inventory, ['TMIN', 'TMAX', 'PRCP'], 2018, lat, lon));
 * ```
 */
export function bruteForceNearestIn(
  stations: readonly Station[],
  inventory: ReadonlyArray<{ id: string; element: string; firstYear: number; lastYear: number }>,
  required: readonly string[],
  year: number,
  lat: number,
  lon: number,
): Neighbour | undefined {
  const byId = new Map<string, typeof inventory[number][]>();
  for (const e of inventory) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
  const candidates = stations.filter((s) =>
    required.every((element) => (byId.get(s.id) ?? []).some((e) => e.element === element && e.firstYear <= year && year <= e.lastYear)),
  );
  return candidates.length === 0 ? undefined : bruteForceNearest(candidates, lat, lon);
}
export * from './testing-inventory';
