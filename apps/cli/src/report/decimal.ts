/**
 * Plain decimals (`-12.345`, `3.5426140861793094`) read from bytes to the double Number gives for
 * their text, without making the text: in the report's row reader, `Number` of the distance
 * field's string (a 17-digit shortest round-trip double, as the transform writes it) cost
 * 200–330 ns per row including the string, this ~50 ns (`node tmp` micro-bench, 200,000 fields).
 */
import { productError } from '@rydes/ride-model';

// 10^0 … 10^22, all exact doubles (5^22 < 2^53).
const POW10 = Array.from({ length: 23 }, (_, d) => 10 ** d);
/** Digits held in one double exactly, whatever they are (10^15 < 2^53). */
const EXACT_DIGITS = 15;
/** Digits read at most (a 64-bit significand); longer texts go to Number. */
const MAX_DIGITS = 19;

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
/** Index of the word holding the sign, exponent and top of the significand. */
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * The correctly rounded double of the plain decimal at `bytes[start, end)` (an optional `-`,
 * digits, at most one `.`, at most 19 digits, at most 22 after the point), the value `Number`
 * gives for the same text; NaN when the text is anything else or lies too close to half-way
 * between two doubles to decide here (the caller then asks Number).
 *
 * Up to 15 digits the digits and the power of ten are exact doubles, so their quotient is the
 * correctly rounded value (Clinger's fast path). Beyond, the digits are held exactly as a sum of
 * two doubles (Dekker's product, Knuth's sum) and divided by the power of ten in double-double
 * arithmetic (relative error below 2^-100); the leading double is the answer unless the rest is
 * within 2^-20 of half a unit in the last place of it, or it is a power of two (the spacing below
 * differs), or subnormal, zero or huge.
 * @example
 * decimalAt(Buffer.from('3.5426140861793094'), 0, 18) === 3.5426140861793094; // true
 * decimalAt(Buffer.from('1e5'), 0, 3); // NaN: not plain, ask Number
 */
export function decimalAt(bytes: Uint8Array, start: number, end: number): number {
  let at = start;
  const negative = bytes[at] === 0x2d;
  if (negative) at++;
  let head = 0;
  let tail = 0;
  let tailDigits = 0;
  let digits = 0;
  /** Whether any digit was read. */
  let anyDigit = false;
  let decimals = -1;
  for (; at < end; at++) {
    const c = bytes[at];
    if (c >= 0x30 && c <= 0x39) {
      if (decimals >= 0) decimals++;
      anyDigit = true;
      // Leading zeros count for nothing.
      if (digits === 0 && c === 0x30) continue;
      digits++;
      if (digits <= EXACT_DIGITS) head = head * 10 + (c - 0x30);
      else {
        tail = tail * 10 + (c - 0x30);
        tailDigits++;
      }
    } else if (c === 0x2e && decimals < 0) decimals = 0;
    else return NaN;
  }
  // No digit at all ('', '-', '.'), or too many.
  if (!anyDigit || digits > MAX_DIGITS) return NaN;
  const places = decimals > 0 ? decimals : 0;
  if (places >= POW10.length) return NaN;
  if (tailDigits === 0) {
    const magnitude = places > 0 ? head / POW10[places] : head;
    return negative ? -magnitude : magnitude;
  }
  // The digits W = head * 10^tailDigits + tail, exactly: p + e (Dekker), then + tail (Knuth).
  const scale = POW10[tailDigits];
  const p = head * scale;
  const e = productError(head, scale, p);
  const s = p + tail;
  const back = s - p;
  const t = p - (s - back) + (tail - back) + e;
  const wHigh = s + t;
  const wLow = t - (wHigh - s);
  if (places === 0) return finish(wHigh, wLow, negative);
  // (wHigh + wLow) / 10^places in double-double: q1 + q2.
  const d = POW10[places];
  const q1 = wHigh / d;
  const product = q1 * d;
  // wHigh - product is exact (Sterbenz: they are within a factor of two).
  const q2 = (wHigh - product - productError(q1, d, product) + wLow) / d;
  const high = q1 + q2;
  return finish(high, q2 - (high - q1), negative);
}

/** `high` (with `low` the rest, |low| ≤ half an ulp of high) when it is surely the nearest double; NaN otherwise. */
function finish(high: number, low: number, negative: boolean): number {
  bits[0] = high;
  const top = words[HIGH];
  const exponent = (top >>> 20) & 0x7ff;
  // Zero, subnormal, or within reach of infinity; a power of two has a closer neighbour below.
  if (exponent <= 53 || exponent >= 0x7fe || ((top & 0xfffff) === 0 && words[1 - HIGH] === 0)) return NaN;
  // The ulp of high, 2^(exponent - 1023 - 52), built from its bits.
  words[HIGH] = (exponent - 52) << 20;
  words[1 - HIGH] = 0;
  const halfUlp = bits[0] / 2;
  if (Math.abs(low) >= halfUlp - halfUlp / 1_048_576) return NaN;
  return negative ? -high : high;
}
