/**
 * `rydes upload`: its options and help. Its implementation (./upload.ts, with the AWS SDK clients)
 * loads only when the command runs: `rydes --help` and the other commands start without it.
 */
import type { Command } from 'commander';
import { DEFAULT_STACK_NAME, RIDE_FILE_SUFFIXES } from '@rydes/ride-model';
import { DEFAULT_DATA_DIR } from '../stack/connect';
import { integer } from './options';
import type { UploadFlags } from './upload';

export function register(program: Command): void {
  program
    .command('upload')
    .argument('<FILE>', `ride file (${RIDE_FILE_SUFFIXES.join(', ')})`)
    .description('Upload a ride file to raw/ of the deployed bucket, follow it through the pipeline and print the summary.')
    .option('--stack <NAME>', 'CloudFormation stack name', DEFAULT_STACK_NAME)
    .option('--region <REGION>', 'AWS region (default: AWS_REGION or your profile)')
    .option('--key <KEY>', 'object key (default raw/<file name>)')
    .option('--no-wait', 'return after the upload')
    .option('--timeout <S>', 'give up waiting after S seconds', integer('--timeout', 1), 900)
    .option('--interval <MS>', 'poll interval, ms', integer('--interval', 100), 2000)
    .option('--local', 'upload to the stack started by "rydes up" (bucket rydes-local), found through its data dir')
    .option('--data-dir <DIR>', 'with --local: the data dir of "rydes up"', DEFAULT_DATA_DIR)
    .option('--s3-endpoint <URL>', 'with --local: an S3 endpoint instead of the one in the data dir')
    .action(async (file: string, flags: UploadFlags) => (await import('./upload')).upload(file, flags));
}
