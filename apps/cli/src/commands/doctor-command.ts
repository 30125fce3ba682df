/**
 * `rydes doctor`: its options and help. Its implementation (./doctor.ts, with the AWS SDK clients)
 * loads only when the command runs: `rydes --help` and the other commands start without it.
 */
import type { Command } from 'commander';
import { DEFAULT_STACK_NAME } from '@rydes/ride-model';
import { DEFAULT_DATA_DIR } from '../stack/connect';
import type { DoctorFlags } from './doctor';

export function register(program: Command): void {
  program
    .command('doctor')
    .description("Check a deployed stack (or a running `rydes up`) against the workshop's checklist; exit 1 on any [ ].")
    .option('--stack <NAME>', 'CloudFormation stack name', DEFAULT_STACK_NAME)
    .option('--region <REGION>', 'AWS region (default: AWS_REGION or your profile)')
    .option('--local', 'check the stack started by "rydes up" instead (found through its data dir)')
    .option('--data-dir <DIR>', 'with --local: the data dir of "rydes up"', DEFAULT_DATA_DIR)
    .option('--s3-endpoint <URL>', 'with --local: an S3 endpoint instead of the one in the data dir')
    .option('--sqs-endpoint <URL>', 'with --local: an SQS endpoint instead of the one in the data dir')
    .action(async (flags: DoctorFlags) => (await import('./doctor')).doctor(flags));
}
