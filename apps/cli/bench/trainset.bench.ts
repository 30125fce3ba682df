/*
 * nx run cli:trainset-bench — `rydes trainset`'s weather step on a generated GHCN-Daily year file
 * (headerless, as NOAA's by-year files; default 1 GB), DuckDB (what the command uses) beside a
 * streaming TypeScript filter with csv-parse (the baseline), same inputs, same run. Each engine
 * runs in its own process so its peak RSS is its own. Options: --size-mb N, --rides N,
 * --engines csv-parse,duckdb, --duckdb MEMORY/THREADS[/SETTING=V;…][,…] (e.g. 1GB/2,256MB/1,
 * 256MB//enable_external_file_cache=false), --dir DIR (keep and
 * reuse the generated files).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parse } from 'csv-parse';
import { encodeCsv, generateRides, type ProcessedRow } from '@rydes/ride-model';
import { buildTrainingSet, DEFAULT_MEMORY_LIMIT } from '../src/trainset/build-training-set';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};

/** mulberry32: the same files on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const stationId = (i: number) => `USC00${String(i).padStart(6, '0')}`;
const DAYS = Array.from({ length: 365 }, (_, d) => new Date(Date.UTC(2018, 0, 1 + d)).toISOString().slice(0, 10).replace(/-/g, ''));
const ELEMENTS = ['TMAX', 'TMIN', 'PRCP', 'PRCP', 'SNOW', 'SNWD', 'TOBS', 'WT01'];

/** rides.csv: generated rides, each given one of `needed` stations. */
function writeRides(path: string, rides: number, needed: number): void {
  const random = seeded(2);
  const rows: ProcessedRow[] = [];
  let i = 0;
  for (const ride of generateRides({ count: rides, seed: 1 })) {
    rows.push({ ...ride, groundstation: stationId(Math.floor(random() * needed)), groundstation_distance_km: 1, source: 'raw/bench.json', ride_index: i++ });
  }
  writeFileSync(path, encodeCsv(rows));
}

/** A headerless by-year file of about `bytes`: 40,000 stations, all days, a mix of elements. */
async function writeWeather(path: string, bytes: number): Promise<void> {
  const random = seeded(3);
  const out = createWriteStream(path);
  let written = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const element = ELEMENTS[Math.floor(random() * ELEMENTS.length)];
      const flag = random() < 0.01 ? 'X' : '';
      lines.push(`${stationId(Math.floor(random() * 40_000))},${DAYS[Math.floor(random() * 365)]},${element},${Math.floor(random() * 600) - 200},,${flag},7,0700\n`);
    }
    const chunk = lines.join('');
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

interface EngineResult {
  engine: string;
  seconds: number;
  mbPerSecond: number;
  peakRssMb: number;
  /** (station, date) pairs with at least one value kept: both engines must agree. */
  pairs: number;
  detail?: string;
}

/** DuckDB settings of one run (what `rydes trainset --memory-limit/--threads` pass). */
interface DuckdbSettings {
  memoryLimit?: string;
  threads?: number;
  settings?: Record<string, string>;
}

