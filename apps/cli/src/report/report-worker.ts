/**
 * The report's thread in `rydes run` (a worker_threads entry, bundled beside the CLI as
 * report/report-worker.js). It starts when the pipeline is over, when the function environments
 * are gone and a core is free; it loads the page code and ECharts while the CLI merges rides.csv,
 * draws the charts of the rows as soon as it is sent them, and builds the page once summary.json
 * is written. See RunReport (after-run.ts) for the CLI's side.
 */
import { parentPort } from 'node:worker_threads';
import type { ReportWorkerReply, ReportWorkerRequest } from './after-run';
import type { RowCharts } from './page';
import type { ReportData, RowData } from './report-data';

interface Drawn {
  generation: number;
  rows: RowData;
  done: Promise<{ charts: RowCharts; stations: ReportData['stations'] }>;
}

const port = parentPort;
if (port) {
  // Loaded at once: compiling the page code and ECharts is a good part of the report's time.
  const pageCode = import('./page');
  const buildCode = import('./build-report');
  let drawn: Drawn | undefined;
  const reply = (message: ReportWorkerReply) => port.postMessage(message);

  port.on('message', (request: ReportWorkerRequest) => {
    if (request.type === 'charts') {
      const { rows, stationsFile, generation } = request;
      drawn = {
        generation,
        rows,
        done: (async () => {
          const { matchedStations } = await import('./read-out-dir');
          const stations = await matchedStations(stationsFile, new Set(rows.rides.stations.map((s) => s.station)));
          const { renderRowCharts } = await pageCode;
          return { charts: renderRowCharts({ ...rows, stations }), stations };
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
        const built = await buildReport(request.outDir, rows ? { rows: rows.rows, ...ready } : {});
        reply({ type: 'page', ok: true, path: built.path, bytes: built.bytes });
      } catch (err) {
        reply({ type: 'page', ok: false, message: (err as Error).message });
      }
    })();
  });
}
