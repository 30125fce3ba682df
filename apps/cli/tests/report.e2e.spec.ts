/// <reference lib="dom" />
// page.evaluate callbacks run in the browser: the DOM types are for them.
import { parse } from 'csv-parse/sync';
import type { Station } from '@rydes/geo-index';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { buildReport } from '../src/report/build-report';
import { writeSyntheticOut } from '../src/report/synthetic-out';
import { SUMMARY_FILE, SUMMARY_VERSION, type RunSummaryFile } from '../src/run/summary-file';
import type { RunResult } from '../src/run/run-pipeline';
import { defaultBundles } from '../src/stack/bundles';
import { closeBrowser, launchBrowser, visit, type Visit } from './helpers/browser';
import { runQuietly, writeInput } from './helpers/pipeline';

const HOSTILE = '</script><img src=x onerror=alert(1)>';
/** The catalogue readers refuse blanks in a station id; HTML needs none. */
const HOSTILE_ID = '</script><img/src=x/onerror=alert(2)>';
const SCREENSHOTS = resolve(__dirname, '../../../tmp/test-results/cli/report');
const bundlesBuilt = existsSync(defaultBundles().ingest) && existsSync(defaultBundles().transform);

interface CsvRow {
  groundstation: string;
  groundstation_distance_km: string;
}

/** What rides.csv says, computed the slow obvious way: every row in memory, sorted. */
function truth(outDir: string) {
  const rows = parse(readFileSync(join(outDir, 'rides.csv')), { columns: true }) as CsvRow[];
  const byStation = new Map<string, number>();
  for (const r of rows) byStation.set(r.groundstation, (byStation.get(r.groundstation) ?? 0) + 1);
  const distances = rows.map((r) => Number(r.groundstation_distance_km)).sort((a, b) => a - b);
  const nearestRank = (q: number) => Math.floor(distances[Math.ceil(q * distances.length) - 1] * 1000) / 1000;
  const rejects = readdirSync(join(outDir, 'rejects')).flatMap((f) =>
    readFileSync(join(outDir, 'rejects', f), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== ''),
  );
  return { rows: rows.length, byStation, median: nearestRank(0.5), p99: nearestRank(0.99), rejects: rejects.length };
}

/** A summary.json from the run's figures, for as long as `rydes run` does not write its own. */
function writeSummaryIfMissing(outDir: string, result: RunResult): void {
  const path = join(outDir, SUMMARY_FILE);
  if (existsSync(path)) return;
  const f = result.figures;
  const summary: RunSummaryFile = {
    version: SUMMARY_VERSION,
    ok: result.verdict.ok,
    reasons: result.verdict.reasons,
    exitCode: result.exitCode,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:10.000Z',
    settings: { ridesPerMessage: 100, concurrency: 2, stations: 'bundled', stationCount: 11 },
    files: [],
    totals: { files: f.files, ridesRead: f.ridesRead, valid: f.valid, rejected: f.rejected, rowsWritten: f.rowsWritten, lostRides: f.lost.rides },
    dlq: { fanout: f.fanoutDlq, ingest: f.ingestDlq, fanoutMessages: [], ingestFiles: [] },
    retries: { ingestInvocations: f.ingestRetries, transformRedeliveries: f.transformRedeliveries },
    phases: {},
    wallSeconds: f.wallSeconds,
    ridesPerSecond: f.rowsWritten / f.wallSeconds,
    timeline: [],
  };
  writeFileSync(path, JSON.stringify(summary));
}

