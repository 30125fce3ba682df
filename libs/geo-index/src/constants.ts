/** Mean Earth radius used for every distance in this package, in km. */
export const EARTH_RADIUS_KM = 6371;

/** GHCN's marker for an unknown elevation, in metres. */
export const MISSING_ELEVATION = -999.9;
