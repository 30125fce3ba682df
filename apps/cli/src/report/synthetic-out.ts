import { DEFAULT_STATIONS, haversineKm, type Station } from '@rydes/geo-index';
import { CSV_COLUMNS, encodeCsv, seededRandom, type Manifest, type ProcessedRow } from '@rydes/ride-model';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { SUMMARY_FILE, SUMMARY_VERSION, type RunSummaryFile } from '../run/summary-file';

export interface SyntheticOutOptions {
  rides: number;
  seed?: number;
  /** Rides per processed/ object and per fan-out message in the manifest. */
  ridesPerMessage?: number;
  /** Stations rides are matched to (brute force nearest); default the bundled NYC stations. */
  stations?: readonly Station[];
  /** The catalogue's path as summary.json names it (default `bundled`). */
  stationsPath?: string;
  /** Where rides start: [longitude, latitude] and spread in degrees. */
  centre?: [number, number];
  spreadDegrees?: number;
  /** Names to use for some rides (escaping tests). */
  names?: string[];
  /** Rejected rides written to rejects/ (counted in the manifest). */
  rejects?: Array<{ reasons: string[]; record: unknown }>;
  /** Also write processed/ objects (else rides.csv only). */
  processed?: boolean;
}

/**
 * Writes an output folder shaped like `rydes run --out` (rides.csv, manifests/, rejects/,
 * summary.json with a timeline, optionally processed/) without running the pipeline: for the
 * report's benchmark at millions of rides and for specs that need data the generator cannot
 * produce (a world-wide catalogue, hostile names). Rows stream to disk; memory stays flat.
 * @example
 * await writeSyntheticOut('/tmp/out', { rides: 4_000_000 });
 */
export async function writeSyntheticOut(dir: string, options: SyntheticOutOptions): Promise<RunSummaryFile> {
  const next = seededRandom(options.seed ?? 1);
  const stations = options.stations ?? DEFAULT_STATIONS;
  const [lon0, lat0] = options.centre ?? [-73.95, 40.75];
  const spread = options.spreadDegrees ?? 0.3;
  const perMessage = options.ridesPerMessage ?? 100;
  const rejects = options.rejects ?? [];
  const source = 'raw/synthetic.json';
  const etag = '0123abcd0123abcd0123abcd0123abcd';
  await mkdir(join(dir, 'manifests'), { recursive: true });
  await mkdir(join(dir, 'rejects'), { recursive: true });
  if (options.processed) await mkdir(join(dir, 'processed'), { recursive: true });

  const out = createWriteStream(join(dir, 'rides.csv'));
  const header = `${CSV_COLUMNS.join(',')}\n`;
  if (!out.write(header)) await once(out, 'drain');
  const total = options.rides + rejects.length;
  let rows: ProcessedRow[] = [];
  let chunkIndex = 0;
  // One processed/ object (and one encodeCsv call) per message's worth of rides.
  const flush = async () => {
    if (rows.length === 0) return;
    const text = encodeCsv(rows).slice(header.length);
    if (options.processed) await writeFile(join(dir, 'processed', `synthetic-0123abcd-${String(chunkIndex).padStart(6, '0')}.csv`), header + text);
    if (!out.write(text)) await once(out, 'drain');
    rows = [];
    chunkIndex++;
  };
  for (let i = 0; i < options.rides; i++) {
    const latitude = Math.round((lat0 + (next() - 0.5) * spread) * 1e6) / 1e6;
    const longitude = Math.round((lon0 + (next() - 0.5) * spread * 1.3) * 1e6) / 1e6;
    let best = stations[0];
    let bestKm = Infinity;
    for (const s of stations) {
      const km = haversineKm(latitude, longitude, s.latitude, s.longitude);
      if (km < bestKm || (km === bestKm && s.id < best.id)) [best, bestKm] = [s, km];
    }
    rows.push({
      distance: Math.round(next() * 300) / 10,
      healthpoints: Math.floor(next() * 300),
      latitude,
      longitude,
      magicpoints: Math.floor(next() * 300),
      name: options.names?.length ? options.names[i % options.names.length] : `unicorn-${i % 1000}`,
      statustime: '2018-05-07 20:11:04.247',
      groundstation: best.id,
      groundstation_distance_km: bestKm,
      source,
      ride_index: i,
    });
    if (rows.length === perMessage) await flush();
  }
  await flush();
  out.end();
  await once(out, 'close');

  await writeFile(
    join(dir, 'rejects', 'synthetic-0123abcd.ndjson'),
    rejects.map((r, i) => `${JSON.stringify({ index: options.rides + i, reasons: r.reasons, record: r.record })}\n`).join(''),
  );
  const startedAt = '2026-01-01T00:00:00.000Z';
  const seconds = Math.max(1, options.rides / 15_000);
  const finishedAt = new Date(Date.parse(startedAt) + seconds * 1000).toISOString();
  const manifest: Manifest = {
    bucket: 'rydes-local',
    source,
    etag,
    total,
    valid: options.rides,
    rejected: rejects.length,
    chunks: Math.ceil(options.rides / perMessage),
    ridesPerMessage: perMessage,
    droppedFields: 0,
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + seconds * 400).toISOString(),
  };
  await writeFile(join(dir, 'manifests', 'synthetic-0123abcd.json'), JSON.stringify(manifest));
  const summary: RunSummaryFile = {
    version: SUMMARY_VERSION,
    ok: true,
    reasons: [],
    exitCode: 0,
    startedAt,
    finishedAt,
    settings: { ridesPerMessage: perMessage, concurrency: 2, stations: options.stationsPath ?? 'bundled', stationCount: stations.length },
    files: [{ path: 'synthetic.json', key: source, etag, bytes: total * 180, status: 'done', total, valid: options.rides, rejected: rejects.length, rowsWritten: options.rides }],
    totals: { files: 1, ridesRead: total, valid: options.rides, rejected: rejects.length, rowsWritten: options.rides, lostRides: 0 },
    dlq: { fanout: 0, ingest: 0, fanoutMessages: [], ingestFiles: [] },
    retries: { ingestInvocations: 0, transformRedeliveries: 0 },
    phases: { start: 0.5, upload: 0.2, pipeline: seconds - 1, download: 0.2, merge: 0.1 },
    wallSeconds: seconds,
    ridesPerSecond: options.rides / seconds,
    timeline: Array.from({ length: 41 }, (_, k) => {
      const f = k / 40;
      return { t: Math.round(f * seconds * 100) / 100, ingested: Math.round(options.rides * Math.min(1, f * 2.5)), written: Math.round(options.rides * f), inFlightMessages: Math.round((options.rides / perMessage) * Math.max(0, Math.min(1, f * 2.5) - f) * 0.5) };
    }),
  };
  await writeFile(join(dir, SUMMARY_FILE), JSON.stringify(summary, null, 2));
  return summary;
}
