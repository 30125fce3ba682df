import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fileVersion, versionOf } from './file-version';
import { ReportCollector, type RowData } from './report-data';
import { rideRowReader } from './ride-rows';

/**
 * Objects followed at most: beyond this many (a run of one ride per message writes one object per
 * ride), the versions kept for the check would grow with the run, so the report reads rides.csv.
 */
export const MAX_FOLLOWED_OBJECTS = 20_000;

/**
 * Bytes read from an object at a time, into one buffer reused for every object: a whole object
 * (~150 KB at 1,000 rides) in one read. The reader makes no string of them (only of each distinct
 * station and source), so the size does not reach V8's heap.
 */
const READ_BYTES = 256 * 1024;

/**
 * The report's aggregates of the processed/ objects, gathered while `rydes run` writes them, so
 * the report does not read rides.csv again after the summary. Each object is read once, as it is
 * written, between the pipeline's other work (one object per turn of the event loop), and its file
 * version is kept. The aggregates do not depend on the order rows come in (an exact sum, a sample
 * ordered by rank and ride identity), so objects can be added as they come.
 *
 * They are used only when they cover exactly the rows of rides.csv: the merge names each chunk
 * file it copies with its version ({@link merged}); a chunk not read yet is read then; a chunk read
 * in another version than the merged one, or read and not merged, makes {@link settle} answer
 * undefined (the report then reads rides.csv, as `rydes report` does).
 * @example
 * const rows = new RunRows();
 * rows.offer('processed/x-00000.csv', bucketFile);   // as each object is written
 * rows.drain();                                       // the pipeline is over
 * rows.merged('processed/x-00000.csv', 'out/processed/x-00000.csv', version); // per chunk merged
 * rows.settle(); // RowData, or undefined: read rides.csv
 */
export class RunRows {
  private collector = new ReportCollector();
  private readonly buffer = Buffer.allocUnsafe(READ_BYTES);
  /** One reader for every object: the engine optimises it once. */
  private readonly reader = rideRowReader('', { addRows: (batch) => this.collector.addRows(batch) });
  private readonly queue: Array<[key: string, file: string]> = [];
  /** Version of each object read and not yet merged. */
  private readonly read = new Map<string, string>();
  private readonly offered = new Set<string>();
  private scheduled = false;
  /** Why the aggregates cannot stand for rides.csv (undefined: they can so far). */
  private unusable?: string;
  /** Objects read while the run went on, and at the merge (not read before). */
  readonly counts = { during: 0, atMerge: 0 };

  /** A processed/ object written as `file` (the local bucket's file): read soon, once. */
  offer(key: string, file: string | undefined): void {
    if (this.unusable || this.offered.has(key)) return;
    if (this.offered.size >= MAX_FOLLOWED_OBJECTS) return this.giveUp(`more than ${MAX_FOLLOWED_OBJECTS} objects`);
    this.offered.add(key);
    if (file === undefined) return;
    this.queue.push([key, file]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.step());
    }
  }

  /** Reads every object offered and not read yet (the pipeline is over). */
  drain(): void {
    while (this.queue.length && !this.unusable) this.readOne();
    this.queue.length = 0;
  }

  /**
   * The merge copied chunk `key` from `path` at `version` into rides.csv. A chunk never read is
   * read now (from `path`, which must still have that version).
   */
  merged(key: string, path: string, version: string): void {
    if (this.unusable) return;
    const seen = this.read.get(key);
    if (seen !== undefined) {
      this.read.delete(key);
      if (seen !== version) this.giveUp(`${key} changed after it was read`);
      return;
    }
    if (this.readFile(path) !== version) return this.giveUp(`${path} is not the file the merge read`);
    this.counts.atMerge++;
  }

  /**
   * The aggregates of exactly the merged rows, or undefined (with {@link reason}) when they are
   * not. `final: false`: of the rows read so far, before the merge has named its chunks.
   */
  settle(options: { final?: boolean } = {}): RowData | undefined {
    this.drain();
    if (options.final !== false && !this.unusable && this.read.size > 0) this.giveUp(`${this.read.size} object(s) read and not merged, e.g. ${this.read.keys().next().value}`);
    return this.unusable ? undefined : this.collector.rowData();
  }

  /** Why {@link settle} answered undefined. */
  get reason(): string | undefined {
    return this.unusable;
  }

  private giveUp(reason: string): void {
    this.unusable ??= reason;
    this.queue.length = 0;
    this.read.clear();
    // Its memory is not needed any more: rides.csv will be read.
    this.collector = new ReportCollector();
  }

  private step(): void {
    this.scheduled = false;
    if (this.unusable || this.queue.length === 0) return;
    this.readOne();
    if (this.queue.length) {
      this.scheduled = true;
      setImmediate(() => this.step());
    }
  }

  private readOne(): void {
    const [key, file] = this.queue.shift() as [string, string];
    const version = this.readFile(file);
    if (version === undefined) return; // Gone or unreadable now: the merge decides (it reads the chunk then).
    this.read.set(key, version);
    this.counts.during++;
  }

  /** Adds a CSV file's rows; returns the version read, undefined when the file cannot be opened. */
  private readFile(file: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return undefined;
    }
    try {
      const version = versionOf(fstatSync(fd, { bigint: true }));
      const reader = this.reader;
      reader.next(file);
      for (;;) {
        const n = readSync(fd, this.buffer, 0, READ_BYTES, null);
        if (n === 0) break;
        reader.take(this.buffer.subarray(0, n));
      }
      reader.end();
      // Changed while being read: it cannot stand for any version.
      if (fileVersion(fd) !== version) {
        this.giveUp(`${file} changed while it was read`);
        return undefined;
      }
      return version;
    } catch (err) {
      this.giveUp(`${file}: ${(err as Error).message}`);
      return undefined;
    } finally {
      closeSync(fd);
    }
  }
}
