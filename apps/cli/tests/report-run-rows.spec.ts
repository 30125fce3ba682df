import { existsSync, linkSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSV_COLUMNS } from '@rydes/ride-model';
import { deserialize, serialize } from 'node:v8';
import { RunReport, builtReportWorker } from '../src/report/after-run';
import { buildReport } from '../src/report/build-report';
import { drawTimeline, renderPage } from '../src/report/page';
import { readOutDir } from '../src/report/read-out-dir';
import { fileVersion } from '../src/report/file-version';
import { ReportCollector, type ReportTimelinePoint } from '../src/report/report-data';
import { fileChunks, readRideRows } from '../src/report/ride-rows';
import { MAX_FOLLOWED_OBJECTS, RunRows } from '../src/report/run-rows';
import { writeSyntheticOut } from '../src/report/synthetic-out';

/** A synthetic out/ with its processed/ objects, and a "bucket" folder of hard links to them (as the run's mirror makes). */
// The report thread draws every chart here (a chart kept by an earlier run of these specs would
// stand in for the drawing); the spec about the chart cache turns it on for itself.
process.env.RYDES_NO_CHART_CACHE = '1';

async function outWithObjects(dir: string, rides: number): Promise<{ outDir: string; bucket: string; keys: string[] }> {
  const outDir = join(dir, 'out');
  await writeSyntheticOut(outDir, {
    rides,
    seed: 3,
    ridesPerMessage: 250,
    processed: true,
    names: ['Shadowfax', 'a "quoted, name"', 'plain'],
    rejects: [{ reasons: ['latitude: 95 is outside [-90, 90]'], record: { latitude: 95 } }],
  });
  const bucket = join(dir, 'bucket');
  mkdirSync(bucket, { recursive: true });
  const keys = readdirSync(join(outDir, 'processed'))
    .sort()
    .map((name) => `processed/${name}`);
  for (const key of keys) linkSync(join(outDir, key), join(bucket, key.replace('processed/', '')));
  return { outDir, bucket, keys };
}

const versionOfPath = (path: string) => {
  const fd = openSync(path, 'r');
  try {
    return fileVersion(fd);
  } finally {
    closeSync(fd);
  }
};

/** What reading rides.csv gives. */
async function fromRidesCsv(outDir: string) {
  const collector = new ReportCollector();
  const file = join(outDir, 'rides.csv');
  await readRideRows(fileChunks(file), file, (row) => collector.addRow(row));
  return collector.rowData();
}

/** Offers `order`'s objects as written, lets the event loop read them, then merges `keys` in order. */
async function follow(rows: RunRows, outDir: string, bucket: string, order: string[], keys: string[]) {
  for (const key of order) rows.offer(key, join(bucket, key.replace('processed/', '')));
  await new Promise((resolve) => setTimeout(resolve, 50));
  rows.drain();
  for (const key of keys) rows.merged(key, join(outDir, key), versionOfPath(join(outDir, key)));
}

