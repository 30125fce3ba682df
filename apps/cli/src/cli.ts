#!/usr/bin/env node
// Before any AWS SDK module loads: Node 20 here, 22 on Lambda (PITFALLS #10).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { Command, CommanderError } from 'commander';
import * as commands from './commands/index';
import { EXIT, RydesCliError } from './errors';

export function createProgram(): Command {
  const program = new Command('rydes')
    .description('Ride-telemetry pipeline on a laptop: the deployed Lambda bundles on embedded S3 and SQS servers.')
    .showHelpAfterError()
    .exitOverride();
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
