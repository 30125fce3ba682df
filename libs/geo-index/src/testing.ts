/*
 * Test helpers for geo-index and its callers (`@rydes/geo-index/testing`); never shipped in the
 * index. The oracles scan every station with the same `haversineKm` the index reports and sort by
 * (distance, id), which is the contract the index must meet exactly.
 */
import { haversineKm } from './haversine';
import type { Neighbour, Station } from './types';

// Module-scope aliases: inside Jest's vm context every global lookup (`Math`) is ~50× slower.
const { asin, imul } = Math;

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

/**
 * A seeded uniform generator in [0, 1) (mulberry32), so property tests and benchmarks replay.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * random(); // same sequence on every run
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A position in degrees. */
export interface LatLon {
  lat: number;
  lon: number;
}

/**
 * A point uniform on the sphere (uniform in area, not in lat/lon): latitude = asin(2u − 1).
 *
 * @example
 * ```ts
 * const { lat, lon } = uniformOnSphere(seededRandom(1));
 * ```
 */
export function uniformOnSphere(random: () => number): LatLon {
  const lat = (asin(2 * random() - 1) * 180) / Math.PI;
  const lon = random() * 360 - 180;
  return { lat, lon };
}

/**
 * A point uniform in a lat/lon rectangle (degrees); used for city clusters, ±180° strips and caps.
 *
 * @example
 * ```ts
 * const nyc = inBox(seededRandom(2), 40.6, 41.1, -74.1, -73.6);
 * ```
 */
export function inBox(random: () => number, minLat: number, maxLat: number, minLon: number, maxLon: number): LatLon {
  return { lat: minLat + random() * (maxLat - minLat), lon: minLon + random() * (maxLon - minLon) };
}

/**
 * `n` stations with ids `S000000…` (zero-padded, so id order is creation order) at positions
 * drawn by `place`.
 *
 * @example
 * ```ts
 * const stations = makeStations(1000, () => uniformOnSphere(random));
 * ```
 */
export function makeStations(n: number, place: (i: number) => LatLon, prefix = 'S'): Station[] {
  return Array.from({ length: n }, (_, i) => {
    const { lat, lon } = place(i);
    return { id: `${prefix}${String(i).padStart(6, '0')}`, latitude: lat, longitude: lon };
  });
}
