import type { S3Client } from '@aws-sdk/client-s3';
import { listObjects, openObject, sameEtag } from '@rydes/aws-adapters';
import { CSV_COLUMNS, objectKeys } from '@rydes/ride-model';
import { LIST_PAGE_KEYS } from '../stack/names';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { SourceStatus } from './completion';
import type { OutputFolder } from './out-folder';

/** The merged CSV at the top of --out. */
export const RIDES_FILE = 'rides.csv';

/** The prefixes mirrored into --out. */
export const OUTPUT_PREFIXES = ['processed/', 'rejects/', 'manifests/'];

/** Background copies queued at most; see {@link OutputMirror.fetch}. */
const MAX_PENDING_FETCHES = 2_000;

/**
 * Mirrors processed/, rejects/ and manifests/ into the --out folder (`out/processed/…`). Chunks
 * are copied while the pipeline runs, as soon as the transform reports them written
 * ({@link fetch}), so little is left for the end; {@link finish} then lists the bucket and makes
 * rydes's files equal to it: copies what is missing or differs in size or ETag from what was
 * fetched (an early GET may have raced a redelivery rewriting the same key), and deletes the files
 * rydes wrote earlier for keys no longer there (a superseded version's chunks, an earlier run's
 * files). A file rydes did not write is never overwritten or deleted: when one sits where a key
 * belongs, the object is compared with it; the same bytes count as mirrored, other bytes as a
 * {@link conflicts conflict} (the run then fails, saying which file).
 */
export class OutputMirror {
  private readonly fetched = new Map<string, { etag: string; size: number }>();
  private readonly folders = new Set<string>();
  private readonly pending: string[] = [];
  private readonly idle: Array<() => void> = [];
  private running = 0;
  /** Foreign files found identical to the object of their key. */
  private readonly identical = new Set<string>();
  /** Keys whose local path holds a foreign file with other bytes: not mirrored. */
  readonly conflicts = new Set<string>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly out: OutputFolder,
    private readonly parallel = 8,
  ) {}

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
      const stale: string[] = [];
      for await (const object of listObjects(this.s3, this.bucket, prefix, { pageSize: LIST_PAGE_KEYS })) {
        listed.add(object.key);
        mirrored++;
        const copy = this.fetched.get(object.key);
        if (!copy || copy.size !== object.size || !sameEtag(copy.etag, object.etag)) stale.push(object.key);
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

  private async copyAll(keys: string[], mustSucceed: boolean): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < keys.length) await this.copy(keys[next++], mustSucceed);
    };
    await Promise.all(Array.from({ length: this.parallel * 2 }, worker));
  }

  private async copy(key: string, mustSucceed: boolean): Promise<void> {
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
      const { body, etag } = await openObject(this.s3, this.bucket, key);
      if (!foreign) this.out.record(key);
      const out = createWriteStream(written);
      await pipeline(body, out);
      this.fetched.set(key, { etag, size: out.bytesWritten });
      if (foreign) await this.compareWithForeign(key, target, written);
    } catch (err) {
      this.fetched.delete(key);
      if (mustSucceed) throw err;
    } finally {
      if (foreign) await rm(written, { force: true });
    }
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

/**
 * Rows in a CSV body without its header. Names may hold quoted commas, quotes or line breaks
 * (RFC 4180); only bodies with a quote pay for the quote-aware count.
 */
export function countRows(body: string): number {
  if (!body.includes('"')) return body.split('\n').filter((line) => line.length > 0).length;
  let rows = 0;
  let quoted = false;
  let lineHasData = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"') quoted = !quoted;
    if (c === '\n' && !quoted) {
      if (lineHasData) rows++;
      lineHasData = false;
    } else lineHasData = true;
  }
  return lineHasData ? rows + 1 : rows;
}

/** Splits a processed/ CSV object into its header line and the rest. */
function splitHeader(text: string): { header: string; body: string } {
  const end = text.indexOf('\n');
  return end < 0 ? { header: text, body: '' } : { header: text.slice(0, end + 1), body: text.slice(end + 1) };
}

async function readText(path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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
): Promise<MergedRides> {
  out.record(RIDES_FILE);
  const target = out.path(RIDES_FILE);
  const file = createWriteStream(target);
  const bySource: Record<string, number> = {};
  let rows = 0;
  let headerWritten = false;
  const ordered = [...sources].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
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
        const text = await readText(out.path(key)).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
        if (text === undefined) continue;
        const { header, body } = splitHeader(text);
        if (!headerWritten) {
          if (!file.write(header)) await once(file, 'drain');
          headerWritten = true;
        }
        const count = countRows(body);
        rows += count;
        bySource[source.key] = (bySource[source.key] ?? 0) + count;
        if (!file.write(body)) await once(file, 'drain');
      }
    }
    if (!headerWritten) file.write(`${CSV_COLUMNS.join(',')}\n`);
  } finally {
    file.end();
    await once(file, 'close');
  }
  return { rows, bySource };
}
