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

/**
 * A cli-progress bar on a TTY; otherwise a plain line every `intervalMs` (CI logs, pipes).
 * Both go to stderr so stdout carries only the summary.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, intervalMs = 2000): Progress {
  const started = Date.now();
  const rate = (written: number) => written / Math.max(0.001, (Date.now() - started) / 1000);
  if (stream.isTTY) {
    const bar = new SingleBar({
      stream,
      format:
        '{bar} {percentage}% | ingested {ingested} | written {value}/{total} | in flight {inflight} msg | {rate} rides/s | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    });
    bar.start(1, 0, { ingested: 0, inflight: 0, rate: 0 });
    return {
      update(state) {
        bar.setTotal(Math.max(1, state.total ?? state.ingested));
        bar.update(state.written, { ingested: state.ingested, inflight: state.inFlightMessages, rate: Math.round(rate(state.written)) });
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(state) {
      if (Date.now() - last < intervalMs) return;
      last = Date.now();
      const r = rate(state.written);
      const remaining = state.total !== undefined && r > 0 ? Math.max(0, (state.total - state.written) / r) : undefined;
      const eta = remaining === undefined ? '?' : `${Math.ceil(remaining)} s`;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      stream.write(
        `[${seconds} s] ingested ${state.ingested}, written ${state.written}${state.total !== undefined ? `/${state.total}` : ''}, ` +
          `in flight ${state.inFlightMessages} msg, ${Math.round(r)} rides/s, ETA ${eta}\n`,
      );
    },
    stop: () => undefined,
  };
}
