/**
 * `rydes smoke`: its options and help. Its implementation (./smoke.ts, with the AWS SDK clients)
 * loads only when the command runs: `rydes --help` and the other commands start without it.
 */
import type { Command } from 'commander';
import { integer, stackOptions } from './options';
import type { SmokeFlags } from './smoke';

export function register(program: Command): void {
  stackOptions(
    program.command('smoke').description('After a deploy (or against "rydes up"): upload a small ride file, wait for every output, check it, clean up; exit 0 or name what failed.'),
    'test the stack "rydes up" runs (found through its data dir) instead',
  )
    .option('--timeout <S>', 'give up on the pipeline after S seconds', integer('--timeout', 1), 300)
    .option('--interval <MS>', 'poll interval, ms', integer('--interval', 100), 1000)
    .action(async (flags: SmokeFlags) => (await import('./smoke')).smoke(flags));
}
