import * as constants from './constants';

// Module-scope aliases: inside Jest's vm context a global lookup (`Math`) goes through the context object, far slower than a local.
const { sin, cos, asin, sqrt, min } = Math;
// The same for imports: a module compiled to CommonJS on its own (tsx, Jest) reads an import through
// export getters at every use.
const { EARTH_RADIUS_KM } = constants;

const RAD = Math.PI / 180;

/**
 * Great-circle distance in km between two points given in degrees, by the haversine formula on a
 * sphere of radius {@link EARTH_RADIUS_KM} (6371 km). Symmetric bit for bit, so
 * `haversineKm(a, b) === haversineKm(b, a)`; every distance this package reports comes from it.
 *
 * @example
 * ```ts
 * haversineKm(40.7789, -73.9692, 40.6386, -73.7622); // ≈ 23.4 (Central Park → JFK)
 * ```
 */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  return haversineKmWithCos(lat1, lon1, cos(lat1 * RAD), lat2, lon2, cos(lat2 * RAD));
}

/**
 * {@link haversineKm} with the two cosines of latitude already known (`cosLat = cos(lat · π/180)`),
 * for callers that have them; the same arithmetic, so the same result bit for bit. Not exported
 * from the package.
 *
 * @example
 * ```ts
 * haversineKmWithCos(lat1, lon1, Math.cos((lat1 * Math.PI) / 180), lat2, lon2, cosLat2) === haversineKm(lat1, lon1, lat2, lon2);
 * ```
 */
export function haversineKmWithCos(lat1: number, lon1: number, cosLat1: number, lat2: number, lon2: number, cosLat2: number): number {
  const sinDLat = sin(((lat2 - lat1) * RAD) / 2);
  const sinDLon = sin(((lon2 - lon1) * RAD) / 2);
  const a = sinDLat * sinDLat + cosLat1 * cosLat2 * sinDLon * sinDLon;
  // Rounding can push `a` a hair above 1 for antipodal points; asin would return NaN.
  return 2 * EARTH_RADIUS_KM * asin(sqrt(min(1, a)));
}
