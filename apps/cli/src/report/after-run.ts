import { relative } from 'node:path';

/**
 * The last step of `rydes run`: builds `OUT_DIR/report.html` and prints its path with its size
 * and build time. A report that cannot be built costs a warning line, never the run's exit code:
 * the run's output is complete without it. The report code (and ECharts) loads only here, so
 * other commands start without it.
 * @example
 * await reportAfterRun('out', process.stdout, process.stderr); // prints "report: out/report.html (…)"
 */
export async function reportAfterRun(outDir: string, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<void> {
  const started = performance.now();
  try {
    const { buildReport } = await import('./build-report');
    const built = await buildReport(outDir);
    const seconds = (performance.now() - started) / 1000;
    const shown = relative(process.cwd(), built.path);
    stdout.write(`report: ${shown.startsWith('..') ? built.path : shown} (${(built.bytes / 1024).toFixed(0)} KiB, built in ${seconds.toFixed(1)} s)\n`);
  } catch (err) {
    stderr.write(`report: not built (${(err as Error).message}); rebuild it with: rydes report ${outDir}\n`);
  }
}
