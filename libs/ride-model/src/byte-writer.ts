/*
 * Why hand-written: message bodies and CSV objects were built as strings, one template literal
 * per ride with a number-to-string conversion per number. Each piece was a string allocation
 * (a dozen per ride, then copied again into the whole), which with number formatting was most
 * of the chunk and CSV stages of the per-ride chain and much of its garbage collection
 * (`nx run transform-fn:bench-floor` prints the stages). This writes the same text as UTF-8 into
 * one growing buffer, numbers digit by digit, and makes one string at the end.
 */

// 10^0 … 10^22, all exact doubles.
const POW10 = Array.from({ length: 23 }, (_, d) => 10 ** d);

// The bits of a double (little-endian words).
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const DIGITS = new Uint8Array(17);

/** Veltkamp's split: `x` as the sum of two doubles of at most 26 significant bits each. */
const SPLITTER = 134217729; // 2^27 + 1

/**
 * The rounding error of `p = a·b` (Dekker): a·b = p + the result, exactly, barring overflow.
 * @example
 * const p = a * b;
 * const e = productError(a, b, p); // a·b === p + e in exact arithmetic
 */
export function productError(a: number, b: number, p: number): number {
  let c = SPLITTER * a;
  const aHigh = c - (c - a);
  const aLow = a - aHigh;
  c = SPLITTER * b;
  const bHigh = c - (c - b);
  const bLow = b - bHigh;
  return aHigh * bHigh - p + aHigh * bLow + aLow * bHigh + aLow * bLow;
}

/** ASCII text as {@link ByteWriter.literal} writes it; made by {@link ByteWriter.prepare}. */
export interface AsciiLiteral {
  readonly length: number;
  readonly words: readonly number[];
}

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;

/**
 * A growing UTF-8 buffer for text made of many small pieces; {@link ByteWriter.take} gives the
 * text and empties it.
 *
 * @example
 * const w = new ByteWriter();
 * w.ascii('lat=');
 * w.number(40.749167);
 * w.take(); // 'lat=40.749167'
 */
export class ByteWriter {
  bytes: Buffer;
  length = 0;
  /** A view of `bytes`, for writing four bytes at a time. */
  private view: DataView;

  constructor(capacity = 64 * 1024) {
    this.bytes = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
  }

  /**
   * ASCII text prepared for {@link ByteWriter.literal}: its bytes as 32-bit words.
   *
   * @example
   * const KEY = ByteWriter.prepare('{"distance":');
   * w.literal(KEY);
   */
  static prepare(text: string): AsciiLiteral {
    const bytes = Buffer.alloc(text.length + 4, 0);
    bytes.write(text, 'latin1');
    const words: number[] = [];
    for (let at = 0; at < text.length; at += 4) words.push(bytes.readUInt32LE(at));
    return { length: text.length, words };
  }

  /** Room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(bigger, 0, 0, this.length);
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.length);
  }

  /**
   * Text prepared by {@link ByteWriter.prepare}, four bytes at a time: for the fixed pieces
   * written for every record (keys, punctuation), where a byte at a time was a visible share.
   */
  literal(text: AsciiLiteral): void {
    this.reserve(text.length + 4);
    const view = this.view;
    const words = text.words;
    const at = this.length;
    for (let k = 0; k < words.length; k++) view.setUint32(at + 4 * k, words[k], true);
    this.length = at + text.length;
  }

  /** The text of the bytes written from `from` to `to` (lengths taken earlier). */
  text(from = 0, to = this.length): string {
    return utf8Slice ? utf8Slice.call(this.bytes, from, to) : this.bytes.toString('utf8', from, to);
  }

  /**
   * A copy of all the bytes written, and an empty writer: for output that leaves as bytes (an S3
   * object), where a string over 128 KiB costs V8 a large-object allocation (fresh pages) per
   * string: 1.5–1.7 ns a byte here, against 0.2–0.3 for `Buffer.from` of the bytes (0.5–0.8 for
   * allocUnsafe and copy).
   */
  takeBytes(): Buffer {
    const copy = Buffer.from(this.bytes.subarray(0, this.length));
    this.length = 0;
    return copy;
  }