describe('RunRows: the report aggregates processed/ objects as the run writes them', () => {
  let dir: string;
  let outDir: string;
  let bucket: string;
  let keys: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-run-rows-'));
    ({ outDir, bucket, keys } = await outWithObjects(dir, 2_000));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('objects read in any order give what rides.csv gives (counts, sample, quantiles, mean)', async () => {
    const rows = new RunRows();
    const shuffled = [keys[3], keys[0], keys[7], keys[5], keys[1], keys[6], keys[2], keys[4]];
    expect([...shuffled].sort()).toEqual(keys);
    await follow(rows, outDir, bucket, shuffled, keys);
    expect(rows.counts).toEqual({ during: 8, atMerge: 0 });
    const settled = rows.settle();
    expect(rows.reason).toBeUndefined();
    expect(settled).toEqual(await fromRidesCsv(outDir));
    expect(settled?.rides.rows).toBe(2_000);
  });

  it('reads at the merge an object never offered (the same result)', async () => {
    const rows = new RunRows();
    await follow(rows, outDir, bucket, keys.slice(1), keys);
    expect(rows.counts).toEqual({ during: 7, atMerge: 1 });
    expect(rows.settle()).toEqual(await fromRidesCsv(outDir));
  });

  it('gives up when an object changed after it was read (rides.csv is read instead)', async () => {
    const rows = new RunRows();
    for (const key of keys) rows.offer(key, join(bucket, key.replace('processed/', '')));
    rows.drain();
    // Rewritten in place (the same inode): other rows, a later modification time.
    const changed = join(outDir, keys[2]);
    writeFileSync(changed, `${CSV_COLUMNS.join(',')}\n`);
    utimesSync(changed, new Date(), new Date(Date.now() + 5_000));
    for (const key of keys) rows.merged(key, join(outDir, key), versionOfPath(join(outDir, key)));
    expect(rows.settle()).toBeUndefined();
    expect(rows.reason).toContain(`${keys[2]} changed after it was read`);
  });

  it('gives up when an object read was not merged', async () => {
    const rows = new RunRows();
    await follow(rows, outDir, bucket, keys, keys.slice(0, -1));
    expect(rows.settle()).toBeUndefined();
    expect(rows.reason).toContain('read and not merged');
  });

  it(`follows at most ${MAX_FOLLOWED_OBJECTS} objects (one per ride would grow with the run)`, () => {
    const rows = new RunRows();
    for (let i = 0; i <= MAX_FOLLOWED_OBJECTS; i++) rows.offer(`processed/x-${i}.csv`, undefined);
    expect(rows.settle()).toBeUndefined();
    expect(rows.reason).toContain(`more than ${MAX_FOLLOWED_OBJECTS} objects`);
  });
});

describe('drawTimeline: the timeline chart drawn before summary.json is written', () => {
  let dir: string;
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('gives the bytes renderPage draws from summary.json, and is used only for the same points', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-drawn-timeline-'));
    const { outDir } = await outWithObjects(dir, 300);
    const data = await readOutDir(outDir);
    const page = renderPage(data);
    expect(data.timeline.points.length).toBeGreaterThan(1);

    const marker = (points: ReportTimelinePoint[]) => ({ points, svg: '<svg id="drawn-before"></svg>' });
    const changed = data.timeline.points.map((p, i) => (i === 3 ? { ...p, inFlightMessages: (p.inFlightMessages ?? 0) + 1 } : p));

    expect(renderPage(data, undefined, drawTimeline(data.timeline.points.map((p) => ({ ...p }))))).toBe(page);
    expect(renderPage(data, undefined, marker(data.timeline.points.map((p) => ({ ...p }))))).toContain('<svg id="drawn-before"></svg>');
    expect(renderPage(data, undefined, marker(changed))).toBe(page);
    expect(renderPage(data, undefined, marker(data.timeline.points.slice(1)))).toBe(page);
  });
});

