/**
 * The README's picture of a real report: renders OUT_DIR/report.html (default ./out, the
 * output of `npm start`) in headless Chromium and writes a PNG of its top, down to the end of
 * the map and the rides-per-station chart, at a width that keeps the file small.
 * Run with `npx tsx --tsconfig apps/cli/tsconfig.json tools/report-screenshot.ts [OUT_DIR] [--output docs/report.png]` after
 * `npm start` (or `rydes report OUT_DIR`).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { closeBrowser, launchBrowser, visit } from '../apps/cli/tests/helpers/browser';
import { parseArgs } from 'node:util';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { output: { type: 'string', default: 'docs/report.png' } }, allowPositionals: true });
  const outDir = resolve(positionals[0] ?? 'out');
  const output = resolve(values.output as string);
  const page = join(outDir, 'report.html');
  if (!existsSync(page)) throw new Error(`${page}: no report; run "npm start" or "npx rydes report ${outDir}" first`);
  mkdirSync(dirname(output), { recursive: true });
  const browser = await launchBrowser();
  try {
    const v = await visit(browser, page);
    if (v.problems.length) throw new Error(`the page reported: ${v.problems.join('; ')}`);
    await v.page.setViewport({ width: 1040, height: 800, deviceScaleFactor: 1 });
    // The headline, the map and the rides-per-station chart: what the README shows.
    const bottom = Number(await v.page.evaluate('document.querySelector("#stations figure").getBoundingClientRect().bottom + window.scrollY'));
    await v.page.screenshot({ path: output, clip: { x: 0, y: 0, width: 1040, height: Math.ceil(bottom) + 16 }, captureBeyondViewport: true });
  } finally {
    await closeBrowser(browser);
  }
  process.stdout.write(`${output} (${(statSync(output).size / 1024).toFixed(0)} KiB)\n`);
}

void main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
});