  /** All the text written, and an empty writer. */
  take(): string {
    const text = this.text();
    this.length = 0;
    return text;
  }

  /** Text known to be ASCII (keys, punctuation, digits). */
  ascii(s: string): void {
    this.reserve(s.length);
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < s.length; i++) bytes[at++] = s.charCodeAt(i);
    this.length = at;
  }

  /** One ASCII character by its code. */
  byte(c: number): void {
    this.reserve(1);
    this.bytes[this.length++] = c;
  }

  /**
   * `JSON.stringify(s)`: printable ASCII without quote or backslash byte by byte, anything
   * else (escapes, UTF-8) through JSON.stringify.
   */
  jsonString(s: string): void {
    const start = this.length;
    this.reserve(s.length + 2);
    const bytes = this.bytes;
    let at = start;
    bytes[at++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) {
        this.length = start;
        this.utf8(JSON.stringify(s));
        return;
      }
      bytes[at++] = c;
    }
    bytes[at++] = 0x22;
    this.length = at;
  }

  /** Any text, as UTF-8 (unpaired surrogates as U+FFFD, as Buffer.from does). */
  utf8(s: string): void {
    this.reserve(s.length);
    const bytes = this.bytes;
    let at = this.length;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.length = at;
        this.reserve(3 * (s.length - i));
        this.length += this.bytes.write(s.slice(i), this.length, 'utf8');
        return;
      }
      bytes[at++] = c;
    }
    this.length = at;
  }

  /** The bytes of `String(n)` for an integer 0 ≤ n < 10^15, without the string. */
  private digits(n: number): void {
    let count = 1;
    while (count < 15 && n >= POW10[count]) count++;
    this.reserve(count);
    const bytes = this.bytes;
    let at = this.length + count;
    this.length = at;
    while (n >= 1e8) {
      let low = n % 1e8;
      n = (n - low) / 1e8;
      for (let k = 0; k < 8; k++) {
        const q = (low / 10) | 0;
        bytes[--at] = 0x30 + low - q * 10;
        low = q;
      }
    }
    do {
      const q = (n / 10) | 0;
      bytes[--at] = 0x30 + n - q * 10;
      n = q;
    } while (n > 0);
  }

  /**
   * The bytes of `String(x)` (the shortest text that reads back as `x`; `-0` as `0`) without
   * V8's general double-to-string for the common case: integers below 10^15, and decimals of at
   * most 15 significant digits in [1e-5, 1e15) (coordinates, distances), digit by digit. For
   * those, `s = round(|x|·10^m)` with m the most decimals that keep 15 significant digits is
   * checked with `s / 10^m === |x|` (two exact doubles: the division is correctly rounded, so
   * the check is exact); then s's digits, trailing zeros cut, are the shortest decimal, since
   * only one decimal of at most 15 digits lies within half an ulp of x. Full-precision doubles
   * in [0.1, 1e5) (the station distance) are written by {@link ByteWriter.sixteenOrSeventeen};
   * anything else goes through String(x). A spec compares this with String on
   * hundreds of thousands of doubles.
   */
  number(x: number): void {
    const a = x < 0 ? -x : x;
    if (Number.isInteger(a) && a < 1e15) {
      if (x < 0) this.byte(0x2d);
      this.digits(a);
      return;
    }
    if (a < 1e9 && this.sixDecimals(x, a)) return;
    if (a >= 1e-5 && a < 1e15) {
      // Digits of x at the most decimals that keep 15 significant digits, trailing zeros cut.
      let most = 15;
      while (most > 0 && a >= POW10[15 - most]) most--;
      const p = POW10[most];
      const s = Math.round(a * p);
      if (s / p === a) {
        const whole = Math.floor(a);
        if (x < 0) this.byte(0x2d);
        this.digits(whole);
        this.byte(0x2e);
        this.fraction(s - whole * p, most);
        let end = this.length;
        while (this.bytes[end - 1] === 0x30) end--;
        this.length = end;
        return;
      }
    }
    if (!(a >= 0.1 && a < 1e5 && this.sixteenOrSeventeen(x))) this.ascii(String(x));
  }

  /**
   * {@link ByteWriter.number} for a non-integer `x` with |x| = `a` < 1e9 that has at most six
   * decimals (coordinates and distances as files and the generator write them), in int32
   * arithmetic; false (nothing written) for any other. `s = round(a·10^6)` with `s / 10^6 === a`
   * (exact operands, one correctly rounded division) means the decimal s·10^-6, of at most 15
   * significant digits (a < 10^9), reads back as x; it is the only such decimal (see number),
   * so its digits, trailing zeros cut, are String's. The whole part is floor(a): a decimal below
   * an integer k by at least 10^-6 rounds below k, since below 10^9 the gap between doubles is
   * under 10^-6; the check that the fraction lies in [1, 10^6) guards it all the same.
   */
  private sixDecimals(x: number, a: number): boolean {
    const s = Math.round(a * 1e6);
    if (s / 1e6 !== a) return false;
    if (s < 0x80000000) {
      // All of s in int32: its digits with the point before the last six, trailing zeros cut (s is
      // no multiple of 10^6: a is not an integer), a 0 before the point below 1.
      let t = s | 0;
      let decimals = 6;
      while (t % 10 === 0) {
        t = (t / 10) | 0;
        decimals--;
      }
      let count = 1;
      while (count < 10 && t >= POW10[count]) count++;
      if (count <= decimals) count = decimals + 1;
      const sign = x < 0 ? 1 : 0;
      this.reserve(count + 2);
      const bytes = this.bytes;
      let at = this.length + sign + count + 1;
      this.length = at;
      if (sign === 1) bytes[at - count - 2] = 0x2d;
      for (let k = 0; k < decimals; k++) {
        const q = (t / 10) | 0;
        bytes[--at] = 0x30 + t - q * 10;
        t = q;
      }
      bytes[--at] = 0x2e;
      do {
        const q = (t / 10) | 0;
        bytes[--at] = 0x30 + t - q * 10;
        t = q;
      } while (t > 0);
      return true;
    }
    const whole = Math.floor(a);
    const fraction = s - whole * 1e6;
    if (!(fraction >= 1 && fraction < 1e6)) return false;
    let f = fraction | 0;
    let decimals = 6;
    while (f % 10 === 0) {
      f = (f / 10) | 0;
      decimals--;
    }
    if (x < 0) this.byte(0x2d);
    this.digits(whole);
    this.reserve(decimals + 1);
    const bytes = this.bytes;
    let at = this.length + decimals + 1;
    this.length = at;
    for (let k = 0; k < decimals; k++) {
      const q = (f / 10) | 0;
      bytes[--at] = 0x30 + f - q * 10;
      f = q;
    }
    bytes[--at] = 0x2e;
    return true;
  }

  /**
   * The shortest text of a double in [0.1, 1e5) that needs 16 or 17 significant digits (call
   * only when no text of 15 or fewer digits reads back as it: {@link ByteWriter.number} checks
   * that first, completely for |x| ≥ 0.1), as `String` writes it, without V8's runtime call; false (nothing written) in
   * the cases it leaves to String: a power of two, or a decision on an exact tie or boundary.
   *
   * With k = 17 − (integer digits of |x|), t = |x|·10^k lies in [10^16, 10^17) and is computed
   * exactly as hi + lo (Dekker's product: 10^k is an exact double for k ≤ 22). Decimals that read
   * back as x are those within H = ½ulp(x)·10^k of t (round to nearest; H is exact too), H ≥ ½,
   * so the nearest integer N to t is a 17-digit text that reads back. A 16-digit text is a
   * multiple of 10 within H of t; only the two around t can be the nearest, and x's text is the
   * nearer of those within reach (String writes the shortest text, and of those the nearest).
   * Every comparison is between exact doubles: δ ± H for small integers δ, against lo.
   */
  private sixteenOrSeventeen(x: number): boolean {
    const a = x < 0 ? -x : x;
    F64[0] = a;
    const high = U32[1];
    // A power of two: the gap below is half the gap above; String decides.
    if ((high & 0xfffff) === 0 && U32[0] === 0) return false;
    const exponent = ((high >>> 20) & 0x7ff) - 1075; // a = m·2^exponent, m < 2^53
    // Digits before the point (0 below 1).
    let digits = a < 1 ? 0 : 1;
    while (digits < 5 && a >= POW10[digits]) digits++;
    const k = 17 - digits;
    const scale = POW10[k];
    const hi = a * scale;
    const lo = productError(a, scale, hi);
    // 2^(exponent − 1), a normal double here, from its bits.
    U32[0] = 0;
    U32[1] = (exponent - 1 + 1023) << 20;
    const half = F64[0] * scale;
    const r = Math.round(lo);
    if (lo - Math.floor(lo) === 0.5) return false;
    // N = hi + r as two parts: the first 9 digits (q) and the last 8 (rest).
    let q = Math.floor(hi / 1e8);
    let rest = hi - q * 1e8;
    if (rest < 0) {
      q--;
      rest += 1e8;
    } else if (rest >= 1e8) {
      q++;
      rest -= 1e8;
    }
    rest += r;
    if (rest < 0) {
      q--;
      rest += 1e8;
    } else if (rest >= 1e8) {
      q++;
      rest -= 1e8;
    }
    if (q < 1e8 || q >= 1e9) return false;
    // q and rest are integers below 2^31 from here (hi is an integer above 2^53 and q·10^8 is
    // exact): int32 arithmetic, no floating-point remainder.
    let top = q | 0;
    let low = rest | 0;
    // The multiples of 10 below and above N, as offsets from hi; t is hi + lo.
    const last = low % 10;
    const down = r - last;
    const up = down + 10;
    if (lo === down - half || lo === down + half || lo === up - half || lo === up + half) return false;
    const downIn = down - half < lo && lo < down + half;
    const upIn = up - half < lo && lo < up + half;
    let count = 17;
    if (downIn || upIn) {
      const mid = down + 5;
      if (downIn && upIn && lo === mid) return false;
      count = 16;
      low = ((low - last) / 10) | 0;
      if (upIn && (!downIn || lo > mid)) {
        low++;
        if (low === 1e7) {
          low = 0;
          top++;
          if (top === 1e9) return false;
        }
      }
    }
    // The digits of N (or N/10 rounded as chosen): top's 9, then low's, zero-padded.
    const text = DIGITS;
    for (let n = count - 1; n >= 9; n--) {
      const next = (low / 10) | 0;
      text[n] = 0x30 + low - next * 10;
      low = next;
    }
    for (let n = 8; n >= 0; n--) {
      const next = (top / 10) | 0;
      text[n] = 0x30 + top - next * 10;
      top = next;
    }
    while (count > digits && text[count - 1] === 0x30) count--;
    // |x| = the digits · 10^(digits − count): the point after `digits` of them, or "0." before them.
    this.reserve(count + 3);
    const bytes = this.bytes;
    let at = this.length;
    if (x < 0) bytes[at++] = 0x2d;
    if (digits === 0) bytes[at++] = 0x30;
    for (let n = 0; n < count; n++) {
      if (n === digits) bytes[at++] = 0x2e;
      bytes[at++] = text[n];
    }
    this.length = at;
    return true;
  }

  /** Exactly `d` digits of `f` < 10^d, leading zeros included. */
  private fraction(f: number, d: number): void {
    this.reserve(d);
    const bytes = this.bytes;
    let at = this.length + d;
    this.length = at;
    let left = d;
    if (left > 8) {
      // Eight digits off the end first, so that the rest fits an int32.
      let low = f % 1e8;
      f = (f - low) / 1e8;
      for (let k = 0; k < 8; k++) {
        const q = (low / 10) | 0;
        bytes[--at] = 0x30 + low - q * 10;
        low = q;
      }
      left -= 8;
    }
    for (; left > 0; left--) {
      const q = (f / 10) | 0;
      bytes[--at] = 0x30 + f - q * 10;
      f = q;
    }
  }
}
