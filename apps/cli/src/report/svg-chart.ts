import * as echarts from 'echarts';
import { escapeHtml } from './escape';

/** Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), yellow left out: too pale on white. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#7A5C00', '#332288'];
/** Everything not given its own colour. */
export const OTHER_COLOUR = '#8c8c8c';
/** Family names unquoted: zrender writes them into a double-quoted style attribute. */
export const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif';
export const TEXT_COLOUR = '#1f2328';

/**
 * Renders one ECharts option to an SVG string with the server-side SVG renderer (no DOM).
 * Animation is off and zrender's per-process element ids are renumbered from zero, so the same
 * option always gives the same bytes. `aria` makes ECharts describe the chart in the SVG's
 * aria-label.
 * @example
 * renderSvg({ xAxis: { type: 'category', data: ['a'] }, yAxis: {}, series: [{ type: 'bar', data: [1] }] }, 400, 300, 'bars', 'One bar');
 */
export function renderSvg(option: echarts.EChartsOption, width: number, height: number, prefix: string, label: string): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({
      animation: false,
      aria: { enabled: true },
      textStyle: { fontFamily: FONT, color: TEXT_COLOUR },
      ...option,
    });
    const svg = canonicalIds(stripHoverStyles(chart.renderToSVGString()), prefix);
    return svg.replace(/^<svg /, `<svg role="img" aria-label="${escapeHtml(label)}" `);
  } finally {
    chart.dispose();
  }
}

/** The page is static: hover rules (a pointer cursor on things that do nothing) go, with their classes. */
function stripHoverStyles(svg: string): string {
  return svg.replace(/<style\b[^>]*>[\s\S]*?<\/style>/g, '').replace(/ class="zr\d+-cls-\d+"/g, '');
}

/**
 * zrender numbers painters and CSS classes per process (`zr3-cls-7`); number them per chart,
 * under the chart's own prefix: the SVGs share one page, and so one CSS scope.
 */
function canonicalIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  return svg.replace(/\bzr\d+-([a-z]+)-?(\d+)\b/g, (id: string, kind: string) => {
    let mapped = ids.get(id);
    if (!mapped) {
      mapped = `${prefix}-${kind}-${ids.size}`;
      ids.set(id, mapped);
    }
    return mapped;
  });
}

/** Registers a GeoJSON outline under `name` for a `geo` component. */
export function registerOutline(name: string, geojson: unknown): void {
  echarts.registerMap(name, geojson as Parameters<typeof echarts.registerMap>[1]);
}
