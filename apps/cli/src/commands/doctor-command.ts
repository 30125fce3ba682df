/**
 * `rydes doctor`: its options and help. Its implementation (./doctor.ts, with the AWS SDK clients)
 * loads only when the command runs: `rydes --help` and the other commands start without it.
 */
import type { Command } from 'commander';
import type { DoctorFlags } from './doctor';
import { stackOptions } from './options';

export function register(program: Command): void {
  stackOptions(
    program.command('doctor').description("Check a deployed stack (or a running `rydes up`) against the workshop's checklist; exit 1 on any [ ]."),
    'check the stack started by "rydes up" instead (found through its data dir)',
  )
    .option('--s3-endpoint <URL>', 'with --local: an S3 endpoint instead of the one in the data dir')
    .option('--sqs-endpoint <URL>', 'with --local: an SQS endpoint instead of the one in the data dir')
    .action(async (flags: DoctorFlags) => (await import('./doctor')).doctor(flags));
}
