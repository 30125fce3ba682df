import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { privateFolder } from '../private-folder';
import type { RowCharts } from './page';
import type { ReportData, RowData } from './report-data';

/** Drawn charts kept (one per distinct run output and build); the least recently used go. */
export const CHART_CACHES_KEPT = 8;

/** The packages the charts are drawn with, whose versions are part of the key. */
const DRAWING_PACKAGES = ['echarts', 'topojson-client', 'world-atlas', 'us-atlas'];

/**
 * The private folder (0700, this user's) of the run report's drawn charts, beside the code
 * caches: `<tmpdir>/rydes-code-cache-<uid>/charts/`; undefined when it cannot be one.
 */
export function chartCacheFolder(): string | undefined {
  return privateFolder(join(tmpdir(), `rydes-code-cache-${process.getuid?.() ?? 'user'}`, 'charts'));
}

/** The package.json bytes of `name` as this code resolves it (empty when it cannot be found). */
function packageManifest(name: string): string {
  try {
    let dir = dirname(require.resolve(name));
    for (;;) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const text = readFileSync(file, 'utf8');
        if ((JSON.parse(text) as { name?: string }).name === name) return text;
      }
      const up = dirname(dir);
      if (up === dir) return '';
      dir = up;
    }
  } catch {
    return '';
  }
}

/**
 * What the charts are drawn by: the drawing code's bundle (its bytes), Node's version and the
 * manifests of ECharts, topojson-client and the atlases as they resolve from it.
 */
export function drawingCodeKey(bundle: string): string {
  const hash = createHash('sha256').update(readFileSync(bundle)).update(`\0${process.version}`);
  for (const name of DRAWING_PACKAGES) hash.update(`\0${name}\0`).update(packageManifest(name));
  return hash.digest('hex');
}

/**
 * The run report's charts of the rows (map, station bars, distance histogram) kept by what they
 * are drawn from: the key is the SHA-256 of the drawing code's key ({@link drawingCodeKey}) and
 * the v8-serialised rows and matched stations (every value the drawing reads, NaN and -0
 * included), so an entry is the very output `renderRowCharts` gives those inputs, which is
 * deterministic (the page's bytes are). A run whose output equals an earlier one's (`npm start`
 * again on the same sample) gets its charts from here instead of drawing the map again (~0.3 s of
 * CPU, then the last thing the page waits for). Entries are written aside and renamed into place;
 * one that cannot be read back is drawn again.
 * @example
 * const entry = new ChartCache(chartCacheFolder(), drawingCodeKey(__filename)).entry(input);
 * const charts = entry.charts ?? entry.keep(renderRowCharts(input));
 */
export class ChartCache {
  constructor(
    private readonly folder: string,
    private readonly codeKey: string,
  ) {}

  private fileOf(input: RowData & Pick<ReportData, 'stations'>): string {
    const key = createHash('sha256').update(this.codeKey).update(serialize([input.rides, input.distances, input.stations])).digest('hex');
    return join(this.folder, `${key.slice(0, 40)}.charts`);
  }

  /**
   * The entry of `input`, keyed before anything draws from it (drawing may add to the objects it
   * is given): the charts drawn earlier from exactly that input, if any, and how to keep new ones.
   */
  entry(input: RowData & Pick<ReportData, 'stations'>): { charts?: RowCharts; keep(charts: RowCharts): RowCharts } {
    const file = this.fileOf(input);
    return { charts: this.read(file), keep: (charts) => this.write(file, charts) };
  }

  private read(file: string): RowCharts | undefined {
    try {
      const charts = deserialize(readFileSync(file)) as RowCharts;
      if (typeof charts?.map?.svg !== 'string') return undefined;
      // Its last use, for the pruning.
      const now = new Date();
      utimesSync(file, now, now);
      return charts;
    } catch {
      return undefined;
    }
  }

  /** Keeps `charts` as `file` (best effort: a full disk only means drawing again next time); returns them. */
  private write(file: string, charts: RowCharts): RowCharts {
    const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, serialize(charts));
      renameSync(temp, file);
      this.prune();
    } catch {
      rmSync(temp, { force: true });
    }
    return charts;
  }

  private prune(): void {
    const entries = readdirSync(this.folder)
      .filter((name) => name.endsWith('.charts'))
      .map((name) => ({ name, used: statSync(join(this.folder, name)).mtimeMs }))
      .sort((a, b) => b.used - a.used);
    for (const { name } of entries.slice(CHART_CACHES_KEPT)) rmSync(join(this.folder, name), { force: true });
  }
}
