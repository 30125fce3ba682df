import { hostname } from 'node:os';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, parse, relative, resolve, sep } from 'node:path';
import { OutputError, OutputLockedError } from '../errors';
import { describeFsError } from './inputs';

/** The marker that makes a folder rydes's: the list of files rydes wrote there. */
export const MARKER_FILE = '.rydes-output.json';
/** Present while a run writes into the folder: `{pid, hostname, startedAt}`. */
export const LOCK_FILE = '.rydes-output.lock';
/** The run report at the top of --out (apps/cli/src/report writes it after the summary). */
export const REPORT_FILE = 'report.html';
/** Files at the top of --out that a run writes by name. */
export const RESERVED_FILES = ['rides.csv', 'summary.json', REPORT_FILE];

/** Stale files deleted at once (libuv's pool has four threads; the rest wait in its queue). */
const PARALLEL_REMOVALS = 16;

interface Marker {
  tool: 'rydes';
  version: 1;
  about: string;
  updatedAt: string;
  /** Paths relative to the folder, `/`-separated. */
  files: string[];
}

interface Lock {
  pid: number;
  hostname: string;
  startedAt: string;
}

export interface ClaimOptions {
  /** Write into a non-empty folder rydes did not create (or `/`), beside its files; never deletes them. */
  force?: boolean;
  /** Where notes (a stale lock taken over) go. */
  notes?: NodeJS.WritableStream;
}

/**
 * The `--out` folder, rydes's only where rydes wrote: a marker (`.rydes-output.json`) lists every
 * file a run wrote, and only those are ever overwritten or deleted. A folder that is not empty
 * and has no marker (or `/`) is refused unless `force`, and even then its files stay untouched.
 * A lock file names the PID of the run writing into it; a second run is refused while that PID
 * lives, and takes the lock over (with a note) once it is gone.
 * @example
 * const out = await OutputFolder.claim('out');
 * await out.writeFile('rides.csv', csv);
 * await out.release();
 */
export class OutputFolder {
  private readonly mine: Set<string>;
  private released = false;

  private constructor(
    readonly dir: string,
    previous: string[],
    /** Files that were there and are not rydes's: never written over, never deleted. */
    private readonly foreign: Set<string>,
  ) {
    this.mine = new Set(previous);
  }

