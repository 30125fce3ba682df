import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ReportTimelinePoint, RowData } from './report-data';
import { RunRows } from './run-rows';

/** How long {@link RunReport.close} lets the report's thread take to exit (writing its code cache) before terminating it. */
export const CLOSE_GRACE_MS = 5000;

/** What the CLI asks of the report's thread (report-worker.ts). */
export type ReportWorkerRequest =
  /** Draw the charts of these rows (a later generation replaces an earlier one). */
  | { type: 'charts'; generation: number; rows: RowData; stationsFile?: string }
  /** Draw the timeline chart of the run's progress samples (summary.json's timeline). */
  | { type: 'timeline'; points: ReportTimelinePoint[] }
  /** Build OUT_DIR/report.html, with the rows of `generation` (undefined: read rides.csv). */
  | { type: 'page'; outDir: string; generation?: number }
  /** Exit (writing the thread's code cache when it compiled code from source). */
  | { type: 'exit' };

/** The report thread's answer to a page request. */
export type ReportWorkerReply = { type: 'page'; ok: true; path: string; bytes: number } | { type: 'page'; ok: false; message: string };

/**
 * The built report thread beside the CLI bundle (dist/apps/cli/report/report-worker.js); undefined
 * when running from the TypeScript sources (specs), where the report is built on the caller's thread.
 */
export function builtReportWorker(dir = __dirname): string | undefined {
  return [join(dir, 'report', 'report-worker.js'), join(dir, 'report-worker.js')].find((path) => existsSync(path));
}

