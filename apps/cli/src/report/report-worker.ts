/**
 * The report's thread in `rydes run` (a worker_threads entry, bundled beside the CLI as
 * report/report-worker.js). It starts once the ingest's environment is retired (the last messages
 * are being transformed) and loads the page code and ECharts; when the
 * pipeline is over it draws the charts of the rows and the timeline while the CLI merges
 * rides.csv, and it builds the page once summary.json is written. See RunReport (after-run.ts)
 * for the CLI's side.
 */
import { parentPort } from 'node:worker_threads';
import { bundleCacheKey, cliCodeCacheFolder, installCompileCache } from '../compile-cache';
import { ChartCache, chartCacheFolder, drawingCodeKey } from './chart-cache';
import type { ReportWorkerReply, ReportWorkerRequest } from './after-run';
import type { DrawnTimeline, RowCharts } from './page';
import type { ReportData, RowData } from './report-data';

interface Drawn {
  generation: number;
  rows: RowData;
  done: Promise<{ charts: RowCharts; stations: ReportData['stations'] }>;
}

const port = parentPort;
if (port) {
  // ECharts and the page code compile from the cached code of the last run's thread (written when
  // the thread is asked to exit, with the functions it ran): compiling ECharts is most of its load.
  if (!process.env.RYDES_NO_CODE_CACHE) {
    try {
      installCompileCache(cliCodeCacheFolder(), bundleCacheKey(__filename, 'report-worker'));
    } catch {
      // Compiled from source as usual.
    }
  }
  // Loaded at once: compiling the page code and ECharts is a good part of the report's time.
  const pageCode = import('./page');
  const buildCode = import('./build-report');
  // The charts of a run whose rows and stations equal an earlier run's are that run's drawing.
  const charts = (() => {
    if (process.env.RYDES_NO_CHART_CACHE) return undefined;
    try {
      const folder = chartCacheFolder();
      return folder ? new ChartCache(folder, drawingCodeKey(__filename)) : undefined;
    } catch {
      return undefined;
    }
  })();
  let drawn: Drawn | undefined;
  let timeline: Promise<DrawnTimeline> | undefined;
  const reply = (message: ReportWorkerReply) => port.postMessage(message);

  port.on('message', (request: ReportWorkerRequest) => {
    // Exits through the 'exit' event, where the code cache is written (terminate() skips it).
    if (request.type === 'exit') process.exit(0);
    if (request.type === 'timeline') {
      const { points } = request;
      timeline = pageCode.then(({ drawTimeline }) => drawTimeline(points));
      // A failure shows when the page is built (it draws the timeline itself).
      timeline.catch(() => undefined);
      return;
    }
    if (request.type === 'charts') {
      const { rows, stationsFile, generation } = request;
      drawn = {
        generation,
        rows,
        done: (async () => {
          const { matchedStations } = await import('./read-out-dir');
          const stations = await matchedStations(stationsFile, new Set(rows.rides.stations.map((s) => s.station)));
          const input = { ...rows, stations };
          const entry = charts?.entry(input);
          if (entry?.charts) return { charts: entry.charts, stations };
          const { renderRowCharts } = await pageCode;
          const drawnCharts = renderRowCharts(input);
          return { charts: entry ? entry.keep(drawnCharts) : drawnCharts, stations };
        })(),
      };
      // A failure shows when the page is built (it is built without these charts).
      drawn.done.catch(() => undefined);
      return;
    }
    void (async () => {
      try {
        const { buildReport } = await buildCode;
        // Without rows for this page (generation undefined), rides.csv is read, as by `rydes report`.
        const rows = request.generation !== undefined && drawn?.generation === request.generation ? drawn : undefined;
        const ready = await rows?.done.catch(() => undefined);
        const drawnTimeline = await timeline?.catch(() => undefined);
        const built = await buildReport(request.outDir, { ...(rows && { rows: rows.rows, ...ready }), timeline: drawnTimeline });
        reply({ type: 'page', ok: true, path: built.path, bytes: built.bytes });
      } catch (err) {
        reply({ type: 'page', ok: false, message: (err as Error).message });
      }
    })();
  });
}
