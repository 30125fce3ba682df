/**
 * A timeline of one `rydes run`'s steps, for finding what a run waits for: with `RYDES_STEPS=1`
 * each step is noted with its time since the process started (`performance.now()`), and the
 * timeline is printed to stderr at the end of the run. Without it, `step` does nothing.
 */
/** Whether steps are noted: a caller on a per-invocation path tests it before building a step's name. */
export const STEPS_ON = !!process.env.RYDES_STEPS;
const marks: Array<[number, string]> = [];

/** Notes a step (no-op unless RYDES_STEPS is set). */
export function step(name: string): void {
  if (STEPS_ON) marks.push([performance.now(), name]);
}

/** The steps noted so far, one line each (`  1.234 s  name`), or '' when off. */
export function formatSteps(): string {
  return marks.map(([ms, name]) => `  ${(ms / 1000).toFixed(3)} s  ${name}\n`).join('');
}
