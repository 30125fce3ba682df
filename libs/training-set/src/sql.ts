/*
 * The training-set join in SQL, for both engines that run it: DuckDB (`rydes trainset`, on local
 * files) and Athena (the named query over `ridetelemetry` and NOAA's GHCN-Daily table). The
 * fragments that decide the result — the ride's date, the quality filter, the pivot and its
 * units, the split — are the same text in both; only reading the inputs and hex → integer differ.
 */
import { SPLIT_BUCKETS, testBuckets } from './split';

/** The weather elements the training set pivots into columns. */
export const WEATHER_ELEMENTS = ['TMIN', 'TMAX', 'PRCP'] as const;

/**
 * Columns of `train.csv` and `test.csv`, in order: the label, the six features, then the ride's
 * name, statustime and groundstation for traceability.
 */
export const TRAINING_COLUMNS = ['fieldservice', 'distance', 'healthpoints', 'magicpoints', 'tmin_c', 'tmax_c', 'prcp_mm', 'name', 'statustime', 'groundstation'] as const;

/** GHCN-Daily CSV columns as NOAA publishes them (`ID,DATE,ELEMENT,DATA_VALUE,M_FLAG,Q_FLAG,S_FLAG,OBS_TIME`). */
export const WEATHER_COLUMNS = ['id', 'date', 'element', 'data_value', 'm_flag', 'q_flag', 's_flag', 'obs_time'] as const;

/** `YYYYMMDD` of a ride's `statustime` (`YYYY-MM-DD hh:mm:ss.sss`), GHCN's DATE format. */
export const RIDE_DATE_SQL = `replace(substr(statustime, 1, 10), '-', '')`;

/** A value that failed a NOAA quality check has a non-empty Q_FLAG; empty reads as NULL or ''. */
export const QUALITY_FILTER_SQL = `coalesce(q_flag, '') = ''`;

/**
 * The pivot: several values of one (station, date, element) are averaged, then tenths of °C
 * and tenths of mm become °C and mm.
 */
export const PIVOT_SQL = [
  `avg(CASE WHEN element = 'TMIN' THEN data_value END) / 10.0 AS tmin_c`,
  `avg(CASE WHEN element = 'TMAX' THEN data_value END) / 10.0 AS tmax_c`,
  `avg(CASE WHEN element = 'PRCP' THEN data_value END) / 10.0 AS prcp_mm`,
].join(',\n    ');

const ELEMENT_LIST = WEATHER_ELEMENTS.map((e) => `'${e}'`).join(', ');
const COMPLETE = `tmin_c IS NOT NULL AND tmax_c IS NOT NULL AND prcp_mm IS NOT NULL`;

/** `seed:source:ride_index` as SQL (see `splitKey`). */
function splitKeySql(seed: number): string {
  return `concat('${integer(seed, 'seed')}', ':', source, ':', CAST(ride_index AS VARCHAR))`;
}

/** Options shared by both engines. */
export interface SplitOptions {
  /** Seed of the split and shuffle; default 0. */
  seed?: number;
  /** Share of rides in test, in [0, 1], to 0.001; default 0.1. */
  testFraction?: number;
  /** Keep only rides with all three values (default: keep every ride, empty cells, as a left join). */
  dropIncomplete?: boolean;
}

/** One GHCN-Daily CSV file for DuckDB. */
export interface WeatherFile {
  path: string;
  /** The first line is `ID,DATE,…` (NOAA's by-station files) rather than data (its by-year files). */
  header: boolean;
  gzip: boolean;
}

/** Options of {@link duckdbTrainingSql}. */
export interface DuckdbTrainingOptions extends SplitOptions {
  /** The run's `rides.csv` (processed/ CSV columns). */
  ridesPath: string;
  weather: WeatherFile[];
  trainPath: string;
  testPath: string;
}

