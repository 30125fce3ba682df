import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderPage, type DrawnTimeline, type RowCharts } from './page';
import { readOutDir, type ReadOutDirOptions } from './read-out-dir';
import type { ReportData } from './report-data';

/** The report's file name in the output folder. */
export const REPORT_FILE = 'report.html';

/** Where the report went, how big it is and how long it took. */
export interface BuiltReport {
  path: string;
  bytes: number;
  /** Reading out/ (one pass) and rendering, seconds. */
  readSeconds: number;
  renderSeconds: number;
}

/** Writes `html` to `path` through a temporary file, so a reader never sees half a page. */
export async function writePage(path: string, html: string): Promise<number> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, html);
  await rename(temporary, path);
  return Buffer.byteLength(html);
}

/** Renders `data` to `path` (with `charts` of its rows and its `timeline` already drawn, when given). */
export async function writeReport(data: ReportData, path: string, charts?: RowCharts, timeline?: DrawnTimeline): Promise<{ bytes: number; renderSeconds: number }> {
  const started = performance.now();
  const html = renderPage(data, charts, timeline);
  const renderSeconds = (performance.now() - started) / 1000;
  return { bytes: await writePage(path, html), renderSeconds };
}

/** How to build the report; see {@link ReadOutDirOptions} for `rows` and `stations`. */
export interface BuildReportOptions extends ReadOutDirOptions {
  /** Where to write the page (default: OUT_DIR/report.html). */
  output?: string;
  /** The charts of `rows` and `stations`, drawn before (see {@link renderRowCharts}). */
  charts?: RowCharts;
  /** The timeline chart drawn before (see {@link drawTimeline}): used when summary.json has the same points. */
  timeline?: DrawnTimeline;
}

/**
 * `out/report.html` from an existing output folder: one streaming pass over it, then the page.
 * @example
 * const report = await buildReport('out');
 * report.path; // 'out/report.html'
 */
export async function buildReport(outDir: string, options: BuildReportOptions = {}): Promise<BuiltReport> {
  const started = performance.now();
  const data = await readOutDir(outDir, options);
  const readSeconds = (performance.now() - started) / 1000;
  const path = options.output ?? join(outDir, REPORT_FILE);
  // The charts drawn for `rows` are the page's only when the page's rows are those rows.
  const charts = options.rows && data.rides.points === options.rows.rides.points && data.stations === options.stations ? options.charts : undefined;
  const { bytes, renderSeconds } = await writeReport(data, path, charts, options.timeline);
  return { path, bytes, readSeconds, renderSeconds };
}
