import type { Command } from 'commander';
import { resolve } from 'node:path';
import { startStack, type LocalStack } from '../stack/local-stack';
import { DEFAULT_RIDES_PER_MESSAGE } from '@rydes/ride-model';
import { LOCAL_VISIBILITY_TIMEOUT_SECONDS } from '../stack/names';
import { CORES, integer } from './options';

interface UpFlags {
  dataDir?: string;
  stations?: string;
  ridesPerMessage: number;
  concurrency: number;
  visibilityTimeout: number;
  verbose?: boolean;
}

/** What `rydes up` prints: endpoints, names and lines to paste into another terminal. */
export function describeStack(stack: LocalStack): string {
  const { servers, bucket, queues } = stack;
  const creds = 'AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=' + servers.region;
  return [
    'rydes local stack is up (Ctrl-C to stop).',
    '',
    `  S3 endpoint      ${servers.s3Endpoint}`,
    `  SQS endpoint     ${servers.sqsEndpoint}`,
    `  bucket           ${bucket}${stack.stationsUri ? `   (STATIONS_URI=${stack.stationsUri})` : ''}`,
    `  fan-out queue    ${queues.fanout.url}`,
    `  fan-out DLQ      ${queues.fanoutDlq.url}`,
    `  ingest DLQ       ${queues.ingestDlq.url}`,
    `  Lambda endpoint  ${stack.lambdaEndpoint}   (Invoke API of rydes-ingest)`,
    `  function logs    ${stack.logDir}`,
    '',
    'Drop a ride file into raw/ and it is processed live:',
    `  ${creds} aws --endpoint-url ${servers.s3Endpoint} s3 cp rides.json s3://${bucket}/raw/`,
    'Look at the results:',
    `  ${creds} aws --endpoint-url ${servers.s3Endpoint} s3 ls s3://${bucket}/processed/`,
    `  ${creds} aws --endpoint-url ${servers.sqsEndpoint} sqs get-queue-attributes --queue-url ${queues.fanoutDlq.url} --attribute-names All`,
    'Or point any AWS SDK at it:',
    `  export AWS_ENDPOINT_URL_S3=${servers.s3Endpoint} AWS_ENDPOINT_URL_SQS=${servers.sqsEndpoint} ${creds}`,
    '',
    'Note: SQS clients that speak the old query protocol (AWS CLI v1, boto3 1.26) get OverLimit',
    'from ReceiveMessage once 10,000+ messages wait in a queue (a local-aws-sqs quirk, PITFALLS #13);',
    'AWS CLI v2 and the JavaScript SDK v3 use the JSON protocol and are not affected.',
    '',
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('up')
    .description('Start the local stack and keep it running until Ctrl-C; anything landing in raw/ is processed live.')
    .option('--data-dir <DIR>', 'keep the bucket (and function logs) here between runs')
    .option('--stations <FILE>', 'station catalogue (GHCN, CSV or JSON) uploaded to stations/ and used as STATIONS_URI')
    .option('--rides-per-message <N>', 'rides per fan-out message', integer('--rides-per-message', 1, 10_000), DEFAULT_RIDES_PER_MESSAGE)
    .option('--concurrency <N>', 'transform pollers and execution environments', integer('--concurrency', 1, 64), CORES)
    .option('--visibility-timeout <S>', 'fan-out visibility timeout (local default, see rydes run --help)', integer('--visibility-timeout', 1, 43_200), LOCAL_VISIBILITY_TIMEOUT_SECONDS)
    .option('--verbose', "show the functions' JSON logs on stderr")
    .action(async (flags: UpFlags) => {
      const stack = await startStack({
        dataDir: flags.dataDir && resolve(flags.dataDir),
        stationsFile: flags.stations && resolve(flags.stations),
        ridesPerMessage: flags.ridesPerMessage,
        concurrency: flags.concurrency,
        visibilityTimeoutSeconds: flags.visibilityTimeout,
        verbose: flags.verbose,
      });
      process.stdout.write(describeStack(stack));
      await untilSignal(stack);
    });
}

/** Prints a status line whenever work happened; resolves after Ctrl-C has closed the stack. */
function untilSignal(stack: LocalStack): Promise<void> {
  return new Promise((resolve) => {
    let last = '';
    const timer = setInterval(() => {
      const { ingest, transform } = stack;
      const line =
        `ingest: ${ingest.stats.succeeded} done, ${ingest.stats.pending} running, ${ingest.stats.deadLettered} to DLQ | ` +
        `transform: ${transform.stats.deleted} messages done, ${transform.stats.failedDeliveries} failed deliveries`;
      if (line !== last) process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
      last = line;
    }, 2000);
    const stop = (signal: NodeJS.Signals) => {
      clearInterval(timer);
      process.stdout.write(`\n${signal}: closing the local stack…\n`);
      void stack.close().then(() => {
        process.exitCode = signal === 'SIGINT' ? 130 : 143;
        resolve();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
