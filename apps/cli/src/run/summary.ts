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
  /** FILEs given again with the same bytes: processed once. */
  duplicates: number;
  /** Output files not written because a file rydes did not write is in the way. */
  conflicts: string[];
  /** Per function that failed at least once: the first error line and where its log is kept. */
  functionErrors: FunctionError[];
}

export interface FunctionError {
  function: string;
  failures: number;
  firstError: string;
  /** The full log, or undefined when it went to stderr (--verbose). */
  logFile?: string;
}

/** A FILE as the summary lists it. */
export interface FileLine {
  path: string;
  key: string;
  status: string;
  detail: string;
}

export interface Verdict {
  ok: boolean;
  /** Why the run failed, one reason per entry; empty when ok. */
  reasons: string[];
}

/** Totals of a settled run: manifests give what was read, the merged CSV what was written. */
export function figuresOf(
  check: CompletionCheck,
  rowsWritten: number,
  wallSeconds: number,
  extra: Pick<RunFigures, 'ingestRetries' | 'transformRedeliveries' | 'sdkRetries' | 'faults' | 'lost' | 'duplicates' | 'conflicts' | 'functionErrors'>,
): RunFigures {
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
  const unfinished = check.sources.filter((s) => s.ingestError || !s.manifest || s.manifest.error || s.missingChunks?.length !== 0);
  if (unfinished.length) {
    const failed = unfinished.filter((s) => s.ingestError || s.manifest?.error).length;
    reasons.push(
      `${unfinished.length} of ${check.sources.length} file(s) not fully processed` +
        (failed ? ` (${failed} lost as a whole: the file failed)` : '') +
        ': see the files above',
    );
  }
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
  if (figures.conflicts.length) {
    reasons.push(
      `${figures.conflicts.length} output file(s) not written: a file rydes did not write is in the way (${figures.conflicts.slice(0, 3).join(', ')}${figures.conflicts.length > 3 ? ', …' : ''})`,
    );
  }
  return { ok: reasons.length === 0, reasons };
}

/** Files listed in the printed summary at most; summary.json lists them all. */
const MAX_FILE_LINES = 20;

/** The summary table, aligned for a terminal, then each FILE and what became of it. */
export function formatSummary(figures: RunFigures, verdict: Verdict, files: FileLine[] = [], queues: string[] = []): string {
  const rate = figures.wallSeconds > 0 ? Math.round(figures.ridesRead / figures.wallSeconds) : 0;
  const rows: Array<[string, string]> = [
    ['files', `${figures.files}${figures.duplicates ? ` (+${figures.duplicates} given twice: same bytes, processed once)` : ''}`],
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
    ...figures.functionErrors.map(
      (e) =>
        [
          `${e.function} errors`,
          `${n(e.failures)} failed invocation(s); first: ${e.firstError}${e.logFile ? ` (full log: ${e.logFile})` : ' (log on stderr above)'}`,
        ] as [string, string],
    ),
    ['wall time', `${figures.wallSeconds.toFixed(1)} s`],
    ['rides/s', n(rate)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const table = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n');
  const listed = files.slice(0, MAX_FILE_LINES).map((f) => `    ${f.path} → ${f.key}: ${f.status}${f.detail ? `: ${f.detail}` : ''}`);
  if (files.length > MAX_FILE_LINES) listed.push(`    … ${files.length - MAX_FILE_LINES} more in summary.json`);
  for (const line of queues) listed.push(`    ${line}`);
  const status = verdict.ok
    ? 'OK: every valid ride was written, DLQs empty.'
    : `FAILED: ${verdict.reasons.join('; ')}`;
  return `${table}\n${listed.length ? `  files:\n${listed.join('\n')}\n` : ''}${status}`;
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