/** What a person sees on the page, read from the rendered DOM. */
async function seen(v: Visit) {
  return v.page.evaluate(() => {
    const text = (selector: string) => document.querySelector(selector)?.textContent?.trim() ?? '';
    const figure = document.querySelector('#map figure') as HTMLElement;
    const markerSeries = figure.dataset.markersSeries;
    const dots = [...document.querySelectorAll('#map path.ride-points')].reduce((n, p) => n + (p.getAttribute('d')?.match(/M/g)?.length ?? 0), 0);
    const markers = markerSeries ? document.querySelectorAll(`#map [ecmeta_series_index="${markerSeries}"][ecmeta_ssr_type="chart"]`).length : 0;
    const stationRows = [...document.querySelectorAll('#stations details tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''));
    const box = (id: string) => document.getElementById(id)?.getBoundingClientRect();
    return {
      sections: ['headline', 'map', 'stations', 'distance', 'rejects', 'timeline'].map((id) => ({ id, height: box(id)?.height ?? 0, svgs: document.querySelectorAll(`#${id} svg`).length })),
      figures: Object.fromEntries([...document.querySelectorAll('[data-figure]')].map((d) => [d.getAttribute('data-figure'), d.querySelector('dd')?.textContent ?? ''])),
      shown: text('#map figcaption strong'),
      dots,
      markers,
      markerLabels: [...document.querySelectorAll('#map svg text')].map((t) => t.textContent ?? ''),
      stationRows,
      median: text('[data-quantile="median"]'),
      p99: text('[data-quantile="p99"]'),
      rejects: text('[data-rejects]'),
      images: document.querySelectorAll('img').length,
      scripts: document.querySelectorAll('script').length,
      bodyText: document.body.innerText,
      svgLabels: [...document.querySelectorAll('svg[role="img"]')].map((s) => s.getAttribute('aria-label') ?? ''),
    };
  });
}

const n = (value: number) => value.toLocaleString('en-US');

describe('the run report in headless Chromium (real rydes run on s3rver + local-aws-sqs, the BUILT bundles; a synthetic world-wide out/)', () => {
  let dir: string;
  let browser: Browser | undefined;
  const pages: Record<string, { outDir: string; html: string; visit: Visit; seen: Awaited<ReturnType<typeof seen>> }> = {};
  let runOutput: { out: string; err: string };

  beforeAll(async () => {
    if (!bundlesBuilt) throw new Error('build the bundles first: npx nx run-many -t build -p ingest-fn transform-fn');
    dir = mkdtempSync(join(tmpdir(), 'rydes-report-'));
    mkdirSync(SCREENSHOTS, { recursive: true });

    // Page 1: a real run, two generated files with rejects, one file of hostile names.
    const inputs = [
      await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'a-lines.ndjson' }, 31, 1500, 0.05),
      await writeInput(dir, { shape: 'array', gzip: true, name: 'b-array.json.gz' }, 32, 1200, 0.05),
    ];
    // Sorted first, so its reject is the example shown for its reason.
    const hostile = join(dir, '0-hostile.ndjson');
    const ride = { distance: 3.5, healthpoints: 10, latitude: 40.75, longitude: -73.98, magicpoints: 5, statustime: '2018-05-07 20:11:04.247' };
    writeFileSync(hostile, [JSON.stringify({ ...ride, name: HOSTILE }), JSON.stringify({ ...ride, name: HOSTILE, latitude: 95 })].join('\n') + '\n');
    const realOut = join(dir, 'out');
    let result: RunResult;
    ({ result, output: runOutput } = await runQuietly({ files: [...inputs.map((i) => i.path), hostile], outDir: realOut, ridesPerMessage: 100, report: true }));
    expect(result.exitCode).toBe(0);
    writeSummaryIfMissing(realOut, result);
    await buildReport(realOut);

    // Page 2: world-wide stations (one with a hostile id), rides all over the globe, hostile reject.
    const worldOut = join(dir, 'world');
    const stations: Station[] = [
      ...Array.from({ length: 24 }, (_, i) => ({ id: `WORLD${String(i).padStart(4, '0')}`, latitude: -50 + ((i * 37) % 110), longitude: -170 + ((i * 83) % 340) })),
      { id: HOSTILE_ID, latitude: 10, longitude: 10 },
    ];
    mkdirSync(worldOut, { recursive: true });
    const catalogue = join(worldOut, 'stations.json');
    writeFileSync(catalogue, JSON.stringify(stations));
    await writeSyntheticOut(worldOut, {
      rides: 6000,
      seed: 5,
      stations,
      stationsPath: catalogue,
      centre: [0, 10],
      spreadDegrees: 120,
      names: [HOSTILE, 'Shadowfax'],
      rejects: [{ reasons: ['latitude: 95 is outside [-90, 90]'], record: { name: HOSTILE, latitude: 95 } }],
    });
    await buildReport(worldOut);

    browser = await launchBrowser();
    for (const [name, outDir] of [
      ['nyc-run', realOut],
      ['world', worldOut],
    ] as const) {
      const file = join(outDir, 'report.html');
      const v = await visit(browser, file);
      await v.page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
      pages[name] = { outDir, html: readFileSync(file, 'utf8'), visit: v, seen: await seen(v) };
    }
  }, 300_000);

  afterAll(async () => {
    await closeBrowser(browser);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('rydes run ends by printing the path of the report it wrote', () => {
    const lines = runOutput.out.trim().split('\n');
    expect(lines[lines.length - 1]).toMatch(/^report: .*out\/report\.html \(\d+ KiB, built in \d+\.\d s\)$/);
  });

  it.each(['nyc-run', 'world'])('%s: opens with no console error, no dialog and no request but the file itself', (name) => {
    const { visit: v } = pages[name];
    expect(v.problems).toEqual([]);
    expect(v.requests).toEqual([expect.stringMatching(/^file:\/\/.*\/report\.html$/)]);
  });

  it.each(['nyc-run', 'world'])('%s: shows every section, with a chart in each one that has one', (name) => {
    const { sections } = pages[name].seen;
    for (const s of sections) expect(s.height).toBeGreaterThan(50);
    expect(Object.fromEntries(sections.map((s) => [s.id, s.svgs]))).toEqual({ headline: 0, map: 1, stations: 1, distance: 1, rejects: 0, timeline: 1 });
    for (const label of pages[name].seen.svgLabels) expect(label.length).toBeGreaterThan(20);
  });

  it.each(['nyc-run', 'world'])('%s: the headline numbers are those of summary.json and rides.csv', (name) => {
    const { outDir, seen: page } = pages[name];
    const summary = JSON.parse(readFileSync(join(outDir, SUMMARY_FILE), 'utf8')) as RunSummaryFile;
    const csv = truth(outDir);
    expect(page.figures).toMatchObject({
      files: n(summary.totals.files),
      ridesRead: n(summary.totals.ridesRead),
      valid: n(summary.totals.valid),
      rejected: n(summary.totals.rejected),
      rowsWritten: n(csv.rows),
    });
    expect(summary.totals.rowsWritten).toBe(csv.rows);
  });

  it.each(['nyc-run', 'world'])('%s: the map draws the sampled rides it says it shows, and one marker per matched station', (name) => {
    const { outDir, seen: page } = pages[name];
    const csv = truth(outDir);
    const shown = Math.min(4000, csv.rows);
    expect(page.shown).toBe(`${n(shown)} of ${n(csv.rows)} rides shown`);
    expect(page.dots).toBe(shown);
    expect(page.markers).toBe(csv.byStation.size);
  });

  it.each(['nyc-run', 'world'])('%s: rides per station, median and p99 distance equal what rides.csv gives', (name) => {
    const { outDir, seen: page } = pages[name];
    const csv = truth(outDir);
    const ranked = [...csv.byStation.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const others = ranked.slice(15);
    const expected = ranked.slice(0, 15).map(([id, count]) => [id, n(count)]);
    if (others.length) expected.push([`others (${others.length} stations)`, n(others.reduce((sum, [, count]) => sum + count, 0))]);
    expect(page.stationRows.map((r) => [r[0], r[1]])).toEqual(expected);
    expect(page.median).toBe(`${csv.median.toFixed(3)} km`);
    expect(page.p99).toBe(`${csv.p99.toFixed(3)} km`);
  });

  it.each(['nyc-run', 'world'])('%s: counts every rejected ride of rejects/', (name) => {
    const { outDir, seen: page } = pages[name];
    expect(page.rejects).toBe(n(truth(outDir).rejects));
    expect(truth(outDir).rejects).toBeGreaterThan(0);
  });

  it('nyc-run: zooms to New York over the US county outline; world: shows the world over the countries', () => {
    expect(pages['nyc-run'].seen.bodyText).toMatch(/Outline: US counties \(us-atlas, 1:10m\); view 40\.\d+° to 4[01]\.\d+° latitude, -7[34]\.\d+° to -7[234]\.\d+° longitude/);
    const world = /Outline: countries \(world-atlas, 1:110m\); view (\S+)° to (\S+)° latitude, (\S+)° to (\S+)° longitude/.exec(pages.world.seen.bodyText);
    const [south, north, west, east] = (world ?? []).slice(1).map(Number);
    expect(north - south).toBeGreaterThan(120);
    expect(east - west).toBeGreaterThan(200);
    expect(pages['nyc-run'].seen.markerLabels).toEqual(expect.arrayContaining(['USW00094728']));
  });

  it.each(['nyc-run', 'world'])('%s: a ride, reject or station named </script><img onerror=…> shows as text, never as markup', (name) => {
    const { seen: page, html } = pages[name];
    expect(page.images).toBe(0);
    expect(page.scripts).toBe(0);
    expect(page.bodyText).toContain(HOSTILE);
    expect(html).not.toContain('<img');
  });

  it('world: the hostile station id is a text label on the map', () => {
    expect(pages.world.seen.markerLabels).toContain(HOSTILE_ID);
  });

  it('is deterministic: the same out/ gives the same bytes', async () => {
    const { outDir, html } = pages.world;
    const again = join(dir, 'again.html');
    await buildReport(outDir, { output: again });
    expect(readFileSync(again, 'utf8')).toBe(html);
  });
});
