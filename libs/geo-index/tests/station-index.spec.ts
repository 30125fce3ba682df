import RBush from 'rbush';
import knn from 'rbush-knn';
import { DEFAULT_STATIONS, InvalidCatalogueError, InvalidQueryError, StationIndex, haversineKm, type NearestBatch, type Neighbour, type Station } from '../src/index';
import { CATALOGUE_MIXES, QUERY_MIXES, bruteForceKNearest, bruteForceNearest, makeStations, seededRandom, uniformOnSphere, type LatLon, type QueryMaker } from '../src/testing';

const ids = (neighbours: Neighbour[]) => neighbours.map((n) => n.station.id);

/** Asserts the index answer equals the oracle's: same id, distance within 1e-9 km. */
function expectSameNeighbour(actual: Neighbour, expected: Neighbour, query: LatLon): void {
  if (actual.station.id !== expected.station.id || Math.abs(actual.distanceKm - expected.distanceKm) > 1e-9) {
    throw new Error(
      `query ${JSON.stringify(query)}: index gave ${actual.station.id} at ${actual.distanceKm} km, ` +
        `brute force ${expected.station.id} at ${expected.distanceKm} km`,
    );
  }
}

function expectSameList(actual: Neighbour[], expected: Neighbour[], query: LatLon, k: number, max: number): void {
  const same =
    actual.length === expected.length &&
    actual.every((n, i) => n.station.id === expected[i].station.id && Math.abs(n.distanceKm - expected[i].distanceKm) <= 1e-9);
  if (!same) {
    throw new Error(`query ${JSON.stringify(query)} k=${k} max=${max}: index gave ${ids(actual).join(' ')}, brute force ${ids(expected).join(' ')}`);
  }
}

const CATALOGUES: Record<string, (random: () => number) => Station[]> = {
  'uniform on the sphere (2,000)': (random) => CATALOGUE_MIXES.uniform(random, 2000),
  'clustered in cities, on ±180° and near the poles (2,000)': (random) => CATALOGUE_MIXES.clustered(random, 2000),
  'full of duplicated coordinates (1,200 ids on 150 positions)': (random) => CATALOGUE_MIXES.duplicated(random, 1200),
  'on the antimeridian and the poles exactly (300)': (random) => CATALOGUE_MIXES.antimeridianAndPoles(random, 300),
  ...Object.fromEntries([1, 2, 3, 5, 8, 11].map((n) => [`tiny (${n})`, (random: () => number) => CATALOGUE_MIXES.tiny(random, n)])),
};

const QUERIES: Record<string, QueryMaker> = {
  'uniform on the sphere': QUERY_MIXES.uniform,
  'clustered in New York': QUERY_MIXES.newYork,
  'in strips along ±180°': QUERY_MIXES.antimeridianStrips,
  'in the polar caps, poles included': QUERY_MIXES.polarCaps,
  'exactly on stations': QUERY_MIXES.onStations,
};

describe('StationIndex matches a brute-force haversine scan (seeded property test)', () => {
  describe.each(Object.entries(CATALOGUES))('catalogue %s', (catalogueName, makeCatalogue) => {
    const seed = [...catalogueName].reduce((h, c) => Math.imul(h, 31) + c.charCodeAt(0), 7);
    const stations = makeCatalogue(seededRandom(seed));
    const index = new StationIndex(stations);

    it.each(Object.entries(QUERIES))('nearest: queries %s', (_mix, makeQuery) => {
      // Prepare
      const random = seededRandom(seed ^ 0x5bd1e995);
      const queries = Array.from({ length: 600 }, () => makeQuery(random, stations));

      for (const query of queries) {
        // Act
        const actual = index.nearest(query.lat, query.lon);
        // Assess
        expectSameNeighbour(actual, bruteForceNearest(stations, query.lat, query.lon), query);
      }
    });

    it.each(Object.entries(QUERIES))('nearestBatch answers like the brute-force scan: queries %s', (_mix, makeQuery) => {
      // Prepare: the same positions as the nearest test, plus every one of them again (duplicates in one batch)
      const random = seededRandom(seed ^ 0x5bd1e995);
      const queries = Array.from({ length: 600 }, () => makeQuery(random, stations));
      const batch = [...queries, ...queries.slice(0, 100)];

      // Act
      const { index: found, distanceKm } = index.nearestBatch(Float64Array.from(batch, (q) => q.lat), batch.map((q) => q.lon));

      // Assess
      batch.forEach((query, i) => expectSameNeighbour({ station: stations[found[i]], distanceKm: distanceKm[i] }, bruteForceNearest(stations, query.lat, query.lon), query));
    });

    it.each(Object.entries(QUERIES))('kNearest with k up to beyond the catalogue and km cut-offs: queries %s', (_mix, makeQuery) => {
      const random = seededRandom(seed ^ 0x27d4eb2f);
      for (let q = 0; q < 120; q++) {
        const query = makeQuery(random, stations);
        const k = [1, 2, 5, 17, stations.length, stations.length + 3][q % 6];
        const max = [Infinity, 0, 50, 1000, 20015.1][Math.floor(random() * 5)];

        const actual = index.kNearest(query.lat, query.lon, k, max);

        expectSameList(actual, bruteForceKNearest(stations, query.lat, query.lon, k, max), query, k, max);
      }
    });
  });
});

