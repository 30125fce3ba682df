import { parseRides } from '@rydes/ride-model';
import { createReadStream } from 'node:fs';
import { EXIT } from '../errors';
import type { CompletionCheck, SourceStatus } from './completion';
import { ingestDeadLetterReason, type LostWork } from './dead-letters';
import type { EventSourceSummary } from './summary-file';

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
  /** The transform's event source (sqs-consumer) errors: polls and batch handlers that failed. */
  eventSource?: EventSourceSummary;
  /** Files whose source was deleted before ingest read all of it: what was not read. */
  notRead?: NotRead[];
}

/** A file whose raw object was deleted before the ingest read all of it (manifest `code: 'source-deleted'`). */
export interface NotRead {
  key: string;
  /** Rides the ingest read before the deletion (all written, or rejected). */
  read: number;
  /** Rides in the FILE after them: never read, never in a DLQ. Undefined when the FILE cannot be counted. */
  rides?: number;
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
  /** Rides not read because their source was deleted mid-run, one entry per file; not a loss. */
  notRead?: string[];
  /** The process exit code this verdict means (see {@link exitCodeOf}). */
  exitCode?: number;
}

/** Totals of a settled run: manifests give what was read, the merged CSV what was written. */
export function figuresOf(
  check: CompletionCheck,
  rowsWritten: number,
  wallSeconds: number,
  extra: Pick<RunFigures, 'ingestRetries' | 'transformRedeliveries' | 'sdkRetries' | 'faults' | 'lost' | 'duplicates' | 'conflicts' | 'functionErrors'> &
    Partial<Pick<RunFigures, 'eventSource' | 'notRead'>>,
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

/** A manifest whose source was deleted before ingest read it all, every chunk it sent written. */
function deletedSource(source: SourceStatus): boolean {
  return source.manifest?.error?.code === 'source-deleted' && !source.ingestError && source.missingChunks?.length === 0;
}

/**
 * Exit 0 only when every valid ride became a row and both DLQs are empty. A source deleted
 * mid-run is not a loss (every ride read was written, nothing retries it): it is listed as
 * `notRead` and exits {@link EXIT.NO_INPUT} unless something was also lost.
 */
export function verdictOf(figures: RunFigures, check: CompletionCheck, stalled?: string): Verdict {
  const reasons: string[] = [];
  if (stalled) reasons.push(stalled + describeEventSourceErrors(figures.eventSource, '; the event source reported '));
  const unfinished = check.sources.filter((s) => !deletedSource(s) && (s.ingestError || !s.manifest || s.manifest.error || s.missingChunks?.length !== 0));
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
  if (figures.ingestDlq) {
    const entries = figures.lost.ingestEntries ?? [];
    const why = entries.length ? `: ${entries.slice(0, 3).map((e) => `${e.key}: ${ingestDeadLetterReason(e)}`).join('; ')}${entries.length > 3 ? '; …' : ''}` : '';
    reasons.push(`${figures.ingestDlq} ingest event(s) in the ingest DLQ${why}`);
  }
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
  const notRead = check.sources.filter(deletedSource).map((s) => describeNotRead(s, figures.notRead?.find((r) => r.key === s.key)));
  const verdict: Verdict = { ok: reasons.length === 0 && notRead.length === 0, reasons, ...(notRead.length && { notRead }) };
  return { ...verdict, exitCode: exitCodeOf(verdict) };
}

/**
 * 0 when ok; {@link EXIT.RIDES_LOST} (1) when anything was lost or is missing; a run whose only
 * shortfall is a source deleted mid-run exits {@link EXIT.NO_INPUT} (66, sysexits' "input did
 * not exist"): the input went away, the pipeline lost nothing.
 * @example
 * exitCodeOf({ ok: false, reasons: [], notRead: ['not read: 12 rides …'] }); // 66
 */
export function exitCodeOf(verdict: Pick<Verdict, 'ok' | 'reasons' | 'notRead'>): number {
  if (verdict.ok) return EXIT.OK;
  return verdict.reasons.length === 0 && verdict.notRead?.length ? EXIT.NO_INPUT : EXIT.RIDES_LOST;
}

/** `not read: 1,200 rides (source deleted after ride 499): raw/x.json`. */
function describeNotRead(source: SourceStatus, count: NotRead | undefined): string {
  const read = source.manifest?.total ?? 0;
  const after = read === 0 ? 'before any ride was read' : `after ride ${source.manifest?.error?.lastGoodIndex ?? read - 1}`;
  const rides = count?.rides === undefined ? 'the rest of the file' : `${n(count.rides)} rides`;
  return `not read: ${rides} (source deleted ${after}): ${source.key}`;
}

/**
 * Rides of each deleted-mid-run FILE the ingest never read: the FILE's records counted here
 * (the same parser as the ingest) minus the rides its manifest says were read.
 * @example
 * await countNotRead(check, new Map([['raw/a-0123456789ab.json', 'a.json']])); // [{ key, read: 500, rides: 1500 }]
 */
export async function countNotRead(check: CompletionCheck, pathOf: Map<string, string>): Promise<NotRead[]> {
  const counted: NotRead[] = [];
  for (const source of check.sources) {
    if (source.manifest?.error?.code !== 'source-deleted') continue;
    const path = pathOf.get(source.key);
    const read = source.manifest.total;
    let records: number | undefined;
    if (path) {
      records = 0;
      try {
        for await (const _ of parseRides(createReadStream(path))) records++;
      } catch {
        // A file that breaks later on counts up to the break: the ingest would have stopped there too.
      }
    }
    counted.push({ key: source.key, read, ...(records !== undefined && { rides: Math.max(0, records - read) }) });
  }
  return counted;
}

/**
 * The printed per-file lines with what the DLQs and manifests say: a file in the ingest DLQ is
 * `lost` with the invocation record's reason (condition, attempts, errorType: errorMessage); a
 * file whose source was deleted mid-run says what was written and what was not read.
 */
export function withOutcomes(files: FileLine[], check: CompletionCheck, figures: Pick<RunFigures, 'lost' | 'notRead'>): FileLine[] {
  const sources = new Map(check.sources.map((s) => [s.key, s]));
  return files.map((file) => {
    if (file.status === 'duplicate') return file;
    const source = sources.get(file.key);
    const dead = (figures.lost.ingestEntries ?? []).filter((e) => e.key === file.key);
    if (dead.length) {
      const last = dead[dead.length - 1];
      const part = last.part !== undefined ? ` (continuation part ${last.part})` : '';
      return { ...file, status: 'lost', detail: `in the ingest DLQ${part}: ${ingestDeadLetterReason(last)}` };
    }
    if (source && deletedSource(source) && source.manifest) {
      const count = figures.notRead?.find((r) => r.key === file.key);
      const { valid, rejected } = source.manifest;
      return { ...file, status: 'source deleted', detail: `${n(valid)} rides written (${n(rejected)} rejected); ${describeNotRead(source, count).replace(/: [^:]*$/, '')}` };
    }
    return file;
  });
}

/** ` 2 poll error(s), 1 processing error(s); last: …` or '' when none. */
function describeEventSourceErrors(events: EventSourceSummary | undefined, prefix = ''): string {
  if (!events || events.pollErrors + events.processingErrors === 0) return '';
  return `${prefix}${n(events.pollErrors)} poll error(s), ${n(events.processingErrors)} batch-handler error(s); last: ${events.lastError ?? '?'}`;
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
    ...(figures.notRead?.length
      ? [['not read', `${figures.notRead.some((r) => r.rides === undefined) ? 'at least ' : ''}${n(figures.notRead.reduce((t, r) => t + (r.rides ?? 0), 0))} rides (source deleted mid-run: not lost, not in a DLQ)`] as [string, string]]
      : []),
    ['lost rides', describeLost(figures.lost, new Map(files.map((f) => [f.key, f.path])))],
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
    ...(describeEventSourceErrors(figures.eventSource)
      ? [['event source', `${describeEventSourceErrors(figures.eventSource)}${figures.eventSource?.logFile ? ` (log: ${figures.eventSource.logFile})` : ''}`] as [string, string]]
      : []),
    ['wall time', `${figures.wallSeconds.toFixed(1)} s`],
    ['rides/s', n(rate)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const table = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n');
  const listed = files.slice(0, MAX_FILE_LINES).map((f) => `    ${f.path} → ${f.key}: ${f.status}${f.detail ? `: ${f.detail}` : ''}`);
  if (files.length > MAX_FILE_LINES) listed.push(`    … ${files.length - MAX_FILE_LINES} more in summary.json`);
  // Ingest DLQ entries for keys that are none of the FILEs (a kept --data-dir's older uploads).
  for (const entry of figures.lost.ingestEntries ?? []) {
    if (!files.some((f) => f.key === entry.key)) listed.push(`    ingest DLQ: ${entry.key}: ${ingestDeadLetterReason(entry)}`);
  }
  for (const line of queues) listed.push(`    ${line}`);
  const notRead = verdict.notRead ?? [];
  const status = verdict.ok
    ? 'OK: every valid ride was written, DLQs empty.'
    : verdict.reasons.length
      ? `FAILED: ${[...verdict.reasons, ...notRead].join('; ')}`
      : `INCOMPLETE: ${notRead.join('; ')}; every ride read was written, DLQs empty.`;
  return `${table}\n${listed.length ? `  files:\n${listed.join('\n')}\n` : ''}${status}`;
}

function describeRetries(figures: RunFigures): string {
  const sdk = figures.sdkRetries ? `S3 requests ${n(figures.sdkRetries.S3)}, SQS requests ${n(figures.sdkRetries.SQS)}, ` : '';
  return `${sdk}ingest invocations ${n(figures.ingestRetries)}, transform redeliveries ${n(figures.transformRedeliveries)}`;
}

/** Lost rides next to what the DLQs hold, and whether they are the same work. */
function describeLost(lost: LostWork, pathOf: Map<string, string>): string {
  if (!anyLoss(lost)) return '0';
  const held = [
    `${n(lost.dlqRides)} rides in ${n(lost.dlqMessages)} fan-out DLQ message(s)${chunkList(lost.dlqChunks)}`,
    ...(lost.undecodable ? [`${lost.undecodable} undecodable fan-out DLQ message(s)`] : []),
    ...(lost.ingestFiles.length ? [`whole file(s) in the ingest DLQ: ${lost.ingestFiles.map((key) => pathOf.get(key) ?? key).join(', ')}`] : []),
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
