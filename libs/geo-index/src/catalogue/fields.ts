import { MISSING_ELEVATION } from '../constants';
import { DuplicateStationIdError, InvalidStationFieldError, type CataloguePlace } from '../errors';
import type { Station } from '../types';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a required number in [min, max] from a number or a numeric string (blanks around it are allowed). */
export function requiredNumber(where: CataloguePlace, field: string, raw: unknown, min: number, max: number, unit: string): number {
  const value = toNumber(raw);
  if (value === undefined || value < min || value > max) {
    throw new InvalidStationFieldError({ ...where, field }, raw, `${unit} in [${min}, ${max}]`);
  }
  return value;
}

/** Parses an optional elevation in metres; blank, null and GHCN's −999.9 mean unknown. */
export function optionalElevation(where: CataloguePlace, field: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return undefined;
  const value = toNumber(raw);
  if (value === MISSING_ELEVATION) return undefined;
  // Lowest land is −430 m (Dead Sea shore), highest 8849 m; anything else is a misread column.
  if (value === undefined || value < -1000 || value > 9000) {
    throw new InvalidStationFieldError({ ...where, field }, raw, 'metres in [-1000, 9000], blank or -999.9 when unknown');
  }
  return value;
}

/** A required id: non-empty after trimming, no inner blanks. */
export function requiredId(where: CataloguePlace, field: string, raw: unknown): string {
  const id = typeof raw === 'string' ? raw.trim() : raw;
  if (typeof id !== 'string' || id === '' || /\s/.test(id)) {
    throw new InvalidStationFieldError({ ...where, field }, raw, 'a station id without blanks, e.g. USW00094728');
  }
  return id;
}

/** An optional name: trimmed, absent when blank. */
export function optionalName(where: CataloguePlace, field: string, raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw new InvalidStationFieldError({ ...where, field }, raw, 'a string or nothing');
  const name = raw.trim();
  return name === '' ? undefined : name;
}

/** Builds a station without `undefined`-valued optional keys (they would show up in JSON and equality checks). */
export function makeStation(id: string, latitude: number, longitude: number, elevation: number | undefined, name: string | undefined): Station {
  const station: Station = { id, latitude, longitude };
  if (elevation !== undefined) station.elevation = elevation;
  if (name !== undefined) station.name = name;
  return station;
}

/** Collects stations in order and rejects a repeated id, naming both places. */
export class StationCollector {
  readonly stations: Station[] = [];
  /** id → its line (GHCN, CSV) or element index (JSON). */
  private readonly seen = new Map<string, number>();

  add(station: Station, where: CataloguePlace): void {
    const first = this.seen.get(station.id);
    if (first !== undefined) {
      const firstPlace = where.line !== undefined ? { source: where.source, line: first } : { source: where.source, element: first };
      throw new DuplicateStationIdError({ ...where, field: 'id' }, station.id, firstPlace);
    }
    this.seen.set(station.id, where.line ?? where.element ?? -1);
    this.stations.push(station);
  }
}

function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  return NUMBER.test(text) ? Number(text) : undefined;
}
