export * from './types';
export * from './errors';
export { EARTH_RADIUS_KM } from './constants';
export { haversineKm } from './haversine';
export { DEFAULT_STATIONS } from './default-stations';
export { parseStations, loadStations, detectCatalogueFormat, type CatalogueOptions } from './catalogue';
export { StationIndex, type NearestBatch, type StationIndexOptions } from './station-index';
