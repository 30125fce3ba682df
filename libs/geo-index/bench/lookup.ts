/*
 * nx run geo-index:lookup-bench — the element/year-aware StationLookup on the real 111k catalogue
 * (or 125k random stations when ../shared/data is absent) with a generated GHCN-style inventory:
 * inventory parse time, per-year index build time and memory for 5 years, and query speed beside
 * the plain StationIndex (the baseline) in the same run. Run with --expose-gc.
 */
import { StationIndex, StationLookup, parseInventory, type Station } from '../src/index';
import { formatInventory, formatInventoryCsv, inBox, makeInventory, makeStations, seededRandom, uniformOnSphere, type LatLon } from '../src/testing';
import { NYC, fmt, loadRealCatalogue } from './common';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const YEARS = [2016, 2017, 2018, 2019, 2020];

function heapMb(): number {
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return (heapUsed + arrayBuffers) / 2 ** 20;
}

function timed<T>(run: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = run();
  return { value, ms: performance.now() - start };
}

function queriesPerSecond(run: (q: LatLon, i: number) => unknown, queries: LatLon[]): number {
  let best = 0;
  for (let pass = 0; pass < 3; pass++) {
    const start = performance.now();
    let done = 0;
    while (performance.now() - start < 400) {
      for (let i = 0; i < queries.length; i++) run(queries[i], i);
      done += queries.length;
    }
    best = Math.max(best, done / ((performance.now() - start) / 1000));
  }
  return best;
}

const random = seededRandom(20240602);
const real = loadRealCatalogue();
const stations: Station[] = real ?? makeStations(125_000, () => uniformOnSphere(random));
const label = real ? `N=${fmt(stations.length)} real stations (../shared/data)` : `N=${fmt(stations.length)} random stations (real catalogue absent)`;
console.log(`node ${process.version}; ${label}; ${(globalThis as { gc?: unknown }).gc ? 'gc exposed' : 'run with --expose-gc for memory figures'}\n`);

const inventory = makeInventory(stations, seededRandom(7));
// NOAA's fixed width holds 11-character ids; the real catalogue has longer ones, written as CSV.
const fixedWidth = stations.every((s) => s.id.length <= 11);
const text = fixedWidth ? formatInventory(inventory, stations) : formatInventoryCsv(inventory);
const parsed = timed(() => parseInventory(text, { elements: ['TMIN', 'TMAX', 'PRCP'] }));
console.log(
  `inventory: ${fmt(inventory.length)} lines, ${(text.length / 2 ** 20).toFixed(1)} MB ${fixedWidth ? 'fixed width' : 'CSV (ids longer than 11 characters)'}; parseInventory (keeping TMIN/TMAX/PRCP: ${fmt(parsed.value.length)} entries) ${parsed.ms.toFixed(0)} ms`,
);

const before = heapMb();
const plain = timed(() => new StationIndex(stations));
const plainMb = heapMb() - before;
console.log(`baseline StationIndex over all ${fmt(stations.length)} stations: build ${plain.ms.toFixed(0)} ms, ${plainMb.toFixed(1)} MB`);

const beforeLookup = heapMb();
const made = timed(() => new StationLookup(stations, { inventory: parsed.value }));
const lookup = made.value;
console.log(`StationLookup constructor (inventory → per-station year ranges): ${made.ms.toFixed(0)} ms, ${(heapMb() - beforeLookup).toFixed(1)} MB`);
for (const year of YEARS) {
  const heap = heapMb();
  const first = timed(() => lookup.nearest(40.78, -73.97, year));
  console.log(
    `  year ${year}: ${fmt(lookup.stats.candidates[year])} candidates (${((100 * lookup.stats.candidates[year]) / stations.length).toFixed(1)} %), ` +
      `first query (filter + build) ${first.ms.toFixed(0)} ms, index ${(heapMb() - heap).toFixed(1)} MB`,
  );
}
console.log(`  5 years: ${lookup.stats.indexesBuilt} indexes, ${lookup.stats.buildMs.toFixed(0)} ms in all, ${(heapMb() - beforeLookup).toFixed(1)} MB with the ranges`);

const queries = Array.from({ length: 20_000 }, () => inBox(random, ...NYC));
const times = queries.map((_, i) => `${YEARS[i % YEARS.length]}-06-01 12:00:00.000`);
const base = queriesPerSecond((q) => plain.value.nearest(q.lat, q.lon), queries);
const aware = queriesPerSecond((q, i) => lookup.nearest(q.lat, q.lon, times[i]), queries);
console.log(`\nNYC-area queries, years mixed: StationIndex ${fmt(base)} q/s; StationLookup ${fmt(aware)} q/s (${(aware / base).toFixed(2)}× the baseline)`);