/** Prints where the report went, or why it was not built (never the run's exit code: its output is complete without it). */
function printBuilt(outDir: string, started: number, built: { path: string; bytes: number } | Error, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void {
  if (built instanceof Error) {
    stderr.write(`report: not built (${built.message}); rebuild it with: rydes report ${outDir}\n`);
    return;
  }
  const seconds = (performance.now() - started) / 1000;
  const shown = relative(process.cwd(), built.path);
  stdout.write(`report: ${shown.startsWith('..') ? built.path : shown} (${(built.bytes / 1024).toFixed(0)} KiB, built in ${seconds.toFixed(1)} s)\n`);
}

/**
 * Builds `OUT_DIR/report.html` on this thread and prints its path with its size and build time.
 * The report code (and ECharts) loads only here, so other commands start without it.
 * @example
 * await reportAfterRun('out', process.stdout, process.stderr); // prints "report: out/report.html (…)"
 */
export async function reportAfterRun(outDir: string, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, rows?: RowData): Promise<void> {
  const started = performance.now();
  try {
    const { buildReport } = await import('./build-report');
    printBuilt(outDir, started, await buildReport(outDir, { rows }), stdout, stderr);
  } catch (err) {
    printBuilt(outDir, started, err as Error, stdout, stderr);
  }
}

/**
 * The report of one `rydes run`, built mostly before the summary rather than after it:
 * - during the pipeline, each processed/ object is read once as it is written ({@link RunRows});
 * - once the ingest's environment is retired ({@link prepare}: the last messages are being
 *   transformed), a thread of its own starts and loads ECharts and the page code, so that it is
 *   ready when the pipeline is over;
 * - when the pipeline is over ({@link pipelineDone}), the thread draws the charts of the rows and
 *   the timeline while this thread merges rides.csv and writes summary.json;
 * - the merge confirms the rows are exactly rides.csv's ({@link mergedChunk}); otherwise the
 *   report reads rides.csv, as `rydes report` does;
 * - {@link finish}, after summary.json: the page, which prints its path, size and the time it
 *   took after the summary.
 * The page is the one `rydes report OUT_DIR` builds from the same folder, byte for byte. Without
 * the built thread (specs run from the sources) it is built on this thread, from the same rows.
 * @example
 * const report = new RunReport('out', undefined, (key) => bucketFileOf(key));
 * report.offer(key);                       // each processed/ object written
 * report.prepare();                        // the ingest's environment retired
 * report.pipelineDone(timeline);
 * await mergeRides(out, sources, readable, report.mergedChunk);
 * await report.finish(process.stdout, process.stderr);
 * await report.close();
 */
export class RunReport {
  readonly rows = new RunRows();
  private worker?: Worker;
  private workerError?: Error;
  private generation = 0;
  private drawnWith?: { during: number; atMerge: number };
  private answer?: (reply: ReportWorkerReply | Error) => void;
  /** Resolves when the thread asked to exit has exited. */
  private exited?: Promise<void>;

  /**
   * @param outDir the run's --out
   * @param stationsFile the run's --stations (undefined: the bundled stations), as summary.json names it
   * @param fileOf the local file of a written object, when it can be read in place
   * @param entry the built report thread (undefined: build on this thread)
   */
  constructor(
    private readonly outDir: string,
    private readonly stationsFile: string | undefined,
    private readonly fileOf: (key: string) => string | undefined,
    private readonly entry: string | undefined = builtReportWorker(),
  ) {}

  /** A processed/ object was written. */
  offer(key: string): void {
    this.rows.offer(key, this.fileOf(key));
  }

  /** The merge's hook: it copied `key` from `path` at `version` into rides.csv. */
  readonly mergedChunk = (key: string, path: string, version: string): void => this.rows.merged(key, path, version);

  /**
   * Starts the report's thread (once), which loads ECharts and the page code. Called once the
   * ingest's environment is retired (its memory given back: the thread does not add to the run's
   * peak), so that the thread is ready when the pipeline is over; at the latest by {@link pipelineDone}.
   */
  prepare(): void {
    if (!this.entry || this.worker || this.workerError) return;
    try {
      // This process's environment as the code sees it (the thread's tmpdir() holds its code cache).
      const worker = new Worker(this.entry, { env: process.env });
      worker.on('message', (reply: ReportWorkerReply) => this.answer?.(reply));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', this.exitedEarly);
      this.worker = worker;
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /**
   * The pipeline is over: reads what is left of the objects and has the report's thread draw the
   * charts of the rows, and the timeline of `timeline` (the progress samples summary.json will hold).
   */
  pipelineDone(timeline?: ReportTimelinePoint[]): void {
    // Started first: the thread boots while this one reads the last objects.
    this.prepare();
    this.rows.drain();
    if (!this.worker || this.workerError) return;
    // Drawn now, from the rows of every object written; the merge checks them afterwards.
    const rows = this.rows.settle({ final: false });
    if (rows) this.draw(rows);
    if (timeline) this.worker.postMessage({ type: 'timeline', points: timeline } satisfies ReportWorkerRequest);
  }

  /** Builds the page (summary.json is written) and prints its path; a failure is a warning line. */
  async finish(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<void> {
    const started = performance.now();
    const rows = this.rows.settle();
    if (!this.worker || this.workerError) return reportAfterRun(this.outDir, stdout, stderr, rows);
    // Rows added at the merge (objects not read during the run): the charts are drawn again.
    if (rows && (this.drawnWith?.during !== this.rows.counts.during || this.drawnWith.atMerge !== this.rows.counts.atMerge)) this.draw(rows);
    const reply = await new Promise<ReportWorkerReply | Error>((resolve) => {
      this.answer = resolve;
      if (this.workerError) return resolve(this.workerError);
      this.worker?.postMessage({ type: 'page', outDir: this.outDir, generation: rows ? this.generation : undefined } satisfies ReportWorkerRequest);
    });
    this.answer = undefined;
    // Its work is done: it exits (writing its code cache when it compiled code from source) while
    // this thread prints the line and closes the rest; close() waits for it.
    if (!(reply instanceof Error)) this.exit();
    // The thread failed (not the page): the page is built here.
    if (reply instanceof Error) return reportAfterRun(this.outDir, stdout, stderr, rows);
    printBuilt(this.outDir, started, reply.ok ? reply : new Error(reply.message), stdout, stderr);
  }

  /**
   * Stops the report's thread: it was asked to exit once it answered the page (it then writes
   * its code cache when it compiled code from source, which terminate() would skip); otherwise
   * (a run that failed or was interrupted waits for no drawing), or when it takes over
   * {@link CLOSE_GRACE_MS} to exit, it is terminated.
   */
  async close(): Promise<void> {
    const worker = this.worker;
    const exited = this.exited;
    this.worker = undefined;
    if (!worker) return;
    worker.off('exit', this.exitedEarly);
    if (!exited) {
      await worker.terminate();
      return;
    }
    const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Asks the thread to exit (once); {@link exited} resolves when it has. */
  private exit(): void {
    const worker = this.worker;
    if (!worker || this.exited) return;
    worker.off('exit', this.exitedEarly);
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'exit' } satisfies ReportWorkerRequest);
  }

  private draw(rows: RowData): void {
    this.generation++;
    this.drawnWith = { ...this.rows.counts };
    this.worker?.postMessage({ type: 'charts', generation: this.generation, rows, stationsFile: this.stationsFile } satisfies ReportWorkerRequest);
  }

  /** The thread exited before it was asked to (it failed). */
  private readonly exitedEarly = (code: number): void => this.fail(new Error(`the report's thread exited (code ${code})`));

  private fail(err: Error): void {
    this.workerError ??= err;
    this.answer?.(err);
  }
}
