import { Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { RideParseError } from './errors';
import { RecordSplitter } from './record-splitter';
import { RawRecord, ResumePoint } from './types';

/**
 * Records larger than this many bytes are skipped and rejected (ARCHITECTURE.md).
 *
 * @example
 * parseRides(stream, { maxRecordBytes: DEFAULT_MAX_RECORD_BYTES });
 */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;
/**
 * A ride is one level deep; anything nested deeper than this is skipped and rejected.
 *
 * @example
 * parseRides(stream, { maxDepth: DEFAULT_MAX_DEPTH });
 */
export const DEFAULT_MAX_DEPTH = 64;

export interface ParseOptions {
  /** Records larger than this are skipped without being buffered; default 64 KiB. */
  maxRecordBytes?: number;
  /** Records nested deeper than this are skipped; default 64. */
  maxDepth?: number;
  /**
   * Pick a file up just after a record (from {@link RideRecords.resumePointAfter}). For a plain
   * file, `input` must start at `resume.byteOffset` (e.g. an S3 `Range: bytes=N-`); for gzip,
   * `input` is the whole object and the first `byteOffset` inflated bytes are dropped unparsed.
   * Indexes and byte offsets come out as in a read from the start.
   */
  resume?: ResumePoint;
}

/** The records of a ride file, and where a later read could pick the file up again. */
export interface RideRecords extends AsyncIterableIterator<RawRecord> {
  /**
   * The point just after `record` (which this iterator yielded): a continuation parsing from it
   * sees exactly the records after it, with the same indexes and offsets.
   */
  resumePointAfter(record: Pick<RawRecord, 'index' | 'endOffset'>): ResumePoint;
  /**
   * The records not yet returned that are already read, at least one; undefined at the end. The
   * same records as `next()` would return one by one (the two can be mixed), with errors thrown
   * at the same point, but a promise per batch (a chunk of the file) instead of one per record.
   */
  nextBatch(): Promise<RawRecord[] | undefined>;
}

/**
 * Streams the records of a ride file in constant memory, whatever its size.
 *
 * The shape comes from the content, never the name: gzip by its magic bytes (1f 8b); then a JSON
 * array, `{"travel_data": [...]}` (that key first, any case), or a sequence of top-level values
 * separated by optional whitespace (concatenated pretty-printed objects and NDJSON alike). A
 * UTF-8 BOM is skipped. Each record comes with its 0-based `index` and `byteOffset` in the
 * decompressed stream.
 *
 * Outcomes for odd inputs: empty or whitespace-only input, `[]` and `{"travel_data": null}` yield
 * nothing. `{}` yields one record (`{}`, which validateRide rejects: every field is missing). A
 * record over `maxRecordBytes` or nested deeper than `maxDepth` is yielded as a
 * {@link SkippedRecord} that validateRide rejects. Malformed JSON, a truncated file, trailing
 * garbage after the closing bracket, invalid UTF-8 inside a record and a corrupt gzip stream end
 * the iteration with a {@link RideParseError} carrying `byteOffset` and `lastGoodIndex`, after
 * every record before it has been yielded. Duplicate keys: the last one wins (JSON.parse).
 *
 * @example
 * for await (const raw of parseRides(fs.createReadStream('rides.json.gz'))) {
 *   const result = validateRide(raw.record);
 *   if (!result.ok) console.log(raw.index, result.reasons);
 * }
 */
export function parseRides(input: Readable, options: ParseOptions = {}): RideRecords {
  const splitter = new RecordSplitter({
    maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    ...(options.resume && { resume: options.resume }),
  });
  const format = { gzip: options.resume?.gzip ?? false };
  return new RecordIterator(batches(input, splitter, format, options.resume), splitter, format);
}

/**
 * Flattens per-chunk batches without an async-generator hop per record: a record already in
 * hand is returned as a resolved promise, so the per-record cost is a microtask, not a generator step.
 */
class RecordIterator implements RideRecords {
  private batch: RawRecord[] = [];
  private pos = 0;

  constructor(
    private readonly source: AsyncGenerator<RawRecord[]>,
    private readonly splitter: RecordSplitter,
    private readonly format: { gzip: boolean },
  ) {}

  resumePointAfter(record: Pick<RawRecord, 'index' | 'endOffset'>): ResumePoint {
    const layout = this.splitter.layout;
    if (layout === undefined || record.endOffset === undefined || record.index >= this.splitter.recordsSeen) {
      throw new RangeError(`no resume point after record ${record.index}: pass a record this iterator yielded`);
    }
    return { index: record.index + 1, byteOffset: record.endOffset, layout, gzip: this.format.gzip };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<RawRecord>> {
    if (this.pos < this.batch.length) return Promise.resolve({ value: this.batch[this.pos++], done: false });
    return this.refill();
  }

  async nextBatch(): Promise<RawRecord[] | undefined> {
    if (this.pos < this.batch.length) {
      const rest = this.pos === 0 ? this.batch : this.batch.slice(this.pos);
      this.pos = this.batch.length;
      return rest;
    }
    for (;;) {
      const next = await this.source.next();
      if (next.done) return undefined;
      if (next.value.length > 0) {
        this.batch = next.value;
        this.pos = next.value.length;
        return next.value;
      }
    }
  }

  async return(): Promise<IteratorResult<RawRecord>> {
    this.batch = [];
    await this.source.return(undefined);
    return { value: undefined, done: true };
  }

  private async refill(): Promise<IteratorResult<RawRecord>> {
    for (;;) {
      const next = await this.source.next();
      if (next.done) return { value: undefined, done: true };
      if (next.value.length > 0) {
        this.batch = next.value;
        this.pos = 1;
        return { value: this.batch[0], done: false };
      }
    }
  }
}

/** The records of each decompressed chunk; throws after yielding the records before an error. */
async function* batches(input: Readable, splitter: RecordSplitter, format: { gzip: boolean }, resume: ResumePoint | undefined): AsyncGenerator<RawRecord[]> {
  // A plain file resumes on a ranged read (no magic bytes there); a gzip one is inflated from the start.
  const read = resume && !resume.gzip ? plain(input) : await decompressed(input, splitter);
  const chunks = read.chunks;
  if (!resume) format.gzip = read.gzip === true;
  try {
    // Bytes before a gzip resume point are inflated and dropped, never parsed.
    let drop = resume?.gzip ? resume.byteOffset : 0;
    // The first bytes are held back until three are known, to tell a UTF-8 BOM from data.
    let head: Buffer | undefined = resume ? undefined : Buffer.alloc(0);
    for await (const chunk of chunks) {
      let buf = chunk;
      let skip = 0;
      if (drop > 0) {
        if (chunk.length <= drop) {
          drop -= chunk.length;
          continue;
        }
        buf = chunk.subarray(drop);
        drop = 0;
      }
      if (head) {
        buf = Buffer.concat([head, buf]);
        if (buf.length < 3) {
          head = buf;
          continue;
        }
        head = undefined;
        skip = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
      }
      yield splitter.push(buf, skip);
      if (splitter.error) throw splitter.error;
    }
    if (drop > 0) splitter.fail(`ride file ends before the resume point at byte ${resume?.byteOffset}: it is not the file the continuation was made from`, resume?.byteOffset ?? 0);
    if (head && head.length > 0) yield splitter.push(head);
    if (!splitter.error) yield splitter.end();
    if (splitter.error) throw splitter.error;
  } finally {
    read.close();
  }
}

/*
 * Why the generators below are module functions and Chunks a class: closures made per file
 * (an `async function*` declared inside plain() or decompressed(), a `close` arrow) give every
 * file generator objects of a new map and a new function to call, so the compiled `batches`
 * was thrown away (deoptimised: wrong map, wrong call target) once per file and compiled again
 * for the next one (`node --trace-deopt` on the floor bench, which reads a fresh stream per pass).
 */

/** A file's bytes as Buffers, and what to release when reading stops. */
class Chunks {
  constructor(
    readonly chunks: AsyncIterable<Buffer>,
    private readonly input: Readable,
    readonly gzip?: boolean,
    private readonly source?: AsyncIterator<Buffer | string>,
    private readonly gunzip?: Gunzip,
    private readonly feeder?: Readable,
  ) {}

  close(): void {
    this.gunzip?.destroy();
    this.feeder?.destroy();
    void this.source?.return?.();
    this.input.destroy();
  }
}

/** The chunks of a stream as Buffers. */
async function* buffersOf(input: Readable): AsyncGenerator<Buffer> {
  for await (const chunk of input) yield toBuffer(chunk as Buffer | string);
}

/** `start` (bytes already read from `source`), then the rest of `source` unless it had ended. */
async function* startThenRest(start: Buffer, source: AsyncIterator<Buffer | string>, ended: boolean): AsyncGenerator<Buffer> {
  if (start.length > 0) yield start;
  if (ended) return;
  for (;;) {
    const next = await source.next();
    if (next.done) return;
    yield toBuffer(next.value);
  }
}

/** The inflated chunks; a zlib error becomes a RideParseError after the bytes inflated so far. */
async function* inflated(gunzip: Gunzip, splitter: RecordSplitter): AsyncGenerator<Buffer> {
  let bytes = 0;
  try {
    for await (const chunk of gunzip) {
      bytes += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (e) {
    if (!isZlibError(e)) throw e;
    // The splitter has consumed `bytes`; every record it completed has been yielded.
    throw new RideParseError(
      `ride file is gzip-compressed but the gzip stream is corrupt after ${bytes} decompressed bytes (${(e as Error).message}); re-compress or re-upload the file`,
      bytes,
      splitter.recordsSeen - 1,
    );
  }
}

/** A stream read as is. */
function plain(input: Readable): Chunks {
  return new Chunks(buffersOf(input), input);
}

/** The input's bytes, gunzipped when they start with the gzip magic bytes. */
async function decompressed(input: Readable, splitter: RecordSplitter): Promise<Chunks> {
  const source = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head: Buffer[] = [];
  let headBytes = 0;
  let done = false;
  while (headBytes < 2) {
    const next = await source.next();
    if (next.done) {
      done = true;
      break;
    }
    const buf = toBuffer(next.value);
    head.push(buf);
    headBytes += buf.length;
  }
  const start = Buffer.concat(head);
  if (!(start[0] === 0x1f && start[1] === 0x8b)) return new Chunks(startThenRest(start, source, done), input, undefined, source);

  const gunzip = createGunzip();
  const feeder = Readable.from(startThenRest(start, source, done));
  feeder.on('error', (e) => gunzip.destroy(e));
  feeder.pipe(gunzip);
  return new Chunks(inflated(gunzip, splitter), input, true, source, gunzip, feeder);
}

function isZlibError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

function toBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}
