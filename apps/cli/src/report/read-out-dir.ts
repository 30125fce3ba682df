import { DEFAULT_STATIONS, loadStations, type Station } from '@rydes/geo-index';
import type { Manifest } from '@rydes/ride-model';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { SUMMARY_FILE, type RunSummaryFile } from '../run/summary-file';
import { NoRunOutputError, ReportInputError } from './errors';
import { ReportCollector, type ReportData, type RowData } from './report-data';
import { fileChunks, readRideRows } from './ride-rows';
import { timelineFromTimes } from './timeline';

/** A reject part file (`…-part0003.ndjson`) a finished ingest joins into the file's rejects object. */
const REJECT_PART = /-part\d{4}\.ndjson$/;

/** Files under `dir` ending in `suffix`, as sorted relative paths with `/` separators (none: []). */
async function listFiles(dir: string, suffix: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && e.name.endsWith(suffix))
      .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function readJson<T>(path: string): Promise<T> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ReportInputError(path, `not JSON (${(err as Error).message})`);
  }
}

/**
 * The coordinates of the stations rides were matched to: the bundled NYC stations, or the
 * catalogue the run was given (read again from its path). Only matched ids are kept.
 */
export async function matchedStations(stations: string | undefined, matched: Set<string>): Promise<ReportData['stations']> {
  const keep = (all: readonly Station[]) => new Map(all.filter((s) => matched.has(s.id)).map((s) => [s.id, s]));
  if (stations === undefined || stations === 'bundled') return { source: 'bundled NYC stations', known: keep(DEFAULT_STATIONS), catalogueSize: DEFAULT_STATIONS.length };
  if (!existsSync(stations)) return { source: stations, known: new Map(), error: `${stations} is not on this machine: stations are not drawn` };
  try {
    const all = await loadStations(createReadStream(stations), { source: stations });
    return { source: stations, known: keep(all), catalogueSize: all.length };
  } catch (err) {
    return { source: stations, known: new Map(), error: `${stations}: ${(err as Error).message}` };
  }
}

/** How to read an output folder. */
export interface ReadOutDirOptions {
  /** The station catalogue's path (default: the one summary.json names). */
  stationsFile?: string;
  /**
   * The rows' aggregates, when they were gathered from exactly the rows of rides.csv while the
   * run wrote them (see RunRows): rides.csv is then not read again. Ignored without rides.csv.
   */
  rows?: RowData;
  /** The matched stations, already looked up for `rows`. */
  stations?: ReportData['stations'];
}

/**
 * One streaming pass over a `rydes run` output folder: summary.json, manifests/, rejects/ and
 * rides.csv (or processed/ when there is no rides.csv).
 * @example
 * const data = await readOutDir('out');
 * data.rides.rows; // 200000
 */
export async function readOutDir(outDir: string, options: ReadOutDirOptions = {}): Promise<ReportData> {
  const summaryPath = join(outDir, SUMMARY_FILE);
  const summary = existsSync(summaryPath) ? await readJson<RunSummaryFile>(summaryPath) : undefined;
  const collector = new ReportCollector();

  const manifests = await listFiles(join(outDir, 'manifests'), '.json');
  for (const name of manifests) collector.addManifest(await readJson<Manifest>(join(outDir, 'manifests', name)));

  for (const name of (await listFiles(join(outDir, 'rejects'), '.ndjson')).filter((n) => !REJECT_PART.test(n))) {
    const lines = createInterface({ input: createReadStream(join(outDir, 'rejects', name)), crlfDelay: Infinity });
    for await (const line of lines) collector.addReject(`rejects/${name}`, line);
  }

  const ridesCsv = join(outDir, 'rides.csv');
  let ridesSource: string;
  let rows: RowData | undefined;
  if (existsSync(ridesCsv)) {
    rows = options.rows;
    if (!rows) await readRideRows(fileChunks(ridesCsv), ridesCsv, collector);
    ridesSource = 'rides.csv';
  } else {
    const chunks = await listFiles(join(outDir, 'processed'), '.csv');
    for (const name of chunks) {
      const path = join(outDir, 'processed', name);
      await readRideRows(fileChunks(path), path, collector);
    }
    ridesSource = `processed/ (${chunks.length} CSV objects)`;
    if (!summary && manifests.length === 0 && chunks.length === 0) throw new NoRunOutputError(outDir);
  }

  const partial = collector.finish({
    subject: outDir,
    summary,
    ridesSource,
    stations: { source: '', known: new Map() },
    timeline: { points: [], source: '' },
    rows,
  });
  const stations = (rows && options.stations) ?? (await matchedStations(options.stationsFile ?? summary?.settings.stations, new Set(partial.rides.stations.map((s) => s.station))));
  const timeline = summary?.timeline?.length
    ? { points: summary.timeline, source: 'progress samples taken during the run (summary.json)' }
    : { points: timelineFromTimes(partial.manifests), source: "manifests' startedAt/finishedAt (no timeline in summary.json): ingest only" };
  return { ...partial, stations, timeline };
}
