/*
 * nx run geo-index:exactness — at least 1,000,000 seeded nearest queries, the same again through
 * nearestBatch (one batch per catalogue and query mix), plus k-nearest ones, compared with a
 * brute-force haversine scan; prints the counts and exits 1 on any mismatch.
 *
 * Brute force costs O(n) per query, so the million runs over catalogues of 1-1,500 stations
 * (fresh seeds each round, same shapes as the unit tests, plus random samples of the real 111k
 * points when present); the full real catalogue gets a few thousand brute-force queries.
 */
import { StationIndex, type Neighbour, type Station } from '../src/index';
import { CATALOGUE_MIXES, QUERY_MIXES, bruteForceKNearest, bruteForceNearest, seededRandom, shuffle, type QueryMaker } from '../src/testing';
import { fmt, loadRealCatalogue } from './common';

interface Tally {
  nearest: number;
  batch: number;
  kNearest: number;
  mismatches: number;
}

const tallies = new Map<string, Tally>();
const examples: string[] = [];

function sameList(a: Neighbour[], b: Neighbour[]): boolean {
  return a.length === b.length && a.every((n, i) => n.station.id === b[i].station.id && Math.abs(n.distanceKm - b[i].distanceKm) <= 1e-9);
}

function mismatch(label: string, what: string): void {
  if (examples.length < 10) examples.push(`${label}: ${what}`);
}

/** Runs `perMix` queries of every query mix on one catalogue; every `kEvery`-th also checks kNearest. */
function check(label: string, stations: Station[], random: () => number, perMix: number, kEvery: number): void {
  const tally = tallies.get(label) ?? { nearest: 0, batch: 0, kNearest: 0, mismatches: 0 };
  tallies.set(label, tally);
  const index = new StationIndex(stations);
  for (const [mix, makeQuery] of Object.entries(QUERY_MIXES) as Array<[string, QueryMaker]>) {
    const lats = new Float64Array(perMix);
    const lons = new Float64Array(perMix);
    const wants: Neighbour[] = [];
    for (let q = 0; q < perMix; q++) {
      const { lat, lon } = makeQuery(random, stations);
      lats[q] = lat;
      lons[q] = lon;
      const got = index.nearest(lat, lon);
      const want = bruteForceNearest(stations, lat, lon);
      wants.push(want);
      tally.nearest++;
      if (got.station.id !== want.station.id || Math.abs(got.distanceKm - want.distanceKm) > 1e-9) {
        tally.mismatches++;
        mismatch(label, `${mix} nearest(${lat}, ${lon}) gave ${got.station.id} ${got.distanceKm} km, brute force ${want.station.id} ${want.distanceKm} km`);
      }
      if (q % kEvery !== 0) continue;
      const k = 1 + Math.floor(random() * (random() < 0.1 ? stations.length + 2 : 20));
      const max = random() < 0.5 ? Infinity : random() * 3000;
      tally.kNearest++;
      const gotK = index.kNearest(lat, lon, k, max);
      const wantK = bruteForceKNearest(stations, lat, lon, k, max);
      if (!sameList(gotK, wantK)) {
        tally.mismatches++;
        mismatch(label, `${mix} kNearest(${lat}, ${lon}, ${k}, ${max}) gave ${gotK.map((n) => n.station.id).join(' ')}, brute force ${wantK.map((n) => n.station.id).join(' ')}`);
      }
    }
    // The same queries as one batch: answers must match query by query.
    const batch = index.nearestBatch(lats, lons);
    for (let q = 0; q < perMix; q++) {
      const got = stations[batch.index[q]];
      tally.batch++;
      if (got.id !== wants[q].station.id || Math.abs(batch.distanceKm[q] - wants[q].distanceKm) > 1e-9) {
        tally.mismatches++;
        mismatch(label, `${mix} nearestBatch(${lats[q]}, ${lons[q]}) gave ${got.id} ${batch.distanceKm[q]} km, brute force ${wants[q].station.id} ${wants[q].distanceKm} km`);
      }
    }
  }
}

const started = performance.now();
const real = loadRealCatalogue();
const ROUNDS = 23;
for (let round = 0; round < ROUNDS; round++) {
  const random = seededRandom(1000 + round);
  check('uniform, N=1,000', CATALOGUE_MIXES.uniform(random, 1000), random, 1800, 40);
  check('clustered (NYC, ±180°, poles), N=1,000', CATALOGUE_MIXES.clustered(random, 1000), random, 1800, 40);
  check('duplicated coordinates, N=600 on 75 positions', CATALOGUE_MIXES.duplicated(random, 600), random, 1800, 40);
  check('on ±180° and the poles exactly, N=300', CATALOGUE_MIXES.antimeridianAndPoles(random, 300), random, 1800, 40);
  for (let n = 1; n <= 11; n++) check('tiny, N=1..11', CATALOGUE_MIXES.tiny(random, n), random, 60, 10);
  if (real) check('random samples of the real catalogue, N=1,500', shuffle([...real], random).slice(0, 1500), random, 1200, 40);
  process.stderr.write(`round ${round + 1}/${ROUNDS} done after ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}
if (real) {
  // The full real catalogue (111k points, 7,307 duplicated coordinates): brute force is ~3 ms a query.
  check(`full real catalogue, N=${fmt(real.length)}`, real, seededRandom(7), 600, 60);
} else {
  console.log('real catalogue ../shared/data/stations-us-111k.csv not found: skipped');
}

let nearest = 0;
let batch = 0;
let kNearest = 0;
let mismatches = 0;
for (const [label, t] of tallies) {
  console.log(`${label.padEnd(52)} nearest ${fmt(t.nearest).padStart(9)}  nearestBatch ${fmt(t.batch).padStart(9)}  kNearest ${fmt(t.kNearest).padStart(7)}  mismatches ${t.mismatches}`);
  nearest += t.nearest;
  batch += t.batch;
  kNearest += t.kNearest;
  mismatches += t.mismatches;
}
console.log(`\nqueries: ${fmt(nearest)} nearest + ${fmt(batch)} in batches + ${fmt(kNearest)} kNearest = ${fmt(nearest + batch + kNearest)}; mismatches: ${mismatches}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
for (const line of examples) console.log(`  ${line}`);
process.exitCode = mismatches === 0 ? 0 : 1;