describe('StationIndex', () => {
  it('finds Central Park for a ride in Central Park with the default stations', () => {
    const index = new StationIndex(DEFAULT_STATIONS);

    const { station, distanceKm } = index.nearest(40.7812, -73.9665);

    expect(station.id).toBe('USW00094728');
    expect(distanceKm).toBeCloseTo(haversineKm(40.7812, -73.9665, 40.7789, -73.9692), 12);
  });

  it('returns the smallest id when stations share coordinates, whatever the load order', () => {
    const stations: Station[] = ['C', 'A', 'B'].map((id) => ({ id, latitude: 40.7, longitude: -74 }));
    const index = new StationIndex(stations);

    expect(index.nearest(40.8, -74).station.id).toBe('A');
    expect(ids(index.kNearest(40.8, -74, 2))).toEqual(['A', 'B']);
  });

  it('returns the smallest id when two stations at different positions are exactly as far', () => {
    const stations: Station[] = [
      { id: 'NORTH', latitude: 1, longitude: 0 },
      { id: 'EAST', latitude: 0, longitude: 1 },
      { id: 'SOUTH', latitude: -1, longitude: 0 },
    ];

    const nearest = new StationIndex(stations).nearest(0, 0);

    expect(haversineKm(0, 0, 1, 0)).toBe(haversineKm(0, 0, -1, 0));
    expect(haversineKm(0, 0, 1, 0)).toBe(haversineKm(0, 0, 0, 1));
    expect(nearest.station.id).toBe('EAST');
  });

  it('ranks by great-circle distance across the antimeridian and over the pole, where lon/lat planar order is wrong', () => {
    const stations: Station[] = [
      { id: 'WEST', latitude: 0, longitude: 179.9 },
      { id: 'EAST', latitude: 0, longitude: -179.95 },
      { id: 'SAME-MERIDIAN', latitude: 88, longitude: 0 },
      { id: 'OVER-THE-POLE', latitude: 89.5, longitude: 180 },
    ];
    const index = new StationIndex(stations);

    expect(index.nearest(0, -179.99).station.id).toBe('EAST');
    expect(index.nearest(0, 179.99).station.id).toBe('EAST');
    expect(index.nearest(89.5, 0).station.id).toBe('OVER-THE-POLE');
  });

  it('returns every station sorted when k exceeds the catalogue, and [] for k = 0', () => {
    const index = new StationIndex(DEFAULT_STATIONS);

    const all = index.kNearest(40.7, -74, 50);

    expect(all).toHaveLength(11);
    expect(all.map((n) => n.distanceKm)).toEqual([...all.map((n) => n.distanceKm)].sort((a, b) => a - b));
    expect(index.kNearest(40.7, -74, 0)).toEqual([]);
  });

  it('keeps a station exactly at maxDistanceKm and drops everything farther', () => {
    const index = new StationIndex(DEFAULT_STATIONS);
    const cutoff = haversineKm(40.7, -74, 40.6, -73.9667);

    const within = index.kNearest(40.7, -74, 11, cutoff);

    expect(within.at(-1)?.station.id).toBe('USC00305798');
    expect(within.every((n) => n.distanceKm <= cutoff)).toBe(true);
    expect(within).toEqual(bruteForceKNearest(DEFAULT_STATIONS, 40.7, -74, 11, cutoff));
    expect(index.kNearest(40.7, -74.0167, 5, 0).map((n) => n.station.id)).toEqual(['USC00305816']);
  });

  it('reports its size', () => {
    expect(new StationIndex(DEFAULT_STATIONS).size).toBe(11);
  });

  it.each([
    [NaN, 0, 'latitude'],
    [91, 0, 'latitude'],
    [-90.0001, 0, 'latitude'],
    [0, Infinity, 'longitude'],
    [0, -180.5, 'longitude'],
    [0, '12' as unknown as number, 'longitude'],
  ])('rejects the query (%p, %p) naming the %s', (lat, lon, field) => {
    const index = new StationIndex(DEFAULT_STATIONS);

    expect(() => index.nearest(lat, lon)).toThrow(InvalidQueryError);
    expect(() => index.kNearest(lat, lon, 1)).toThrow(new RegExp(`query ${field} is`));
  });

  it('rejects a negative or fractional k and a negative maxDistanceKm', () => {
    const index = new StationIndex(DEFAULT_STATIONS);

    expect(() => index.kNearest(40, -74, -1)).toThrow(/query k is -1/);
    expect(() => index.kNearest(40, -74, 1.5)).toThrow(InvalidQueryError);
    expect(() => index.kNearest(40, -74, 1, -2)).toThrow(/maxDistanceKm is -2/);
  });

  it('refuses to build from an empty catalogue, a missing id or bad coordinates', () => {
    expect(() => new StationIndex([])).toThrow(InvalidCatalogueError);
    expect(() => new StationIndex([{ id: 'A', latitude: 95, longitude: 0 }])).toThrow(/station \[0\] A has latitude 95/);
    expect(() => new StationIndex([{ id: 'A', latitude: 0, longitude: -180.01 }])).toThrow(/station \[0\] A has longitude -180.01/);
    expect(() => new StationIndex([{ id: '', latitude: 0, longitude: 0 }])).toThrow(/station \[0\] has id ""/);
  });
});

