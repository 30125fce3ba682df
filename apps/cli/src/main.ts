#!/usr/bin/env node
// Before any AWS SDK module loads: Node 20 here, 22 on Lambda (PITFALLS #10).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError } from 'commander';
import * as commands from './commands/index';
import { EXIT, RydesCliError } from './errors';

/**
 * V8's old-generation growing factor, in percent, for the commands that host the local stack in
 * this process (`run`, `up`). Every message body passes through this process (the SQS server, the
 * pollers, the events sent to the environments) as strings of up to 2 MB that V8 keeps in its
 * large-object space; the ones still in use at a scavenge are promoted and stay until the next
 * mark-compact, which V8 otherwise schedules when the old generation has grown to 1.1–4 × what
 * survived the last one. With a fixed 1.5 × they are collected sooner, for a few more
 * mark-compacts of a small live set (figures: README, "Memory and cold starts of the local
 * functions"). The flag is read at each collection, so setting it at run
 * time takes effect; it applies to the worker threads' heaps too.
 */
export const STACK_HEAP_GROWING_PERCENT = 50;

/** The commands that run the local stack's servers and pollers in this process. */
const STACK_COMMANDS = new Set(['run', 'up']);

/**
 * V8 flags this process sets for `command` before its action runs.
 * @example
 * heapFlagsFor('run'); // ['--heap-growing-percent=50']
 * heapFlagsFor('report'); // []
 */
export function heapFlagsFor(command: string): string[] {
  return STACK_COMMANDS.has(command) ? [`--heap-growing-percent=${STACK_HEAP_GROWING_PERCENT}`] : [];
}

export function createProgram(): Command {
  const program = new Command('rydes')
    .description('Ride-telemetry pipeline on a laptop: the deployed Lambda bundles on embedded S3 and SQS servers.')
    .showHelpAfterError()
    .exitOverride()
    .hook('preAction', (_program, action) => {
      for (const flag of heapFlagsFor(action.name())) setFlagsFromString(flag);
    });
  for (const command of Object.values(commands) as Array<{ register(program: Command): void }>) command.register(program);
  return program;
}

/**
 * The one place an error becomes output: a RydesCliError (a mistake the user can fix) prints
 * `rydes: <what, where>` and its hint on a second line, and exits with its code; anything else is
 * a bug: one line, exit 70. Stack traces only with `--verbose`.
 */
export function reportError(err: unknown, verbose: boolean, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof CommanderError) {
    // commander printed its message (and the help) already; help and --version end with 0.
    return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  if (err instanceof RydesCliError) {
    stderr.write(`rydes: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
    if (verbose && err.stack) stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`rydes: unexpected error: ${message.split('\n')[0]}\n`);
  if (verbose) stderr.write(`${err instanceof Error && err.stack ? err.stack : message}\n`);
  else stderr.write('  This is a bug in rydes; run again with --verbose for the stack trace and report it.\n');
  return EXIT.SOFTWARE;
}

/** Runs the CLI on `argv` (node, script, …args); sets process.exitCode; never rejects. */
export async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes('--verbose');
  const onStray = (err: unknown) => {
    process.exitCode = reportError(err, verbose);
    process.exit();
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  try {
    await createProgram().parseAsync(argv);
  } catch (err) {
    process.exitCode = reportError(err, verbose);
  }
}

if (require.main === module) void main(process.argv);
