import { distanceBins, km, renderDistanceHistogram, renderStationBars, renderTimeline, stationBars } from './charts';
import { escapeHtml as esc, grouped } from './escape';
import { renderMap, type MapFigure } from './map';
import type { ReportData, ReportTimelinePoint, RowData } from './report-data';

const number = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : grouped(n));
const seconds = (s: number | undefined) => (s === undefined ? '–' : `${s.toFixed(1)} s`);

/** Content-Security-Policy of the page: nothing may load, no script may run; inline styles only. */
export const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328; background: #ffffff; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 20px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 20px; margin: 36px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.subject { color: #57606a; margin: 0 0 12px; word-break: break-all; }
.verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 12px 0; }
.verdict.ok { background: #dafbe1; border: 1px solid #4ac26b; } .verdict.failed { background: #ffebe9; border: 1px solid #ff8182; }
.verdict ul { margin: 4px 0 0; font-weight: 400; }
dl.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 12px 0; }
dl.figures div { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 10px; }
dl.figures dt { font-size: 13px; color: #57606a; } dl.figures dd { margin: 0; font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 8px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; word-break: break-all; }
figure { margin: 8px 0; } figure svg { max-width: 100%; height: auto; display: block; border: 1px solid #d0d7de; border-radius: 6px; }
figcaption { color: #3d444d; margin: 6px 0; }
details { margin: 6px 0; } summary { cursor: pointer; color: #0b5cad; }
.quantiles { font-size: 17px; } .quantiles strong { font-variant-numeric: tabular-nums; }
.note { color: #57606a; font-size: 14px; }
footer { color: #57606a; font-size: 13px; margin-top: 40px; }
`;

function figure(id: string, label: string, value: string): string {
  return `<div data-figure="${id}"><dt>${esc(label)}</dt><dd>${esc(value)}</dd></div>`;
}

function table(headers: Array<string | [string, 'n']>, rows: string[][], caption?: string): string {
  const head = headers.map((h) => (Array.isArray(h) ? `<th class="n" scope="col">${esc(h[0])}</th>` : `<th scope="col">${esc(h)}</th>`)).join('');
  const numeric = headers.map((h) => Array.isArray(h));
  const body = rows.map((r) => `<tr>${r.map((cell, i) => `<td${numeric[i] ? ' class="n"' : ''}>${cell}</td>`).join('')}</tr>`).join('\n');
  return `<table>${caption ? `<caption class="note">${esc(caption)}</caption>` : ''}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Headline numbers: the summary's when there is one, else what the manifests and rows say. */
function headline(data: ReportData): string {
  const s = data.summary;
  const m = data.manifests;
  const sum = (pick: (x: (typeof m)[number]) => number) => m.reduce((n, x) => n + pick(x), 0);
  const totals = s?.totals ?? { files: m.length, ridesRead: sum((x) => x.total), valid: sum((x) => x.valid), rejected: sum((x) => x.rejected), rowsWritten: data.rides.rows, lostRides: undefined };
  const matched = data.rides.stations.length;
  const catalogue = s?.settings.stationCount ?? data.stations.catalogueSize;
  const cards = [
    figure('files', 'files', number(totals.files)),
    figure('ridesRead', 'rides read', number(totals.ridesRead)),
    figure('valid', 'valid rides', number(totals.valid)),
    figure('rejected', 'rejected rides', number(totals.rejected)),
    figure('rowsWritten', 'rows written', number(totals.rowsWritten)),
    ...(s ? [figure('lostRides', 'lost rides', number(s.totals.lostRides))] : []),
    ...(s ? [figure('dlq', 'DLQ messages', number(s.dlq.fanout + s.dlq.ingest))] : []),
    figure('stationsMatched', 'stations matched', catalogue ? `${number(matched)} of ${number(catalogue)}` : number(matched)),
    ...(s ? [figure('wallSeconds', 'wall time', seconds(s.wallSeconds)), figure('ridesPerSecond', 'rides/s', number(Math.round(s.ridesPerSecond)))] : []),
  ];
  return `<dl class="figures">${cards.join('\n')}</dl>`;
}

function verdict(data: ReportData): string {
  const s = data.summary;
  if (!s) return `<p class="verdict note">No summary.json in this output: the figures below come from the manifests and the CSV rows.</p>`;
  if (s.ok) return `<p class="verdict ok" data-verdict="ok">OK: every valid ride was written, DLQs empty.</p>`;
  return `<div class="verdict failed" data-verdict="failed">FAILED (exit ${s.exitCode})<ul>${s.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul></div>`;
}

function settings(data: ReportData): string {
  const s = data.summary;
  const rows: Array<[string, string]> = [];
  if (s) {
    rows.push(['rides per message', number(s.settings.ridesPerMessage)], ['concurrency', number(s.settings.concurrency)]);
    rows.push(['stations catalogue', `${esc(s.settings.stations)}${s.settings.stationCount ? ` (${number(s.settings.stationCount)} stations)` : ''}`]);
    if (s.settings.inventory) rows.push(['inventory', esc(s.settings.inventory)]);
    if (s.settings.requiredElements?.length) rows.push(['required elements', esc(s.settings.requiredElements.join(', '))]);
    if (s.settings.sample) rows.push(['generated sample', `${number(s.settings.sample.rides)} rides, seed ${s.settings.sample.seed}`]);
    if (s.settings.chaos) rows.push(['chaos', `<code>${esc(s.settings.chaos)}</code>`]);
    rows.push(['started', esc(s.startedAt)], ['finished', esc(s.finishedAt)]);
    const phases = Object.entries(s.phases);
    if (phases.length) rows.push(['phases', phases.map(([name, t]) => `${esc(name)} ${seconds(t)}`).join(', ')]);
  } else {
    const perMessage = [...new Set(data.manifests.map((m) => m.ridesPerMessage))];
    if (perMessage.length) rows.push(['rides per message', perMessage.map(number).join(', ')]);
    rows.push(['stations catalogue', esc(data.stations.source)]);
  }
  rows.push(['rides read for the charts', `${number(data.rides.rows)} rows from ${esc(data.rides.source)}${data.rides.sampledFrom !== undefined ? ` (of ${number(data.rides.sampledFrom)} rides written)` : ''}`]);
  return table(['setting', 'value'], rows.map(([k, v]) => [esc(k), v]));
}

function files(data: ReportData): string {
  const s = data.summary;
  if (s?.files.length) {
    return table(
      ['file', 'status', ['rides', 'n'], ['valid', 'n'], ['rejected', 'n'], ['rows written', 'n']],
      s.files.map((f) => [
        `<span class="mono">${esc(f.key)}</span>${f.error ? `<br><span class="note">${esc(f.error)}</span>` : ''}`,
        esc(f.status),
        number(f.total),
        number(f.valid),
        number(f.rejected),
        number(f.rowsWritten),
      ]),
    );
  }
  if (data.manifests.length === 0) return '<p class="note">No manifests.</p>';
  return table(
    ['file', 'started', 'finished', ['rides', 'n'], ['valid', 'n'], ['rejected', 'n'], ['messages', 'n']],
    data.manifests.map((m) => [
      `<span class="mono">${esc(m.source)}</span>${m.error ? `<br><span class="note">${esc(m.error.message)} (byte ${m.error.byteOffset})</span>` : ''}`,
      esc(m.startedAt),
      esc(m.finishedAt),
      number(m.total),
      number(m.valid),
      number(m.rejected),
      number(m.chunks),
    ]),
  );
}

function mapSection(data: ReportData, map: MapFigure): string {
  const shown = `${number(map.pointsShown)} of ${number(data.rides.rows)} rides shown`;
  const sampled = map.pointsShown < data.rides.rows ? ' (a deterministic sample: the rides whose hash of source key and ride_index is lowest)' : '';
  const matched = data.rides.stations.length;
  const markerText =
    map.markers.length === 0
      ? `No station markers: ${esc(data.stations.error ?? 'no station coordinates known')}.`
      : `${number(map.markers.length)} of ${number(matched)} matched stations drawn as ◆ markers${map.markers.length < matched ? ' (the most used)' : ''}, ${map.labelled} labelled; lines join ${number(map.lines)} sampled rides to their station.`;
  const rows = map.markers.map((s) => [
    `<span class="mono">${esc(s.id)}</span>`,
    esc(s.name ?? ''),
    s.latitude.toFixed(4),
    s.longitude.toFixed(4),
    number(data.rides.stations.find((r) => r.station === s.id)?.rides),
  ]);
  return `<section id="map" aria-labelledby="map-h"><h2 id="map-h">Map: rides and their stations</h2>
<figure data-points-series="${map.series.points.join(' ')}" data-markers-series="${map.series.markers ?? ''}">
${map.svg}
<figcaption><strong data-shown="${map.pointsShown}" data-of="${data.rides.rows}">${shown}</strong>${sampled}, coloured by matched station (the ${map.colours.size} busiest have their own colour, the rest are grey). ${markerText} Outline: ${esc(map.outline)}; view ${map.view.south.toFixed(3)}° to ${map.view.north.toFixed(3)}° latitude, ${map.view.west.toFixed(3)}° to ${map.view.east.toFixed(3)}° longitude.</figcaption>
</figure>
<details><summary>Station markers as a table</summary>${table(['station', 'name', ['latitude °', 'n'], ['longitude °', 'n'], ['rides', 'n']], rows)}</details>
</section>`;
}

function stationsSection(data: ReportData, svg: string | undefined): string {
  const bars = stationBars(data);
  if (bars.length === 0) return `<section id="stations"><h2>Rides per station</h2><p class="note">No rows.</p></section>`;
  const total = bars.reduce((n, b) => n + b.rides, 0);
  return `<section id="stations" aria-labelledby="stations-h"><h2 id="stations-h">Rides per station</h2>
<figure>${svg ?? renderStationBars(data)}<figcaption>Rides matched to each station: the ${Math.min(bars.length, 15)} busiest of ${number(data.rides.stations.length)} matched stations, then the rest together.</figcaption></figure>
<details><summary>Rides per station as a table</summary>${table(['station', ['rides', 'n'], ['share', 'n']], bars.map((b) => [esc(b.label), number(b.rides), `${((100 * b.rides) / total).toFixed(1)} %`]))}</details>
</section>`;
}

function distanceSection(data: ReportData, svg: string | undefined): string {
  const d = data.distances;
  if (d.count === 0) return `<section id="distance"><h2>Distance to station</h2><p class="note">No distances (no rows, or no station matched).</p></section>`;
  const bins = distanceBins(data);
  return `<section id="distance" aria-labelledby="distance-h"><h2 id="distance-h">Distance to station</h2>
<p class="quantiles">median <strong data-quantile="median">${km(d.medianKm)} km</strong> · p99 <strong data-quantile="p99">${km(d.p99Km)} km</strong> · mean ${km(d.meanKm)} km · max ${km(d.maxKm)} km <span class="note">(over ${number(d.count)} rides; quantiles nearest-rank, to the metre)</span></p>
<figure>${svg ?? renderDistanceHistogram(data)}<figcaption>Rides by great-circle distance to their matched station, in bins of ${km(d.histogram.upperKm / (bins.length - 1))} km; the grey bar on the right holds every ride at ${km(d.histogram.upperKm)} km or more.</figcaption></figure>
<details><summary>Histogram as a table</summary>${table(['distance (km)', ['rides', 'n']], bins.map((b) => [b.to === Infinity ? `≥ ${b.from}` : `${b.from} – ${b.to}`, number(b.rides)]))}</details>
</section>`;
}

function rejectsSection(data: ReportData): string {
  const r = data.rejects;
  const rejected = data.summary?.totals.rejected ?? data.manifests.reduce((n, m) => n + m.rejected, 0);
  if (r.rides === 0) return `<section id="rejects" aria-labelledby="rejects-h"><h2 id="rejects-h">Rejects by reason</h2><p data-rejects="0">No ride was rejected.</p></section>`;
  const rows = r.reasons.map((x) => [
    esc(x.reason),
    number(x.count),
    `<span class="mono">${esc(x.example.file)}</span> ride ${number(x.example.index)}: ${esc(x.example.reason)}<br><code>${esc(x.example.record)}</code>`,
  ]);
  if (r.otherCount > 0) rows.push(['other reasons', number(r.otherCount), '']);
  return `<section id="rejects" aria-labelledby="rejects-h"><h2 id="rejects-h">Rejects by reason</h2>
<p><strong data-rejects="${r.rides}">${number(r.rides)}</strong> rejected rides in rejects/${rejected !== r.rides ? ` (the manifests count ${number(rejected)})` : ''}; a ride with several problems counts under each reason. Values are taken out of the reasons to group them; each example shows one in full.${r.unreadable ? ` ${number(r.unreadable)} lines of rejects/ were not JSON.` : ''}</p>
${table(['reason', ['rides', 'n'], 'example (file, ride index, record)'], rows)}
</section>`;
}

function timelineSection(data: ReportData, drawn: DrawnTimeline | undefined): string {
  const s = data.summary;
  const svg = drawn && sameTimeline(drawn.points, data.timeline.points) ? drawn.svg : renderTimeline(data);
  const counters: Array<[string, number]> = s
    ? [
        ['ingest invocations retried', s.retries.ingestInvocations],
        ['transform redeliveries', s.retries.transformRedeliveries],
        ...(s.retries.sdk ? ([['SDK retries, S3', s.retries.sdk.S3], ['SDK retries, SQS', s.retries.sdk.SQS]] as Array<[string, number]>) : []),
        ['fan-out DLQ messages', s.dlq.fanout],
        ['ingest DLQ messages', s.dlq.ingest],
        ...Object.entries(s.faults ?? {}).map(([k, v]): [string, number] => [`faults injected: ${k}`, v]),
      ]
    : [];
  const dlqRows = s?.dlq.fanoutMessages.map((m) => [`<span class="mono">${esc(m.source)}</span>`, number(m.chunk), number(m.rides)]) ?? [];
  return `<section id="timeline" aria-labelledby="timeline-h"><h2 id="timeline-h">Pipeline timeline</h2>
${svg ? `<figure>${svg}<figcaption>From ${esc(data.timeline.source)}.</figcaption></figure>` : '<p class="note">No timeline: no summary.json timeline and no manifest times.</p>'}
${counters.length ? `<dl class="figures">${counters.map(([k, v]) => figure(k.replace(/[^a-z0-9]+/gi, '-'), k, number(v))).join('\n')}</dl>` : ''}
${dlqRows.length ? `<details open><summary>Fan-out DLQ messages</summary>${table(['source', ['chunk', 'n'], ['rides', 'n']], dlqRows)}</details>` : ''}
${s?.dlq.ingestFiles.length ? `<details open><summary>Ingest DLQ files</summary>${table(['file', 'error'], s.dlq.ingestFiles.map((f) => [`<span class="mono">${esc(f.key)}</span>`, esc(f.error ?? '')]))}</details>` : ''}
${svg ? `<details><summary>Timeline as a table</summary>${table([['s', 'n'], ['ingested', 'n'], ['written', 'n'], ['messages in flight', 'n']], data.timeline.points.map((p) => [p.t.toFixed(1), number(p.ingested), number(p.written), number(p.inFlightMessages)]))}</details>` : ''}
</section>`;
}

/** The timeline chart drawn before the page, from the points `rydes run` sampled (summary.json's timeline once it is written). */
export interface DrawnTimeline {
  points: ReportTimelinePoint[];
  /** Undefined: no points, no chart. */
  svg: string | undefined;
}

/**
 * The timeline chart of `points`, as {@link renderPage} draws it from summary.json's timeline:
 * `rydes run` draws it when the pipeline is over, before summary.json is written.
 * @example
 * const timeline = drawTimeline(points); // while summary.json is written
 * renderPage(data, charts, timeline);    // used when data.timeline.points are the same points
 */
export function drawTimeline(points: ReportTimelinePoint[]): DrawnTimeline {
  return { points, svg: renderTimeline({ timeline: { points, source: '' } }) };
}

/** The same values wherever the chart reads them (time, the three counts, and which are absent). */
function sameTimeline(a: ReportTimelinePoint[], b: ReportTimelinePoint[]): boolean {
  return a.length === b.length && a.every((p, i) => p.t === b[i].t && p.ingested === b[i].ingested && p.written === b[i].written && p.inFlightMessages === b[i].inFlightMessages);
}

/** The charts drawn from the rows alone (not from summary.json): drawn before the page when the rows are known first. */
export interface RowCharts {
  map: MapFigure;
  /** Undefined when the page shows no such chart. */
  stations?: string;
  distance?: string;
}

/**
 * The charts of `data` that depend only on its rows and stations, as {@link renderPage} draws them.
 * @example
 * const charts = renderRowCharts(data); // while summary.json is written
 * renderPage({ ...data, summary }, charts); // the same page as renderPage({ ...data, summary })
 */
export function renderRowCharts(data: RowData & Pick<ReportData, 'stations'>): RowCharts {
  const whole = data as ReportData;
  return {
    map: renderMap(whole),
    stations: stationBars(whole).length ? renderStationBars(whole) : undefined,
    distance: data.distances.count ? renderDistanceHistogram(whole) : undefined,
  };
}

/**
 * The whole page: one HTML file with inline SVG and CSS, no script, nothing fetched (the CSP
 * forbids it). Every data string is escaped. Deterministic: the same data gives the same bytes
 * (`charts` and `timeline` drawn before give the bytes they would be drawn with here).
 */
export function renderPage(data: ReportData, charts: RowCharts = renderRowCharts(data), timeline?: DrawnTimeline): string {
  const title = `rydes run report: ${data.subject}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header><h1>rydes run report</h1><p class="subject">${esc(data.subject)}</p></header>
<section id="headline" aria-labelledby="headline-h"><h2 id="headline-h">Headline numbers</h2>
${verdict(data)}
${headline(data)}
<h3>Settings</h3>
${settings(data)}
<h3>Files</h3>
${files(data)}
</section>
${mapSection(data, charts.map)}
${stationsSection(data, charts.stations)}
${distanceSection(data, charts.distance)}
${rejectsSection(data)}
${timelineSection(data, timeline)}
<footer>Built by <code>rydes report</code> from ${esc(data.rides.source)}, manifests/ and rejects/. A static page: inline SVG drawn by Apache ECharts on the server, no script, nothing loaded from the network.</footer>
</main>
</body>
</html>
`;
}