/** The statements `rydes trainset` runs in DuckDB, in order, and the queries it reads back. */
export interface DuckdbTrainingSql {
  /** Builds temp tables `rides`, `wanted` (station, date pairs the rides need), `weather` and `training`. */
  prepare: string[];
  /** The weather step alone (the one that streams the GHCN files): `prepare[2]`. */
  weatherStep: string;
  /** COPY statements writing train.csv and test.csv. */
  write: string[];
  /** One row: rides, complete, without station, per element missing, unlabelled, written train/test. */
  coverage: string;
  /** One row per groundstation: rides and per element missing. */
  coverageByStation: string;
}

/**
 * DuckDB SQL for the local training set. Weather files are streamed by DuckDB's CSV reader and
 * only (station, date) pairs some ride needs survive the join, so memory holds the pairs, not the
 * files. Output rows are ordered by md5 of the split key (a seeded shuffle).
 *
 * @example
 * ```ts
 * const sql = duckdbTrainingSql({ ridesPath: 'out/rides.csv', weather: [{ path: '2018.csv.gz', header: false, gzip: true }],
 *   trainPath: 'train/train.csv', testPath: 'train/test.csv', seed: 0, testFraction: 0.1 });
 * for (const statement of [...sql.prepare, ...sql.write]) await connection.run(statement);
 * ```
 */
export function duckdbTrainingSql(options: DuckdbTrainingOptions): DuckdbTrainingSql {
  const seed = options.seed ?? 0;
  const test = testBuckets(options.testFraction ?? 0.1);
  if (options.weather.length === 0) throw new RangeError('at least one weather file is needed');
  const rides = `CREATE TEMP TABLE rides AS
SELECT *,
  ${RIDE_DATE_SQL} AS ride_date,
  CAST('0x' || substr(md5(${splitKeySql(seed)}), 1, 8) AS UBIGINT) % ${SPLIT_BUCKETS} AS split_bucket,
  md5(${splitKeySql(seed)}) AS shuffle_key
FROM read_csv(${literal(options.ridesPath)}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')`;
  const wanted = `CREATE TEMP TABLE wanted AS
SELECT DISTINCT groundstation AS id, ride_date AS "date" FROM rides WHERE coalesce(groundstation, '') <> ''`;
  const columns = `{${WEATHER_COLUMNS.map((c) => `'${c}': '${c === 'data_value' ? 'BIGINT' : 'VARCHAR'}'`).join(', ')}}`;
  const sources = options.weather
    .map(
      (file) =>
        `SELECT * FROM read_csv(${literal(file.path)}, columns = ${columns}, header = ${file.header}, delim = ',', quote = '"', escape = '"', ` +
        `compression = '${file.gzip ? 'gzip' : 'none'}', auto_detect = false)`,
    )
    .join('\n  UNION ALL\n  ');
  const weather = `CREATE TEMP TABLE weather AS
SELECT w.id, w."date",
    ${PIVOT_SQL}
FROM (
  ${sources}
) w
JOIN wanted ON wanted.id = w.id AND wanted."date" = w."date"
WHERE w.element IN (${ELEMENT_LIST}) AND ${QUALITY_FILTER_SQL}
GROUP BY w.id, w."date"`;
  const training = `CREATE TEMP TABLE training AS
SELECT r.*, w.tmin_c, w.tmax_c, w.prcp_mm, r.split_bucket < ${test} AS is_test
FROM rides r
LEFT JOIN weather w ON w.id = r.groundstation AND w."date" = r.ride_date`;
  const keep = options.dropIncomplete ? ` AND ${COMPLETE}` : '';
  const copy = (path: string, testSide: boolean) =>
    `COPY (SELECT ${TRAINING_COLUMNS.join(', ')} FROM training WHERE ${testSide ? '' : 'NOT '}is_test${keep} ORDER BY shuffle_key, source, ride_index) ` +
    `TO ${literal(path)} (FORMAT csv, HEADER true, DELIMITER ',')`;
  return {
    prepare: [rides, wanted, weather, training],
    weatherStep: weather,
    write: [copy(options.trainPath, false), copy(options.testPath, true)],
    coverage: `SELECT count(*) AS rides,
  count(*) FILTER (WHERE ${COMPLETE}) AS complete,
  count(*) FILTER (WHERE coalesce(groundstation, '') = '') AS without_station,
  count(*) FILTER (WHERE tmin_c IS NULL) AS tmin_missing,
  count(*) FILTER (WHERE tmax_c IS NULL) AS tmax_missing,
  count(*) FILTER (WHERE prcp_mm IS NULL) AS prcp_missing,
  count(*) FILTER (WHERE coalesce(fieldservice, '') = '') AS unlabelled,
  count(*) FILTER (WHERE NOT is_test${keep}) AS train_rows,
  count(*) FILTER (WHERE is_test${keep}) AS test_rows
FROM training`,
    coverageByStation: `SELECT coalesce(groundstation, '') AS groundstation, count(*) AS rides,
  count(*) FILTER (WHERE tmin_c IS NULL) AS tmin_missing,
  count(*) FILTER (WHERE tmax_c IS NULL) AS tmax_missing,
  count(*) FILTER (WHERE prcp_mm IS NULL) AS prcp_missing
FROM training GROUP BY 1 ORDER BY 1`,
  };
}

