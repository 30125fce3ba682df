import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspaceRoot } from '../src/stack/bundles';

// The built CLI (the cli's test target builds it first): the record needs the built sample worker.
const CLI = join(workspaceRoot(), 'dist/apps/cli/main.js');

/** `rydes run --rides 3000` with its own TMPDIR (so its own code caches and sample record). */
function run(tmp: string, out: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'run', '--rides', '3000', '--out', out], { timeout: 120_000, env: { ...process.env, TMPDIR: tmp } }, (error, _stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stderr }),
    );
  });
}

describe('rydes run: the generated sample uploaded while it is written, on the record of an earlier run (built CLI)', () => {
  let tmp: string;
  beforeAll(() => (tmp = mkdtempSync(join(tmpdir(), 'rydes-sample-record-e2e-'))));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const records = () => {
    const folder = join(tmp, `rydes-code-cache-${process.getuid?.() ?? 'user'}`);
    return readdirSync(folder)
      .filter((name) => name.startsWith('sample-'))
      .map((name) => join(folder, name));
  };
  const key = (out: string) => (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { files: Array<{ key: string }> }).files[0].key;

  it('records the sample at the first run, gives the same key and rides.csv with it, and falls back to the written file when the record is wrong', async () => {
    // Act 1: no record yet
    const first = await run(tmp, join(tmp, 'out1'));
    const [record] = records();
    const written = JSON.parse(readFileSync(record, 'utf8')) as { bytes: number; sha256: string };

    // Act 2: the record is there
    const second = await run(tmp, join(tmp, 'out2'));

    // Act 3: a record that names other bytes (the key it would give names nothing real)
    writeFileSync(record, JSON.stringify({ bytes: written.bytes, sha256: 'a'.repeat(64) }));
    const third = await run(tmp, join(tmp, 'out3'));

    // Assess
    expect([first.code, second.code, third.code]).toEqual([0, 0, 0]);
    expect(written.bytes).toBeGreaterThan(600_000);
    expect(key(join(tmp, 'out1'))).toBe(`raw/rides-3000-seed1-${written.sha256.slice(0, 12)}.json`);
    expect([key(join(tmp, 'out2')), key(join(tmp, 'out3'))]).toEqual([key(join(tmp, 'out1')), key(join(tmp, 'out1'))]);
    const csv = (out: string) => createHash('sha256').update(readFileSync(join(tmp, out, 'rides.csv'))).digest('hex');
    expect([csv('out2'), csv('out3')]).toEqual([csv('out1'), csv('out1')]);
    expect(readFileSync(join(tmp, 'out1', 'rides.csv'), 'utf8').split('\n').filter(Boolean)).toHaveLength(3001);
    expect(`${first.stderr}${second.stderr}`).not.toMatch(/earlier run recorded/);
    expect(third.stderr).not.toMatch(/non-retryable/);
    expect(third.stderr).toMatch(`not the ${written.bytes} bytes with SHA-256 ${'a'.repeat(64)} an earlier run recorded; uploading it as written`);
    // The record is right again.
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual(written);
  });
});
