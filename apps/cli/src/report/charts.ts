import { grouped } from './escape';
import type { ReportData } from './report-data';
import { OTHER_COLOUR, PALETTE, renderSvg } from './svg-chart';

export const CHART_WIDTH = 960;
/** Stations with a bar of their own; the rest are one "others" bar. */
export const TOP_STATIONS = 15;

const AXIS_NAME = { fontSize: 13, fontWeight: 'bold' as const };
const number = (n: number) => grouped(n);

/** Formats km for the page to the metre, the precision the quantiles are computed to. */
export function km(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(3);
}

/** The bars of the rides-per-station chart: the top stations, then everything else as one bar. */
export function stationBars(data: ReportData): Array<{ label: string; rides: number; colour: string }> {
  const ranked = data.rides.stations;
  const bars = ranked.slice(0, TOP_STATIONS).map((s, i) => ({ label: s.station, rides: s.rides, colour: PALETTE[i] ?? OTHER_COLOUR }));
  const rest = ranked.slice(TOP_STATIONS);
  if (rest.length > 0) bars.push({ label: `others (${number(rest.length)} stations)`, rides: rest.reduce((n, s) => n + s.rides, 0), colour: OTHER_COLOUR });
  if (data.rides.unmatched > 0) bars.push({ label: 'no station', rides: data.rides.unmatched, colour: '#000000' });
  return bars;
}

/** Horizontal bars, busiest station on top. */
export function renderStationBars(data: ReportData): string {
  const bars = stationBars(data);
  const height = 90 + 26 * Math.max(1, bars.length);
  const reversed = [...bars].reverse();
  return renderSvg(
    {
      grid: { left: 190, right: 90, top: 20, bottom: 55 },
      xAxis: { type: 'value', name: 'rides', nameLocation: 'middle', nameGap: 32, nameTextStyle: AXIS_NAME, axisLabel: { formatter: (v: number) => number(v) } },
      yAxis: { type: 'category', data: reversed.map((b) => b.label), axisLabel: { fontSize: 12, width: 175, overflow: 'truncate' } },
      series: [
        {
          type: 'bar',
          name: 'rides',
          data: reversed.map((b) => ({ value: b.rides, itemStyle: { color: b.colour } })),
          label: { show: true, position: 'right', formatter: (p: { value: unknown }) => number(Number(p.value)) },
          emphasis: { disabled: true },
        },
      ],
    },
    CHART_WIDTH,
    height,
    'stations',
    `Bar chart: rides per matched station, ${bars.map((b) => `${b.label} ${number(b.rides)}`).join('; ')}.`,
  );
}

