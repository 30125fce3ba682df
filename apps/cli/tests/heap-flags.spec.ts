import type { Command } from 'commander';
import { createProgram, heapFlagsFor, STACK_HEAP_GROWING_PERCENT } from '../src/main';

describe("the CLI's own V8 heap flags: a fixed old-generation growing factor for the commands that host the local stack", () => {
  afterEach(() => jest.restoreAllMocks());

  it('names --heap-growing-percent for run and up, nothing for the other commands', () => {
    expect(heapFlagsFor('run')).toEqual([`--heap-growing-percent=${STACK_HEAP_GROWING_PERCENT}`]);
    expect(heapFlagsFor('up')).toEqual([`--heap-growing-percent=${STACK_HEAP_GROWING_PERCENT}`]);
    for (const command of ['report', 'generate', 'doctor', 'upload', 'trainset', 'smoke']) expect(heapFlagsFor(command)).toEqual([]);
  });

  it.each([
    ['run', [`--heap-growing-percent=${STACK_HEAP_GROWING_PERCENT}`]],
    ['up', [`--heap-growing-percent=${STACK_HEAP_GROWING_PERCENT}`]],
    ['report', []],
  ])('sets them before the %s action runs', async (name, expected) => {
    // Prepare: the real program, its command's action replaced by one that records what was set by then
    const set: string[] = [];
    // node:v8 itself (what main.ts calls at run time), not a TypeScript namespace copy of it
    jest.spyOn(jest.requireActual<typeof import('node:v8')>('node:v8'), 'setFlagsFromString').mockImplementation((flag: string) => void set.push(flag));
    const program = createProgram();
    const command = program.commands.find((c: Command) => c.name() === name) as Command;
    let setBeforeAction: string[] | undefined;
    command.action(() => {
      setBeforeAction = [...set];
    });
    // Act
    await program.parseAsync(['node', 'rydes', name], { from: 'node' });
    // Assess
    expect(setBeforeAction).toEqual(expected);
  });
});
