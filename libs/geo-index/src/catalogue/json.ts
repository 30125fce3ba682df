import { MalformedCatalogueError } from '../errors';
import type { Station } from '../types';
import { makeStation, optionalElevation, optionalName, requiredId, requiredNumber, StationCollector } from './fields';

/** Parses a JSON array of `{ id, latitude, longitude, elevation?, name? }`; errors name the element index. */
export function parseJsonCatalogue(text: string, source: string): Station[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new MalformedCatalogueError({ source }, `not valid JSON (${(err as Error).message}); expected an array of stations`, { cause: err });
  }
  if (!Array.isArray(data)) {
    throw new MalformedCatalogueError({ source }, `JSON catalogue is ${typeof data === 'object' ? (data === null ? 'null' : 'an object') : typeof data}; expected an array of { id, latitude, longitude, elevation?, name? }`);
  }
  const collector = new StationCollector();
  data.forEach((item: unknown, element) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new MalformedCatalogueError({ source, element }, `expected an object { id, latitude, longitude, elevation?, name? }, got ${JSON.stringify(item)}`);
    }
    const record = item as Record<string, unknown>;
    const where = { source, element };
    const station = makeStation(
      requiredId(where, 'id', record.id),
      requiredNumber(where, 'latitude', record.latitude, -90, 90, 'degrees'),
      requiredNumber(where, 'longitude', record.longitude, -180, 180, 'degrees'),
      optionalElevation(where, 'elevation', record.elevation),
      optionalName(where, 'name', record.name),
    );
    collector.add(station, where);
  });
  return collector.stations;
}
