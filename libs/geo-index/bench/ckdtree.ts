/*
 * The scipy cKDTree baseline of `nx run geo-index:bench`: same catalogue file, same query points
 * (written to a temp file both read), measured in alternating rounds so both sides see the same
 * machine load. Skipped with a note when python3 with scipy is missing (CI does not need it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StationIndex, haversineKm, type NearestBatch, type Station } from '../src/index';
import { fmt } from './common';

/** Query positions in degrees, as the batch API takes them. */
export interface QuerySet {
  lat: Float64Array;
  lon: Float64Array;
}

interface ScipyRun {
  scipy: string;
  numpy: string;
  python: string;
  stations: number;
  build_ms: number;
  qps: Record<string, number>;
}

const PYTHON = process.env.PYTHON ?? 'python3';
const SCRIPT = join(__dirname, 'ckdtree.py');

/** CPU milliseconds of this process (user + system): steadier than wall time on a shared machine. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Best of `passes` timed passes of at least `minMs` CPU each, in queries per second. */
export function batchQueriesPerSecond(index: StationIndex, set: QuerySet, out: NearestBatch, passes = 3, minMs = 400): number {
  let best = 0;
  for (let pass = 0; pass < passes; pass++) {
    let done = 0;
    const start = cpuMs();
    while (cpuMs() - start < minMs) {
      index.nearestBatch(set.lat, set.lon, out);
      done += set.lat.length;
    }
    best = Math.max(best, done / ((cpuMs() - start) / 1000));
  }
  return best;
}

function scipyAvailable(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import scipy.spatial, numpy'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} not found`;
  if (probe.status !== 0) return `${PYTHON} has no scipy (${probe.stderr.trim().split('\n').at(-1)})`;
  return undefined;
}

function runScipy(catalogueFile: string, files: Record<string, string>, passes: number): ScipyRun {
  const args = [SCRIPT, String(passes), catalogueFile, ...Object.entries(files).map(([name, file]) => `${name}=${file}`)];
  const run = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')} failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ScipyRun;
}

/** How our answers compare with cKDTree's: equal, or a different station at the same haversine distance (a tie). */
function compareAnswers(stations: readonly Station[], set: QuerySet, ours: Int32Array, theirs: Int32Array): string {
  let same = 0;
  let ties = 0;
  const different: string[] = [];
  for (let i = 0; i < ours.length; i++) {
    if (ours[i] === theirs[i]) {
      same++;
      continue;
    }
    const a = stations[ours[i]];
    const b = stations[theirs[i]];
    const kmA = haversineKm(set.lat[i], set.lon[i], a.latitude, a.longitude);
    const kmB = haversineKm(set.lat[i], set.lon[i], b.latitude, b.longitude);
    if (Math.abs(kmA - kmB) <= 1e-9 && a.id < b.id) ties++;
    else different.push(`(${set.lat[i]}, ${set.lon[i]}): ours ${a.id} ${kmA} km, cKDTree ${b.id} ${kmB} km`);
  }
  const note = `answers: ${fmt(same)} identical, ${fmt(ties)} equally near (ours the smallest id), ${different.length} different`;
  return different.length === 0 ? note : `${note}\n    ${different.slice(0, 5).join('\n    ')}`;
}

const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
};

/**
 * Prints, per round and query set, our `nearestBatch` rate beside cKDTree's `query(points, k=1)`
 * rate and the ratio, then the spread over the rounds and an answer check.
 */
export function compareWithCKDTree(label: string, stations: readonly Station[], catalogueFile: string, sets: Record<string, QuerySet>, rounds: number): void {
  const missing = scipyAvailable();
  if (missing) {
    console.log(`${label}: cKDTree baseline skipped: ${missing} (apt-get install -y python3-scipy, or set PYTHON)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'geo-index-bench-'));
  try {
    const files: Record<string, string> = {};
    for (const [name, set] of Object.entries(sets)) {
      const pairs = new Float64Array(2 * set.lat.length);
      for (let i = 0; i < set.lat.length; i++) {
        pairs[2 * i] = set.lat[i];
        pairs[2 * i + 1] = set.lon[i];
      }
      files[name] = join(dir, `${name}.f64`);
      writeFileSync(files[name], pairs);
    }
    const index = new StationIndex(stations);
    // One untimed pass per set first, so no round pays for compiling our code (cKDTree is C++).
    for (const set of Object.values(sets)) batchQueriesPerSecond(index, set, { index: new Int32Array(set.lat.length), distanceKm: new Float64Array(set.lat.length) }, 1);
    const ratios: Record<string, number[]> = {};
    const ourRates: Record<string, number[]> = {};
    const theirRates: Record<string, number[]> = {};
    for (let round = 1; round <= rounds; round++) {
      // cKDTree first in odd rounds, ours first in even ones, so neither always runs in the other's wake.
      const scipyFirst = round % 2 === 1;
      const scipy = scipyFirst ? runScipy(catalogueFile, files, 3) : undefined;
      const ours: Record<string, number> = {};
      for (const [name, set] of Object.entries(sets)) {
        const out = { index: new Int32Array(set.lat.length), distanceKm: new Float64Array(set.lat.length) };
        ours[name] = batchQueriesPerSecond(index, set, out);
      }
      const baseline = scipy ?? runScipy(catalogueFile, files, 3);
      if (round === 1) {
        console.log(
          `${label}: scipy ${baseline.scipy} cKDTree (numpy ${baseline.numpy}, python ${baseline.python}) over ${fmt(baseline.stations)} unit vectors, ` +
            `built in ${baseline.build_ms.toFixed(0)} ms; it answers query(points, k=1) on vectors made before the timing, ` +
            `we answer nearestBatch(lat, lon) including trigonometry, sorting, haversine km and validation`,
        );
      }
      for (const name of Object.keys(sets)) {
        const ratio = ours[name] / baseline.qps[name];
        (ratios[name] ??= []).push(ratio);
        (ourRates[name] ??= []).push(ours[name]);
        (theirRates[name] ??= []).push(baseline.qps[name]);
        console.log(
          `${`${label}: round ${round}, ${name} queries`.padEnd(66)} nearestBatch q/s ${fmt(ours[name])}  cKDTree q/s ${fmt(baseline.qps[name])}  ratio ${ratio.toFixed(2)}×`,
        );
      }
    }
    for (const name of Object.keys(sets)) {
      const r = spread(ratios[name]);
      const o = spread(ourRates[name]);
      const t = spread(theirRates[name]);
      console.log(
        `${`${label}: ${name} queries over ${rounds} rounds`.padEnd(66)} ratio ${r.min.toFixed(2)}–${r.max.toFixed(2)}× (median ${r.median.toFixed(2)}×)  ` +
          `nearestBatch ${fmt(o.min)}–${fmt(o.max)} q/s  cKDTree ${fmt(t.min)}–${fmt(t.max)} q/s`,
      );
      const ours = index.nearestBatch(sets[name].lat, sets[name].lon).index;
      const theirs = new Int32Array(Uint8Array.from(readFileSync(`${files[name]}.ckdtree.i32`)).buffer);
      console.log(`    ${name} ${compareAnswers(stations, sets[name], ours, theirs)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