/** Options of {@link athenaTrainingSql}. */
export interface AthenaTrainingOptions extends SplitOptions {
  database: string;
  /** The processed/ table; default `ridetelemetry`. */
  rideTable?: string;
  /** The GHCN-Daily table (partitioned by `year` and `element`). */
  weatherTable: string;
  /** Ride years to read: partition projection prunes to these years' TMIN/TMAX/PRCP. */
  years: readonly number[];
}

/**
 * Athena (Trino) SQL producing the training table from `ridetelemetry`: the same columns, values
 * and split as `rydes trainset`, plus a `split` column (`train` / `test`), ordered as the local
 * files. Only `years` × TMIN/TMAX/PRCP partitions of the weather table are read.
 *
 * @example
 * ```ts
 * athenaTrainingSql({ database: 'rides', weatherTable: 'ghcn_daily', years: [2018], seed: 0, testFraction: 0.1 });
 * ```
 */
export function athenaTrainingSql(options: AthenaTrainingOptions): string {
  const seed = options.seed ?? 0;
  const test = testBuckets(options.testFraction ?? 0.1);
  if (options.years.length === 0) throw new RangeError('at least one ride year is needed');
  const years = options.years.map((y) => integer(y, 'year')).join(', ');
  const table = (name: string) => `"${identifier(options.database)}"."${identifier(name)}"`;
  const keep = options.dropIncomplete ? `\nWHERE ${COMPLETE}` : '';
  return `WITH rides AS (
  SELECT *,
    ${RIDE_DATE_SQL} AS ride_date,
    from_base(substr(lower(to_hex(md5(to_utf8(${splitKeySql(seed)})))), 1, 8), 16) % ${SPLIT_BUCKETS} AS split_bucket,
    lower(to_hex(md5(to_utf8(${splitKeySql(seed)})))) AS shuffle_key
  FROM ${table(options.rideTable ?? 'ridetelemetry')}
),
weather AS (
  SELECT id, "date",
    ${PIVOT_SQL}
  FROM ${table(options.weatherTable)}
  WHERE year IN (${years}) AND element IN (${ELEMENT_LIST}) AND ${QUALITY_FILTER_SQL}
    AND id IN (SELECT DISTINCT groundstation FROM rides WHERE coalesce(groundstation, '') <> '')
  GROUP BY id, "date"
),
training AS (
  SELECT r.*, w.tmin_c, w.tmax_c, w.prcp_mm
  FROM rides r
  LEFT JOIN weather w ON w.id = r.groundstation AND w."date" = r.ride_date
)
SELECT ${TRAINING_COLUMNS.join(', ')},
  CASE WHEN split_bucket < ${test} THEN 'test' ELSE 'train' END AS split
FROM training${keep}
ORDER BY shuffle_key, source, ride_index`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function integer(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} ${value} is not a whole number ≥ 0`);
  return value;
}

function identifier(name: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new RangeError(`${JSON.stringify(name)} is not a Glue name (letters, digits, _)`);
  return name;
}
