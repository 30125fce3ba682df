import type { Station } from '@rydes/geo-index';
import type { MapPoint } from './aggregate';
import { grouped } from './escape';
import { outlineFor, type Bbox } from './outline';
import type { ReportData } from './report-data';
import { OTHER_COLOUR, PALETTE, registerOutline, renderSvg } from './svg-chart';

export const MAP_WIDTH = 960;
export const MAP_HEIGHT = 600;
/** Matched stations drawn as markers at most (the most used); the rest are counted in the caption. */
export const MAX_MARKERS = 100;
/** Markers that carry their id as a label; more would cover the map. */
export const LABELLED_MARKERS = 12;
/** Sampled rides joined to their station by a line. */
export const STATION_LINES = 300;

/** The ride points' opacity; it also tells their paths apart in the SVG (see {@link tagPoints}). */
const POINT_OPACITY = 0.75;

/**
 * Marks the paths of the ride points (large mode draws each series' points as the sub-paths of
 * one path, without ECharts' ecmeta attributes) with `class="ride-points"`, so a reader of the
 * page (or a test) can tell them from the outline.
 */
function tagPoints(svg: string): string {
  return svg.replace(/<path d="(M[^"]*)" fill="(#[0-9A-Fa-f]{6})" fill-opacity="0.75"><\/path>/g, '<path class="ride-points" d="$1" fill="$2" fill-opacity="0.75"></path>');
}

/** The map's SVG and what it shows, for the caption and the text alternative. */
export interface MapFigure {
  svg: string;
  pointsShown: number;
  markers: Station[];
  labelled: number;
  lines: number;
  outline: string;
  view: Bbox;
  /** Series indexes in the SVG (ecmeta_series_index) of the ride points and of the markers. */
  series: { points: number[]; markers?: number; lines?: number };
  /** Station id → colour, for the stations that have their own. */
  colours: Map<string, string>;
}

/** A station's colour on the map and the bar chart: the 8 busiest have their own. */
export function stationColours(ranked: Array<{ station: string }>): Map<string, string> {
  return new Map(ranked.slice(0, PALETTE.length).map((s, i) => [s.station, PALETTE[i]]));
}

/**
 * The view: every ride and the labelled stations, padded, widened to the map's aspect ratio at
 * its latitude (x = longitude × cos(latitude), the equirectangular projection ECharts' geo uses
 * with aspectScale), and kept on the globe.
 */
