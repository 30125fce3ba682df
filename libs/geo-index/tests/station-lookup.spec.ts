import { DEFAULT_STATIONS, InvalidCatalogueError, InvalidQueryError, StationIndex, StationLookup, yearOf, type InventoryEntry, type Neighbour, type Station } from '../src/index';
import { CATALOGUE_MIXES, QUERY_MIXES, bruteForceNearestIn, makeInventory, seededRandom, type QueryMaker } from '../src/testing';

const REQUIRED = ['TMIN', 'TMAX', 'PRCP'];
const YEARS = [1889, 1950, 1999, 2010, 2017, 2018, 2019, 2024, 2030];

function describeAnswer(n: Neighbour | undefined): string {
  return n ? `${n.station.id} at ${n.distanceKm} km` : 'no station';
}

function expectSame(actual: Neighbour | undefined, expected: Neighbour | undefined, where: string): void {
  const same =
    actual === expected ||
    (actual !== undefined && expected !== undefined && actual.station.id === expected.station.id && Math.abs(actual.distanceKm - expected.distanceKm) <= 1e-9);
  if (!same) throw new Error(`${where}: lookup gave ${describeAnswer(actual)}, brute force ${describeAnswer(expected)}`);
}

const CATALOGUES: Record<string, (random: () => number) => Station[]> = {
  'clustered in cities, on ±180° and near the poles (1,500)': (random) => CATALOGUE_MIXES.clustered(random, 1500),
  'full of duplicated coordinates (800 ids on 100 positions)': (random) => CATALOGUE_MIXES.duplicated(random, 800),
  'uniform, half of them CoCoRaHS volunteers (1,000)': (random) =>
    CATALOGUE_MIXES.uniform(random, 1000).map((s, i) => (i % 2 ? { ...s, id: `US1${s.id}` } : s)),
  'tiny (7)': (random) => CATALOGUE_MIXES.tiny(random, 7),
};

const QUERIES: Record<string, QueryMaker> = {
  uniform: QUERY_MIXES.uniform,
  'New York': QUERY_MIXES.newYork,
  'on stations': QUERY_MIXES.onStations,
};

describe('StationLookup with an inventory equals a brute-force scan of the stations covering the year', () => {
  describe.each(Object.entries(CATALOGUES))('catalogue %s', (_, makeCatalogue) => {
    it.each(Object.entries(QUERIES))('queries %s, years 1889–2030', (_, makeQuery) => {
      const random = seededRandom(11);
      const stations = makeCatalogue(random);
      const inventory = makeInventory(stations, random, { lastYear: 2024 });
      const lookup = new StationLookup(stations, { inventory });
      let answered = 0;
      let empty = 0;
      for (let q = 0; q < 150; q++) {
        const { lat, lon } = makeQuery(random, stations);
        const year = YEARS[q % YEARS.length];
        const actual = lookup.nearest(lat, lon, `${year}-06-01 12:00:00.000`);
        expectSame(actual, bruteForceNearestIn(stations, inventory, REQUIRED, year, lat, lon), `query (${lat}, ${lon}) in ${year}`);
        if (actual) answered++;
        else empty++;
      }
      // Both outcomes must occur, or the property says little: 2030 and 1889 are beyond every range.
      expect(answered).toBeGreaterThan(0);
      expect(empty).toBeGreaterThan(0);
    });
  });
});

