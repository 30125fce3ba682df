import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EXIT, OutputError, OutputLockedError } from '../src/errors';
import { LOCK_FILE, MARKER_FILE, OutputFolder } from '../src/run/out-folder';

describe('OutputFolder: --out is rydes\'s only where rydes wrote', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'rydes-outdir-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates a missing folder, marks it as rydes\'s and removes its lock on release', async () => {
    const dir = join(root, 'new/out');
    const out = await OutputFolder.claim(dir);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    out.record('rides.csv');
    writeFileSync(out.path('rides.csv'), 'h\n');
    await out.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8'))).toMatchObject({ tool: 'rydes', files: ['rides.csv'] });
  });

  it('refuses a non-empty folder it did not create (exit 73), and --force writes beside its files', async () => {
    writeFileSync(join(root, 'thesis.txt'), 'mine');
    await expect(OutputFolder.claim(root)).rejects.toThrow(/not empty and not a rydes output folder/);
    await expect(OutputFolder.claim(root)).rejects.toMatchObject({ exitCode: EXIT.CANT_CREATE });
    const out = await OutputFolder.claim(root, { force: true });
    expect(out.isForeign('thesis.txt')).toBe(true);
    expect(await out.removeStale('', () => false)).toBe(0);
    await out.release();
    expect(readFileSync(join(root, 'thesis.txt'), 'utf8')).toBe('mine');
  });

  it('refuses the root of the file system', async () => {
    await expect(OutputFolder.claim('/')).rejects.toThrow(OutputError);
  });

  it('refuses a file, and a path under a file, with the path in the message', async () => {
    writeFileSync(join(root, 'afile'), 'x');
    await expect(OutputFolder.claim(join(root, 'afile'))).rejects.toThrow(/afile: exists and is not a directory/);
    await expect(OutputFolder.claim(join(root, 'afile/sub'))).rejects.toThrow(/afile\/sub: a parent of it is a file/);
  });

  it('refuses, even with --force, a foreign rides.csv it would have to overwrite', async () => {
    writeFileSync(join(root, 'rides.csv'), 'their csv');
    await expect(OutputFolder.claim(root, { force: true })).rejects.toThrow(/rides\.csv: exists and was not written by rydes/);
  });

  it('deletes on a later run only what an earlier run recorded, never a file added in between', async () => {
    const first = await OutputFolder.claim(root);
    mkdirSync(join(root, 'processed'));
    first.record('processed/old-000000.csv');
    writeFileSync(join(root, 'processed/old-000000.csv'), 'h\n');
    await first.release();
    mkdirSync(join(root, 'processed/2019'));
    writeFileSync(join(root, 'processed/2019/thesis.txt'), 'mine');

    const second = await OutputFolder.claim(root);
    expect(await second.removeStale('processed/', () => false)).toBe(1);
    await second.release();
    expect(existsSync(join(root, 'processed/old-000000.csv'))).toBe(false);
    expect(readFileSync(join(root, 'processed/2019/thesis.txt'), 'utf8')).toBe('mine');
  });

  describe('the lock', () => {
    let other: ChildProcess;
    afterEach(() => {
      if (other.exitCode === null) other.kill('SIGKILL');
    });

    it('refuses a second run while the first one\'s PID lives (exit 75, naming it), then takes a stale lock over with a note', async () => {
      other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
      const pid = other.pid as number;
      writeFileSync(join(root, LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), startedAt: '2026-11-30T03:00:00.000Z' }));
      writeFileSync(join(root, MARKER_FILE), JSON.stringify({ tool: 'rydes', version: 1, files: [] }));

      const refused = OutputFolder.claim(root);
      await expect(refused).rejects.toThrow(OutputLockedError);
      await expect(OutputFolder.claim(root)).rejects.toThrow(new RegExp(`in use by another rydes run \\(PID ${pid}, since 2026-11-30T03:00:00.000Z\\)`));
      await expect(OutputFolder.claim(root)).rejects.toMatchObject({ exitCode: EXIT.TEMP_FAIL });

      await new Promise((resolve) => {
        other.once('exit', resolve);
        other.kill('SIGKILL');
      });
      const notes = new PassThrough();
      let noted = '';
      notes.on('data', (c) => (noted += c));
      const out = await OutputFolder.claim(root, { notes });
      expect(noted).toContain(`stale lock of PID ${pid}`);
      expect(JSON.parse(readFileSync(join(root, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
      await out.release();
    });
  });
});
