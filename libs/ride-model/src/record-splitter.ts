import { isUtf8 } from 'node:buffer';
import { RideParseError } from './errors';
import * as rideBytes from './ride-bytes';
import { FileLayout, RawRecord, SkippedRecord } from './types';

// Module-scope copies of imports used for every ride: a module compiled to CommonJS on its own (tsx,
// which runs the floor bench; Jest) reads an import through export getters at every use, which showed
// in its profile; a bundle refers to them directly either way.
const { newChunk, rideChecked, rideEnd, rideFromBytes } = rideBytes;

/*
 * Why a hand-written splitter and not stream-json: stream-json emits one event per token, which
 * kept it below the parse-throughput target even before validation; JSON.parse over one
 * record's bytes does the same work natively. This splitter only tracks strings, escapes and
 * depth over Buffers to find each top-level record's byte range, then hands the bytes to
 * JSON.parse. `nx run ride-model:bench` prints both side by side (README, figures table).
 *
 * Grammar accepted at top level (whitespace = space, tab, CR, LF):
 *   array      [ value , value … ]                          each value is a record
 *   wrapper    { "travel_data" : [ … ] | null , other members ignored }
 *   stream     value value …                                concatenated objects and NDJSON
 * The shape is decided by content: `[` → array; `{` whose first key is "travel_data" (any case)
 * → wrapper; anything else → stream.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

// Top-level grammar states (between records).
const S_START = 0;
const S_ARR_FIRST = 1; // after '[': value or ']'
const S_ARR_NEXT = 2; // after ',': value
const S_ARR_AFTER = 3; // after a value: ',' or ']'
const S_STREAM = 4; // value or end of input
const S_END = 5; // after the closing bracket/brace: whitespace only
const S_W_COLON = 6; // after "travel_data": ':'
const S_W_VALUE = 7; // '[' or null
const S_W_NULL = 8; // inside the literal null
const S_W_AFTER = 9; // ',' or '}'
const S_W_KEY = 10; // another member's key
const S_W_KEY_COLON = 11; // ':' after that key
const S_W_OTHER = 12; // that member's value, skipped

const WRAPPER_HEAD = /^\{[ \t\r\n]*"travel_data"$/i;
const NULL_BYTES = Buffer.from('null');

export interface SplitterOptions {
  /** Records larger than this are skipped, not buffered, and yielded as a SkippedRecord. */
  maxRecordBytes: number;
  /** Records nested deeper than this are skipped the same way (a ride is one level deep). */
  maxDepth: number;
  /**
   * Start just after a record instead of at the top of the file: the first byte pushed is at
   * `byteOffset`, the next record gets `index`, and the grammar state is the one that follows a
   * record in `layout` (`,` or `]` in an array, the next value in a stream).
   */
  resume?: { index: number; byteOffset: number; layout: FileLayout };
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isScalarEnd(c: number): boolean {
  return (
    isWhitespace(c) ||
    c === COMMA ||
    c === CLOSE_BRACKET ||
    c === CLOSE_BRACE ||
    c === OPEN_BRACKET ||
    c === OPEN_BRACE ||
    c === QUOTE
  );
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** Index of the first byte of the first invalid UTF-8 sequence (error path only, linear). */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i];
    const length = c < 0x80 ? 1 : (c & 0xe0) === 0xc0 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 ? 4 : 0;
    // isUtf8 on one character also rules out overlong forms, surrogates and code points > U+10FFFF.
    if (length === 0 || !isUtf8(bytes.subarray(i, i + length)) || i + length > bytes.length) return i;
    i += length;
  }
  return bytes.length;
}

/**
 * Push-style splitter: `push(chunk)` returns the records completed in that chunk; `end()` the
 * last ones. It never throws: a failure is stored in `error` after the records that preceded it,
 * so the caller yields them first and then throws.
 */
export class RecordSplitter {
  error: RideParseError | undefined;

  private state = S_START;
  private inWrapper = false;
  private offset = 0; // global offset of the current chunk's first byte
  private index = 0; // next record index
  private litPos = 0;

  // Current value being scanned (a record, or a skipped wrapper member when `discard`).
  private inValue = false;
  private discard = false;
  private scalar = false;
  private sniff = false;
  private inString = false;
  private escape = false;
  private depth = 0;
  private tooDeep = false;
  private oversize = false;
  private start = 0;
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  private segStart = 0; // where the current value's bytes start in the current chunk