describe('StationLookup: what the inventory changes', () => {
  // Three stations on a meridian, 0.1° apart: A nearest the query, then B, then C.
  const stations: Station[] = [
    { id: 'A', latitude: 40.0, longitude: -74 },
    { id: 'B', latitude: 40.1, longitude: -74 },
    { id: 'C', latitude: 40.2, longitude: -74 },
  ];
  const entries = (id: string, first: number, last: number, elements = REQUIRED): InventoryEntry[] =>
    elements.map((element) => ({ id, element, firstYear: first, lastYear: last }));

  it('skips a nearer station that reports precipitation only', () => {
    const inventory = [...entries('A', 1990, 2024, ['PRCP', 'SNOW']), ...entries('B', 1990, 2024)];
    expect(new StationLookup(stations, { inventory }).nearest(39.9, -74, 2018)?.station.id).toBe('B');
  });

  it('uses a station up to the year it stops reporting and the next one after', () => {
    const inventory = [...entries('A', 1990, 2015), ...entries('B', 1990, 2024)];
    const lookup = new StationLookup(stations, { inventory });
    expect(lookup.nearest(39.9, -74, '2015-12-31 23:59:59.999')?.station.id).toBe('A');
    expect(lookup.nearest(39.9, -74, '2016-01-01 00:00:00.000')?.station.id).toBe('B');
  });

  it('needs every required element in the year: one element stopping early disqualifies the station', () => {
    const inventory = [
      ...entries('A', 1990, 2024, ['TMAX', 'PRCP']),
      { id: 'A', element: 'TMIN', firstYear: 1990, lastYear: 2010 },
      ...entries('B', 1990, 2024),
    ];
    const lookup = new StationLookup(stations, { inventory });
    expect(lookup.nearest(39.9, -74, 2010)?.station.id).toBe('A');
    expect(lookup.nearest(39.9, -74, 2011)?.station.id).toBe('B');
  });

  it('joins several ranges of one element (a station that paused)', () => {
    const inventory = [...entries('A', 1990, 2000), ...entries('A', 2010, 2024), ...entries('C', 1990, 2024)];
    const lookup = new StationLookup(stations, { inventory });
    expect([2000, 2005, 2010].map((y) => lookup.nearest(39.9, -74, y)?.station.id)).toEqual(['A', 'C', 'A']);
  });

  it('answers undefined for a year no station covers, and counts the build', () => {
    const lookup = new StationLookup(stations, { inventory: entries('B', 1990, 2024) });
    expect(lookup.nearest(39.9, -74, 1980)).toBeUndefined();
    expect(lookup.stats.candidates).toEqual({ 1980: 0 });
  });

  it('honours a custom element list', () => {
    const inventory = [...entries('A', 1990, 2024, ['PRCP']), ...entries('B', 1990, 2024)];
    expect(new StationLookup(stations, { inventory, requiredElements: ['PRCP'] }).nearest(39.9, -74, 2018)?.station.id).toBe('A');
  });

  it('builds one index per year, lazily, and rebuilds a year evicted from the cache', () => {
    const lookup = new StationLookup(stations, { inventory: entries('A', 1990, 2024), maxCachedYears: 2 });
    expect(lookup.stats.indexesBuilt).toBe(0);
    for (const year of [2018, 2018, 2019, 2018, 2020, 2019]) lookup.nearest(40, -74, year);
    // 2018, 2019 built; 2020 evicts 2019 (2018 was used more recently); 2019 built again.
    expect(lookup.stats.indexesBuilt).toBe(4);
  });

  it('without an inventory answers exactly as StationIndex, whatever the year', () => {
    const lookup = new StationLookup(DEFAULT_STATIONS);
    const index = new StationIndex(DEFAULT_STATIONS);
    expect(lookup.elementAware).toBe(false);
    expect(lookup.nearest(40.7812, -73.9665, '1700-01-01 00:00:00')).toEqual(index.nearest(40.7812, -73.9665));
  });

  it('rejects an empty catalogue, a bad position and a statustime without a year', () => {
    expect(() => new StationLookup([], { inventory: [] })).toThrow(InvalidCatalogueError);
    const lookup = new StationLookup(stations, { inventory: entries('A', 1990, 2024) });
    expect(() => lookup.nearest(91, 0, 2018)).toThrow(InvalidQueryError);
    expect(() => lookup.nearest(91, 0, 1980)).toThrow(InvalidQueryError);
    expect(() => lookup.nearest(40, -74, 'May 2018')).toThrow('query year is "May 2018"');
  });
});

describe('yearOf', () => {
  it('reads the leading 4-digit year of a statustime or takes a whole number', () => {
    expect(yearOf('2018-05-07 20:11:04.247')).toBe(2018);
    expect(yearOf(1999)).toBe(1999);
    expect(() => yearOf('20180-01-01')).toThrow(InvalidQueryError);
    expect(() => yearOf(2018.5)).toThrow(InvalidQueryError);
  });
});

describe('nearestInto: the answer of nearest, written into one object', () => {
  it.each([
    ['with an inventory', true],
    ['without one (the plain index)', false],
  ])('%s: same station object and the same distance, bit for bit, query after query; out untouched when no station covers the year', (_, withInventory) => {
    const random = seededRandom(23);
    const stations = CATALOGUE_MIXES.clustered(random, 1500);
    const inventory = makeInventory(stations, random, { lastYear: 2024 });
    const lookup = new StationLookup(stations, withInventory ? { inventory } : {});
    const out: Neighbour = { station: stations[0], distanceKm: -1 };
    let answered = 0;
    let empty = 0;
    for (let q = 0; q < 600; q++) {
      const { lat, lon } = (q % 2 ? QUERY_MIXES.newYork : QUERY_MIXES.uniform)(random, stations);
      const year = YEARS[q % YEARS.length];
      const expected = lookup.nearest(lat, lon, year);
      const before = { station: out.station, distanceKm: out.distanceKm };
      const actual = lookup.nearestInto(lat, lon, year, out);
      if (expected === undefined) {
        expect(actual).toBeUndefined();
        expect(out).toEqual(before);
        empty++;
      } else {
        expect(actual).toBe(out);
        expect(out.station).toBe(expected.station);
        expect(Object.is(out.distanceKm, expected.distanceKm)).toBe(true);
        answered++;
      }
    }
    expect(answered).toBeGreaterThan(0);
    if (withInventory) expect(empty).toBeGreaterThan(0);
  });

  it('rejects a bad position as nearest does, in a year some station covers and in one none does', () => {
    const lookup = new StationLookup(DEFAULT_STATIONS, { inventory: [{ id: DEFAULT_STATIONS[0].id, element: 'TMIN', firstYear: 2000, lastYear: 2020 }], requiredElements: ['TMIN'] });
    const out: Neighbour = { station: DEFAULT_STATIONS[0], distanceKm: 0 };
    for (const year of [2010, 1900]) {
      expect(() => lookup.nearestInto(91, 0, year, out)).toThrow(InvalidQueryError);
      expect(() => lookup.nearestInto(0, 181, year, out)).toThrow(InvalidQueryError);
    }
    expect(() => new StationIndex(DEFAULT_STATIONS).nearestInto(Number.NaN, 0, out)).toThrow(InvalidQueryError);
  });
});
