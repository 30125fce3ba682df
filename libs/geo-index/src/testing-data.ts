/*
 * Seeded random positions, catalogue and query mixes shared by the property tests (tests/station-index.spec.ts) and
 * the exactness run (bench/exactness.ts): the places where great-circle order and lon/lat order
 * part ways (±180°, poles, high latitudes), dense cities, and exact ties.
 */
import type { Station } from './types';

// Module-scope aliases: inside Jest's vm context a global lookup (`Math`) goes through the context object, far slower than a local.
const { asin, floor, imul, max } = Math;

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

/** Builds a catalogue of about `n` stations from a seeded generator. */
export type CatalogueMaker = (random: () => number, n: number) => Station[];
/** Draws one query position, possibly from the catalogue itself. */
export type QueryMaker = (random: () => number, stations: readonly Station[]) => LatLon;

/**
 * Catalogue shapes: uniform, clustered, duplicated coordinates (ids shuffled so the winner is not
 * the first loaded), and stations exactly on ±180° and the poles.
 *
 * @example
 * ```ts
 * const stations = CATALOGUE_MIXES.clustered(seededRandom(1), 2000);
 * ```
 */
export const CATALOGUE_MIXES: Record<'uniform' | 'clustered' | 'duplicated' | 'antimeridianAndPoles' | 'tiny', CatalogueMaker> = {
  uniform: (random, n) => makeStations(n, () => uniformOnSphere(random)),
  clustered: (random, n) =>
    makeStations(n, (i) => {
      const pick = i % 10;
      if (pick < 5) return inBox(random, 40.6, 41.1, -74.1, -73.6);
      if (pick === 5) return inBox(random, -18.5, -16, 177, 180);
      if (pick === 6) return inBox(random, 64, 68, -180, -177);
      if (pick === 7) return inBox(random, 84, 90, -180, 180);
      if (pick === 8) return inBox(random, -90, -82, -180, 180);
      return uniformOnSphere(random);
    }),
  duplicated: (random, n) => {
    const positions = Array.from({ length: max(1, floor(n / 8)) }, (_, i) =>
      i % 5 === 0 ? inBox(random, 40.6, 41.1, -74.1, -73.6) : i % 5 === 1 ? { lat: i % 2 ? 90 : -90, lon: random() * 360 - 180 } : uniformOnSphere(random),
    );
    return shuffle(makeStations(n, () => positions[floor(random() * positions.length)]), random);
  },
  antimeridianAndPoles: (random, n) =>
    makeStations(n, (i) => {
      if (i % 3 === 0) return { lat: random() * 170 - 85, lon: i % 2 ? 180 : -180 };
      if (i % 3 === 1) return { lat: i % 2 ? 90 : -90, lon: random() * 360 - 180 };
      return inBox(random, -89, 89, 179, 180);
    }),
  /** Tiny catalogues (1–11 stations): odd sizes in New York, even sizes spread over the globe. */
  tiny: (random, n) => makeStations(n, () => (n % 2 ? inBox(random, 40.6, 41.1, -74.1, -73.6) : uniformOnSphere(random))),
};

/**
 * Query shapes: uniform on the sphere (by area), a New York cluster, strips along ±180°, the
 * polar caps with the poles themselves, and positions exactly on stations.
 *
 * @example
 * ```ts
 * const q = QUERY_MIXES.polarCaps(seededRandom(2), stations);
 * ```
 */
export const QUERY_MIXES: Record<'uniform' | 'newYork' | 'antimeridianStrips' | 'polarCaps' | 'onStations', QueryMaker> = {
  uniform: (random) => uniformOnSphere(random),
  newYork: (random) => inBox(random, 40.6, 41.1, -74.1, -73.6),
  antimeridianStrips: (random) => (random() < 0.5 ? inBox(random, -80, 80, 179.5, 180) : inBox(random, -80, 80, -180, -179.5)),
  polarCaps: (random) => {
    if (random() < 0.1) return { lat: random() < 0.5 ? 90 : -90, lon: random() * 360 - 180 };
    return random() < 0.5 ? inBox(random, 80, 90, -180, 180) : inBox(random, -90, -80, -180, 180);
  },
  onStations: (random, stations) => {
    const s = stations[floor(random() * stations.length)];
    return { lat: s.latitude, lon: s.longitude };
  },
};

/**
 * Fisher–Yates shuffle in place with a seeded generator.
 *
 * @example
 * ```ts
 * shuffle([1, 2, 3], seededRandom(4));
 * ```
 */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
