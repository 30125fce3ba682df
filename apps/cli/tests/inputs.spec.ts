import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../src/errors';
import { prepareInputs, rawKeyOf } from '../src/run/inputs';

describe('prepareInputs: one raw/ key per distinct file, from its name and bytes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-inputs-'));
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'a/rides.json'), '[{"name":"a"}]');
    writeFileSync(join(dir, 'b/rides.json'), '[{"name":"b"}]');
    writeFileSync(join(dir, 'copy.json'), '[{"name":"a"}]');
    writeFileSync(join(dir, 'x.ndjson.gz'), 'gz');
    writeFileSync(join(dir, 'notes.txt'), 'x');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives two files of the same name different keys, and the same bytes the same key', async () => {
    const [a, b, again, copy] = await prepareInputs(['a/rides.json', 'b/rides.json', 'a/rides.json', 'copy.json'].map((f) => join(dir, f)));
    expect(a.key).toMatch(/^raw\/rides-[0-9a-f]{12}\.json$/);
    expect(b.key).toMatch(/^raw\/rides-[0-9a-f]{12}\.json$/);
    expect(a.key).not.toBe(b.key);
    expect(again).toMatchObject({ key: a.key, duplicateOf: a.path });
    expect(copy).toMatchObject({ key: a.key, duplicateOf: a.path });
    expect(a.duplicateOf).toBeUndefined();
    expect(b.duplicateOf).toBeUndefined();
  });

  it('keeps the key stable across runs and the whole suffix (.ndjson.gz)', async () => {
    const [first] = await prepareInputs([join(dir, 'x.ndjson.gz')]);
    const [second] = await prepareInputs([join(dir, 'x.ndjson.gz')]);
    expect(first.key).toBe(second.key);
    expect(first.key).toMatch(/^raw\/x-[0-9a-f]{12}\.ndjson\.gz$/);
  });

  it('refuses unknown suffixes before reading anything, naming every such file and the accepted suffixes (exit 64)', async () => {
    const attempt = prepareInputs([join(dir, 'notes.txt'), join(dir, 'missing.json')]);
    await expect(attempt).rejects.toThrow(/notes\.txt: not a ride file name; rydes reads files ending \.ndjson\.gz, \.json\.gz, \.ndjson, \.json/);
    await expect(prepareInputs([join(dir, 'notes.txt')])).rejects.toMatchObject({ exitCode: EXIT.USAGE });
  });

  it('refuses a missing file or a directory (exit 66)', async () => {
    await expect(prepareInputs([join(dir, 'missing.json')])).rejects.toMatchObject({ exitCode: EXIT.NO_INPUT, message: expect.stringContaining('missing.json: no such file') });
    mkdirSync(join(dir, 'd.json'), { recursive: true });
    await expect(prepareInputs([join(dir, 'd.json')])).rejects.toThrow(/d\.json: a directory, not a file/);
  });

  it('keeps only letters, digits, dot, dash and underscore of the name', () => {
    expect(rawKeyOf('/tmp/my rides+1.json', 'abcdef0123456789')).toBe('raw/my_rides_1-abcdef012345.json');
  });
});
