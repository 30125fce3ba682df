/** A weather station; ids are NOAA GHCN-Daily ids such as `USW00094728`. */
export interface Station {
  id: string;
  /** Degrees, [-90, 90]. */
  latitude: number;
  /** Degrees, [-180, 180]. */
  longitude: number;
  /** Metres; absent when unknown (GHCN −999.9). */
  elevation?: number;
  name?: string;
}

export type CatalogueFormat = 'ghcn' | 'csv' | 'json';

export interface Neighbour {
  station: Station;
  /** Great-circle (haversine) distance, R = 6371 km. */
  distanceKm: number;
}
