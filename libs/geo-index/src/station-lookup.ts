import { InvalidCatalogueError, InvalidQueryError } from './errors';
import type { InventoryEntry } from './inventory';
import { StationIndex, type StationIndexOptions } from './station-index';
import type { Neighbour, Station } from './types';

/** The elements a station must report when an inventory is given and no list is named. */
export const DEFAULT_REQUIRED_ELEMENTS: readonly string[] = ['TMIN', 'TMAX', 'PRCP'];

/** Options of {@link StationLookup}. */
export interface StationLookupOptions {
  /** Who reports what, when. Without it every station is a candidate in every year (the plain index). */
  inventory?: readonly InventoryEntry[];
  /** Elements a station must report in the ride's year; default {@link DEFAULT_REQUIRED_ELEMENTS}. */
  requiredElements?: readonly string[];
  /** Per-year indexes kept at once (least recently used dropped first); default 16. */
  maxCachedYears?: number;
  indexOptions?: StationIndexOptions;
}

/** What {@link StationLookup} has done so far, for logs and benches. */
export interface StationLookupStats {
  /** Per-year indexes built (a year rebuilt after eviction counts again). */
  indexesBuilt: number;
  /** Milliseconds spent filtering and building them. */
  buildMs: number;
  /** Candidate stations per year built, e.g. `{ 2018: 4210 }`; 0 = no station covers that year. */
  candidates: Record<number, number>;
}

/**
 * Nearest station for a ride, aware of which stations report the weather the training set needs
 * in the ride's year. Without an inventory it is {@link StationIndex} (the year is ignored). With
 * one, the candidates of year Y are the catalogue's stations whose inventory covers every
 * required element in Y (a station listed for TMIN 1990–2010 and TMAX/PRCP 1990–2024 is no
 * candidate in 2015); the answer is the nearest candidate by great-circle distance, ties to the
 * smallest id, exactly as the plain index. One {@link StationIndex} per year, built on first use:
 * rides span few years, and a year's filter and build cost well under a second for 111k stations
 * (`nx run geo-index:bench`). A year no station covers answers `undefined`.
 *
 * @example
 * ```ts
 * const lookup = new StationLookup(stations, { inventory: parseInventory(text) });
 * lookup.nearest(40.78, -73.97, '2018-05-07 20:11:04.247'); // { station, distanceKm } or undefined
 * ```
 */
export class StationLookup {
  /** Stations in the catalogue. */
  readonly size: number;
  /** The required elements, or `[]` without an inventory. */
  readonly requiredElements: readonly string[];
  readonly stats: StationLookupStats = { indexesBuilt: 0, buildMs: 0, candidates: {} };

  private readonly stations: readonly Station[];
  private readonly plain?: StationIndex;
  /**
   * The inventory lines that matter (a catalogue station, a required element), as parallel typed
   * arrays: catalogue position, element bit, first and last year. Compact (9 bytes a line) and
   * scanned once per year built.
   */
  private readonly entries?: { station: Int32Array; bit: Uint32Array; first: Int16Array; last: Int16Array };
  private readonly allBits: number = 0;
  private readonly years = new Map<number, StationIndex | null>();
  private readonly maxCachedYears: number;
  private readonly indexOptions?: StationIndexOptions;

  /**
   * Throws {@link InvalidCatalogueError} (from {@link StationIndex}) for an empty or invalid
   * catalogue, and a RangeError for more than 32 required elements. Inventory lines of stations
   * missing from the catalogue are ignored.
   *
   * @example
   * ```ts
   * const plain = new StationLookup(DEFAULT_STATIONS); // same answers as new StationIndex(DEFAULT_STATIONS)
   * ```
   */
  constructor(stations: readonly Station[], options: StationLookupOptions = {}) {
    this.stations = stations;
    this.size = stations.length;
    this.maxCachedYears = Math.max(1, options.maxCachedYears ?? 16);
    this.indexOptions = options.indexOptions;
    if (!options.inventory) {
      this.requiredElements = [];
      this.plain = new StationIndex(stations, options.indexOptions);
      return;
    }
    if (stations.length === 0) throw new InvalidCatalogueError('the station catalogue is empty; give at least one station');
    const required = [...new Set(options.requiredElements ?? DEFAULT_REQUIRED_ELEMENTS)];
    if (required.length > 32) throw new RangeError(`at most 32 required elements, got ${required.length}`);
    this.requiredElements = required;
    this.allBits = required.length === 32 ? 0xffffffff : (1 << required.length) - 1;
    const bitOf = new Map(required.map((element, i) => [element, (1 << i) >>> 0]));
    const position = new Map<string, number>();
    for (let i = 0; i < stations.length; i++) position.set(stations[i].id, i);
    const kept: number[] = [];
    const inventory = options.inventory;
    for (let i = 0; i < inventory.length; i++) {
      if (bitOf.has(inventory[i].element) && position.has(inventory[i].id)) kept.push(i);
    }
    const station = new Int32Array(kept.length);
    const bit = new Uint32Array(kept.length);
    const first = new Int16Array(kept.length);
    const last = new Int16Array(kept.length);
    kept.forEach((k, j) => {
      const entry = inventory[k];
      station[j] = position.get(entry.id) as number;
      bit[j] = bitOf.get(entry.element) as number;
      first[j] = entry.firstYear;
      last[j] = entry.lastYear;
    });
    this.entries = { station, bit, first, last };
  }

