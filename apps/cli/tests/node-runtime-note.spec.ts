describe('noteNodeMajor: the local functions say once when this Node differs from the deployed runtime', () => {
  const load = () => {
    let mod: typeof import('../src/lambda/pool') | undefined;
    jest.isolateModules(() => {
      mod = jest.requireActual('../src/lambda/pool');
    });
    return mod as typeof import('../src/lambda/pool');
  };

  it('writes one line naming both majors, and only the first time', () => {
    const { noteNodeMajor } = load();
    const lines: string[] = [];
    expect(noteNodeMajor((line) => lines.push(line), '20.20.2', true)).toBe(true);
    expect(noteNodeMajor((line) => lines.push(line), '20.20.2', true)).toBe(false);
    expect(lines).toEqual(['rydes: note: the functions run here on Node 20; deployed they run on Node.js 24 (Lambda nodejs24.x).\n']);
  });

  it('stays silent on the deployed major', () => {
    const { noteNodeMajor } = load();
    const lines: string[] = [];
    expect(noteNodeMajor((line) => lines.push(line), '24.3.0', true)).toBe(false);
    expect(lines).toEqual([]);
  });
});
