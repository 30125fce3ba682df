import type { Manifest } from '@rydes/ride-model';
import type { ReportTimelinePoint } from './report-data';

/** Points of a derived timeline at most (the chart needs no more). */
const MAX_POINTS = 200;

/** A processed/ object's time and the rides it is taken to hold. */
export interface WrittenObject {
  at: number;
  rides: number;
}

/**
 * A timeline rebuilt after the fact, for runs with no summary.json timeline (a deployed stack):
 * each manifest's valid rides are taken as ingested evenly between its `startedAt` and
 * `finishedAt`; rides written rise at each processed/ object's LastModified time. Messages in
 * flight are unknown there.
 */
export function timelineFromTimes(manifests: Manifest[], written?: WrittenObject[]): ReportTimelinePoint[] {
  const spans = manifests
    .map((m) => ({ start: Date.parse(m.startedAt), finish: Date.parse(m.finishedAt), valid: m.valid }))
    .filter((s) => Number.isFinite(s.start) && Number.isFinite(s.finish));
  const objects = [...(written ?? [])].sort((a, b) => a.at - b.at);
  const times = [...spans.flatMap((s) => [s.start, s.finish]), ...objects.map((o) => o.at)];
  if (times.length === 0) return [];
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const steps = Math.min(MAX_POINTS, Math.max(1, objects.length + 2 * spans.length));
  const points: ReportTimelinePoint[] = [];
  let next = 0;
  let writtenSoFar = 0;
  for (let i = 0; i <= steps; i++) {
    const at = t0 + ((t1 - t0) * i) / steps;
    while (next < objects.length && objects[next].at <= at) writtenSoFar += objects[next++].rides;
    const ingested = spans.reduce((n, s) => n + s.valid * (s.finish <= s.start ? (at >= s.finish ? 1 : 0) : Math.min(1, Math.max(0, (at - s.start) / (s.finish - s.start)))), 0);
    points.push({ t: round((at - t0) / 1000), ingested: Math.round(ingested), ...(written && { written: Math.round(writtenSoFar) }) });
  }
  return points;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
