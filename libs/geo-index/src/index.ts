export * from './types';
export * from './errors';
export { EARTH_RADIUS_KM } from './constants';
export { haversineKm } from './haversine';
export { DEFAULT_STATIONS } from './default-stations';
export { parseStations, loadStations, detectCatalogueFormat, type CatalogueOptions } from './catalogue';
export { StationIndex, type NearestBatch, type StationIndexOptions } from './station-index';
export { parseInventory, loadInventory, detectInventoryFormat, type InventoryEntry, type InventoryFormat, type InventoryOptions } from './inventory';
export { StationLookup, yearOf, DEFAULT_REQUIRED_ELEMENTS, type StationLookupOptions, type StationLookupStats } from './station-lookup';
