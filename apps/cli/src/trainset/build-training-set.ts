import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbTrainingSql, SPLIT_BUCKETS, testBuckets } from '@rydes/training-set';
import { TrainsetInputError } from './errors';
import { checkRidesFile, describeWeatherFile, type WeatherInput } from './inputs';

/**
 * DuckDB's memory_limit for `rydes trainset`. It bounds the buffer manager only, which keeps the
 * weather files' read buffers cached until the limit is reached: the process peaks near the limit
 * plus what lives outside the buffer pool (Node, the CSV scanner's state), whatever the file size.
 * The join itself needs little (the (station, date) pairs of the rides), so a small pool costs
 * little speed (`nx run cli:trainset-bench -- --duckdb 1GB,256MB`).
 */
export const DEFAULT_MEMORY_LIMIT = '256MB';

export interface TrainsetOptions {
  ridesPath: string;
  weatherPaths: string[];
  outDir: string;
  seed: number;
  testFraction: number;
  dropIncomplete: boolean;
  /** DuckDB's memory limit, e.g. `1GB` (default {@link DEFAULT_MEMORY_LIMIT}); beyond it DuckDB spills to a temp folder. */
  memoryLimit?: string;
  /** DuckDB threads; default: DuckDB's (the machine's cores). */
  threads?: number;
  /** Further DuckDB settings, overriding the command's (benches compare them). */
  settings?: Record<string, string>;
  /** Called before each step (`rides`, `wanted`, `weather`, `training`, `write`, `coverage`), for benches. */
  onStep?: (step: string) => void;
}

/** Missing counts of one station (or of the rides without one, `groundstation` ''). */
export interface StationCoverage {
  groundstation: string;
  rides: number;
  tmin_missing: number;
  tmax_missing: number;
  prcp_missing: number;
}

/** `coverage.json`: what the left join found, before `--drop-incomplete`, and what was written. */
export interface Coverage {
  rides: number;
  /** Rides with tmin_c, tmax_c and prcp_mm all present. */
  complete: number;
  completeShare: number;
  /** Rides whose groundstation is empty (no station reported the required elements in their year). */
  withoutStation: number;
  missing: { tmin_c: number; tmax_c: number; prcp_mm: number };
  /** Rides without a fieldservice label (kept; a classifier needs to drop them). */
  unlabelled: number;
  written: { train: number; test: number };
  split: { seed: number; testFraction: number; testBuckets: number; buckets: number; hash: string };
  dropIncomplete: boolean;
  weather: { files: Array<{ path: string; bytes: number; header: boolean; gzip: boolean }>; bytes: number; seconds: number; mbPerSecond: number };
  /** Per groundstation, sorted by id; '' = rides without a station. */
  stations: StationCoverage[];
}

/**
 * `rydes trainset`: joins a run's rides.csv with GHCN-Daily weather in DuckDB (the SQL of
 * `@rydes/training-set`), writes `train.csv`, `test.csv` and `coverage.json` into `outDir`, and
 * returns the coverage. Inputs are checked before any work; DuckDB's CSV errors (which name the
 * line) are re-thrown naming the file.
 */
