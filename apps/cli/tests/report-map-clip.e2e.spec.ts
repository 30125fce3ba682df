import type { Browser } from 'puppeteer-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderMap } from '../src/report/map';
import { readOutDir } from '../src/report/read-out-dir';
import { writeSyntheticOut } from '../src/report/synthetic-out';
import { closeBrowser, launchBrowser } from './helpers/browser';

/**
 * The outline is cut to the view (outline.ts clipGeometry): the map must show the same pixels as
 * with every feature whole. Both SVGs are drawn by headless Chromium onto canvases of the map's
 * size and compared pixel by pixel (seen: the regional map identical, the city map 4 of 576,000
 * pixels off by at most 23 of 255 in a channel).
 */
describe('the map with its outline cut to the view shows what the whole outline showed (headless Chromium)', () => {
  let browser: Browser | undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await closeBrowser(browser);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Pixels of the two SVGs that differ, and the largest difference of one channel (0–255). */
  async function compare(a: string, b: string): Promise<{ differing: number; maxDelta: number; inked: number }> {
    const page = await (browser as Browser).newPage();
    try {
      await page.setContent('<!doctype html><body></body>');
      return (await page.evaluate(
        `(async ([a, b]) => {
          const pixels = async (svg) => {
            const image = new Image();
            image.src = 'data:image/svg+xml;base64,' + btoa(unescape(encodeURIComponent(svg)));
            await image.decode();
            const canvas = document.createElement('canvas');
            canvas.width = 960; canvas.height = 600;
            const context = canvas.getContext('2d');
            context.drawImage(image, 0, 0);
            return context.getImageData(0, 0, 960, 600).data;
          };
          const [x, y] = [await pixels(a), await pixels(b)];
          let differing = 0, maxDelta = 0, inked = 0;
          for (let i = 0; i < x.length; i += 4) {
            let delta = 0;
            for (let k = 0; k < 4; k++) delta = Math.max(delta, Math.abs(x[i + k] - y[i + k]));
            if (delta > 0) differing++;
            if (delta > maxDelta) maxDelta = delta;
            if (x[i] !== 0xe8 || x[i + 1] !== 0xf1 || x[i + 2] !== 0xf8) inked++;
          }
          return { differing, maxDelta, inked };
        })(${JSON.stringify([a, b])})`,
      )) as { differing: number; maxDelta: number; inked: number };
    } finally {
      await page.close();
    }
  }

  it.each([
    ['a regional view around New York (countries 1:50m, cut)', [-74, 40.7] as [number, number], 12],
    ['a city view (US counties 1:10m, cut)', [-73.95, 40.72] as [number, number], 0.4],
  ])('%s: the same pixels (a few anti-aliased edge pixels aside), fewer bytes', async (_, centre, spreadDegrees) => {
    // Prepare: a synthetic out/ whose rides spread over the view.
    const dir = mkdtempSync(join(tmpdir(), 'rydes-map-clip-'));
    dirs.push(dir);
    await writeSyntheticOut(dir, { rides: 3_000, seed: 7, centre, spreadDegrees });
    const data = await readOutDir(dir);

    // Act
    const cut = renderMap(data);
    const whole = renderMap(data, { clipOutline: false });

    // Assess: the cut map is smaller, and Chromium draws the same pixels for both, but for the
    // anti-aliasing of a few pixels where a border crosses the map's edge (a cut position is
    // written to 0.1 px like every other, so that border's last segment turns by a hair).
    expect(cut.outline).toBe(whole.outline);
    expect(cut.svg.length).toBeLessThan(whole.svg.length);
    const { differing, maxDelta, inked } = await compare(cut.svg, whole.svg);
    expect(inked).toBeGreaterThan(10_000);
    expect(differing).toBeLessThanOrEqual(20);
    expect(maxDelta).toBeLessThanOrEqual(48);
  }, 120_000);
});
