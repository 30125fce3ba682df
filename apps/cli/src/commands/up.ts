import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import {
  assertDataDirFree,
  DEFAULT_DATA_DIR,
  ENDPOINTS_FILE,
  localClientEnv,
  shownDir,
  upFlag,
  writeEndpointsFile,
} from '../stack/connect';
import type { LocalStack } from '../stack/local-stack';
import { defaultBundles, workspaceRoot, type BundlePaths } from '../stack/bundles';
import type { BundleWatcher } from '../stack/watch';
import { DEFAULT_RIDES_PER_MESSAGE } from '@rydes/ride-model';
import { CORES, integer } from './options';

interface UpFlags {
  dataDir: string;
  stations?: string;
  ridesPerMessage: number;
  concurrency: number;
  visibilityTimeout?: number;
  functionTimeout?: number;
  verbose?: boolean;
  watch?: boolean;
}

/** What `rydes up` prints: endpoints, names and lines to paste into another terminal. */
export function describeStack(stack: LocalStack, dataDir: string = DEFAULT_DATA_DIR): string {
  const { servers, bucket, queues } = stack;
  const env = localClientEnv({ s3Endpoint: servers.s3Endpoint, sqsEndpoint: servers.sqsEndpoint, region: servers.region });
  const exports = Object.entries(env).map(([key, value]) => `${key}=${value}`);
  const flag = upFlag(dataDir);
  return [
    'rydes local stack is up (Ctrl-C to stop).',
    '',
    `  data dir         ${dataDir}   (endpoints in ${join(dataDir, ENDPOINTS_FILE)} while this runs)`,
    `  S3 endpoint      ${servers.s3Endpoint}`,
    `  SQS endpoint     ${servers.sqsEndpoint}`,
    `  bucket           ${bucket}${stack.stationsUri ? `   (STATIONS_URI=${stack.stationsUri})` : ''}`,
    `  fan-out queue    ${queues.fanout.url}`,
    `  fan-out DLQ      ${queues.fanoutDlq.url}`,
    `  ingest DLQ       ${queues.ingestDlq.url}`,
    `  Lambda endpoint  ${stack.lambdaEndpoint}   (Invoke API of rydes-ingest)`,
    `  function logs    ${stack.logDir}`,
    '',
    'In another terminal, for the AWS CLI (v1 or v2), boto3 or any AWS SDK:',
    `  export ${exports.slice(0, 4).join(' ')} \\`,
    `    ${exports.slice(4).join(' ')}`,
    'Drop a ride file into raw/ and it is processed live:',
    `  aws --endpoint-url ${servers.s3Endpoint} s3 cp rides.json s3://${bucket}/raw/`,
    `  npx rydes upload rides.json --local${flag}        # the same, then follows it to the summary`,
    'Look at the results:',
    `  aws --endpoint-url ${servers.s3Endpoint} s3 ls s3://${bucket}/processed/`,
    `  aws --endpoint-url ${servers.sqsEndpoint} sqs get-queue-attributes --queue-url ${queues.fanoutDlq.url} --attribute-names All`,
    `  npx rydes doctor --local${flag}`,
    `  npx rydes smoke --local${flag}                    # upload, follow, check and clean up a small test file`,
    '',
    'Note: SQS clients that speak the old query protocol (old AWS CLI v1 and boto3 such as 1.26) get OverLimit',
    'from ReceiveMessage once 10,000+ messages wait in a queue (a local-aws-sqs quirk, PITFALLS #13);',
    'AWS CLI v2 and the JavaScript SDK v3 use the JSON protocol and are not affected.',
    '',
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('up')
    .description('Start the local stack and keep it running until Ctrl-C; anything landing in raw/ is processed live.')
    .option('--data-dir <DIR>', 'bucket, function logs and endpoints.json (other commands find the stack through it)', DEFAULT_DATA_DIR)
    .option('--stations <FILE>', 'station catalogue (GHCN, CSV or JSON) uploaded to stations/ and used as STATIONS_URI')
    .option('--rides-per-message <N>', 'rides per fan-out message', integer('--rides-per-message', 1, 10_000), DEFAULT_RIDES_PER_MESSAGE)
    .option('--concurrency <N>', 'transform pollers and execution environments', integer('--concurrency', 1, 64), CORES)
    .option('--function-timeout <S>', 'transform timeout; ingest and visibility timeouts follow it (see rydes run --help)', integer('--function-timeout', 1, 900))
    .option('--visibility-timeout <S>', 'fan-out visibility timeout (default 6 × the function timeout, see rydes run --help)', integer('--visibility-timeout', 1, 43_200))
    .option('--verbose', "show the functions' JSON logs on stderr")
    .option('--watch', 'rebuild a function (through Nx) when its sources or a lib it imports change; new invocations run the new bundle, running ones finish on the old')
    .action(async (flags: UpFlags) => {
      const dataDir = resolve(flags.dataDir);
      assertDataDirFree(dataDir);
      const watcher = flags.watch ? await prepareWatch() : undefined;
      // Function environments are forked while the stack starts: a Ctrl-C then is held until the
      // stack is up and closes it (exit 130/143), instead of killing the CLI mid-start.
      let early: NodeJS.Signals | undefined;
      const holdSignal = (signal: NodeJS.Signals) => (early ??= signal);
      process.on('SIGINT', holdSignal);
      process.on('SIGTERM', holdSignal);
      const releaseSignals = () => {
        process.off('SIGINT', holdSignal);
        process.off('SIGTERM', holdSignal);
      };
      const { startStack } = await import('../stack/local-stack');
      const stack = await startStack({
        bundles: watcher?.bundles(defaultBundles()),
        dataDir,
        stationsFile: flags.stations && resolve(flags.stations),
        ridesPerMessage: flags.ridesPerMessage,
        concurrency: flags.concurrency,
        visibilityTimeoutSeconds: flags.visibilityTimeout,
        functionTimeoutSeconds: flags.functionTimeout,
        verbose: flags.verbose,
      })
        .catch(async (err: unknown) => {
          releaseSignals();
          await watcher?.close();
          throw err;
        });
      if (early) {
        releaseSignals();
        process.stdout.write(`\n${early}: closing the local stack…\n`);
        await watcher?.close();
        await stack.close();
        process.exitCode = early === 'SIGINT' ? 130 : 143;
        return;
      }
      const unpublish = writeEndpointsFile(dataDir, stack);
      // The handlers that close the stack are in place before the holding ones go and before the
      // banner that invites Ctrl-C: with no listener in between, a signal would kill the CLI (Node
      // restores the default action when a signal's last listener is removed). From the check of
      // `early` to here is one synchronous stretch, so no held signal can go unseen.
      const stopped = untilSignal(stack);
      releaseSignals();
      process.stdout.write(describeStack(stack, shownDir(dataDir)));
      if (watcher) {
        watcher.start({ ingest: stack.ingestPool, transform: stack.transformPool });
        process.stdout.write(['Watching (a change rebuilds through Nx; new invocations run the new bundle):', ...watcher.describe().map((line) => `  ${line}`), '', ''].join('\n'));
      }
      try {
        await stopped;
      } finally {
        await watcher?.close();
        unpublish();
      }
    });
}

/** The environment variables that point a function at a bundle of their own: not Nx's, not watched. */
const BUNDLE_OVERRIDES: Record<keyof BundlePaths, string> = { ingest: 'RYDES_INGEST_BUNDLE', transform: 'RYDES_TRANSFORM_BUNDLE' };

async function prepareWatch(): Promise<BundleWatcher> {
  const skip = (Object.keys(BUNDLE_OVERRIDES) as Array<keyof BundlePaths>).filter((key) => process.env[BUNDLE_OVERRIDES[key]]);
  for (const key of skip) process.stdout.write(`--watch: ${BUNDLE_OVERRIDES[key]} is set, so the ${key} function's bundle is not watched.\n`);
  const { BundleWatcher } = await import('../stack/watch');
  return BundleWatcher.prepare({ root: workspaceRoot(), skip, write: (line) => process.stdout.write(`${clock()} ${line}`) });
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
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
      if (line !== last) process.stdout.write(`${clock()} ${line}\n`);
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