  constructor(private readonly options: SplitterOptions) {
    const resume = options.resume;
    if (resume) {
      if (!Number.isSafeInteger(resume.index) || resume.index < 1 || !Number.isSafeInteger(resume.byteOffset) || resume.byteOffset < 1) {
        throw new RangeError(`resume point ${JSON.stringify(resume)}: index and byteOffset must be integers >= 1 (a point just after a record)`);
      }
      this.offset = resume.byteOffset;
      this.index = resume.index;
      this.state = resume.layout === 'stream' ? S_STREAM : S_ARR_AFTER;
      this.inWrapper = resume.layout === 'wrapper';
    }
  }

  /** Records emitted so far (valid or not), counting those before a resume point. */
  get recordsSeen(): number {
    return this.index;
  }

  /**
   * The file's layout, known once the first record has come out (or the splitter resumed):
   * what a {@link ResumePoint} after any later record needs besides offsets.
   */
  get layout(): FileLayout | undefined {
    if (this.inWrapper) return 'wrapper';
    if (this.state === S_STREAM) return 'stream';
    if (this.state === S_START) return undefined;
    return 'array';
  }

  /**
   * Scans `chunk` and returns the records completed in it. `startAt` skips leading bytes that
   * still count towards byte offsets (a UTF-8 BOM).
   */
  push(chunk: Buffer, startAt = 0): RawRecord[] {
    const out: RawRecord[] = [];
    if (!this.error) this.scan(chunk, startAt, out);
    this.offset += chunk.length;
    return out;
  }

  end(): RawRecord[] {
    const out: RawRecord[] = [];
    if (this.error) return out;
    const at = this.offset;
    if (this.inValue) {
      if (this.scalar) {
        this.finishValue(Buffer.alloc(0), 0, out);
        if (this.error) return out;
      } else {
        // Point at the record, not at the end: the cause is the file being cut short or an
        // unbalanced quote/bracket in that record, which made it swallow the rest of the file.
        this.fail(
          `ride file ends at byte ${at} inside record ${this.index}, which starts at byte ${this.start}: the file is truncated, or that record has an unbalanced quote or bracket`,
          this.start,
        );
        return out;
      }
    }
    switch (this.state) {
      case S_START:
      case S_STREAM:
      case S_END:
        break;
      case S_ARR_FIRST:
      case S_ARR_NEXT:
      case S_ARR_AFTER:
        this.fail(`ride file ends at byte ${at} before the closing ']' of its array: the file is truncated; re-upload the complete file`, at);
        break;
      default:
        this.fail(`ride file ends at byte ${at} inside the {"travel_data": …} object: the file is truncated; re-upload the complete file`, at);
    }
    return out;
  }

  private scan(buf: Buffer, from: number, out: RawRecord[]): void {
    const n = buf.length;
    let i = from;
    newChunk();
    while (i < n && !this.error) {
      if (this.inValue) {
        i = this.scanValue(buf, i, out);
      } else {
        i = this.scanGrammar(buf, i);
      }
    }
    if (this.inValue && !this.error) this.keepPiece(buf.subarray(this.segStart, n));
    this.segStart = 0;
  }

  /** Keeps a value's bytes across chunks, dropping them once it is known to be oversize. */
  private keepPiece(piece: Buffer): void {
    this.pieceBytes += piece.length;
    if (this.discard || this.tooDeep || this.oversize) return;
    if (this.pieceBytes > this.options.maxRecordBytes) {
      this.oversize = true;
      this.pieces = [];
      return;
    }
    // Copy: the caller may reuse its chunk buffer once we return.
    this.pieces.push(Buffer.from(piece));
  }

  private beginValue(buf: Buffer, i: number, discard: boolean): void {
    this.inValue = true;
    this.discard = discard;
    this.start = this.offset + i;
    this.segStart = i;
    this.pieces = [];
    this.pieceBytes = 0;
    this.depth = 0;
    this.tooDeep = false;
    this.oversize = false;
    this.inString = false;
    this.escape = false;
    this.sniff = false;
    const c = buf[i];
    this.scalar = c !== OPEN_BRACE && c !== OPEN_BRACKET && c !== QUOTE;
  }

