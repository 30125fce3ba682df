#!/usr/bin/env node
// Before any AWS SDK module loads: Node 20 here, 22 on Lambda (PITFALLS #10).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { Command, CommanderError } from 'commander';
import * as commands from './commands/index';
import { RydesCliError } from './errors';

export function createProgram(): Command {
  const program = new Command('rydes')
    .description('Ride-telemetry pipeline on a laptop: the deployed Lambda bundles on embedded S3 and SQS servers.')
    .showHelpAfterError()
    .exitOverride();
  for (const command of Object.values(commands) as Array<{ register(program: Command): void }>) command.register(program);
  return program;
}

/** Runs the CLI on `argv` (node, script, …args); sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  try {
    await createProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof RydesCliError) {
      process.stderr.write(`rydes: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}

if (require.main === module) void main(process.argv);
