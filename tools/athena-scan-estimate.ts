/*
 * How many bytes would Athena scan for one year of the training-set query? There is no AWS
 * account here, so this ESTIMATES it: DuckDB generates a GHCN-Daily year in NOAA's columns with
 * NOAA's order of magnitude of rows (default 35 M, the issue's "~35 M rows" per year), writes it
 * as Parquet partitioned by element the way the Open Data copy is laid out
 * (`parquet/by_year/YEAR=2018/ELEMENT=TMAX/…`), and measures what the query reads: the column
 * chunks of `id`, `date`, `data_value`, `q_flag` (the columns it names; `year` and `element` are
 * partition keys, read from the path) in the TMIN, TMAX and PRCP partitions, from the files'
 * own metadata (DuckDB's parquet_metadata). Athena bills the bytes of the column chunks it reads
 * (rounded up to 10 MB per query).
 *
 * What is assumed (and printed): the element mix, stations and value distributions below, and
 * rows ordered by (id, date) within a partition. The real files' writer, row-group size and
 * order may differ; with --worst-case the script also writes the same rows in random order (the
 * worst case for compression) and prints both.
 *
 *   npx tsx --tsconfig apps/cli/tsconfig.json tools/athena-scan-estimate.ts [--rows 35000000] [--worst-case] [--dir DIR]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
};

/**
 * Assumed share of a year's rows per element. PRCP is reported by far more stations (CoCoRaHS
 * volunteers, ids US1…) than temperature; the rest is SNOW, SNWD, TOBS, TAVG, wind, weather
 * types. Shares are an assumption, not NOAA's counts: the figures scale linearly with them.
 */
const ELEMENT_SHARES: Array<[string, number]> = [
  ['PRCP', 0.36],
  ['TMAX', 0.13],
  ['TMIN', 0.13],
  ['SNOW', 0.12],
  ['SNWD', 0.1],
  ['TOBS', 0.06],
  ['TAVG', 0.05],
  ['WT01', 0.05],
];
const QUERIED = ['TMIN', 'TMAX', 'PRCP'];
const QUERY_COLUMNS = ['id', 'date', 'data_value', 'q_flag'];

function sqlFor(rows: number, out: string, ordered: boolean): string {
  // Element by the row's position in the shares; station from a pool per element sized so that
  // each station reports about every day (rows / 365 stations), dates spread over the year.
  let from = 0;
  const cases = ELEMENT_SHARES.map(([element, share]) => {
    const to = from + share;
    const clause = `WHEN u < ${to.toFixed(4)} THEN '${element}'`;
    from = to;
    return clause;
  }).join(' ');
  return `COPY (
  WITH r AS (
    SELECT i, hash(i) % 1000000 / 1000000.0 AS u, hash(i * 7 + 1) AS h FROM range(${rows}) t(i)
  ), e AS (
    SELECT i, h, CASE ${cases} ELSE 'AWND' END AS element FROM r
  ), s AS (
    SELECT i, h, element,
      -- stations per element: its rows / 365 (one value a day each)
      (h % greatest(1, CAST(${rows} * CASE element ${ELEMENT_SHARES.map(([el, sh]) => `WHEN '${el}' THEN ${sh}`).join(' ')} ELSE 0.05 END / 365 AS BIGINT))) AS station
    FROM e
  )
  SELECT
    (CASE WHEN element = 'PRCP' AND station % 3 <> 0 THEN 'US1' ELSE 'USC' END) || lpad(CAST(station AS VARCHAR), 8, '0') AS id,
    strftime(DATE '2018-01-01' + CAST((h >> 20) % 365 AS INTEGER), '%Y%m%d') AS date,
    CAST(CASE
      WHEN element = 'TMAX' THEN CAST((h >> 8) % 400 AS BIGINT) - 40
      WHEN element = 'TMIN' THEN CAST((h >> 8) % 400 AS BIGINT) - 160
      WHEN element = 'PRCP' THEN CASE WHEN (h >> 8) % 10 < 6 THEN 0 ELSE CAST((h >> 12) % 400 AS BIGINT) END
      ELSE CAST((h >> 8) % 300 AS BIGINT)
    END AS BIGINT) AS data_value,
    CASE WHEN element = 'PRCP' AND (h >> 30) % 100 < 3 THEN 'T' ELSE NULL END AS m_flag,
    CASE WHEN (h >> 34) % 1000 = 0 THEN 'X' ELSE NULL END AS q_flag,
    CASE WHEN station % 5 = 0 THEN 'W' WHEN station % 5 = 1 THEN 'N' ELSE '7' END AS s_flag,
    CASE WHEN station % 3 = 0 THEN '0700' ELSE NULL END AS obs_time,
    element AS ELEMENT
  FROM s
  ${ordered ? 'ORDER BY element, id, date' : 'ORDER BY hash(i * 13 + 5)'}
) TO '${out}' (FORMAT parquet, PARTITION_BY (ELEMENT), COMPRESSION snappy)`;
}

