import { parse } from 'csv-parse/sync';
import { CSV_COLUMNS, encodeCsv, ProcessedRow } from '../src';
import { aRide, HOSTILE_NAMES } from '../src/testing';

function row(overrides: Partial<ProcessedRow> = {}): ProcessedRow {
  return { ...aRide(), groundstation: 'USW00094728', groundstation_distance_km: 3.2845, source: 'raw/rides.json', ride_index: 7, ...overrides };
}

function cells(csv: string): string[][] {
  return parse(csv, { relax_column_count: false });
}

describe('encodeCsv', () => {
  it('writes the header of ARCHITECTURE.md, then one line per row, each ending in \\n', () => {
    // Act
    const csv = encodeCsv([row(), row({ ride_index: 8, fieldservice: 1 })]);

    // Assess
    expect(csv).toBe(
      'distance,healthpoints,latitude,longitude,magicpoints,name,statustime,fieldservice,groundstation,groundstation_distance_km,source,ride_index\n' +
        '29.212845,217,40.749167,-73.985184,112,Shadowfax,2018-05-07 20:11:04.247,0,USW00094728,3.2845,raw/rides.json,7\n' +
        '29.212845,217,40.749167,-73.985184,112,Shadowfax,2018-05-07 20:11:04.247,1,USW00094728,3.2845,raw/rides.json,8\n',
    );
    expect(CSV_COLUMNS.join(',')).toBe(csv.split('\n')[0]);
  });

  it('writes only the header for no rows', () => {
    expect(encodeCsv([])).toBe(`${CSV_COLUMNS.join(',')}\n`);
  });

  it('leaves fieldservice empty when the ride has none', () => {
    const [, values] = cells(encodeCsv([row({ fieldservice: undefined })]));
    expect(values[CSV_COLUMNS.indexOf('fieldservice')]).toBe('');
  });

  it('writes -0 as 0', () => {
    const [, values] = cells(encodeCsv([row({ latitude: -0 })]));
    expect(values[2]).toBe('0');
  });

  it('round-trips every hostile name exactly through csv-parse', () => {
    // Act
    const parsed = cells(encodeCsv(HOSTILE_NAMES.map((name, i) => row({ name, ride_index: i }))));

    // Assess
    expect(parsed.slice(1).map((values) => values[5])).toEqual(HOSTILE_NAMES);
    expect(parsed.slice(1).every((values) => values.length === CSV_COLUMNS.length)).toBe(true);
  });

  it('quotes fields holding a comma, a quote, CR or LF, and nothing else', () => {
    const csv = encodeCsv(['a,b', 'q"q', 'c\rr', 'l\nf', '=1+2', 'plain'].map((name) => row({ name })));
    for (const field of [',"a,b",', ',"q""q",', ',"c\rr",', ',"l\nf",', ',=1+2,', ',plain,']) expect(csv).toContain(`112${field}2018`);
  });

  it('writes floats losslessly: every printed number parses back to the same double', () => {
    // Prepare: random doubles of every magnitude, plus awkward ones.
    const values = [0.1 + 0.2, 1e-7, 1.5e-300, 123456789.12345679, 5e-324, 1e21, -73.985184, 2 ** 53 + 2];
    let x = 0.5;
    for (let i = 0; i < 500; i++) values.push((x = (x * 9301 + 49297) % 233280) / 233280 * 10 ** ((i % 40) - 20));
    const rows = values.map((v, i) => row({ distance: v, groundstation_distance_km: v / 3, ride_index: i }));

    // Act
    const parsed = cells(encodeCsv(rows)).slice(1);

    // Assess
    parsed.forEach((values, i) => {
      expect(Number(values[0])).toBe(rows[i].distance);
      expect(Number(values[9])).toBe(rows[i].groundstation_distance_km);
      expect(values[0]).toBe(String(rows[i].distance));
    });
  });
});
