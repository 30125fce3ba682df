import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CatalogueError,
  DuplicateStationIdError,
  InvalidStationFieldError,
  MalformedCatalogueError,
  UnknownCatalogueFormatError,
  detectCatalogueFormat,
  loadStations,
  parseStations,
  type Station,
} from '../src/index';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name));

/** Feeds `bytes` as a stream in `size`-byte chunks, so lines and UTF-8 characters straddle chunks. */
function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

function errorOf(action: () => unknown): CatalogueError {
  try {
    action();
  } catch (err) {
    if (err instanceof CatalogueError) return err;
    throw err;
  }
  throw new Error('expected a CatalogueError');
}

const ghcnLine = (id: string, lat: string, lon: string, elevation = '   10.0', name = 'TEST STATION') =>
  `${id.padEnd(11)} ${lat.padStart(8)} ${lon.padStart(9)} ${elevation.padStart(6)}    ${name}`;

describe('GHCN ghcnd-stations.txt', () => {
  it('reads fixed-width lines with flags, negative and missing elevations, trimmed lines and blank lines', () => {
    // Prepare
    const text = fixture('ghcnd-stations-sample.txt');

    // Act
    const stations = parseStations(text, { source: 'ghcnd-stations.txt' });

    // Assess
    expect(stations.map((s) => s.id)).toEqual([
      'ACW00011604', 'AE000041196', 'AYM00089606', 'USC00042319', 'USW00094728',
      'USW00014732', 'US1NYNY0074', 'RSM00024266', 'USS0011J42S',
    ]);
    expect(stations[1]).toEqual({ id: 'AE000041196', latitude: 25.333, longitude: 55.517, elevation: 34, name: 'SHARJAH INTER. AIRP' });
    expect(stations[2]).toEqual({ id: 'AYM00089606', latitude: -66.283, longitude: 110.517, name: 'CASEY' });
    expect(stations[3]).toMatchObject({ id: 'USC00042319', elevation: -59.1, name: 'DEATH VALLEY' });
    expect(stations[4]).toEqual({ id: 'USW00094728', latitude: 40.7789, longitude: -73.9692, elevation: 39.6, name: 'NEW YORK CNTRL PK TWR' });
    expect(stations[8]).toMatchObject({ elevation: 2376.8, name: 'HEAVENLY VALLEY' });
  });

  it('accepts a line cut right after the longitude and CRLF line ends', () => {
    const text = 'USW00094728  40.7789  -73.9692\r\nUSW00014732  40.7794  -73.8803    3.4\r\n';

    const stations = parseStations(text);

    expect(stations).toEqual([
      { id: 'USW00094728', latitude: 40.7789, longitude: -73.9692 },
      { id: 'USW00014732', latitude: 40.7794, longitude: -73.8803, elevation: 3.4 },
    ]);
  });

  it('names the source, line, column range and value of an out-of-range latitude', () => {
    const text = [ghcnLine('USW00094728', '40.7789', '-73.9692'), '', ghcnLine('USW00000001', '91.0000', '-73.0000')].join('\n');

    const err = errorOf(() => parseStations(text, { source: 'ghcnd-stations.txt' }));

    expect(err).toBeInstanceOf(InvalidStationFieldError);
    expect(err).toMatchObject({ source: 'ghcnd-stations.txt', line: 3, field: 'LATITUDE (columns 13-20)', value: ' 91.0000' });
    expect(err.message).toMatch(/^ghcnd-stations\.txt line 3 field LATITUDE \(columns 13-20\): .*"91\.0000".*\[-90, 90\]/);
  });

  it('rejects a longitude that is not a number and a longitude beyond ±180', () => {
    const notNumber = errorOf(() => parseStations(ghcnLine('USW00094728', '40.7789', '-73.96x2')));
    const beyond = errorOf(() => parseStations(ghcnLine('USW00094728', '40.7789', '-180.5000')));

    expect(notNumber).toMatchObject({ line: 1, field: 'LONGITUDE (columns 22-30)' });
    expect(beyond).toMatchObject({ line: 1, field: 'LONGITUDE (columns 22-30)' });
    expect(beyond.message).toContain('[-180, 180]');
  });

  it('rejects a missing longitude on a truncated line', () => {
    const err = errorOf(() => parseStations('USW00094728  40.7789\n'));

    expect(err).toMatchObject({ line: 1, field: 'LONGITUDE (columns 22-30)' });
    expect(err.message).toContain('value empty');
  });

  it('rejects a line whose columns are shifted', () => {
    const text = `${ghcnLine('USW00094728', '40.7789', '-73.9692')}\nUSW000947281 40.7789  -73.9692   10.0`;

    const err = errorOf(() => parseStations(text, { format: 'ghcn' }));

    expect(err).toMatchObject({ line: 2, field: 'ID (columns 1-11)' });
  });

  it('names the id and both lines of a duplicated station', () => {
    const line = ghcnLine('USW00094728', '40.7789', '-73.9692');
    const text = [line, ghcnLine('USW00014732', '40.7794', '-73.8803'), '', line].join('\n');

    const err = errorOf(() => parseStations(text, { source: 'dup.txt' }));

    expect(err).toBeInstanceOf(DuplicateStationIdError);
    expect(err.message).toBe('dup.txt line 4 field id: station id "USW00094728" appears twice, first at line 1 and again here; keep one of the two records');
  });
});