const fmtMb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function main(): Promise<void> {
  const rows = Number(arg('--rows', '35000000'));
  const keep = process.argv.includes('--dir');
  const dir = keep ? arg('--dir', '') : mkdtempSync(join(tmpdir(), 'rydes-athena-estimate-'));
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '1GB', temp_directory: join(dir, 'spill'), preserve_insertion_order: 'false' });
  const connection = await instance.connect();
  try {
    console.log(`generated GHCN-Daily year: ${rows.toLocaleString('en-US')} rows; assumed element shares ${ELEMENT_SHARES.map(([e, s]) => `${e} ${Math.round(s * 100)} %`).join(', ')}, rest AWND\n`);
    for (const ordered of process.argv.includes('--worst-case') ? [true, false] : [true]) {
      const out = join(dir, ordered ? 'by-id-date' : 'random-order');
      const started = performance.now();
      await connection.run(sqlFor(rows, out, ordered));
      const seconds = (performance.now() - started) / 1000;
      let total = 0;
      let queriedFiles = 0;
      let scanned = 0;
      let queriedRows = 0;
      const perElement: string[] = [];
      for (const partition of readdirSync(out).sort()) {
        const element = partition.replace(/^ELEMENT=/, '');
        const files = readdirSync(join(out, partition)).map((f) => join(out, partition, f));
        const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
        total += bytes;
        if (!QUERIED.includes(element)) continue;
        const list = files.map((f) => `'${f}'`).join(', ');
        const reader = await connection.runAndReadAll(
          `SELECT sum(total_compressed_size) AS chunk_bytes FROM parquet_metadata([${list}]) WHERE path_in_schema IN (${QUERY_COLUMNS.map((c) => `'${c}'`).join(', ')})`,
        );
        const chunkBytes = Number(reader.getRowObjects()[0].chunk_bytes);
        const count = await connection.runAndReadAll(`SELECT count(*) AS n FROM read_parquet([${list}])`);
        const n = Number(count.getRowObjects()[0].n);
        queriedFiles += bytes;
        scanned += chunkBytes;
        queriedRows += n;
        perElement.push(`${element} ${n.toLocaleString('en-US')} rows: files ${fmtMb(bytes)}, columns ${QUERY_COLUMNS.join('/')} ${fmtMb(chunkBytes)} (${(chunkBytes / n).toFixed(2)} B/row)`);
      }
      console.log(`${ordered ? 'rows ordered by (id, date)' : 'rows in random order (worst case)'}: all partitions ${fmtMb(total)}, written in ${seconds.toFixed(0)} s`);
      for (const line of perElement) console.log(`  ${line}`);
      console.log(`  the year's query reads TMIN+TMAX+PRCP: ${queriedRows.toLocaleString('en-US')} rows, files ${fmtMb(queriedFiles)}, column chunks it names ${fmtMb(scanned)} (${((100 * scanned) / total).toFixed(1)} % of the year's Parquet)\n`);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
