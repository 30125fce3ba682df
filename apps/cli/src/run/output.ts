import type { S3Client } from '@aws-sdk/client-s3';
import { listObjects, openObject, sameEtag } from '@rydes/aws-adapters';
import { CSV_COLUMNS, objectKeys } from '@rydes/ride-model';
import { LIST_PAGE_KEYS } from '../stack/names';
import { closeSync, createReadStream, createWriteStream, fstatSync, linkSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { mkdir, readFile, rm, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { SourceStatus } from './completion';
import type { OutputFolder } from './out-folder';
import { versionOf } from '../report/file-version';

/** The merged CSV at the top of --out. */
export const RIDES_FILE = 'rides.csv';

/** The prefixes mirrored into --out. */
export const OUTPUT_PREFIXES = ['processed/', 'rejects/', 'manifests/'];

/** Background copies queued at most; see {@link OutputMirror.fetch}. */
const MAX_PENDING_FETCHES = 2_000;

/** Tries to link a bucket file over an earlier run's file of the same key. */
const LINK_ATTEMPTS = 3;

/** Local files up to this size are read whole; larger ones are streamed. */
const WHOLE_FILE_BYTES = 1 << 20;

/** Bytes of chunk bodies gathered before the merge writes them to rides.csv. */
const MERGE_WRITE_BYTES = 1 << 16;

export interface MirrorOptions {
  /** Copies running at once (default 8). */
  parallel?: number;
  /**
   * Where the local bucket keeps the bytes of a key (LocalServers.objectFile), when it runs on
   * this machine: the copy reads that file instead of sending a GET. Whatever it reads is
   * checked against the listing's size and ETag (MD5) in {@link OutputMirror.finish}, and a
   * mismatch, a missing file or a multipart ETag is copied with a GET.
   */
  localFile?: (key: string) => string | undefined;
  /**
   * The files {@link localFile} names may be hard-linked into --out instead of copied: only for a
   * bucket folder nobody keeps after the run (the local servers' own temp folder), since s3rver
   * rewrites an object's file in place and a link would tie --out to every later write of it.
   * A linked object is checked in {@link OutputMirror.finish} by being the same file (device and
   * inode) as the bucket's; where a link cannot be made (another file system), it is copied.
   */
  linkLocalFiles?: boolean;
  /**
   * The local bucket's objects under a prefix read from its folder (LocalServers.listObjectFiles),
   * for {@link OutputMirror.finish} instead of a ListObjectsV2 walk: with one object per ride the
   * HTTP listing (an XML page built on the S3 thread, parsed by the SDK, per object) was most of
   * the run's download phase. A linked copy is then checked against the listed file's own device
   * and inode, without another stat; an ETag is read only for the objects that need one.
   */
  listLocal?: (prefix: string) => Iterable<LocalListed>;
}

/** An object of the local bucket as {@link MirrorOptions.listLocal} lists it. */
export interface LocalListed {
  key: string;
  size: number;
  dev: number;
  ino: number;
  /** Its ETag (quoted), read on demand. */
  etag(): string;
}

/** What the mirror holds of a key: the ETag and size of a copy, or the file of a link. */
interface Fetched {
  etag: string;
  size: number;
  /** A hard link to the local bucket's file: its device and inode. */
  linked?: { dev: number; ino: number };
}

/**
 * Mirrors processed/, rejects/ and manifests/ into the --out folder (`out/processed/…`). Chunks
 * are copied while the pipeline runs, as soon as the transform reports them written
 * ({@link fetch}), so little is left for the end; {@link finish} then lists the bucket and makes
 * rydes's files equal to it: copies what is missing or differs in size or ETag from what was
 * fetched (an early GET may have raced a redelivery rewriting the same key), and deletes the files
 * rydes wrote earlier for keys no longer there (a superseded version's chunks, an earlier run's
 * files). A file rydes did not write is never overwritten or deleted: when one sits where a key
 * belongs, the object is compared with it; the same bytes count as mirrored, other bytes as a
 * {@link conflicts conflict} (the run then fails, saying which file). With a local bucket
 * ({@link MirrorOptions.localFile}) the bytes come from its files, not from GETs: one object per
 * ride would otherwise cost a request through the SDK and s3rver per ride.
 */
export class OutputMirror {
  private readonly fetched = new Map<string, Fetched>();
  private readonly folders = new Set<string>();
  private readonly pending: string[] = [];
  private readonly idle: Array<() => void> = [];
  private running = 0;
  /** Foreign files found identical to the object of their key. */
  private readonly identical = new Set<string>();
  /** Keys whose local path holds a foreign file with other bytes: not mirrored. */
  readonly conflicts = new Set<string>();

  private readonly parallel: number;
  private readonly localFile?: (key: string) => string | undefined;
  private readonly listLocal?: (prefix: string) => Iterable<LocalListed>;
  private linkLocalFiles: boolean;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly out: OutputFolder,
    options: MirrorOptions = {},
  ) {
    this.parallel = options.parallel ?? 8;
    this.localFile = options.localFile;
    this.listLocal = options.listLocal;
    this.linkLocalFiles = options.linkLocalFiles ?? false;
  }

  /**
   * Starts copying `key` in the background; a failure only means {@link finish} copies it. When
   * copies fall far behind (one object per ride: 200,000 small objects), further keys are left
   * for {@link finish} rather than queued, so a backlog never competes with the pipeline.
   */
  fetch(key: string): void {
    if (this.pending.length >= MAX_PENDING_FETCHES) return;
    this.pending.push(key);
    this.pump();
  }

  /** Makes rydes's files under the prefixes mirror the bucket; returns the number of objects listed. */
  async finish(): Promise<number> {
    await this.drained();
    let mirrored = 0;
    for (const prefix of OUTPUT_PREFIXES) {
      const listed = new Set<string>();
      const stale: Listed[] = [];
      if (this.listLocal) {
        for (const object of this.listLocal(prefix)) {
          listed.add(object.key);
          mirrored++;
          const copy = this.fetched.get(object.key);
          const current = copy?.linked
            ? copy.linked.dev === object.dev && copy.linked.ino === object.ino
            : copy !== undefined && copy.size === object.size && sameEtag(copy.etag, object.etag());
          if (!current) stale.push({ key: object.key, etag: object.etag(), size: object.size });
        }
      } else {
        for await (const object of listObjects(this.s3, this.bucket, prefix, { pageSize: LIST_PAGE_KEYS })) {
          listed.add(object.key);
          mirrored++;
          const copy = this.fetched.get(object.key);
          const current = copy?.linked ? this.stillLinked(object.key, copy, object.size) : copy !== undefined && copy.size === object.size && sameEtag(copy.etag, object.etag);
          if (!current) stale.push({ key: object.key, etag: object.etag, size: object.size });
        }
      }
      await this.copyAll(stale, true);
      await this.out.removeStale(prefix, (rel) => listed.has(rel));
    }
    return mirrored;
  }

  /** True when the local file of `key` holds the object's bytes (rydes wrote it, or an identical one was there). */
  readable(key: string): boolean {
    return this.identical.has(key) || (this.out.owns(key) && !this.conflicts.has(key));
  }

  private pump(): void {
    while (this.running < this.parallel && this.pending.length > 0) {
      const key = this.pending.shift() as string;
      this.running++;
      void this.copy(key, false).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.pending.length === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private drained(): Promise<void> {
    return this.running === 0 && this.pending.length === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  private async copyAll(objects: Listed[], mustSucceed: boolean): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const object = objects[next++];
        await this.copy(object.key, mustSucceed, object);
      }
    };
    await Promise.all(Array.from({ length: this.parallel * 2 }, worker));
  }

  /**
   * Copies `key` into --out. With `listed` (finish) the copy must have the listed size and ETag;
   * a local file that does not is copied again with a GET.
   */
  private async copy(key: string, mustSucceed: boolean, listed?: Listed): Promise<void> {
    const foreign = this.out.isForeign(key);
    const target = this.out.path(key);
    const written = foreign ? `${target}.rydes-${process.pid}.tmp` : target;
    try {
      const dir = dirname(target);
      // One mkdir per folder, not per object (2,000 chunks share one folder in a default run).
      if (!this.folders.has(dir)) {
        await mkdir(dir, { recursive: true });
        this.folders.add(dir);
      }
      // A multipart ETag is not the MD5 of the bytes: such an object is always fetched.
      const file = listed && listed.etag.includes('-') ? undefined : this.localFile?.(key);
      const linked = this.fetched.get(key)?.linked !== undefined;
      const linking = file !== undefined && !foreign && this.linkLocalFiles;
      let copied: Fetched | undefined = linking ? await this.linkLocalFile(file, target, key) : undefined;
      if (copied && listed && copied.size !== listed.size) copied = undefined;
      // What follows writes `target`: never through a link into the bucket's own file.
      if (!copied && (linking || linked)) rmSync(target, { force: true });
      if (!copied && file) copied = await this.copyLocalFile(file, written, key, foreign);
      if (copied && !copied.linked && listed && (copied.size !== listed.size || !sameEtag(copied.etag, listed.etag))) copied = undefined;
      if (!copied) {
        const { body, etag } = await openObject(this.s3, this.bucket, key);
        if (!foreign) this.out.record(key);
        const out = createWriteStream(written);
        await pipeline(body, out);
        copied = { etag, size: out.bytesWritten };
      }
      this.fetched.set(key, copied);
      if (foreign) await this.compareWithForeign(key, target, written);
    } catch (err) {
      this.fetched.delete(key);
      if (mustSucceed) throw err;
    } finally {
      if (foreign) await rm(written, { force: true });
    }
  }

  /**
   * Hard-links the local bucket's file of `key` at `target` (replacing rydes's own earlier file
   * there): one link where a copy costs an open, read and close of each file and a hash of the
   * bytes. Undefined when the link cannot be made (the object is gone, another file system: then
   * links are not tried again). An earlier run's file in the way is unlinked on libuv's pool: it
   * is usually that file's last link, and freeing its blocks waits for the disk (~2 ms per
   * 150 KB chunk here), which on the CLI's thread stalled the local SQS and the pollers with it.
   */
  private async linkLocalFile(file: string, target: string, key: string): Promise<Fetched | undefined> {
    try {
      this.out.record(key);
      for (let attempt = 1; ; attempt++) {
        try {
          linkSync(file, target);
          break;
        } catch (err) {
          // Another copy of the same key may link it between the unlink and this link: try again.
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === LINK_ATTEMPTS) throw err;
          await unlink(target).catch((gone: NodeJS.ErrnoException) => {
            if (gone.code !== 'ENOENT') throw gone;
          });
        }
      }
      const { dev, ino, size } = statSync(target);
      return { etag: '', size, linked: { dev, ino } };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EEXIST') this.linkLocalFiles = false;
      return undefined;
    }
  }

  /** True when the linked file of `key` is still the bucket's file of it, at the listed size. */
  private stillLinked(key: string, copy: Fetched, size: number): boolean {
    const file = this.localFile?.(key);
    if (!file || !copy.linked) return false;
    try {
      const now = statSync(file);
      return now.dev === copy.linked.dev && now.ino === copy.linked.ino && now.size === size;
    } catch {
      return false;
    }
  }

  /**
   * Copies the local bucket's file of `key` to `written`, hashing what it reads; undefined when
   * that fails (the object is gone or not yet written, the file unreadable): a GET decides. A
   * small file (one ride's chunk is ~150 bytes) is copied with synchronous calls, where the
   * asynchronous ones would cost a trip through libuv's thread pool per open, stat, read, write
   * and close on the CLI's busiest thread; a larger one is streamed.
   */
  private async copyLocalFile(file: string, written: string, key: string, foreign: boolean): Promise<Fetched | undefined> {
    const hash = createHash('md5');
    let size: number;
    try {
      if (statSync(file).size <= WHOLE_FILE_BYTES) {
        const bytes = readFileSync(file);
        if (!foreign) this.out.record(key);
        writeFileSync(written, bytes);
        hash.update(bytes);
        size = bytes.length;
      } else {
        if (!foreign) this.out.record(key);
        size = 0;
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline(createReadStream(file), hashing, createWriteStream(written));
      }
    } catch {
      return undefined;
    }
    return { etag: `"${hash.digest('hex')}"`, size };
  }

  private async compareWithForeign(key: string, target: string, copy: string): Promise<void> {
    const [theirs, ours] = await Promise.all([readFile(target).catch(() => undefined), readFile(copy)]);
    if (theirs && theirs.equals(ours)) {
      this.identical.add(key);
      this.conflicts.delete(key);
    } else {
      this.identical.delete(key);
      this.conflicts.add(key);
    }
  }
}