describe('CSV catalogues', () => {
  it('reads quoted names with commas and doubled quotes, blank and -999.9 elevations, blank lines', () => {
    const stations = parseStations(fixture('stations-sample.csv'), { source: 'stations.csv' });

    expect(stations).toEqual<Station[]>([
      { id: 'USW00094728', latitude: 40.7789, longitude: -73.9692, elevation: 39.6, name: 'NEW YORK CNTRL PK TWR' },
      { id: 'USW00014732', latitude: 40.7794, longitude: -73.8803, elevation: 3.4, name: 'NEW YORK LAGUARDIA AP, QUEENS' },
      { id: 'USC00042319', latitude: 36.4622, longitude: -116.8669, elevation: -59.1, name: 'DEATH VALLEY, "BADWATER" AREA' },
      { id: 'AYM00089606', latitude: -66.283, longitude: 110.517, name: 'CASEY' },
      { id: 'ZZ000000001', latitude: 0.5, longitude: 179.9999 },
    ]);
  });

  it('reads the minimal header id,latitude,longitude in any case and column order', () => {
    const stations = parseStations('Longitude,ID,Latitude\n-73.9692,USW00094728,40.7789\n');

    expect(stations).toEqual([{ id: 'USW00094728', latitude: 40.7789, longitude: -73.9692 }]);
  });

  it('names the line and field of a bad value, counting the blank line before it', () => {
    const text = 'id,latitude,longitude\nA,1,2\n\nB,1,east\n';

    const err = errorOf(() => parseStations(text, { source: 'x.csv' }));

    expect(err).toMatchObject({ source: 'x.csv', line: 4, field: 'longitude', value: 'east' });
  });

  it('reports a record with too many fields and says to quote names', () => {
    const err = errorOf(() => parseStations('id,latitude,longitude,name\nA,1,2,NEW YORK, NY\n'));

    expect(err).toBeInstanceOf(MalformedCatalogueError);
    expect(err.line).toBe(2);
    expect(err.message).toContain('quote names');
  });

  it('reports a header without latitude', () => {
    const err = errorOf(() => parseStations('id,lat,longitude\nA,1,2\n', { format: 'csv' }));

    expect(err).toMatchObject({ line: 1 });
    expect(err.message).toContain('lacks latitude');
  });

  it('reports duplicate ids with both lines', () => {
    const err = errorOf(() => parseStations('id,latitude,longitude\nA,1,2\nB,1,2\nA,3,4\n'));

    expect(err).toBeInstanceOf(DuplicateStationIdError);
    expect(err.message).toContain('first at line 2');
    expect(err.line).toBe(4);
  });
});

