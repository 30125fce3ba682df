import { MalformedCatalogueError, type CataloguePlace } from '../errors';
import type { Station } from '../types';
import { makeStation, optionalElevation, optionalName, requiredId, requiredNumber } from './fields';

const REQUIRED = ['id', 'latitude', 'longitude'] as const;
const OPTIONAL = ['elevation', 'name'] as const;
type Column = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];

/** Column positions read from a CSV header; `width` is the field count every record must have. */
export interface CsvLayout {
  position: Partial<Record<Column, number>>;
  width: number;
}

/** Reads the header record: `id,latitude,longitude[,elevation][,name]`, any order, any case; other columns are ignored. */
export function readCsvHeader(record: readonly string[], source: string, line: number): CsvLayout {
  const position: Partial<Record<Column, number>> = {};
  record.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if ((REQUIRED as readonly string[]).includes(name) || (OPTIONAL as readonly string[]).includes(name)) {
      position[name as Column] = i;
    }
  });
  const missing = REQUIRED.filter((column) => position[column] === undefined);
  if (missing.length > 0) {
    throw new MalformedCatalogueError(
      { source, line },
      `CSV header ${JSON.stringify(record.join(','))} lacks ${missing.join(', ')}; the first line must be "id,latitude,longitude[,elevation][,name]"`,
    );
  }
  return { position, width: record.length };
}

/** Converts one CSV record (not the header) into a station. */
export function readCsvRecord(record: readonly string[], layout: CsvLayout, source: string, line: number): Station {
  if (record.length !== layout.width) {
    throw new MalformedCatalogueError(
      { source, line },
      `the record has ${record.length} field(s) but the header has ${layout.width}; quote names that contain commas ("NEW YORK, NY")`,
    );
  }
  const { position } = layout;
  const where: CataloguePlace = { source, line };
  const value = (column: Column) => (position[column] === undefined ? undefined : record[position[column]]);
  return makeStation(
    requiredId(where, 'id', value('id')),
    requiredNumber(where, 'latitude', value('latitude'), -90, 90, 'degrees'),
    requiredNumber(where, 'longitude', value('longitude'), -180, 180, 'degrees'),
    optionalElevation(where, 'elevation', value('elevation')),
    optionalName(where, 'name', value('name')),
  );
}

/** True for a record that holds nothing but blanks (a whitespace-only line). */
export function isBlankRecord(record: readonly string[]): boolean {
  return record.every((field) => field.trim() === '');
}

/** True when a first line looks like our CSV header (used for format detection). */
export function looksLikeCsvHeader(text: string): boolean {
  const fields = text.split(',').map((field) => field.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
  return fields.length > 1 && fields.includes('id');
}

/** Line on which a record starts, from csv-parse's end line and the newlines inside quoted fields. */
export function startLine(record: readonly string[], endLine: number): number {
  let inner = 0;
  for (const field of record) {
    for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) inner++;
  }
  return endLine - inner;
}
