/**
 * What tools/floor-chain.ts prints for each pass (a `floor-pass` JSON line) and
 * tools/floor-bench.ts reads back: one definition for both sides.
 */

/** The chain's stages, in order; a pass fills the ones its chain has. */
export const STAGES = ['parse', 'validate', 'chunk', 'encode', 'decode', 'nearest + row', 'csv', 'body → csv'] as const;
export type Stage = (typeof STAGES)[number];

/** One pass, as the `floor-pass` line prints it. */
export interface PassFigures {
  pass: number;
  chain: 'current' | 'generic';
  /** CPU seconds of the process (every thread) in the stages: the figure the target is about. */
  cpuSeconds: number;
  stages: Record<Stage, number>;
  wallSeconds: number;
  /** The main thread alone: on a CPU, and runnable but waiting for one. */
  mainSeconds: number;
  mainWaitSeconds: number;
  /** Every other thread of the process on a CPU (concurrent compilation, GC helpers). */
  otherThreadsSeconds: number;
  gcPauses: number;
  gcSeconds: number;
  /** The reference loops just before the pass, main-thread CPU seconds. */
  memoryReferenceSeconds: number;
  registerReferenceSeconds: number;
  rides: number;
  valid: number;
  messages: number;
  csvBytes: number;
  /** Pass 1: SHA-256 of every message body and CSV, in order. */
  outputSha256?: string;
}