async function runDuckdb(rides: string, weather: string, out: string, settings: DuckdbSettings): Promise<EngineResult> {
  // Peak RSS per step, sampled: DuckDB works on its own threads while the event loop waits.
  const peaks: Record<string, number> = {};
  let step = 'open';
  const sample = () => {
    peaks[step] = Math.max(peaks[step] ?? 0, process.memoryUsage.rss() / 2 ** 20);
  };
  const timer = setInterval(sample, 25);
  const started = performance.now();
  const coverage = await buildTrainingSet({
    ridesPath: rides,
    weatherPaths: [weather],
    outDir: out,
    seed: 0,
    testFraction: 0.1,
    dropIncomplete: false,
    ...settings,
    onStep: (next) => {
      sample();
      step = next;
    },
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  const pairs = new Set<string>();
  const { readFileSync } = await import('node:fs');
  for (const file of ['train.csv', 'test.csv']) {
    for (const line of readFileSync(join(out, file), 'utf8').split('\n').slice(1)) {
      const cells = line.split(',');
      if (cells.length >= 10 && (cells[4] !== '' || cells[5] !== '' || cells[6] !== '')) pairs.add(`${cells[cells.length - 1]}|${cells[cells.length - 2].slice(0, 10).replace(/-/g, '')}`);
    }
  }
  const extra = Object.entries(settings.settings ?? {}).map(([k, v]) => `, ${k}=${v}`).join('');
  const label = `duckdb (rydes trainset; memory_limit ${settings.memoryLimit ?? DEFAULT_MEMORY_LIMIT}, threads ${settings.threads ?? 'all'}${extra})`;
  const bySteps = Object.entries(peaks).map(([name, mb]) => `${name} ${mb.toFixed(0)}`).join(', ');
  return { engine: label, seconds, mbPerSecond: coverage.weather.mbPerSecond, peakRssMb: process.resourceUsage().maxRSS / 1024, pairs: pairs.size, detail: `peak RSS MB by step: ${bySteps}` };
}

/** The baseline: csv-parse streaming, a Set of wanted (station, date) pairs, sums per pair. */
async function runCsvParse(rides: string, weather: string): Promise<EngineResult> {
  const wanted = new Set<string>();
  const rideParser = createReadStream(rides).pipe(parse({ columns: true }));
  for await (const row of rideParser as AsyncIterable<Record<string, string>>) wanted.add(`${row.groundstation}|${row.statustime.slice(0, 10).replace(/-/g, '')}`);
  const started = performance.now();
  const sums = new Map<string, number[]>();
  const parser = createReadStream(weather, { highWaterMark: 1 << 20 }).pipe(parse({ relax_column_count: true }));
  for await (const record of parser as AsyncIterable<string[]>) {
    const [id, date, element, value, , qflag] = record;
    if (qflag !== '' || (element !== 'TMIN' && element !== 'TMAX' && element !== 'PRCP')) continue;
    const key = `${id}|${date}`;
    if (!wanted.has(key)) continue;
    const slot = element === 'TMIN' ? 0 : element === 'TMAX' ? 2 : 4;
    let entry = sums.get(key);
    if (!entry) sums.set(key, (entry = [0, 0, 0, 0, 0, 0]));
    entry[slot] += Number(value);
    entry[slot + 1]++;
  }
  const seconds = (performance.now() - started) / 1000;
  return { engine: 'csv-parse streaming filter (baseline, weather step only)', seconds, mbPerSecond: statSync(weather).size / 1e6 / seconds, peakRssMb: process.resourceUsage().maxRSS / 1024, pairs: sums.size };
}

async function child(engine: string, rides: string, weather: string, out: string, settings: DuckdbSettings): Promise<void> {
  const result = engine === 'duckdb' ? await runDuckdb(rides, weather, out, settings) : await runCsvParse(rides, weather);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const text = (name: string) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};

async function main(): Promise<void> {
  const engineArg = process.argv.indexOf('--engine');
  if (engineArg !== -1) {
    const [engine, rides, weather, out, settings] = process.argv.slice(engineArg + 1);
    return child(engine, rides, weather, out, JSON.parse(settings) as DuckdbSettings);
  }

  const sizeMb = arg('--size-mb', 1024);
  const rideCount = arg('--rides', 200_000);
  // --duckdb "1GB/2,512MB/1": one DuckDB run per memory_limit/threads pair (default: the command's defaults).
  const duckdbRuns: DuckdbSettings[] = (text('--duckdb') ?? '').split(',').filter(Boolean).map((spec) => {
    const [memoryLimit, threads, extra] = spec.split('/');
    const settings = extra ? Object.fromEntries(extra.split(';').map((kv) => kv.split('=') as [string, string])) : undefined;
    return { ...(memoryLimit && { memoryLimit }), ...(threads && { threads: Number(threads) }), ...(settings && { settings }) };
  });
  if (duckdbRuns.length === 0) duckdbRuns.push({});
  const engines = (text('--engines') ?? 'csv-parse,duckdb').split(',');
  // --dir DIR keeps the generated files there and reuses them on the next run.
  const keep = text('--dir');
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'rydes-trainset-bench-'));
  try {
    const rides = join(dir, 'rides.csv');
    const weather = join(dir, '2018.csv');
    let t = performance.now();
    if (!keep || !existsSync(weather) || statSync(weather).size < sizeMb * 2 ** 20) {
      mkdirSync(dir, { recursive: true });
      writeRides(rides, rideCount, 3000);
      await writeWeather(weather, sizeMb * 2 ** 20);
    }
    const size = statSync(weather).size;
    console.log(`node ${process.version}; ${cpus().length} cores; ${rideCount.toLocaleString('en-US')} rides on 3,000 stations and a headerless weather year of ${(size / 1e6).toFixed(0)} MB (40,000 stations), ready in ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
    const results: EngineResult[] = [];
    const runs = engines.flatMap((engine) => (engine === 'duckdb' ? duckdbRuns.map((settings) => ({ engine, settings })) : [{ engine, settings: {} }]));
    for (const { engine, settings } of runs) {
      t = performance.now();
      const out = join(dir, `out-${engine}`);
      const run = spawnSync(process.execPath, [...process.execArgv, __filename, '--engine', engine, rides, weather, out, JSON.stringify(settings)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      rmSync(out, { recursive: true, force: true });
      if (run.status !== 0) throw new Error(`${engine} failed: ${run.stderr}`);
      const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as EngineResult;
      results.push(result);
      console.log(
        `${result.engine.padEnd(72)} ${result.mbPerSecond.toFixed(1).padStart(7)} MB/s of weather  ${result.seconds.toFixed(1).padStart(6)} s  peak RSS ${result.peakRssMb.toFixed(0).padStart(5)} MB  pairs with weather ${result.pairs}`,
      );
      if (result.detail) console.log(`  ${result.detail}`);
    }
    const base = results.find((r) => r.engine.startsWith('csv-parse'));
    for (const duck of results.filter((r) => r.engine.startsWith('duckdb'))) {
      if (base) console.log(`\n${duck.engine} / csv-parse throughput: ${(duck.mbPerSecond / base.mbPerSecond).toFixed(1)}×; same (station, date) pairs found: ${duck.pairs === base.pairs ? 'yes' : 'NO'}`);
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