describe("RunReport: rydes run's report from the rows read during the run", () => {
  let dir: string;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  const lines = () => {
    let text = '';
    const stream = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
    return { stream, text: () => text };
  };

  // The built thread exists once the cli is built (its test target builds it first); the sources' path builds on this thread.
  it.each([
    ['on the built report thread', builtReportWorker(join(__dirname, '../../../dist/apps/cli'))],
    ['on this thread (no built thread)', undefined],
  ])('%s: the same page as rydes report, without reading rides.csv again', async (_, entry) => {
    if (_.startsWith('on the built') && !entry) throw new Error('build the cli first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-run-report-'));
    const { outDir, bucket, keys } = await outWithObjects(dir, 3_000);
    const expected = join(dir, 'expected.html');
    await buildReport(outDir, { output: expected });

    const report = new RunReport(outDir, undefined, (key) => join(bucket, key.replace('processed/', '')), entry);
    try {
      for (const key of [...keys].reverse()) report.offer(key);
      await new Promise((resolve) => setTimeout(resolve, 50));
      report.pipelineDone();
      for (const key of keys) report.mergedChunk(key, join(outDir, key), versionOfPath(join(outDir, key)));
      // Had the report read rides.csv now, its page would show no rows.
      writeFileSync(join(outDir, 'rides.csv'), `${CSV_COLUMNS.join(',')}\n`);
      const out = lines();
      const err = lines();
      await report.finish(out.stream, err.stream);
      expect(err.text()).toBe('');
      expect(out.text()).toMatch(/^report: .*report\.html \(\d+ KiB, built in \d+\.\d s\)\n$/);
      expect(readFileSync(join(outDir, 'report.html'), 'utf8')).toBe(readFileSync(expected, 'utf8'));
    } finally {
      await report.close();
    }
  }, 60_000);

  it('on the built report thread, started before the pipeline is over and given the run\'s timeline: the same page as rydes report', async () => {
    const entry = builtReportWorker(join(__dirname, '../../../dist/apps/cli'));
    if (!entry) throw new Error('build the cli first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-run-report-'));
    const { outDir, bucket, keys } = await outWithObjects(dir, 2_000);
    const expected = join(dir, 'expected.html');
    await buildReport(outDir, { output: expected });
    const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as { timeline: ReportTimelinePoint[] };

    const report = new RunReport(outDir, undefined, (key) => join(bucket, key.replace('processed/', '')), entry);
    try {
      // Started once every ride is ingested (twice: started once), objects still being written
      report.prepare();
      for (const key of keys) report.offer(key);
      report.prepare();
      await new Promise((resolve) => setTimeout(resolve, 50));
      report.pipelineDone(summary.timeline);
      for (const key of keys) report.mergedChunk(key, join(outDir, key), versionOfPath(join(outDir, key)));
      const out = lines();
      const err = lines();
      await report.finish(out.stream, err.stream);
      expect(err.text()).toBe('');
      expect(readFileSync(join(outDir, 'report.html'), 'utf8')).toBe(readFileSync(expected, 'utf8'));
    } finally {
      await report.close();
    }
  }, 60_000);

  it("the built report thread writes its code cache when it exits after the page, and its next start compiles everything from it", async () => {
    const entry = builtReportWorker(join(__dirname, '../../../dist/apps/cli'));
    if (!entry) throw new Error('build the cli first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-run-report-'));
    const { outDir, bucket, keys } = await outWithObjects(dir, 500);
    // The thread's os.tmpdir() (it copies this process's environment when it starts)
    const savedTmp = process.env.TMPDIR;
    const cacheFolder = join(dir, 'tmp', `rydes-code-cache-${process.getuid?.() ?? 'user'}`, 'cli');
    const pageOnce = async () => {
      const report = new RunReport(outDir, undefined, (key) => join(bucket, key.replace('processed/', '')), entry);
      try {
        report.prepare();
        for (const key of keys) report.offer(key);
        report.pipelineDone();
        for (const key of keys) report.mergedChunk(key, join(outDir, key), versionOfPath(join(outDir, key)));
        await report.finish(lines().stream, lines().stream);
      } finally {
        await report.close();
      }
      return readFileSync(join(outDir, 'report.html'), 'utf8');
    };
    // A cache is written aside and renamed over the old one: a rewrite is a new inode.
    const cacheFiles = () => (existsSync(cacheFolder) ? readdirSync(cacheFolder).map((name) => [name, statSync(join(cacheFolder, name)).ino]) : []);
    try {
      mkdirSync(join(dir, 'tmp'));
      process.env.TMPDIR = join(dir, 'tmp');
      delete process.env.RYDES_NO_CODE_CACHE;

      const first = await pageOnce();
      const written = cacheFiles();
      const second = await pageOnce();
      const after = cacheFiles();

      // One cache file, written by the first thread as it exited; the second compiled nothing
      // from source (it would have rewritten the file with what it compiled)
      expect(written).toHaveLength(1);
      expect(written[0][0]).toMatch(/^cli-[0-9a-f]{32}\.v8cache$/);
      expect(after).toEqual(written);
      expect(second).toBe(first);
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
  }, 60_000);

  it('the built report thread keeps the charts it drew, and a run of the same rows and stations gets them from there: the same page as rydes report; other rows are drawn', async () => {
    const entry = builtReportWorker(join(__dirname, '../../../dist/apps/cli'));
    if (!entry) throw new Error('build the cli first: npx nx build cli');
    dir = mkdtempSync(join(tmpdir(), 'rydes-run-report-'));
    const { outDir, bucket, keys } = await outWithObjects(dir, 1_500);
    const expected = join(dir, 'expected.html');
    await buildReport(outDir, { output: expected });
    const savedTmp = process.env.TMPDIR;
    const chartFolder = join(dir, 'tmp', `rydes-code-cache-${process.getuid?.() ?? 'user'}`, 'charts');
    const entries = () => (existsSync(chartFolder) ? readdirSync(chartFolder).sort() : []);
    const pageOnce = async (merged = keys) => {
      const report = new RunReport(outDir, undefined, (key) => join(bucket, key.replace('processed/', '')), entry);
      try {
        report.prepare();
        for (const key of merged) report.offer(key);
        report.pipelineDone();
        for (const key of merged) report.mergedChunk(key, join(outDir, key), versionOfPath(join(outDir, key)));
        await report.finish(lines().stream, lines().stream);
      } finally {
        await report.close();
      }
      return readFileSync(join(outDir, 'report.html'), 'utf8');
    };
    try {
      mkdirSync(join(dir, 'tmp'));
      process.env.TMPDIR = join(dir, 'tmp');
      delete process.env.RYDES_NO_CHART_CACHE;

      // Act + Assess: the first run draws and keeps its charts
      const first = await pageOnce();
      expect(first).toBe(readFileSync(expected, 'utf8'));
      const kept = entries();
      expect(kept).toEqual([expect.stringMatching(/^[0-9a-f]{40}\.charts$/)]);

      // The same rows again: the kept charts are used as they are. Marked here to see that they
      // are (a private folder's entry is trusted as drawn); unmarked, the page is rydes report's.
      const file = join(chartFolder, kept[0]);
      const original = readFileSync(file);
      const charts = deserialize(original) as { map: { svg: string } };
      writeFileSync(file, serialize({ ...charts, map: { ...charts.map, svg: charts.map.svg.replace('<svg ', '<svg data-kept="yes" ') } }));
      const marked = await pageOnce();
      expect(marked).toContain('data-kept="yes"');
      writeFileSync(file, original);
      expect(await pageOnce()).toBe(readFileSync(expected, 'utf8'));
      expect(entries()).toEqual(kept);

      // Other rows (one object fewer in rides.csv): other charts, drawn and kept beside
      const fewer = keys.slice(1);
      const fewerCsv = join(dir, 'fewer.csv');
      const [header, ...rows] = readFileSync(join(outDir, 'rides.csv'), 'utf8').split('\n');
      const dropped = new Set(readFileSync(join(outDir, keys[0]), 'utf8').split('\n').slice(1).filter(Boolean));
      writeFileSync(fewerCsv, [header, ...rows.filter((row) => !dropped.has(row))].join('\n'));
      writeFileSync(join(outDir, 'rides.csv'), readFileSync(fewerCsv));
      const fewerExpected = join(dir, 'fewer.html');
      await buildReport(outDir, { output: fewerExpected });
      expect(await pageOnce(fewer)).toBe(readFileSync(fewerExpected, 'utf8'));
      expect(entries()).toHaveLength(2);

      // Turned off: nothing read or written
      rmSync(chartFolder, { recursive: true });
      process.env.RYDES_NO_CHART_CACHE = '1';
      expect(await pageOnce(fewer)).toBe(readFileSync(fewerExpected, 'utf8'));
      expect(existsSync(chartFolder)).toBe(false);
    } finally {
      process.env.RYDES_NO_CHART_CACHE = '1';
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
  }, 90_000);

  it('reads rides.csv when the rows read during the run are not those merged', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-run-report-'));
    const { outDir, bucket, keys } = await outWithObjects(dir, 1_000);
    const report = new RunReport(outDir, undefined, (key) => join(bucket, key.replace('processed/', '')), undefined);
    for (const key of keys) report.offer(key);
    report.pipelineDone();
    // One object left out of the merge (and of rides.csv): the page must be rides.csv's.
    for (const key of keys.slice(1)) report.mergedChunk(key, join(outDir, key), versionOfPath(join(outDir, key)));
    const body = readFileSync(join(outDir, keys[0]), 'utf8').split('\n').slice(1).join('\n');
    writeFileSync(join(outDir, 'rides.csv'), readFileSync(join(outDir, 'rides.csv'), 'utf8').replace(body, ''));
    const expected = join(dir, 'expected.html');
    await buildReport(outDir, { output: expected });
    const out = lines();
    await report.finish(out.stream, lines().stream);
    expect(report.rows.reason).toContain('read and not merged');
    expect(readFileSync(join(outDir, 'report.html'), 'utf8')).toBe(readFileSync(expected, 'utf8'));
    expect(existsSync(join(outDir, 'report.html'))).toBe(true);
  }, 60_000);
});
