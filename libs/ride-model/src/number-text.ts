// 10^0 … 10^15, all exact doubles.
const POW10 = Array.from({ length: 16 }, (_, d) => 10 ** d);

/**
 * `String(x)`, the shortest decimal that reads back as the same double, computed without V8's
 * general double-to-string for the common case: a non-integer in [1e-5, 1e15) with at most 15
 * significant digits (coordinates, distances). For those, the smallest `d` for which
 * `round(|x|·10^d) / 10^d === |x|` gives the answer: the division of two exact doubles is
 * correctly rounded, so the test is exact, and with at most 15 digits only one d-digit decimal
 * lies within half an ulp of `x`. Everything else goes to `String(x)`. Half of the per-ride CPU
 * of encoding messages and CSV was number formatting; a spec compares this with `String` on
 * millions of doubles.
 *
 * @example
 * numberText(40.749167); // '40.749167'
 */
export function numberText(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const a = x < 0 ? -x : x;
  if (a >= 1e-5 && a < 1e15) {
    for (let d = 1; d <= 15; d++) {
      const p = POW10[d];
      const s = Math.round(a * p);
      if (s >= 1e15) break;
      if (s / p === a) {
        const whole = Math.floor(a);
        const fraction = String(s - whole * p);
        const text = fraction.length < d ? `${whole}.${'0'.repeat(d - fraction.length)}${fraction}` : `${whole}.${fraction}`;
        return x < 0 ? `-${text}` : text;
      }
    }
  }
  return String(x);
}