export async function buildTrainingSet(options: TrainsetOptions): Promise<Coverage> {
  await checkRidesFile(options.ridesPath);
  const weather: WeatherInput[] = [];
  for (const path of options.weatherPaths) weather.push(await describeWeatherFile(path));
  await mkdir(options.outDir, { recursive: true });
  const trainPath = join(options.outDir, 'train.csv');
  const testPath = join(options.outDir, 'test.csv');
  const sql = duckdbTrainingSql({
    ridesPath: options.ridesPath,
    weather,
    trainPath,
    testPath,
    seed: options.seed,
    testFraction: options.testFraction,
    dropIncomplete: options.dropIncomplete,
  });

  const spill = await mkdtemp(join(tmpdir(), 'rydes-trainset-'));
  // Loaded here, not at the top: every other rydes command starts without DuckDB's native module.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
    temp_directory: spill,
    preserve_insertion_order: 'false',
    ...(options.threads && { threads: String(options.threads) }),
    ...options.settings,
  });
  const connection = await instance.connect();
  try {
    let weatherSeconds = 0;
    const steps = ['rides', 'wanted', 'weather', 'training'];
    for (const [i, statement] of sql.prepare.entries()) {
      options.onStep?.(steps[i]);
      const started = process.hrtime.bigint();
      await run(connection, statement, statement === sql.weatherStep ? weather.map((w) => w.path).join(', ') : options.ridesPath);
      if (statement === sql.weatherStep) weatherSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    }
    options.onStep?.('write');
    for (const statement of sql.write) await run(connection, statement, options.outDir);
    options.onStep?.('coverage');
    const [totals] = await rows(connection, sql.coverage);
    const stations = (await rows(connection, sql.coverageByStation)).map((r) => ({
      groundstation: String(r.groundstation),
      rides: Number(r.rides),
      tmin_missing: Number(r.tmin_missing),
      tmax_missing: Number(r.tmax_missing),
      prcp_missing: Number(r.prcp_missing),
    }));
    const bytes = weather.reduce((n, w) => n + w.bytes, 0);
    const total = Number(totals.rides);
    const coverage: Coverage = {
      rides: total,
      complete: Number(totals.complete),
      completeShare: total === 0 ? 0 : Number(totals.complete) / total,
      withoutStation: Number(totals.without_station),
      missing: { tmin_c: Number(totals.tmin_missing), tmax_c: Number(totals.tmax_missing), prcp_mm: Number(totals.prcp_missing) },
      unlabelled: Number(totals.unlabelled),
      written: { train: Number(totals.train_rows), test: Number(totals.test_rows) },
      split: {
        seed: options.seed,
        testFraction: options.testFraction,
        testBuckets: testBuckets(options.testFraction),
        buckets: SPLIT_BUCKETS,
        hash: `test when uint32(first 8 hex of md5("seed:source:ride_index")) mod ${SPLIT_BUCKETS} < ${testBuckets(options.testFraction)}`,
      },
      dropIncomplete: options.dropIncomplete,
      weather: {
        files: weather.map(({ path, bytes: size, header, gzip }) => ({ path, bytes: size, header, gzip })),
        bytes,
        seconds: weatherSeconds,
        mbPerSecond: weatherSeconds > 0 ? bytes / 1e6 / weatherSeconds : 0,
      },
      stations,
    };
    await writeFile(join(options.outDir, 'coverage.json'), `${JSON.stringify(coverage, null, 2)}\n`);
    return coverage;
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(spill, { recursive: true, force: true });
  }
}

/**
 * The printed summary: headline figures first, then the ten stations with the most rides lacking
 * a value.
 */
export function formatCoverage(coverage: Coverage, outDir: string): string {
  const pct = (n: number) => (coverage.rides === 0 ? '0.0' : ((100 * n) / coverage.rides).toFixed(1));
  const lines = [
    `rides ${coverage.rides}: complete ${coverage.complete} (${pct(coverage.complete)} %), without a station ${coverage.withoutStation} (${pct(coverage.withoutStation)} %)`,
    `missing: tmin_c ${coverage.missing.tmin_c} (${pct(coverage.missing.tmin_c)} %), tmax_c ${coverage.missing.tmax_c} (${pct(coverage.missing.tmax_c)} %), prcp_mm ${coverage.missing.prcp_mm} (${pct(coverage.missing.prcp_mm)} %)`,
    `written: train ${coverage.written.train}, test ${coverage.written.test}${coverage.dropIncomplete ? ' (complete rows only)' : ''}; unlabelled rides ${coverage.unlabelled}`,
    `weather: ${(coverage.weather.bytes / 1e6).toFixed(1)} MB in ${coverage.weather.seconds.toFixed(1)} s (${coverage.weather.mbPerSecond.toFixed(1)} MB/s)`,
  ];
  const worst = coverage.stations
    .filter((s) => s.groundstation !== '')
    .map((s) => ({ ...s, lacking: Math.max(s.tmin_missing, s.tmax_missing, s.prcp_missing) }))
    .filter((s) => s.lacking > 0)
    .sort((a, b) => b.lacking - a.lacking || (a.groundstation < b.groundstation ? -1 : 1))
    .slice(0, 10);
  if (worst.length > 0) {
    lines.push('stations with the most rides lacking a value (rides: tmin/tmax/prcp missing):');
    for (const s of worst) lines.push(`  ${s.groundstation} ${s.rides}: ${s.tmin_missing}/${s.tmax_missing}/${s.prcp_missing}`);
  }
  lines.push(`wrote ${join(outDir, 'train.csv')}, ${join(outDir, 'test.csv')}, ${join(outDir, 'coverage.json')}`);
  return lines.join('\n');
}

async function run(connection: DuckDBConnection, statement: string, input: string): Promise<void> {
  try {
    await connection.run(statement);
  } catch (err) {
    throw new TrainsetInputError(input, `DuckDB: ${(err as Error).message}`, { cause: err });
  }
}

async function rows(connection: DuckDBConnection, query: string): Promise<Array<Record<string, unknown>>> {
  const reader = await connection.runAndReadAll(query);
  return reader.getRowObjectsJson() as Array<Record<string, unknown>>;
}
