import { Readable } from 'node:stream';
import { DEFAULT_STATIONS, InventoryError, detectInventoryFormat, loadInventory, parseInventory } from '../src/index';
import { formatInventory, makeInventory, seededRandom } from '../src/testing';

const GHCN = [
  'USW00094728  40.7789  -73.9692 TMAX 1869 2024',
  'USW00094728  40.7789  -73.9692 TMIN 1869 2024',
  '',
  'US1NYNY0074  40.7969  -73.9330 PRCP 2008 2024',
  'USC00305798  40.6000  -73.9667 SNOW 1948 1967',
].join('\n');

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof InventoryError) return err.message;
    throw err;
  }
  throw new Error('expected an InventoryError');
};

describe('parseInventory: NOAA fixed width', () => {
  it('reads id, element and years by column, skipping blank lines', () => {
    expect(parseInventory(GHCN)).toEqual([
      { id: 'USW00094728', element: 'TMAX', firstYear: 1869, lastYear: 2024 },
      { id: 'USW00094728', element: 'TMIN', firstYear: 1869, lastYear: 2024 },
      { id: 'US1NYNY0074', element: 'PRCP', firstYear: 2008, lastYear: 2024 },
      { id: 'USC00305798', element: 'SNOW', firstYear: 1948, lastYear: 1967 },
    ]);
  });

  it('accepts CRLF line ends, a BOM and trailing blanks', () => {
    expect(parseInventory(`\uFEFF${GHCN.split('\n').map((l) => `${l}   `).join('\r\n')}`)).toHaveLength(4);
  });

  it('keeps only the elements asked for', () => {
    expect(parseInventory(GHCN, { elements: ['PRCP'] }).map((e) => e.id)).toEqual(['US1NYNY0074']);
  });

  it('reads back what formatInventory writes for a generated inventory', () => {
    const stations = DEFAULT_STATIONS;
    const inventory = makeInventory(stations, seededRandom(5));
    expect(parseInventory(formatInventory(inventory, stations))).toEqual(inventory);
  });

  it.each([
    ['a year that is not 4 digits', 'USW00094728  40.7789  -73.9692 TMAX 18x9 2024', 'inv.txt line 2 field FIRSTYEAR (columns 37-40): value "18x9", expected a 4-digit year'],
    ['a missing last year', 'USW00094728  40.7789  -73.9692 TMAX 1869', 'inv.txt line 2 field LASTYEAR (columns 42-45): value empty, expected a 4-digit year'],
    ['a last year before the first', 'USW00094728  40.7789  -73.9692 TMAX 1990 1980', 'inv.txt line 2 field LASTYEAR (columns 42-45): value "1980", expected a year ≥ FIRSTYEAR 1990'],
    ['a lower-case element', 'USW00094728  40.7789  -73.9692 tmax 1869 2024', 'inv.txt line 2 field ELEMENT (columns 32-35): value "tmax", expected a 4-character GHCN element'],
    ['a latitude out of range', 'USW00094728  97.7789  -73.9692 TMAX 1869 2024', 'inv.txt line 2 field LATITUDE (columns 13-20): value "97.7789", expected degrees in [-90, 90]'],
    ['an id running into column 12', 'USW000947281 40.7789  -73.9692 TMAX 1869 2024', 'inv.txt line 2 field ID (columns 1-11): value "USW000947281 40.7789"'],
  ])('names the line and field of %s', (_, bad, expected) => {
    expect(message(() => parseInventory(`${GHCN.split('\n')[0]}\n${bad}\n`, { source: 'inv.txt' }))).toContain(expected);
  });

  it('says which formats it knows when it recognises none', () => {
    expect(message(() => parseInventory('hello world\n', { source: 'x' }))).toContain('x line 1: cannot tell the inventory format');
  });
});

describe('parseInventory: CSV id,element,firstyear,lastyear', () => {
  it('reads columns by header name in any order and case', () => {
    const csv = 'Element,ID,lastyear,FirstYear,note\nTMAX,USW00094728,2024,1869,x\n\nPRCP,US1NYNY0074,2024,2008,\n';
    expect(parseInventory(csv)).toEqual([
      { id: 'USW00094728', element: 'TMAX', firstYear: 1869, lastYear: 2024 },
      { id: 'US1NYNY0074', element: 'PRCP', firstYear: 2008, lastYear: 2024 },
    ]);
  });

  it('names the line and field of a bad value', () => {
    const csv = 'id,element,firstyear,lastyear\nA,TMAX,1869,2024\nB,TMAX,1869,20x4\n';
    expect(message(() => parseInventory(csv, { source: 'inv.csv' }))).toBe(
      'inv.csv line 3 field lastyear: value "20x4", expected a 4-digit year; fix or remove this line',
    );
  });

  it('names a header that lacks a column', () => {
    expect(message(() => parseInventory('id,element,firstyear\nA,TMAX,1869\n', { source: 'inv.csv' }))).toContain('inv.csv line 1: CSV header "id,element,firstyear" lacks lastyear');
  });

  it('names a record with the wrong field count', () => {
    expect(message(() => parseInventory('id,element,firstyear,lastyear\nA,TMAX,1869\n', { source: 'inv.csv' }))).toContain('inv.csv line 2: the record has 3 field(s)');
  });
});

describe('detectInventoryFormat and loadInventory', () => {
  it('detects both formats from the first line', () => {
    expect(detectInventoryFormat(GHCN.split('\n')[0])).toBe('ghcn');
    expect(detectInventoryFormat('id,element,firstyear,lastyear')).toBe('csv');
  });

  it('reads a stream split anywhere, multi-byte characters across chunks included', async () => {
    const text = `\uFEFF${GHCN}\n`;
    const bytes = Buffer.from(text);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    await expect(loadInventory(Readable.from(chunks))).resolves.toEqual(parseInventory(text));
  });
});

describe('parseInventory: quoted CSV', () => {
  it('reads quoted fields through csv-parse, with the same lines', () => {
    const csv = 'id,element,firstyear,lastyear\n"A",TMAX,1869,2024\n"B","TMAX",1869,20x4\n';
    expect(() => parseInventory(csv, { source: 'q.csv' })).toThrow('q.csv line 3 field lastyear: value "20x4"');
    expect(parseInventory(csv.split('\n').slice(0, 2).join('\n'))).toEqual([{ id: 'A', element: 'TMAX', firstYear: 1869, lastYear: 2024 }]);
  });
});