export function viewOf(rides: Bbox | undefined, stations: Station[]): Bbox {
  const box = { west: Infinity, south: Infinity, east: -Infinity, north: -Infinity, ...rides };
  for (const s of stations) {
    box.west = Math.min(box.west, s.longitude);
    box.east = Math.max(box.east, s.longitude);
    box.south = Math.min(box.south, s.latitude);
    box.north = Math.max(box.north, s.latitude);
  }
  if (!Number.isFinite(box.west)) return { west: -180, south: -60, east: 180, north: 85 };
  const midLat = (box.south + box.north) / 2;
  const scale = Math.max(0.2, Math.cos((midLat * Math.PI) / 180));
  // At least 0.05° of latitude: one ride alone still gets a street-scale view.
  let height = Math.max(0.05, (box.north - box.south) * 1.12);
  let width = Math.max(0.05 / scale, (box.east - box.west) * 1.12);
  const aspect = MAP_WIDTH / MAP_HEIGHT;
  if ((width * scale) / height < aspect) width = (height * aspect) / scale;
  else height = (width * scale) / aspect;
  const cx = (box.west + box.east) / 2;
  const cy = (box.south + box.north) / 2;
  let view = { west: cx - width / 2, east: cx + width / 2, south: cy - height / 2, north: cy + height / 2 };
  if (width >= 360 || height >= 170) return { west: -180, south: -60, east: 180, north: 85 };
  if (view.west < -180) view = { ...view, west: -180, east: -180 + width };
  if (view.east > 180) view = { ...view, east: 180, west: 180 - width };
  if (view.south < -90) view = { ...view, south: -90, north: -90 + height };
  if (view.north > 90) view = { ...view, north: 90, south: 90 - height };
  return view;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * The map: the sampled rides coloured by their station (the 8 busiest stations have a colour
 * each, the rest share grey), lines from a sample of rides to their station, and the most used
 * matched stations as markers, the busiest labelled; over the outline that fits the view (cut to
 * the view unless `clipOutline: false`).
 */
export function renderMap(data: ReportData, options: { clipOutline?: boolean } = {}): MapFigure {
  const ranked = data.rides.stations;
  const colours = stationColours(ranked);
  const markers = ranked.flatMap((s) => data.stations.known.get(s.station) ?? []).slice(0, MAX_MARKERS);
  const labelled = Math.min(LABELLED_MARKERS, markers.length);
  const view = viewOf(data.rides.bbox, markers.slice(0, labelled));
  const outline = outlineFor(view, { clip: options.clipOutline });
  registerOutline('rydes-view', outline.geojson);

  const groups = new Map<string, MapPoint[]>();
  for (const p of data.rides.points) {
    const group = p.station === '' ? '' : colours.has(p.station) ? p.station : '*';
    const members = groups.get(group);
    if (members) members.push(p);
    else groups.set(group, [p]);
  }
  const order = [...colours.keys(), '*', ''].filter((g) => groups.has(g));
  const coordinate = (lon: number, lat: number) => [round(lon, 5), round(lat, 5)];
  const pointSeries = order.map((group) => ({
    type: 'scatter' as const,
    coordinateSystem: 'geo',
    name: group === '*' ? 'rides, other stations' : group === '' ? 'rides, no station' : `rides, ${group}`,
    symbolSize: 4,
    // One path per series (ECharts' large mode): a fifth of the bytes and of the render time.
    large: true,
    largeThreshold: 0,
    itemStyle: { color: group === '' ? '#000000' : (colours.get(group) ?? OTHER_COLOUR), opacity: POINT_OPACITY },
    emphasis: { disabled: true },
    data: (groups.get(group) ?? []).map((p) => coordinate(p.longitude, p.latitude)),
  }));
  const lineRides = data.rides.points.filter((p) => data.stations.known.has(p.station)).slice(0, STATION_LINES);
  const series: unknown[] = [...pointSeries];
  const indexes: MapFigure['series'] = { points: pointSeries.map((_, i) => i) };
  if (lineRides.length > 0) {
    indexes.lines = series.length;
    series.push({
      type: 'lines',
      coordinateSystem: 'geo',
      name: `ride → station (${lineRides.length} rides)`,
      lineStyle: { color: '#444444', width: 0.6, opacity: 0.45 },
      emphasis: { disabled: true },
      data: lineRides.map((p) => {
        const s = data.stations.known.get(p.station) as Station;
        return { coords: [coordinate(p.longitude, p.latitude), coordinate(s.longitude, s.latitude)] };
      }),
    });
  }
  if (markers.length > 0) {
    indexes.markers = series.length;
    series.push({
      type: 'scatter',
      coordinateSystem: 'geo',
      name: 'matched stations',
      symbol: 'diamond',
      symbolSize: 12,
      itemStyle: { borderColor: '#000000', borderWidth: 1.2 },
      emphasis: { disabled: true },
      label: { position: 'right', color: '#000000', fontSize: 12, fontWeight: 'bold', textBorderColor: '#ffffff', textBorderWidth: 3 },
      data: markers.map((s, i) => ({
        name: s.id,
        value: coordinate(s.longitude, s.latitude),
        itemStyle: { color: colours.get(s.id) ?? '#ffffff' },
        label: { show: i < labelled, formatter: '{b}' },
      })),
    });
  }
  const midLat = (view.south + view.north) / 2;
  const option = {
    backgroundColor: '#e8f1f8',
    geo: {
      map: 'rydes-view',
      roam: false,
      silent: true,
      aspectScale: Math.max(0.2, Math.cos((midLat * Math.PI) / 180)),
      boundingCoords: [
        [view.west, view.north],
        [view.east, view.south],
      ],
      left: 0,
      top: 0,
      width: MAP_WIDTH,
      height: MAP_HEIGHT,
      itemStyle: { areaColor: '#f7f5f0', borderColor: '#9aa5ad', borderWidth: 0.6 },
      emphasis: { disabled: true },
      label: { show: false },
    },
    legend: {
      show: true,
      left: 8,
      top: 8,
      orient: 'vertical',
      backgroundColor: 'rgba(255,255,255,0.85)',
      padding: 6,
      textStyle: { fontSize: 11 },
      data: series.map((s) => (s as { name: string }).name),
    },
    series,
  };
  const label =
    `Map of ${grouped(data.rides.points.length)} sampled rides of ${grouped(data.rides.rows)}, ` +
    `coloured by matched station, with ${markers.length} station markers; view ${view.south.toFixed(2)}° to ${view.north.toFixed(2)}° N, ` +
    `${view.west.toFixed(2)}° to ${view.east.toFixed(2)}° E.`;
  return {
    svg: tagPoints(renderSvg(option as never, MAP_WIDTH, MAP_HEIGHT, 'map', label)),
    pointsShown: data.rides.points.length,
    markers,
    labelled,
    lines: lineRides.length,
    outline: outline.label,
    view,
    series: indexes,
    colours,
  };
}
