/** Base class of every error thrown by `@rydes/geo-index`. */
export class GeoIndexError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Where a catalogue problem sits: the source name, the 1-based line (JSON: element index) and the field. */
export interface CataloguePlace {
  source: string;
  /** 1-based line number (GHCN, CSV). */
  line?: number;
  /** 0-based array element index (JSON, whose parser keeps no line numbers). */
  element?: number;
  field?: string;
}

/** Any problem reading a station catalogue; `source`, `line`/`element` and `field` locate it. */
export class CatalogueError extends GeoIndexError {
  readonly source: string;
  readonly line?: number;
  readonly element?: number;
  readonly field?: string;

  constructor(place: CataloguePlace, problem: string, options?: { cause?: unknown }) {
    super(`${describePlace(place)}: ${problem}`, options);
    this.source = place.source;
    this.line = place.line;
    this.element = place.element;
    this.field = place.field;
  }
}

/** The catalogue's format could not be recognised from its content. */
export class UnknownCatalogueFormatError extends CatalogueError {
  constructor(source: string, firstLine: string) {
    super(
      { source, line: 1 },
      `cannot tell the catalogue format from the first line ${JSON.stringify(firstLine.slice(0, 60))}; ` +
        `expected a GHCN ghcnd-stations.txt line (an 11-character id then coordinates), ` +
        `a CSV header "id,latitude,longitude[,elevation][,name]" or a JSON array; ` +
        `or name the format with { format: 'ghcn' | 'csv' | 'json' }`,
    );
  }
}

/** One field of one record is missing, not a number or out of range. */
export class InvalidStationFieldError extends CatalogueError {
  constructor(
    place: CataloguePlace & { field: string },
    readonly value: unknown,
    expected: string,
  ) {
    super(place, `value ${formatValue(value)}, expected ${expected}; fix or remove this station`);
  }
}

/** The whole catalogue is malformed (bad header, not JSON, not an array). */
export class MalformedCatalogueError extends CatalogueError {}

/** Two records share one station id; the nearest-station tie rule needs unique ids. */
export class DuplicateStationIdError extends CatalogueError {
  constructor(
    place: CataloguePlace,
    readonly id: string,
    readonly firstPlace: CataloguePlace,
  ) {
    super(
      place,
      `station id ${JSON.stringify(id)} appears twice, first at ${describeLocation(firstPlace)} and again here; ` +
        `keep one of the two records`,
    );
  }
}

/** `StationIndex` was given no stations, or a station it cannot index. */
export class InvalidCatalogueError extends GeoIndexError {}

/** A query argument out of range: a position that is not a finite number in range, a bad k, a batch of mismatched lengths. */
export class InvalidQueryError extends GeoIndexError {
  constructor(
    /** The argument: `latitude`, `k`, `maxDistanceKm`, or in a batch e.g. `latitudes[3]`. */
    readonly field: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`query ${field} is ${formatValue(value)}, expected ${expected}`);
  }
}

function describePlace(place: CataloguePlace): string {
  const field = place.field === undefined ? '' : ` field ${place.field}`;
  return `${place.source} ${describeLocation(place)}${field}`;
}

function describeLocation(place: CataloguePlace): string {
  if (place.line !== undefined) return `line ${place.line}`;
  if (place.element !== undefined) return `element [${place.element}]`;
  return '(whole catalogue)';
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value.trim() === '' ? 'empty' : JSON.stringify(value.trim());
  if (value === undefined) return 'missing';
  return String(value);
}

/**
 * A problem in a GHCN inventory (`ghcnd-inventory.txt` or CSV `id,element,firstyear,lastyear`):
 * `source`, `line` and `field` locate it, as for catalogues.
 */
export class InventoryError extends CatalogueError {}