/** Histogram bins as [from, to) km with counts, the overflow bin last (to = Infinity). */
export function distanceBins(data: ReportData): Array<{ from: number; to: number; rides: number }> {
  const { upperKm, counts } = data.distances.histogram;
  const bins = counts.length - 1;
  const width = upperKm / bins;
  return counts.map((rides, i) => ({ from: i === bins ? upperKm : round(i * width), to: i === bins ? Infinity : round((i + 1) * width), rides }));
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Rides by distance to their station, median and p99 marked. */
export function renderDistanceHistogram(data: ReportData): string {
  const bins = distanceBins(data);
  const { medianKm, p99Km, histogram } = data.distances;
  const width = histogram.upperKm / (bins.length - 1);
  const labelOf = (b: { from: number; to: number }) => (b.to === Infinity ? `≥ ${b.from}` : `${b.from}`);
  const marks = [
    ...(medianKm !== undefined ? [{ name: `median ${km(medianKm)} km`, xAxis: Math.min(bins.length - 1, medianKm / width) }] : []),
    ...(p99Km !== undefined ? [{ name: `p99 ${km(p99Km)} km`, xAxis: Math.min(bins.length - 1, p99Km / width) }] : []),
  ];
  return renderSvg(
    {
      grid: { left: 80, right: 40, top: 40, bottom: 60 },
      xAxis: [
        {
          type: 'category',
          data: bins.map(labelOf),
          name: 'distance to matched station (km, bin start)',
          nameLocation: 'middle',
          nameGap: 36,
          nameTextStyle: AXIS_NAME,
          axisLabel: { interval: 4 },
        },
        // A value axis under the bins, for marking the median and p99 where they fall inside a bin.
        { type: 'value', min: 0, max: bins.length, show: false, position: 'bottom' },
      ],
      yAxis: { type: 'value', name: 'rides', nameTextStyle: AXIS_NAME, axisLabel: { formatter: (v: number) => number(v) } },
      series: [
        {
          type: 'bar',
          name: 'rides',
          barCategoryGap: '8%',
          itemStyle: { color: PALETTE[0] },
          emphasis: { disabled: true },
          data: bins.map((b, i) => (i === bins.length - 1 ? { value: b.rides, itemStyle: { color: OTHER_COLOUR } } : b.rides)),
        },
        {
          type: 'line',
          name: 'quantiles',
          xAxisIndex: 1,
          data: [],
          emphasis: { disabled: true },
          markLine: {
            symbol: 'none',
            silent: true,
            lineStyle: { color: PALETTE[3], width: 2, type: 'dashed' },
            label: { formatter: '{b}', color: '#000000', fontSize: 12, fontWeight: 'bold' },
            data: marks,
          },
        },
      ],
    },
    CHART_WIDTH,
    360,
    'distance',
    `Histogram of ${number(data.distances.count)} rides by distance to their matched station in km; median ${km(medianKm)} km, p99 ${km(p99Km)} km.`,
  );
}

/** Rides ingested and written over time (left axis) and fan-out messages in flight (right axis). */
export function renderTimeline(data: Pick<ReportData, 'timeline'>): string | undefined {
  const points = data.timeline.points;
  if (points.length === 0) return undefined;
  const hasWritten = points.some((p) => p.written !== undefined);
  const hasInFlight = points.some((p) => p.inFlightMessages !== undefined);
  const line = (name: string, colour: string, values: Array<[number, number]>, extra: object = {}) => ({
    type: 'line' as const,
    name,
    showSymbol: false,
    emphasis: { disabled: true },
    lineStyle: { color: colour, width: 2 },
    itemStyle: { color: colour },
    data: values,
    ...extra,
  });
  const series = [line('rides ingested', PALETTE[0], points.map((p) => [p.t, p.ingested]))];
  if (hasWritten) series.push(line('rides written', PALETTE[2], points.map((p) => [p.t, p.written ?? 0]), { lineStyle: { color: PALETTE[2], width: 2, type: 'dashed' } }));
  if (hasInFlight) series.push(line('messages in flight', PALETTE[3], points.map((p) => [p.t, p.inFlightMessages ?? 0]), { yAxisIndex: 1 }));
  const last = points[points.length - 1];
  return renderSvg(
    {
      grid: { left: 90, right: hasInFlight ? 90 : 40, top: 50, bottom: 60 },
      legend: { top: 8, data: series.map((s) => s.name) },
      xAxis: { type: 'value', name: 'time since the run started (s)', nameLocation: 'middle', nameGap: 36, nameTextStyle: AXIS_NAME, min: 0 },
      yAxis: [
        { type: 'value', name: 'rides', nameTextStyle: AXIS_NAME, axisLabel: { formatter: (v: number) => number(v) } },
        ...(hasInFlight ? [{ type: 'value' as const, name: 'messages in flight', nameTextStyle: AXIS_NAME, splitLine: { show: false } }] : []),
      ],
      series,
    },
    CHART_WIDTH,
    360,
    'timeline',
    `Line chart over ${last.t} s: rides ingested reach ${number(last.ingested)}` +
      (hasWritten ? `, rides written reach ${number(last.written ?? 0)}` : '') +
      (hasInFlight ? `; messages in flight peak at ${number(Math.max(...points.map((p) => p.inFlightMessages ?? 0)))}` : '') +
      '.',
  );
}
