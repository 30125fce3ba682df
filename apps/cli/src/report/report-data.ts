import type { Station } from '@rydes/geo-index';
import type { Manifest } from '@rydes/ride-model';
import type { RunSummaryFile } from '../run/summary-file';
import { DistanceCounts, PointSample, RejectCounts, RideCounts, rideRank, type MapPoint, type RejectReason } from './aggregate';
import type { RideRow, RowBatch, RowBatchSink } from './ride-rows';

/** About this many bins in the distance histogram, below the overflow bin. */
export const DISTANCE_BINS = 25;

/** A progress sample; `written` and `inFlightMessages` are absent when the source does not know them. */
export interface ReportTimelinePoint {
  /** Seconds since the run started. */
  t: number;
  ingested: number;
  written?: number;
  inFlightMessages?: number;
}

/** Everything the page shows, already reduced to a size independent of the number of rides. */
export interface ReportData {
  /** What the report is of: the out folder or the stack. */
  subject: string;
  summary?: RunSummaryFile;
  manifests: Manifest[];
  rides: {
    /** Rows read (all of them, or those of the sampled objects with --sample). */
    rows: number;
    unmatched: number;
    /** Where the rows came from, in words. */
    source: string;
    /** Set when only part of the rows were read: the rows the manifests announce. */
    sampledFrom?: number;
    bbox?: { west: number; south: number; east: number; north: number };
    stations: Array<{ station: string; rides: number }>;
    points: MapPoint[];
  };
  distances: {
    count: number;
    medianKm?: number;
    p99Km?: number;
    meanKm?: number;
    maxKm: number;
    histogram: { upperKm: number; counts: number[] };
  };
  rejects: { rides: number; reasons: RejectReason[]; otherCount: number; unreadable: number };
  /** Coordinates of the matched stations the catalogue knows (markers and ride→station lines). */
  stations: { source: string; known: Map<string, Station>; catalogueSize?: number; error?: string };
  timeline: { points: ReportTimelinePoint[]; source: string };
}

/** The part of {@link ReportData} that comes from the CSV rows (plain data: it can be posted to a worker). */
export interface RowData {
  rides: Omit<ReportData['rides'], 'source' | 'sampledFrom'>;
  distances: ReportData['distances'];
}

/** Gathers the aggregates while rows, reject lines and manifests stream past. */
export class ReportCollector implements RowBatchSink {
  private readonly counts = new RideCounts();
  private readonly distances = new DistanceCounts();
  private readonly sample = new PointSample();
  private readonly rejectCounts = new RejectCounts();
  private readonly manifests: Manifest[] = [];

  addRow(row: RideRow): void {
    this.counts.add(row.longitude, row.latitude, row.station);
    if (Number.isFinite(row.distanceKm)) this.distances.add(row.distanceKm);
    if (Number.isFinite(row.longitude) && Number.isFinite(row.latitude)) {
      this.sample.add(rideRank(row.source, row.rideIndex), row.longitude, row.latitude, row.station, row.source, row.rideIndex);
    }
  }

  /** The rows of a batch, as {@link addRow} of each would add them; one short loop per aggregate. */
  addRows(batch: RowBatch): void {
    this.counts.addRows(batch);
    this.distances.addAll(batch.distanceKm, batch.count);
    const { count, longitude, latitude, station, source, rideIndex } = batch;
    const sample = this.sample;
    for (let i = 0; i < count; i++) {
      const x = longitude[i];
      const y = latitude[i];
      if (Number.isFinite(x) && Number.isFinite(y)) sample.add(rideRank(source[i], rideIndex[i]), x, y, station[i], source[i], rideIndex[i]);
    }
  }

  addReject(file: string, line: string): void {
    if (line.trim() !== '') this.rejectCounts.add(file, line);
  }

  addManifest(manifest: Manifest): void {
    this.manifests.push(manifest);
  }

  /** What the page shows of the rows so far: counts, the map's sample, the distances. */
  rowData(): RowData {
    const [medianKm, p99Km] = this.distances.quantiles([0.5, 0.99]);
    const { upperKm, bins } = histogramRange(p99Km ?? 0, this.distances.maxKm);
    const b = this.counts.bbox;
    return {
      rides: {
        rows: this.counts.rows,
        unmatched: this.counts.unmatched,
        bbox: Number.isFinite(b.west) ? { ...b } : undefined,
        stations: this.counts.ranked(),
        points: this.sample.points(),
      },
      distances: {
        count: this.distances.count,
        medianKm,
        p99Km,
        meanKm: this.distances.count ? this.distances.sumKm / this.distances.count : undefined,
        maxKm: this.distances.maxKm,
        histogram: { upperKm, counts: this.distances.histogram(upperKm, bins) },
      },
    };
  }

  /** The report's data; `rows`: the rows' part gathered elsewhere (see {@link rowData}) instead of this collector's. */
  finish(options: {
    subject: string;
    summary?: RunSummaryFile;
    ridesSource: string;
    sampledFrom?: number;
    stations: ReportData['stations'];
    timeline: ReportData['timeline'];
    rows?: RowData;
  }): ReportData {
    const { rides, distances } = options.rows ?? this.rowData();
    return {
      subject: options.subject,
      summary: options.summary,
      manifests: [...this.manifests].sort((x, y) => (x.source < y.source ? -1 : x.source > y.source ? 1 : 0)),
      rides: {
        rows: rides.rows,
        unmatched: rides.unmatched,
        source: options.ridesSource,
        sampledFrom: options.sampledFrom,
        bbox: rides.bbox,
        stations: rides.stations,
        points: rides.points,
      },
      distances,
      rejects: {
        rides: this.rejectCounts.rides,
        reasons: this.rejectCounts.reasons(),
        otherCount: this.rejectCounts.otherCount,
        unreadable: this.rejectCounts.unreadable,
      },
      stations: options.stations,
      timeline: options.timeline,
    };
  }
}

/**
 * Bins of a round width (1, 2, 2.5 or 5 × 10^k km) covering a little more than p99; the tail
 * beyond goes to the overflow bin.
 */
export function histogramRange(p99: number, max: number): { upperKm: number; bins: number } {
  const target = Math.max(p99 * 1.05, Math.min(max, 0.001), 0.001);
  const raw = target / DISTANCE_BINS;
  const step = 10 ** Math.floor(Math.log10(raw));
  const width = ([1, 2, 2.5, 5, 10].find((m) => m * step >= raw) as number) * step;
  const bins = Math.max(1, Math.ceil(target / width - 1e-9));
  return { upperKm: Number((bins * width).toPrecision(12)), bins };
}