/** An object as the final listing saw it. */
interface Listed {
  key: string;
  etag: string;
  size: number;
}

/**
 * Rows in a CSV body without its header. Names may hold quoted commas, quotes or line breaks
 * (RFC 4180); only bodies with a quote pay for the quote-aware count.
 * @example
 * countRows('a,1\n"b\nc",2\n'); // 2
 */
export function countRows(body: string): number {
  return countRowBytes(Buffer.from(body, 'utf8'), 0);
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;

/**
 * {@link countRows} of the bytes of `csv` from `start` on, read as they are: a quote and a line
 * break are single bytes in UTF-8, never part of another character's bytes, so the count is the
 * text's. A line with no byte at all is no row.
 * @example
 * countRowBytes(Buffer.from('h\na,1\n\nb,2'), 2); // 2
 */
export function countRowBytes(csv: Buffer, start: number): number {
  if (csv.indexOf(QUOTE, start) >= 0) return countQuotedRowBytes(csv, start);
  let rows = 0;
  let line = start;
  for (;;) {
    const end = csv.indexOf(NEWLINE, line);
    if (end < 0) return line < csv.length ? rows + 1 : rows;
    if (end > line) rows++;
    line = end + 1;
  }
}

function countQuotedRowBytes(csv: Buffer, start: number): number {
  let rows = 0;
  let quoted = false;
  let lineHasData = false;
  for (let i = start; i < csv.length; i++) {
    const c = csv[i];
    if (c === QUOTE) quoted = !quoted;
    if (c === NEWLINE && !quoted) {
      if (lineHasData) rows++;
      lineHasData = false;
    } else lineHasData = true;
  }
  return lineHasData ? rows + 1 : rows;
}

/**
 * A chunk file's bytes; undefined when it is gone. One ride per message makes 200,000 files of
 * ~150 bytes: a read stream each (open, stat, read, close through libuv's thread pool, plus the
 * stream's own machinery) was most of the merge, so a small file is read with one synchronous
 * call; a larger one (a default chunk is ~150 KB per 1,000 rides) still streams. The bytes are
 * never decoded: rides.csv gets them as they are (decoding 30 MB to split and count lines, then
 * encoding it again, was most of the merge's time).
 */
async function readChunk(path: string, withVersion: boolean): Promise<{ bytes: Buffer; version?: string } | undefined> {
  try {
    const fd = openSync(path, 'r');
    let streamed = false;
    try {
      // One fstat for the version and the size (fileVersion, fstatSync and readFileSync took one each).
      const stat = withVersion ? fstatSync(fd, { bigint: true }) : fstatSync(fd);
      const version = withVersion ? versionOf(stat as BigIntStats) : undefined;
      const size = Number(stat.size);
      if (size <= WHOLE_FILE_BYTES) return { bytes: readWhole(fd, size), version };
      // The same descriptor: the bytes are those of the version taken above.
      streamed = true;
      const chunks: Buffer[] = [];
      for await (const chunk of createReadStream(path, { fd, autoClose: true })) chunks.push(chunk as Buffer);
      return { bytes: Buffer.concat(chunks), version };
    } finally {
      if (!streamed) closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The first `size` bytes of `fd` (fewer when it ends sooner), as readFileSync reads a file of that size. */
function readWhole(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let read = 0;
  while (read < size) {
    const n = readSync(fd, bytes, read, size - read, read);
    if (n === 0) break;
    read += n;
  }
  return read < size ? bytes.subarray(0, read) : bytes;
}

/** Rows written to rides.csv, in all and by source key. */
export interface MergedRides {
  rows: number;
  bySource: Record<string, number>;
}

/**
 * Streams `out/rides.csv`: one header, then every row of every downloaded chunk, ordered by
 * source key then chunk number — chunks hold consecutive ride indexes, so this is ride_index
 * order. Only chunk files `readable` vouches for are read (never a foreign file at a chunk's
 * path). With no rows at all the file still has the header. Returns the rows written.
 */
export async function mergeRides(
  out: OutputFolder,
  sources: SourceStatus[],
  readable: (key: string) => boolean = (key) => out.owns(key),
  onChunk?: (key: string, path: string, version: string) => void,
): Promise<MergedRides> {
  out.record(RIDES_FILE);
  const target = out.path(RIDES_FILE);
  const file = createWriteStream(target);
  const bySource: Record<string, number> = {};
  let rows = 0;
  let headerWritten = false;
  const ordered = [...sources].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let pending: Buffer[] = [];
  let pendingLength = 0;
  const flush = async () => {
    if (!pending.length) return;
    const bytes = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingLength);
    pending = [];
    pendingLength = 0;
    if (!file.write(bytes)) await once(file, 'drain');
  };
  try {
    for (const source of ordered) {
      const { manifest } = source;
      if (!manifest) continue;
      const keys = objectKeys({ bucket: manifest.bucket, key: manifest.source, etag: manifest.etag });
      const missing = new Set(source.missingChunks);
      for (let chunk = 0; chunk < manifest.chunks; chunk++) {
        if (missing.has(chunk)) continue;
        const key = keys.processed(chunk);
        if (!readable(key)) continue;
        // A run that stalled before the queues settled has no missingChunks: absent files are the gaps.
        const path = out.path(key);
        const chunkFile = await readChunk(path, onChunk !== undefined);
        if (chunkFile === undefined) continue;
        // Named with the version read: the report's aggregates must be of exactly these files.
        if (onChunk) onChunk(key, path, chunkFile.version as string);
        const { bytes } = chunkFile;
        // The header line (the whole file when it has no line break), then the rows.
        const headerEnd = bytes.indexOf(NEWLINE);
        const bodyStart = headerEnd < 0 ? bytes.length : headerEnd + 1;
        if (!headerWritten) {
          if (!file.write(bytes.subarray(0, bodyStart))) await once(file, 'drain');
          headerWritten = true;
        }
        const count = countRowBytes(bytes, bodyStart);
        rows += count;
        bySource[source.key] = (bySource[source.key] ?? 0) + count;
        if (bodyStart === bytes.length) continue;
        // Small bodies are gathered into one write of ~64 KiB: a write per one-row chunk costs more than its bytes.
        pending.push(bytes.subarray(bodyStart));
        pendingLength += bytes.length - bodyStart;
        if (pendingLength >= MERGE_WRITE_BYTES) await flush();
      }
    }
    await flush();
    if (!headerWritten) file.write(`${CSV_COLUMNS.join(',')}\n`);
  } finally {
    file.end();
    await once(file, 'close');
  }
  return { rows, bySource };
}