  /** Checks, creates and locks `dir`; throws OutputError (73) or OutputLockedError (75). */
  static async claim(path: string, options: ClaimOptions = {}): Promise<OutputFolder> {
    const dir = resolve(path);
    const shown = path;
    if (dir === parse(dir).root && !options.force) {
      throw new OutputError(shown, 'the root of the file system is no place for run outputs.', 'Pass a folder of its own, e.g. --out ./out (or --force).');
    }
    const info = await stat(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(fsOutputError(shown, err))));
    if (info && !info.isDirectory()) throw new OutputError(shown, 'exists and is not a directory.', 'Pass a folder for --out (it is created if missing).');
    await mkdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      throw fsOutputError(shown, err);
    });
    const marker = await readMarker(dir, shown);
    const listed = new Set(marker?.files);
    const foreign = new Set((await listFiles(dir)).filter((f) => f !== MARKER_FILE && f !== LOCK_FILE && !f.startsWith(`${MARKER_FILE}.`) && !listed.has(f)));
    if (!marker && (await readdir(dir)).some((name) => name !== LOCK_FILE) && !options.force) {
      throw new OutputError(
        shown,
        `not empty and not a rydes output folder (no ${MARKER_FILE}); rydes will not write among files it did not create.`,
        'Pass an empty or new folder for --out, or --force to write beside these files (they are never deleted).',
      );
    }
    const clash = RESERVED_FILES.filter((f) => foreign.has(f));
    if (clash.length) {
      throw new OutputError(join(shown, clash[0]), 'exists and was not written by rydes; the run would have to overwrite it.', 'Move it away or pass another --out.');
    }
    const folder = new OutputFolder(dir, marker?.files ?? [], foreign);
    await folder.lock(shown, options.notes ?? process.stderr);
    return folder;
  }

  /** True when `rel` (a `/`-separated path inside the folder) was there before and is not rydes's. */
  isForeign(rel: string): boolean {
    return this.foreign.has(rel);
  }

  /** True when rydes wrote `rel` (this run or an earlier one recorded in the marker). */
  owns(rel: string): boolean {
    return this.mine.has(rel) && !this.foreign.has(rel);
  }

  /** Records that rydes wrote `rel`; call before writing it, so a crash never leaves it unlisted. */
  record(rel: string): void {
    this.mine.add(rel);
  }

  /** Forgets `rel` after deleting it. */
  forget(rel: string): void {
    this.mine.delete(rel);
  }

  /** Absolute path of `rel`. */
  path(rel: string): string {
    return join(this.dir, ...rel.split('/'));
  }

  /** Writes the marker (atomically: a temp file renamed over it). */
  async save(): Promise<void> {
    const marker: Marker = {
      tool: 'rydes',
      version: 1,
      about: 'Written by rydes run: the files it wrote here. rydes overwrites or deletes only these; anything else in this folder is left alone.',
      updatedAt: new Date().toISOString(),
      files: [...this.mine].filter((f) => !this.foreign.has(f)).sort(),
    };
    const tmp = join(this.dir, `${MARKER_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, `${JSON.stringify(marker, null, 1)}\n`);
    await rename(tmp, join(this.dir, MARKER_FILE));
  }

  /** Saves the marker and removes the lock (if still ours). Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.save();
    const lock = await readLock(this.dir);
    if (lock?.pid === process.pid) await rm(join(this.dir, LOCK_FILE), { force: true });
  }

  /** Deletes rydes's own files under `prefix` that `keep` does not list; returns how many. */
  async removeStale(prefix: string, keep: (rel: string) => boolean): Promise<number> {
    const stale = [...this.mine].filter((rel) => rel.startsWith(prefix) && !keep(rel) && !this.foreign.has(rel));
    // Several at a time on libuv's pool: freeing an earlier run's file waits for the disk, not the CPU.
    let next = 0;
    const remover = async () => {
      while (next < stale.length) {
        const rel = stale[next++];
        await rm(this.path(rel), { force: true });
        this.mine.delete(rel);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_REMOVALS }, remover));
    return stale.length;
  }

  private async lock(shown: string, notes: NodeJS.WritableStream): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    const mine: Lock = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(`${JSON.stringify(mine)}\n`);
        await handle.close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsOutputError(shown, err as NodeJS.ErrnoException);
      }
      const held = await readLock(this.dir);
      if (held && held.pid !== process.pid && held.hostname === hostname() && isAlive(held.pid)) {
        throw new OutputLockedError(shown, held.pid, held.startedAt);
      }
      notes.write(
        `rydes: note: ${shown} had a stale lock${held ? ` of PID ${held.pid} (${held.hostname}, since ${held.startedAt}), no longer running` : ''}; taking it over.\n`,
      );
      await rm(path, { force: true });
    }
    throw new OutputError(shown, 'could not take the lock: another run keeps creating it.', 'Wait for the other run, or pass another --out.');
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(dir: string): Promise<Lock | undefined> {
  try {
    const lock = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as Lock;
    return Number.isSafeInteger(lock.pid) ? lock : undefined;
  } catch {
    return undefined;
  }
}

async function readMarker(dir: string, shown: string): Promise<Marker | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MARKER_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsOutputError(shown, err as NodeJS.ErrnoException);
  }
  try {
    const marker = JSON.parse(text) as Marker;
    if (marker.tool === 'rydes' && Array.isArray(marker.files)) return marker;
  } catch {
    // reported below
  }
  throw new OutputError(join(shown, MARKER_FILE), 'is not a rydes output marker (unreadable JSON).', 'Move it away (rydes then treats the folder as foreign) or pass another --out.');
}

/** Every file under `dir`, relative and `/`-separated. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

function fsOutputError(shown: string, err: NodeJS.ErrnoException): OutputError {
  const hint = 'Pass a folder you can write to for --out (it is created if missing).';
  if (err.code === 'ENOTDIR') return new OutputError(shown, 'a parent of it is a file, not a directory.', hint);
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') return new OutputError(shown, `not writable (${describeFsError(err)}).`, hint);
  return new OutputError(shown, `${err.message}.`, hint);
}