describe('JSON catalogues', () => {
  it('reads an array of stations with numeric strings and null elevation', () => {
    const stations = parseStations(fixture('stations-sample.json'));

    expect(stations).toEqual<Station[]>([
      { id: 'USW00094728', latitude: 40.7789, longitude: -73.9692, elevation: 39.6, name: 'NEW YORK CNTRL PK TWR' },
      { id: 'USC00042319', latitude: 36.4622, longitude: -116.8669, elevation: -59.1 },
      { id: 'AYM00089606', latitude: -66.283, longitude: 110.517, name: 'CASEY' },
    ]);
  });

  it('names the element and field of a bad latitude', () => {
    const err = errorOf(() => parseStations('[{"id":"A","latitude":10,"longitude":0},{"id":"B","latitude":-95,"longitude":0}]', { source: 's.json' }));

    expect(err).toMatchObject({ source: 's.json', element: 1, field: 'latitude', value: -95 });
    expect(err.message).toMatch(/^s\.json element \[1\] field latitude: value -95, expected degrees in \[-90, 90\]/);
  });

  it('rejects an object that is not an array, and invalid JSON', () => {
    expect(() => parseStations('{"stations":[]}')).toThrow(/expected an array/);
    expect(() => parseStations('[{"id":"A",]', { format: 'json' })).toThrow(MalformedCatalogueError);
  });
});

describe('format detection', () => {
  it.each([
    ['ghcn', 'USW00094728  40.7789  -73.9692   39.6 NY NEW YORK CNTRL PK TWR'],
    ['csv', 'id,latitude,longitude'],
    ['csv', '"id","latitude","longitude","name"'],
    ['json', '  [ {"id": "A"'],
    ['json', '\uFEFF['],
  ])('detects %s from %j', (format, line) => {
    expect(detectCatalogueFormat(line)).toBe(format);
  });

  it('fails on an unknown first line and says how to name the format', () => {
    const err = errorOf(() => parseStations('station;lat;lon\nA;1;2\n', { source: 'odd.txt' }));

    expect(err).toBeInstanceOf(UnknownCatalogueFormatError);
    expect(err.message).toContain("{ format: 'ghcn' | 'csv' | 'json' }");
    expect(err.message).toContain('odd.txt line 1');
  });

  it('returns no stations for an empty or blank input', async () => {
    expect(parseStations('', { format: 'ghcn' })).toEqual([]);
    expect(await loadStations(Readable.from(['\n', '  \n']))).toEqual([]);
  });
});

describe('loadStations from a stream', () => {
  it.each([
    ['ghcnd-stations-sample.txt', 7],
    ['stations-sample.csv', 5],
    ['stations-sample.json', 3],
  ])('reads %s in %d-byte chunks exactly as parseStations reads it whole', async (name, chunkSize) => {
    const bytes = fixture(name);

    const streamed = await loadStations(chunked(bytes, chunkSize), { source: name });

    expect(streamed).toEqual(parseStations(bytes, { source: name }));
    expect(streamed.length).toBeGreaterThan(2);
  });

  it('decodes UTF-8 names split across chunks and skips a byte-order mark', async () => {
    const bytes = Buffer.from('\uFEFFid,latitude,longitude,name\nA,1,2,"SÃO PAULO, MIRANTE"\n', 'utf8');

    const stations = await loadStations(chunked(bytes, 1));

    expect(stations).toEqual([{ id: 'A', latitude: 1, longitude: 2, name: 'SÃO PAULO, MIRANTE' }]);
  });

  it('keeps line numbers of a streamed CSV, including a quoted name that spans two lines', async () => {
    const bytes = Buffer.from('id,latitude,longitude,name\nA,1,2,"TWO\nLINES"\nB,1,200,X\n');

    await expect(loadStations(chunked(bytes, 4), { source: 'm.csv' })).rejects.toMatchObject({ line: 4, field: 'longitude' });
  });

  it('reports a duplicate id from a stream with both line numbers', async () => {
    const text = [ghcnLine('USW00094728', '40.7789', '-73.9692'), ghcnLine('USW00094728', '40.0000', '-73.0000')].join('\n');

    await expect(loadStations(Readable.from([text]), { source: 'g.txt' })).rejects.toThrow(/g\.txt line 2 .*first at line 1/);
  });

  it('accepts a string or Buffer as well as a stream', async () => {
    await expect(loadStations('id,latitude,longitude\nA,1,2\n')).resolves.toEqual([{ id: 'A', latitude: 1, longitude: 2 }]);
  });
});