describe('StationIndex.nearestBatch', () => {
  const stations = CATALOGUE_MIXES.clustered(seededRandom(21), 3000);
  const index = new StationIndex(stations);
  const expectLikeNearest = (lats: number[], lons: number[], answer: NearestBatch) => {
    const batch = lats.map((_, i) => `${stations[answer.index[i]].id} ${answer.distanceKm[i]}`);
    const single = lats.map((lat, i) => index.nearest(lat, lons[i])).map((n) => `${n.station.id} ${n.distanceKm}`);
    expect(batch).toEqual(single);
  };

  it('gives the answers of nearest in the order of the queries, whatever their order in the batch', () => {
    // Prepare: a mix of far-apart and clustered queries, then the same ones reversed
    const random = seededRandom(22);
    const queries = Array.from({ length: 2000 }, (_, i) => Object.values(QUERY_MIXES)[i % 5](random, stations));
    const lats = queries.map((q) => q.lat);
    const lons = queries.map((q) => q.lon);

    // Act
    const forward = index.nearestBatch(lats, lons);
    const backward = index.nearestBatch([...lats].reverse(), [...lons].reverse());

    // Assess
    expectLikeNearest(lats, lons, forward);
    expect(Array.from(backward.index).reverse()).toEqual(Array.from(forward.index));
  });

  it('answers batches of 0, 1 and 2 queries and a batch of one position repeated', () => {
    expect(index.nearestBatch([], []).index).toHaveLength(0);
    expectLikeNearest([90], [0], index.nearestBatch([90], [0]));
    expectLikeNearest([-90, 0], [180, -180], index.nearestBatch([-90, 0], [180, -180]));
    const same = Array.from({ length: 50 }, () => 40.7);
    const answer = index.nearestBatch(same, same.map(() => -74));
    expect(new Set(answer.index).size).toBe(1);
    expectLikeNearest(same, same.map(() => -74), answer);
  });

  it('gives the smallest id among co-located stations to every query of a batch', () => {
    const colocated: Station[] = ['D', 'B', 'C', 'A', 'E'].map((id) => ({ id, latitude: 40.7, longitude: -74 }));
    const far = makeStations(200, (i) => ({ lat: -60 + (i % 20), lon: 100 + Math.floor(i / 20) }));
    const small = new StationIndex([...far, ...colocated, ...far.map((s) => ({ ...s, id: `X${s.id}` }))]);

    const { index: found } = small.nearestBatch([40.7, 40.71, 40.69, 41], [-74, -74.01, -73.99, -74]);

    expect(Array.from(found, (i) => [...far, ...colocated][i]?.id)).toEqual(['A', 'A', 'A', 'A']);
  });

  it('writes into the arrays given as out and returns them', () => {
    const out = { index: new Int32Array(4), distanceKm: new Float64Array(4) };

    const answer = index.nearestBatch(Float64Array.of(40.7, 0, 89.9), Float64Array.of(-74, 179.99, 10), out);

    expect(answer).toBe(out);
    expectLikeNearest([40.7, 0, 89.9], [-74, 179.99, 10], out);
  });

  it('rejects the batch naming the first bad position, mismatched lengths and a short out', () => {
    expect(() => index.nearestBatch([40, 91, 95], [0, 0, 0])).toThrow(new InvalidQueryError('latitudes[1]', 91, 'degrees in [-90, 90]'));
    expect(() => index.nearestBatch([40, 41], [0, NaN])).toThrow(/query longitudes\[1\] is NaN, expected degrees in \[-180, 180\]/);
    expect(() => index.nearestBatch([40, 41], [0])).toThrow(/query longitudes.length is 1, expected the length of latitudes \(2\)/);
    expect(() => index.nearestBatch([40, 41], [0, 0], { index: new Int32Array(1), distanceKm: new Float64Array(2) })).toThrow(/out.index.length is 1/);
  });
});

