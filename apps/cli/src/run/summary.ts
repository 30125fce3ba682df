import type { CompletionCheck } from './completion';
import type { LostWork } from './dead-letters';

export interface RunFigures {
  files: number;
  ridesRead: number;
  valid: number;
  rejected: number;
  rowsWritten: number;
  fanoutDlq: number;
  ingestDlq: number;
  wallSeconds: number;
  /** Async invocations of the ingest function run again after a failure. */
  ingestRetries: number;
  /** Fan-out messages handed back after a failed delivery; each comes back after the visibility timeout. */
  transformRedeliveries: number;
  /** Requests the functions' SDK clients sent again (attempt > 1), seen by the --chaos proxies. */
  sdkRetries?: { S3: number; SQS: number };
  /** Faults injected by --chaos, by kind; absent without it. */
  faults?: Record<string, number>;
  lost: LostWork;
}

export interface Verdict {
  ok: boolean;
  /** Why the run failed, one reason per entry; empty when ok. */
  reasons: string[];
}

/** Totals of a settled run: manifests give what was read, the merged CSV what was written. */
export function figuresOf(check: CompletionCheck, rowsWritten: number, wallSeconds: number, extra: Pick<RunFigures, 'ingestRetries' | 'transformRedeliveries' | 'sdkRetries' | 'faults' | 'lost'>): RunFigures {
  const manifests = check.sources.flatMap((s) => (s.manifest ? [s.manifest] : []));
  const sum = (pick: (m: (typeof manifests)[number]) => number) => manifests.reduce((n, m) => n + pick(m), 0);
  return {
    files: check.sources.length,
    ridesRead: sum((m) => m.total),
    valid: sum((m) => m.valid),
    rejected: sum((m) => m.rejected),
    rowsWritten,
    fanoutDlq: check.fanoutDlq,
    ingestDlq: check.ingestDlq,
    wallSeconds,
    ...extra,
  };
}

/** Exit 0 only when every valid ride became a row and both DLQs are empty. */
export function verdictOf(figures: RunFigures, check: CompletionCheck, stalled?: string): Verdict {
  const reasons: string[] = [];
  if (stalled) reasons.push(stalled);
  if (figures.rowsWritten !== figures.valid) {
    reasons.push(`rows written (${figures.rowsWritten}) ≠ valid rides (${figures.valid})`);
  }
  if (figures.fanoutDlq) reasons.push(`${figures.fanoutDlq} fan-out message(s) in the DLQ after ${5} receives`);
  if (figures.ingestDlq) reasons.push(`${figures.ingestDlq} ingest event(s) in the ingest DLQ after 2 retries`);
  const { lost } = figures;
  if (anyLoss(lost)) {
    reasons.push(
      lost.accounted
        ? `lost work: ${n(lost.rides)} rides, exactly the rides the DLQs hold`
        : `lost work NOT accounted for by the DLQs: ${lost.unaccounted.slice(0, 5).join('; ')}${lost.undecodable ? `; ${lost.undecodable} undecodable DLQ message(s)` : ''}`,
    );
  }
  for (const source of check.sources) {
    if (source.manifest?.error) reasons.push(`${source.key}: ingest error at byte ${source.manifest.error.byteOffset}: ${source.manifest.error.message}`);
    else if (!source.manifest) reasons.push(`${source.key}: no manifest`);
  }
  return { ok: reasons.length === 0, reasons };
}

/** The summary table, aligned for a terminal. */
export function formatSummary(figures: RunFigures, verdict: Verdict): string {
  const rate = figures.wallSeconds > 0 ? Math.round(figures.ridesRead / figures.wallSeconds) : 0;
  const rows: Array<[string, string]> = [
    ['files', String(figures.files)],
    ['rides read', n(figures.ridesRead)],
    ['valid', n(figures.valid)],
    ['rejected', n(figures.rejected)],
    ['rows written', n(figures.rowsWritten)],
    ['DLQ messages', `${figures.fanoutDlq + figures.ingestDlq} (fan-out ${figures.fanoutDlq}, ingest ${figures.ingestDlq})`],
    ['lost rides', describeLost(figures.lost)],
    ['retries', describeRetries(figures)],
    ...(figures.faults
      ? [['faults injected', Object.entries(figures.faults).map(([k, v]) => `${k} ${n(v)}`).join(', ')] as [string, string]]
      : []),
    ['wall time', `${figures.wallSeconds.toFixed(1)} s`],
    ['rides/s', n(rate)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const table = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n');
  const status = verdict.ok
    ? 'OK: every valid ride was written, DLQs empty.'
    : `FAILED: ${verdict.reasons.join('; ')}`;
  return `${table}\n${status}`;
}

function describeRetries(figures: RunFigures): string {
  const sdk = figures.sdkRetries ? `S3 requests ${n(figures.sdkRetries.S3)}, SQS requests ${n(figures.sdkRetries.SQS)}, ` : '';
  return `${sdk}ingest invocations ${n(figures.ingestRetries)}, transform redeliveries ${n(figures.transformRedeliveries)}`;
}

/** Lost rides next to what the DLQs hold, and whether they are the same work. */
function describeLost(lost: LostWork): string {
  if (!anyLoss(lost)) return '0';
  const held = [
    `${n(lost.dlqRides)} rides in ${n(lost.dlqMessages)} fan-out DLQ message(s)${chunkList(lost.dlqChunks)}`,
    ...(lost.undecodable ? [`${lost.undecodable} undecodable fan-out DLQ message(s)`] : []),
    ...(lost.ingestFiles.length ? [`whole file(s) in the ingest DLQ: ${lost.ingestFiles.join(', ')}`] : []),
  ].join(' + ');
  if (lost.accounted) return `${n(lost.rides)} = ${held}: the DLQs hold exactly the lost work`;
  return `${n(lost.rides)}, DLQs hold ${held}: NOT the same work (${lost.unaccounted.slice(0, 3).join('; ')})`;
}

/** Anything missing, or anything in a DLQ. */
function anyLoss(lost: LostWork): boolean {
  return lost.rides > 0 || lost.dlqMessages > 0 || lost.undecodable > 0 || lost.ingestFiles.length > 0;
}

function chunkList(chunks: string[]): string {
  return chunks.length ? ` (${chunks.slice(0, 3).join('; ')}${chunks.length > 3 ? '; …' : ''})` : '';
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}
