import { parse } from 'csv-parse/sync';
import { Chunker, CSV_COLUMNS, decodeMessage, encodeCsv, encodeMessage, FanoutMessage, findControlCharacter, validateRide, writeRides } from '../src';
import { aRide, collectRides, HOSTILE_NAMES as ALL_HOSTILE_NAMES, readAll } from '../src/testing';

/** Names with control characters are rejected (validate.spec.ts); every other hostile name round-trips. */
const HOSTILE_NAMES = ALL_HOSTILE_NAMES.filter((name) => !findControlCharacter(name));

describe('a ride from file to CSV', () => {
  it.each(['array', 'travel_data', 'concatenated', 'ndjson'] as const)(
    'keeps every hostile name and every number exact through a %s file, the envelope and the CSV',
    async (shape) => {
      // Prepare
      const source = { bucket: 'rydes', key: 'raw/hostile.json', etag: '"0123456789abcdef"' };
      const rides = HOSTILE_NAMES.map((name, i) => aRide({ name, latitude: -90 + i / 7, distance: i === 0 ? -0 : 0.1 + i * 1e-9 }));
      const file = await readAll(writeRides(rides, { shape, gzip: true }));

      // Act
      const { records, error } = await collectRides(file, 13);
      const chunker = new Chunker({ source, ridesPerMessage: 5 });
      const messages: FanoutMessage[] = [];
      for (const raw of records) {
        const result = validateRide(raw.record);
        if (!result.ok) throw new Error(result.reasons.join('; '));
        messages.push(...chunker.push(raw.index, result.ride));
      }
      const last = chunker.flush();
      if (last) messages.push(last);
      const rows = messages
        .map((m) => decodeMessage(encodeMessage(m)))
        .flatMap((m) => m.rides.map((ride, i) => ({ ...ride, groundstation: 'USW00094728', groundstation_distance_km: 1.5, source: source.key, ride_index: m.firstIndex + i })));
      const cells: string[][] = parse(encodeCsv(rows));

      // Assess
      expect(error).toBeUndefined();
      const byColumn = (row: string[], column: (typeof CSV_COLUMNS)[number]) => row[CSV_COLUMNS.indexOf(column)];
      expect(cells.slice(1).map((row) => byColumn(row, 'name'))).toEqual(HOSTILE_NAMES);
      expect(cells.slice(1).map((row) => Number(byColumn(row, 'latitude')))).toEqual(rides.map((r) => r.latitude));
      expect(cells.slice(1).map((row) => Number(byColumn(row, 'ride_index')))).toEqual(rides.map((_, i) => i));
      expect(byColumn(cells[1], 'distance')).toBe('0');
    },
  );
});