describe('DEFAULT_STATIONS', () => {
  it('holds the 11 GHCN stations of the workshop with elevations and the known names', () => {
    expect(DEFAULT_STATIONS.map((s) => [s.id, s.latitude, s.longitude, s.elevation])).toEqual([
      ['US1NYNY0074', 40.7969, -73.933, 6.1],
      ['USC00305798', 40.6, -73.9667, 6.1],
      ['USC00305799', 40.8667, -73.8833, 27.1],
      ['USC00305804', 40.7333, -73.9333, 3.0],
      ['USC00305806', 40.85, -73.9167, 54.9],
      ['USC00305816', 40.7, -74.0167, 3.0],
      ['USW00014732', 40.7794, -73.8803, 3.4],
      ['USW00014786', 40.5833, -73.8833, 4.9],
      ['USW00093732', 39.8, -72.6667, 25.9],
      ['USW00094728', 40.7789, -73.9692, 39.6],
      ['USW00094789', 40.6386, -73.7622, 3.4],
    ]);
    expect(Object.fromEntries(DEFAULT_STATIONS.filter((s) => s.name).map((s) => [s.id, s.name]))).toEqual({
      USW00094728: 'NEW YORK CNTRL PK TWR',
      USW00014732: 'NEW YORK LAGUARDIA AP',
      USW00094789: 'NEW YORK JFK INTL AP',
      USW00093732: 'NEW YORK SHOALS AFS',
      US1NYNY0074: 'NEW YORK 8.8 N',
    });
  });

  it('cannot be modified by a caller', () => {
    expect(Object.isFrozen(DEFAULT_STATIONS)).toBe(true);
    expect(DEFAULT_STATIONS.every((s) => Object.isFrozen(s))).toBe(true);
  });
});

describe('bruteForceNearest (the oracle itself)', () => {
  it('agrees with a sort of all stations by (distance, id) on the default stations', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 200; i++) {
      const q = uniformOnSphere(random);
      expect(bruteForceNearest(DEFAULT_STATIONS, q.lat, q.lon)).toEqual(bruteForceKNearest(DEFAULT_STATIONS, q.lat, q.lon, 1)[0]);
    }
  });
});

describe('why the index does not rank by lon/lat (the property tests can fail)', () => {
  it('rbush-knn planar order disagrees with the great-circle oracle near the poles and ±180°, where the index agrees', () => {
    // Prepare
    const random = seededRandom(11);
    const stations = CATALOGUE_MIXES.clustered(random, 2000);
    const tree = new RBush<Station & { minX: number; minY: number; maxX: number; maxY: number }>().load(
      stations.map((s) => ({ ...s, minX: s.longitude, minY: s.latitude, maxX: s.longitude, maxY: s.latitude })),
    );
    const index = new StationIndex(stations);
    const queries = Array.from({ length: 300 }, () => (random() < 0.5 ? QUERY_MIXES.polarCaps(random, stations) : QUERY_MIXES.antimeridianStrips(random, stations)));

    // Act
    const planarWrong = queries.filter((q) => knn(tree, q.lon, q.lat, 1)[0].id !== bruteForceNearest(stations, q.lat, q.lon).station.id).length;
    const indexWrong = queries.filter((q) => index.nearest(q.lat, q.lon).station.id !== bruteForceNearest(stations, q.lat, q.lon).station.id).length;

    // Assess
    expect(planarWrong).toBeGreaterThan(30);
    expect(indexWrong).toBe(0);
  });
});
