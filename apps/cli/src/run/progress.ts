import type { SingleBar as SingleBarClass } from 'cli-progress';

export interface ProgressState {
  /** Rides known to be in the pipeline: sent to the fan-out queue (estimated until manifests). */
  ingested: number;
  written: number;
  inFlightMessages: number;
  /** Expected rides, when known (generated sample or every manifest read). */
  total?: number;
  /** How far the ingest has read the run's files, bytes (the local S3's count; absent on AWS). */
  bytesRead?: number;
  /** The run's files' sizes, bytes (as uploaded: gzip files compressed). */
  bytesTotal?: number;
}

export interface Progress {
  update(state: ProgressState): void;
  stop(): void;
}

/** Share (of the rides, or of the bytes) done before a rate is trusted. */
const ETA_MIN_SHARE = 0.05;
/** Seconds a rate must have been measured over before an ETA is shown. */
const ETA_MIN_SECONDS = 3;
/**
 * Bytes the local S3 may have sent beyond what the ingest has parsed: they wait in the loopback
 * socket's buffers and the SDK's stream (a reader stopped after 20 MB of a 30 MB object had been
 * sent 24.4–24.8 MB). The ETA counts a file read only this far behind the bytes served.
 */
export const READ_AHEAD_BYTES = 8e6;

/**
 * Seconds left, or undefined until it means something. Two rates, each measured from its own
 * first sign of progress (start-up, uploads and the ingest's first chunks take seconds in which
 * nothing is written; counting them made the first ETA of a 37 s run read 5m35s):
 * - reading: the share of the files' bytes the ingest has read, per second;
 * - writing: rides written per second, against the total rides. Until every manifest is read
 *   that total is extrapolated from the bytes: rides fanned out ÷ share of bytes read.
 * The ETA is the later of "the rest read" and "the rest written": the rest cannot be written
 * before it is read. The bytes served lead the parser by up to `readAheadBytes`, so a file counts
 * as read only that far behind them: files smaller than that say nothing, and there (or without
 * bytes: a stack whose reads cannot be seen) only a known total gives an ETA.
 */
export class EtaEstimator {
  private firstWrite?: { at: number; written: number };
  private firstRead?: { at: number; share: number };

  constructor(
    private readonly now: () => number = Date.now,
    private readonly readAheadBytes = READ_AHEAD_BYTES,
  ) {}

  /** Seconds left, or undefined when not yet meaningful. */
  estimate(state: Pick<ProgressState, 'written' | 'total'> & Partial<Pick<ProgressState, 'ingested' | 'bytesRead' | 'bytesTotal'>>): number | undefined {
    const t = this.now();
    if (!this.firstWrite && state.written > 0) this.firstWrite = { at: t, written: state.written };
    const readShare =
      state.bytesTotal && state.bytesTotal > this.readAheadBytes && state.bytesRead !== undefined
        ? Math.min(1, Math.max(0, state.bytesRead - this.readAheadBytes) / state.bytesTotal)
        : undefined;
    if (!this.firstRead && readShare) this.firstRead = { at: t, share: readShare };

    let total = state.total;
    if (total === undefined && readShare !== undefined && readShare >= ETA_MIN_SHARE && state.ingested) total = state.ingested / readShare;
    const write = this.firstWrite;
    if (!write || total === undefined || total <= 0) return undefined;
    const writeSeconds = (t - write.at) / 1000;
    const writeRate = (state.written - write.written) / Math.max(writeSeconds, 0.001);
    if (writeSeconds < ETA_MIN_SECONDS || state.written < total * ETA_MIN_SHARE || writeRate <= 0) return undefined;
    let left = Math.max(0, (total - state.written) / writeRate);

    const read = this.firstRead;
    if (readShare !== undefined && readShare < 1 && read) {
      const readSeconds = (t - read.at) / 1000;
      const readRate = (readShare - read.share) / Math.max(readSeconds, 0.001);
      if (readSeconds < ETA_MIN_SECONDS || readRate <= 0) return undefined;
      left = Math.max(left, (1 - readShare) / readRate);
    }
    return left;
  }
}

/** `12.3 MB`, `512 kB`, `900 B` (SI units, as file managers show sizes). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} kB`;
  return `${bytes} B`;
}

/** `read 12.3 MB of 40.1 MB` (or '' without a byte count). */
export function describeRead(state: Pick<ProgressState, 'bytesRead' | 'bytesTotal'>): string {
  if (state.bytesRead === undefined || !state.bytesTotal) return '';
  return `read ${formatBytes(state.bytesRead)} of ${formatBytes(state.bytesTotal)}`;
}

/** `1m05s`, `42s`; `…` when unknown. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined) return '…';
  const s = Math.ceil(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * A cli-progress bar on a TTY; otherwise a plain line every `intervalMs` (CI logs, pipes).
 * Both go to stderr so stdout carries only the summary.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, intervalMs = 2000): Progress {
  const started = Date.now();
  const eta = new EtaEstimator();
  const rate = (written: number) => written / Math.max(0.001, (Date.now() - started) / 1000);
  if (stream.isTTY) {
    // Loaded only for a terminal: a run whose stderr is a file or a pipe never draws a bar, and
    // the package is ~12 ms of `rydes run`'s start, before its clock.
    const { SingleBar } = require('cli-progress') as { SingleBar: typeof SingleBarClass };
    const bar = new SingleBar({
      stream,
      format: '{bar} {percentage}% | {read}ingested {ingested} | written {value}/{total} | in flight {inflight} msg | {rate} rides/s | ETA {left}',
      hideCursor: true,
      clearOnComplete: false,
    });
    bar.start(1, 0, { read: '', ingested: 0, inflight: 0, rate: 0, left: formatEta(undefined) });
    return {
      update(state) {
        bar.setTotal(Math.max(1, state.total ?? state.ingested));
        const read = describeRead(state);
        bar.update(state.written, {
          read: read ? `${read} | ` : '',
          ingested: state.ingested,
          inflight: state.inFlightMessages,
          rate: Math.round(rate(state.written)),
          left: formatEta(eta.estimate(state)),
        });
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(state) {
      const left = eta.estimate(state);
      if (Date.now() - last < intervalMs) return;
      last = Date.now();
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      stream.write(
        `[${seconds} s] ${describeRead(state) ? `${describeRead(state)}, ` : ''}ingested ${state.ingested}, written ${state.written}${state.total !== undefined ? `/${state.total}` : ''}, ` +
          `in flight ${state.inFlightMessages} msg, ${Math.round(rate(state.written))} rides/s, ETA ${formatEta(left)}\n`,
      );
    },
    stop: () => undefined,
  };
}