  /** Scans inside a value from `i`; returns where to continue. */
  private scanValue(buf: Buffer, i: number, out: RawRecord[]): number {
    const n = buf.length;
    if (this.scalar) {
      for (; i < n; i++) {
        if (isScalarEnd(buf[i])) {
          this.finishValue(buf, i, out);
          return i; // the delimiter belongs to the grammar
        }
      }
      return n;
    }
    // A ride in the common shape, whole in this chunk, is read in one pass (ride-bytes.ts).
    if (i === this.segStart && this.pieceBytes === 0 && !this.discard && buf[i] === OPEN_BRACE && this.options.maxDepth >= 1) {
      const record = rideFromBytes(buf, i, n);
      if (record !== undefined && rideEnd() - i <= this.options.maxRecordBytes) {
        this.emit(record, rideEnd(), out);
        return rideEnd();
      }
    }
    const maxDepth = this.options.maxDepth;
    for (; i < n; i++) {
      if (this.inString) {
        if (this.escape) {
          this.escape = false;
          continue;
        }
        const q = buf.indexOf(QUOTE, i);
        if (q === -1) {
          this.escape = oddBackslashRun(buf, i, n);
          return n;
        }
        if (oddBackslashRun(buf, i, q)) {
          i = q; // escaped quote; the loop's i++ moves past it
          continue;
        }
        this.inString = false;
        i = q;
        if (this.depth === 0) {
          this.finishValue(buf, i + 1, out);
          return i + 1;
        }
        if (this.sniff && this.depth === 1 && this.isWrapperHead(buf, i)) return i + 1;
        continue;
      }
      const c = buf[i];
      if (c === QUOTE) {
        this.inString = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++this.depth > maxDepth && !this.tooDeep) {
          this.tooDeep = true;
          this.pieces = [];
        }
        if (this.depth > 1) this.sniff = false;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          this.finishValue(buf, i + 1, out);
          return i + 1;
        }
      }
    }
    return n;
  }

  /** Called when the first string inside the first top-level object closes at `q`. */
  private isWrapperHead(buf: Buffer, q: number): boolean {
    this.sniff = false;
    if (this.pieceBytes + q - this.segStart > 4096) return false;
    const head = Buffer.concat([...this.pieces, buf.subarray(this.segStart, q + 1)]).toString('latin1');
    if (!WRAPPER_HEAD.test(head)) return false;
    this.inValue = false;
    this.pieces = [];
    this.inWrapper = true;
    this.state = S_W_COLON;
    return true;
  }

  /** The value ends just before `endExclusive` in `buf`. */
  private finishValue(buf: Buffer, endExclusive: number, out: RawRecord[]): void {
    this.inValue = false;
    const state = this.state;
    if (this.discard) {
      this.state = state === S_W_KEY ? S_W_KEY_COLON : S_W_AFTER;
      return;
    }
    this.state = state === S_STREAM ? S_STREAM : S_ARR_AFTER;
    const index = this.index;
    const byteOffset = this.start;
    const endOffset = this.offset + endExclusive;
    const size = this.pieceBytes + endExclusive - this.segStart;
    if (this.tooDeep) {
      this.index++;
      out.push({ index, byteOffset, endOffset, record: new SkippedRecord(`record: nested deeper than ${this.options.maxDepth} levels`, size), checked: false });
      return;
    }
    if (this.oversize || size > this.options.maxRecordBytes) {
      this.index++;
      const reason = `record: ${size} bytes exceeds the ${this.options.maxRecordBytes}-byte limit`;
      out.push({ index, byteOffset, endOffset, oversize: size, record: new SkippedRecord(reason, size), checked: false });
      this.pieces = [];
      return;
    }
    let bytes: Buffer | undefined;
    let text: string;
    if (this.pieces.length === 0) {
      text = buf.toString('utf8', this.segStart, endExclusive);
    } else {
      bytes = Buffer.concat([...this.pieces, buf.subarray(this.segStart, endExclusive)]);
      this.pieces = [];
      text = bytes.toString('utf8');
    }
    // The decoder turns invalid UTF-8 into U+FFFD; only then is it worth checking the bytes
    // (the file may also hold a genuine U+FFFD). Saves a Buffer view and a scan per record.
    if (text.includes('\uFFFD')) {
      bytes ??= buf.subarray(this.segStart, endExclusive);
      if (!isUtf8(bytes)) {
        const at = byteOffset + firstInvalidUtf8(bytes);
        this.fail(`ride file is not valid UTF-8 at byte ${at} (record ${index}): re-export it as UTF-8`, at);
        return;
      }
    }
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      const pos = /at position (\d+)/.exec(detail);
      const at = byteOffset + (pos ? Buffer.byteLength(text.slice(0, Number(pos[1]))) : 0);
      this.fail(`ride file has malformed JSON in record ${index} (starts at byte ${byteOffset}, error near byte ${at}): ${detail}`, at);
      return;
    }
    this.index++;
    out.push({ index, byteOffset, endOffset, record, checked: false });
  }

  /** Yields a record read by the fast path, which ends just before `endExclusive`. */
  private emit(record: object, endExclusive: number, out: RawRecord[]): void {
    this.inValue = false;
    this.sniff = false;
    if (this.state !== S_STREAM) this.state = S_ARR_AFTER;
    out.push({ index: this.index++, byteOffset: this.start, endOffset: this.offset + endExclusive, record, checked: rideChecked() });
  }

  /** Scans between values from `i`; returns where to continue. */
  private scanGrammar(buf: Buffer, i: number): number {
    const n = buf.length;
    for (; i < n; i++) {
      const c = buf[i];
      if (this.state === S_W_NULL) {
        if (c !== NULL_BYTES[this.litPos]) return this.unexpected(c, i, 'the rest of null');
        if (++this.litPos === NULL_BYTES.length) this.state = S_W_AFTER;
        continue;
      }
      if (isWhitespace(c)) continue;
      switch (this.state) {
        case S_START:
          if (c === OPEN_BRACKET) {
            this.state = S_ARR_FIRST;
            continue;
          }
          if (c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COMMA || c === COLON) return this.unexpected(c, i, 'a JSON value');
          this.state = S_STREAM;
          this.beginValue(buf, i, false);
          this.sniff = c === OPEN_BRACE;
          return i;
        case S_ARR_FIRST:
          if (c === CLOSE_BRACKET) {
            this.closeArray();
            continue;
          }
          return this.valueOrUnexpected(buf, c, i, 'a record or ]');
        case S_ARR_NEXT:
          return this.valueOrUnexpected(buf, c, i, 'a record after , (trailing commas are not JSON)');
        case S_ARR_AFTER:
          if (c === COMMA) this.state = S_ARR_NEXT;
          else if (c === CLOSE_BRACKET) this.closeArray();
          else return this.unexpected(c, i, ", or ] after the record");
          continue;
        case S_STREAM:
          if (c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COMMA || c === COLON) {
            return this.unexpected(c, i, 'whitespace or the next record (records in a concatenated or NDJSON file have no commas between them)');
          }
          this.beginValue(buf, i, false);
          return i;
        case S_END:
          return this.unexpected(c, i, 'nothing after the closing bracket (trailing garbage)');
        case S_W_COLON:
          if (c !== COLON) return this.unexpected(c, i, ': after "travel_data"');
          this.state = S_W_VALUE;
          continue;
        case S_W_VALUE:
          if (c === OPEN_BRACKET) this.state = S_ARR_FIRST;
          else if (c === NULL_BYTES[0]) {
            this.state = S_W_NULL;
            this.litPos = 1;
          } else return this.unexpected(c, i, 'an array or null as the value of "travel_data"');
          continue;
        case S_W_AFTER:
          if (c === COMMA) this.state = S_W_KEY;
          else if (c === CLOSE_BRACE) this.state = S_END;
          else return this.unexpected(c, i, ', or } in the {"travel_data": …} object');
          continue;
        case S_W_KEY:
          if (c !== QUOTE) return this.unexpected(c, i, 'a member name in the {"travel_data": …} object');
          this.beginValue(buf, i, true);
          return i;
        case S_W_KEY_COLON:
          if (c !== COLON) return this.unexpected(c, i, ': after a member name');
          this.state = S_W_OTHER;
          continue;
        case S_W_OTHER:
          this.beginValue(buf, i, true);
          return i;
      }
    }
    return n;
  }

  private valueOrUnexpected(buf: Buffer, c: number, i: number, expected: string): number {
    if (c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COMMA || c === COLON) return this.unexpected(c, i, expected);
    this.beginValue(buf, i, false);
    return i;
  }

  private closeArray(): void {
    this.state = this.inWrapper ? S_W_AFTER : S_END;
  }

  private unexpected(c: number, i: number, expected: string): number {
    const at = this.offset + i;
    this.fail(`ride file has unexpected ${describeByte(c)} at byte ${at}; expected ${expected}`, at);
    return Number.MAX_SAFE_INTEGER;
  }

  /** Records a file-level failure at `byteOffset`; later pushes yield nothing. */
  fail(message: string, byteOffset: number): void {
    this.error = new RideParseError(message, byteOffset, this.index - 1);
  }
}

/** True when the run of backslashes ending just before `end` (not before `from`) is odd. */
function oddBackslashRun(buf: Buffer, from: number, end: number): boolean {
  let k = end - 1;
  while (k >= from && buf[k] === BACKSLASH) k--;
  return (end - 1 - k) % 2 === 1;
}
