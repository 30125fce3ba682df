import { DEFAULT_STATIONS } from '@rydes/geo-index';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { CompletionCheck } from './completion';
import { ingestDeadLetterReason, type DeadLetters, type IngestDeadLetter } from './dead-letters';
import type { RunInput } from './inputs';
import type { OutputFolder } from './out-folder';
import type { MergedRides } from './output';
import type { RunOptions } from './run-pipeline';
import type { Sample } from './sample';
import { SUMMARY_FILE, SUMMARY_VERSION, type FileStatus, type FileSummary, type IngestDlqFile, type RunSummaryFile, type TimelinePoint } from './summary-file';
import type { FileLine, RunFigures, Verdict } from './summary';

export interface SummaryInputs {
  options: Pick<RunOptions, 'ridesPerMessage' | 'concurrency' | 'stationsFile' | 'chaosSpec' | 'sample'>;
  inputs: RunInput[];
  check: CompletionCheck;
  figures: RunFigures;
  verdict: Verdict;
  exitCode: number;
  /** The printed per-file lines (status as printed: done, lost, incomplete, duplicate, …). */
  files: FileLine[];
  merged: MergedRides;
  dead: DeadLetters;
  timeline: TimelinePoint[];
  phases: Record<string, number>;
  startedAt: string;
  stationCount?: number;
  sample?: Sample;
}

/** The printed status in the contract's terms. */
function fileStatus(printed: string): FileStatus {
  if (printed === 'done' || printed === 'duplicate') return printed;
  if (printed === 'source deleted') return 'source-deleted';
  return printed === 'lost' ? 'failed' : 'incomplete';
}

/**
 * `summary.json` from what the run saw: every field filled from the completion check, the
 * manifests, the merged CSV, the DLQs and the timeline sampled at each completion check.
 */
export function buildSummaryFile(run: SummaryInputs): RunSummaryFile {
  const { figures, check } = run;
  const sources = new Map(check.sources.map((s) => [s.key, s]));
  const ingestLog = run.figures.functionErrors.find((e) => e.function === 'ingest-fn')?.logFile;
  // The last invocation record per key: the file's final word (a continuation's, if that failed).
  const deadLetters = new Map(run.dead.ingestEntries.map((e) => [e.key, e]));
  const pathOf = new Map(run.inputs.filter((i) => !i.duplicateOf).map((i) => [i.key, i.path]));
  const files: FileSummary[] = run.inputs.map((input, i) => {
    const source = sources.get(input.key);
    const manifest = input.duplicateOf ? undefined : source?.manifest;
    const status = fileStatus(run.files[i].status);
    const dead = deadLetters.get(input.key);
    const error = (dead && `ingest DLQ: ${ingestDeadLetterReason(dead)}`) ?? source?.ingestError ?? manifest?.error?.message;
    const notRead = input.duplicateOf ? undefined : figures.notRead?.find((r) => r.key === input.key);
    return {
      path: input.path,
      key: input.key,
      ...(source?.manifest && { etag: source.manifest.etag.replace(/"/g, '') }),
      bytes: input.bytes,
      status,
      total: manifest?.total ?? 0,
      valid: manifest?.valid ?? 0,
      rejected: manifest?.rejected ?? 0,
      rowsWritten: input.duplicateOf ? 0 : run.merged.bySource[input.key] ?? 0,
      ...(notRead?.rides !== undefined && { notRead: notRead.rides }),
      ...(status !== 'done' && status !== 'duplicate' && { error: error ?? run.files[i].detail }),
      ...(status === 'failed' && ingestLog && { logFile: ingestLog }),
      ...(input.duplicateOf && { duplicateOf: input.duplicateOf }),
    };
  });
  const finished = Date.now();
  const ingestErrors = new Map(check.sources.flatMap((s) => (s.ingestError ? [[s.key, s.ingestError] as const] : [])));
  return {
    version: SUMMARY_VERSION,
    ok: run.verdict.ok,
    reasons: run.verdict.reasons,
    exitCode: run.exitCode,
    startedAt: run.startedAt,
    finishedAt: new Date(finished).toISOString(),
    settings: {
      ridesPerMessage: run.options.ridesPerMessage,
      concurrency: run.options.concurrency,
      stations: run.options.stationsFile ?? 'bundled',
      stationCount: run.stationCount ?? DEFAULT_STATIONS.length,
      ...(run.options.chaosSpec && { chaos: run.options.chaosSpec }),
      ...(run.options.sample && run.sample && { sample: { ...run.options.sample } }),
    },
    files,
    totals: {
      files: figures.files,
      ridesRead: figures.ridesRead,
      valid: figures.valid,
      rejected: figures.rejected,
      rowsWritten: figures.rowsWritten,
      lostRides: Math.max(0, figures.lost.rides),
    },
    dlq: {
      fanout: figures.fanoutDlq,
      ingest: figures.ingestDlq,
      fanoutMessages: run.dead.fanout,
      ingestFiles: run.dead.ingestFiles.map((key) => ingestDlqFile(key, deadLetters.get(key), pathOf.get(key), ingestErrors.get(key))),
    },
    retries: {
      ingestInvocations: figures.ingestRetries,
      transformRedeliveries: figures.transformRedeliveries,
      ...(figures.sdkRetries && { sdk: figures.sdkRetries }),
    },
    ...(figures.faults && { faults: figures.faults }),
    phases: run.phases,
    wallSeconds: figures.wallSeconds,
    ridesPerSecond: figures.wallSeconds > 0 ? Math.round(figures.ridesRead / figures.wallSeconds) : 0,
    timeline: run.timeline,
    functionErrors: figures.functionErrors,
    eventSource: figures.eventSource ?? { pollErrors: 0, processingErrors: 0 },
    notRead: (figures.notRead ?? []).reduce((n, r) => n + (r.rides ?? 0), 0),
  };
}

/** One ingest DLQ file from its invocation record (the in-memory error when the record is unreadable). */
function ingestDlqFile(key: string, entry: IngestDeadLetter | undefined, path: string | undefined, fallback: string | undefined): IngestDlqFile {
  const error = entry && entry.errorType !== 'Undecodable' ? `${entry.errorType}: ${entry.errorMessage.split('\n')[0]}` : fallback;
  return {
    key,
    ...(error !== undefined && { error }),
    ...(path !== undefined && { path }),
    ...(entry?.condition !== undefined && { condition: entry.condition }),
    ...(entry?.attempts !== undefined && { attempts: entry.attempts }),
    ...(entry && { errorType: entry.errorType, errorMessage: entry.errorMessage }),
    ...(entry?.requestId !== undefined && { requestId: entry.requestId }),
    ...(entry?.part !== undefined && { part: entry.part }),
  };
}

/** Writes `summary.json` at the top of the --out folder (recorded as rydes's first). */
export async function writeSummaryFile(out: OutputFolder, summary: RunSummaryFile): Promise<string> {
  out.record(SUMMARY_FILE);
  const path = out.path(SUMMARY_FILE);
  const file = createWriteStream(path);
  file.end(`${JSON.stringify(summary, null, 2)}\n`);
  await once(file, 'close');
  return path;
}