  /** True when built with an inventory (answers may be `undefined`). */
  get elementAware(): boolean {
    return this.plain === undefined;
  }

  /**
   * The nearest station to (lat, lon) in degrees that reports every required element in the
   * ride's year; `when` is the ride's `statustime` (`YYYY-…`) or the year itself. `undefined`
   * when no station covers that year. Throws {@link InvalidQueryError} for a bad position or a
   * `when` without a 4-digit year.
   *
   * @example
   * ```ts
   * lookup.nearest(40.7812, -73.9665, 2018)?.station.id;
   * ```
   */
  nearest(lat: number, lon: number, when: string | number): Neighbour | undefined {
    if (this.plain) return this.plain.nearest(lat, lon);
    const index = this.candidatesIndex(lat, lon, when);
    return index === null ? undefined : index.nearest(lat, lon);
  }

  /**
   * {@link nearest}, the answer written into `out` (and returned) instead of a new object:
   * `undefined` (and `out` untouched) when no station covers the year. For a caller that asks
   * once per ride and reads the answer before asking again (transform-fn, per ride).
   *
   * @example
   * ```ts
   * const match = { station: DEFAULT_STATIONS[0], distanceKm: 0 };
   * lookup.nearestInto(40.7812, -73.9665, 2018, match)?.station.id;
   * ```
   */
  nearestInto(lat: number, lon: number, when: string | number, out: Neighbour): Neighbour | undefined {
    if (this.plain) return this.plain.nearestInto(lat, lon, out);
    const index = this.candidatesIndex(lat, lon, when);
    return index === null ? undefined : index.nearestInto(lat, lon, out);
  }

  /** The index of `when`'s year; null, once the position is checked as a query would check it, when no station covers it. */
  private candidatesIndex(lat: number, lon: number, when: string | number): StationIndex | null {
    const index = this.indexFor(yearOf(when));
    if (index === null) {
      // Same validation as a query that reaches an index.
      if (!(lat >= -90 && lat <= 90)) throw new InvalidQueryError('latitude', lat, 'degrees in [-90, 90]');
      if (!(lon >= -180 && lon <= 180)) throw new InvalidQueryError('longitude', lon, 'degrees in [-180, 180]');
    }
    return index;
  }

  /**
   * The stations that are candidates in `year` (all of them without an inventory), in catalogue
   * order.
   *
   * @example
   * ```ts
   * lookup.candidatesIn(2018).length; // stations reporting TMIN, TMAX and PRCP in 2018
   * ```
   */
  candidatesIn(year: number): Station[] {
    const entries = this.entries;
    if (!entries) return [...this.stations];
    // One bit per required element a station reports in `year`; candidates have them all.
    const seen = new Uint32Array(this.stations.length);
    const { station, bit, first, last } = entries;
    for (let j = 0; j < station.length; j++) {
      if (first[j] <= year && year <= last[j]) seen[station[j]] |= bit[j];
    }
    const out: Station[] = [];
    for (let i = 0; i < seen.length; i++) if (seen[i] === this.allBits) out.push(this.stations[i]);
    return out;
  }

  private indexFor(year: number): StationIndex | null {
    const cached = this.years.get(year);
    if (cached !== undefined) {
      // Map order is insertion order: re-inserting marks the year most recently used.
      this.years.delete(year);
      this.years.set(year, cached);
      return cached;
    }
    const started = performance.now();
    const candidates = this.candidatesIn(year);
    const index = candidates.length === 0 ? null : new StationIndex(candidates, this.indexOptions);
    this.stats.indexesBuilt++;
    this.stats.buildMs += performance.now() - started;
    this.stats.candidates[year] = candidates.length;
    if (this.years.size >= this.maxCachedYears) this.years.delete(this.years.keys().next().value as number);
    this.years.set(year, index);
    return index;
  }
}

/**
 * The year of a ride: a number as is, or the leading `YYYY` of a `statustime`. Throws
 * {@link InvalidQueryError} otherwise.
 *
 * @example
 * ```ts
 * yearOf('2018-05-07 20:11:04.247'); // 2018
 * ```
 */
export function yearOf(when: string | number): number {
  if (typeof when === 'number') {
    if (Number.isInteger(when)) return when;
  } else if (when.length >= 4) {
    const c0 = when.charCodeAt(0) - 48;
    const c1 = when.charCodeAt(1) - 48;
    const c2 = when.charCodeAt(2) - 48;
    const c3 = when.charCodeAt(3) - 48;
    if (c0 >= 0 && c0 <= 9 && c1 >= 0 && c1 <= 9 && c2 >= 0 && c2 <= 9 && c3 >= 0 && c3 <= 9 && !/^\d/.test(when.slice(4, 5))) {
      return c0 * 1000 + c1 * 100 + c2 * 10 + c3;
    }
  }
  throw new InvalidQueryError('year', when, 'a whole year or a statustime starting with a 4-digit year (YYYY-MM-DD …)');
}

