/*
 * nx run geo-index:cold-start-bench — what a transform execution environment does before its
 * first ride with the full catalogue and an inventory: stream ghcnd-stations.txt and
 * ghcnd-inventory.txt from disk (the transform streams them from S3), build the StationLookup and
 * its first per-year index. Each run is a fresh process, as a cold start is (JIT cold, nothing
 * cached); the baseline in the same run is the cold start without an inventory (catalogue + the
 * plain StationIndex). Data: the real 111k catalogue of ../shared/data with GHCN-style ids (as
 * tools/trainset-example.ts writes it) and its generated inventory (or 111k random stations when
 * ../shared/data is absent).
 *
 *   node --import tsx libs/geo-index/bench/cold-start.ts [RUNS]
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory, loadStations, StationIndex, StationLookup, type Station } from '../src/index';
import { formatInventory, makeInventory, makeStations, seededRandom, uniformOnSphere } from '../src/testing';
import { fmt, loadRealCatalogue } from './common';

interface Phases {
  catalogueMs: number;
  inventoryMs: number;
  lookupMs: number;
  firstYearMs: number;
  totalMs: number;
  /** CPU time of the whole cold start (user + system): what a loaded machine stretches. */
  cpuMs: number;
  rssMb: number;
}

const since = (start: number) => performance.now() - start;

/** One cold start, in this process: with the inventory, or the plain index (baseline). */
async function coldStart(dir: string, withInventory: boolean): Promise<Phases> {
  const begin = performance.now();
  const cpu = process.cpuUsage();
  let start = begin;
  const stations = await loadStations(createReadStream(join(dir, 'ghcnd-stations.txt')), { source: 'ghcnd-stations.txt' });
  const catalogueMs = since(start);
  start = performance.now();
  const inventory = withInventory
    ? await loadInventory(createReadStream(join(dir, 'ghcnd-inventory.txt')), { source: 'ghcnd-inventory.txt', elements: ['TMIN', 'TMAX', 'PRCP'] })
    : undefined;
  const inventoryMs = since(start);
  start = performance.now();
  const lookup = inventory ? new StationLookup(stations, { inventory }) : new StationIndex(stations);
  const lookupMs = since(start);
  start = performance.now();
  if (lookup instanceof StationLookup) lookup.nearest(40.78, -73.97, 2018);
  else lookup.nearest(40.78, -73.97);
  const firstYearMs = since(start);
  const used = process.cpuUsage(cpu);
  return { catalogueMs, inventoryMs, lookupMs, firstYearMs, totalMs: since(begin), cpuMs: (used.user + used.system) / 1000, rssMb: process.memoryUsage().rss / 2 ** 20 };
}

function ghcnLine(s: Station): string {
  const elevation = (s.elevation ?? -999.9).toFixed(1).padStart(6);
  return `${s.id.padEnd(11)} ${s.latitude.toFixed(4).padStart(8)} ${s.longitude.toFixed(4).padStart(9)} ${elevation}    ${(s.name ?? '').slice(0, 30).toUpperCase()}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const [mode, dir] = process.argv.slice(2);
  if (mode === '--child') {
    process.stdout.write(JSON.stringify(await coldStart(dir, process.argv[4] === 'inventory')));
    return;
  }
  const runs = Number(mode ?? 5);
  const work = mkdtempSync(join(tmpdir(), 'rydes-cold-start-'));
  try {
    const real = loadRealCatalogue();
    const random = seededRandom(14);
    const base = real ?? makeStations(111_363, () => uniformOnSphere(random));
    // NOAA's fixed width holds 11-character ids: US1… (CoCoRaHS-like, 45 %) or USC….
    const stations = base.map((s, i) => ({ ...s, id: `${random() < 0.45 ? 'US1' : 'USC'}${String(i).padStart(8, '0')}` }));
    const inventory = makeInventory(stations, seededRandom(15));
    writeFileSync(join(work, 'ghcnd-stations.txt'), `${stations.map(ghcnLine).join('\n')}\n`);
    writeFileSync(join(work, 'ghcnd-inventory.txt'), formatInventory(inventory, stations));
    const mb = (file: string) => (statSync(join(work, file)).size / 2 ** 20).toFixed(1);
    console.log(
      `node ${process.version}; ${fmt(stations.length)} ${real ? 'real (../shared/data)' : 'random'} stations, ghcnd-stations.txt ${mb('ghcnd-stations.txt')} MB; ` +
        `ghcnd-inventory.txt ${fmt(inventory.length)} lines, ${mb('ghcnd-inventory.txt')} MB; ${runs} fresh processes each, median\n`,
    );
    const child = (variant: string): Phases =>
      JSON.parse(execFileSync(process.execPath, [...process.execArgv, __filename, '--child', work, variant], { encoding: 'utf8' })) as Phases;
    const results: Record<string, Phases[]> = { plain: [], inventory: [] };
    for (let i = 0; i < runs; i++) for (const variant of ['plain', 'inventory']) results[variant].push(child(variant));
    const row = (label: string, all: Phases[]) => {
      const m = (key: keyof Phases) => median(all.map((p) => p[key]));
      console.log(
        `${label.padEnd(44)} catalogue ${fmt(m('catalogueMs')).padStart(5)} ms  inventory ${fmt(m('inventoryMs')).padStart(5)} ms  ` +
          `lookup ${fmt(m('lookupMs')).padStart(4)} ms  first year ${fmt(m('firstYearMs')).padStart(4)} ms  total ${fmt(m('totalMs')).padStart(5)} ms (CPU ${fmt(m('cpuMs')).padStart(5)} ms)  RSS ${fmt(m('rssMb'))} MB`,
      );
      return [m('totalMs'), m('cpuMs')];
    };
    const plain = row('baseline: catalogue + StationIndex', results.plain);
    const aware = row('catalogue + inventory + StationLookup (2018)', results.inventory);
    console.log(`\ncold start with the inventory: ${(aware[0] / plain[0]).toFixed(2)}× the baseline's wall time, ${(aware[1] / plain[1]).toFixed(2)}× its CPU time; load average ${os.loadavg()[0].toFixed(1)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

void main();
