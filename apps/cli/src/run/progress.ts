import { SingleBar } from 'cli-progress';

export interface ProgressState {
  /** Rides known to be in the pipeline: sent to the fan-out queue (estimated until manifests). */
  ingested: number;
  written: number;
  inFlightMessages: number;
  /** Expected rides, when known (generated sample or every manifest read). */
  total?: number;
}

export interface Progress {
  update(state: ProgressState): void;
  stop(): void;
}

/** Written share of the total before an ETA is shown. */
const ETA_MIN_SHARE = 0.05;
/** Seconds of writing before an ETA is shown. */
const ETA_MIN_SECONDS = 3;

/**
 * Seconds left, or undefined until it means something: the total must be known (the sample's
 * size, or every file's manifest read) and rides must have been written for a while. The rate is
 * measured from the first written ride, not from the start: start-up, uploads and the ingest's
 * first chunks take seconds in which nothing is written, and counting them made the first ETA of
 * a 37 s run read 5m35s.
 */
export class EtaEstimator {
  private firstWrite?: { at: number; written: number };

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds left, or undefined when not yet meaningful. */
  estimate(state: Pick<ProgressState, 'written' | 'total'>): number | undefined {
    const t = this.now();
    if (!this.firstWrite && state.written > 0) this.firstWrite = { at: t, written: state.written };
    const first = this.firstWrite;
    if (!first || state.total === undefined || state.total <= 0) return undefined;
    const seconds = (t - first.at) / 1000;
    const rate = (state.written - first.written) / Math.max(seconds, 0.001);
    if (seconds < ETA_MIN_SECONDS || state.written < state.total * ETA_MIN_SHARE || rate <= 0) return undefined;
    return Math.max(0, (state.total - state.written) / rate);
  }
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
    const bar = new SingleBar({
      stream,
      format: '{bar} {percentage}% | ingested {ingested} | written {value}/{total} | in flight {inflight} msg | {rate} rides/s | ETA {left}',
      hideCursor: true,
      clearOnComplete: false,
    });
    bar.start(1, 0, { ingested: 0, inflight: 0, rate: 0, left: formatEta(undefined) });
    return {
      update(state) {
        bar.setTotal(Math.max(1, state.total ?? state.ingested));
        bar.update(state.written, {
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
        `[${seconds} s] ingested ${state.ingested}, written ${state.written}${state.total !== undefined ? `/${state.total}` : ''}, ` +
          `in flight ${state.inFlightMessages} msg, ${Math.round(rate(state.written))} rides/s, ETA ${formatEta(left)}\n`,
      );
    },
    stop: () => undefined,
  };
}
