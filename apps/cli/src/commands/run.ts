import type { Command } from 'commander';
import { resolve } from 'node:path';
import { DEFAULT_RIDES_PER_MESSAGE, RIDE_FILE_SUFFIXES } from '@rydes/ride-model';
import { EXIT, RydesCliError } from '../errors';
import { FaultInjector, FAULTS, parseChaos } from '../chaos/spec';
import { LOCAL_FUNCTION_TIMEOUT_SECONDS } from '../stack/names';
import { CORES, elementList, integer } from './options';

interface RunFlags {
  stations?: string;
  inventory?: string;
  elements?: string[];
  ridesPerMessage: number;
  concurrency: number;
  out: string;
  force?: boolean;
  dataDir?: string;
  stallTimeout: number;
  rides: number;
  seed: number;
  visibilityTimeout?: number;
  functionTimeout?: number;
  verbose?: boolean;
  chaos?: string;
}

export function register(program: Command): void {
  program
    .command('run')
    .description(
      'Run the whole pipeline on this machine: embedded S3 and SQS servers, the built ingest and ' +
        'transform bundles, every FILE (or a generated sample) to CSV in --out.',
    )
    .argument('[FILE...]', `ride files (${RIDE_FILE_SUFFIXES.join(', ')}); none: a generated sample`)
    .option('--stations <FILE>', 'station catalogue (GHCN ghcnd-stations.txt, CSV or JSON) for STATIONS_URI')
    .option('--inventory <FILE>', "NOAA ghcnd-inventory.txt (or CSV id,element,firstyear,lastyear) for INVENTORY_URI: a ride's station is the nearest reporting --elements in the ride's year")
    .option('--elements <LIST>', 'GHCN-Daily elements a station must report in the ride\'s year, with --inventory (REQUIRED_ELEMENTS)', elementList, ['TMIN', 'TMAX', 'PRCP'])
    .option('--rides-per-message <N>', 'rides per fan-out message (1 = one message per ride)', integer('--rides-per-message', 1, 10_000), DEFAULT_RIDES_PER_MESSAGE)
    .option('--concurrency <N>', 'transform pollers and execution environments', integer('--concurrency', 1, 64), CORES)
    .option('--out <DIR>', 'where processed/, rejects/, manifests/, rides.csv and summary.json go (a new, empty or earlier rydes folder)', 'out')
    .option('--force', '--out may be a non-empty folder rydes did not create: write beside its files (never deleting them)')
    .option('--data-dir <DIR>', 'keep the bucket and function logs here (default: a temp dir, removed)')
    .option('--stall-timeout <S>', 'give up after this many seconds without progress', integer('--stall-timeout', 1), 60)
    .option('--rides <N>', 'rides in the generated sample (no FILE)', integer('--rides', 1), 200_000)
    .option('--seed <N>', 'seed of the generated sample', integer('--seed', 0), 1)
    .option(
      '--function-timeout <S>',
      `transform timeout (default ${LOCAL_FUNCTION_TIMEOUT_SECONDS}; deployed 60); the deployed relations follow it: ingest timeout 15 × S, ` +
        'its hand-off margin S, fan-out visibility timeout 6 × S',
      integer('--function-timeout', 1, 900),
    )
    .option(
      '--visibility-timeout <S>',
      'fan-out visibility timeout (default 6 × the function timeout, as deployed; at least the function timeout, as AWS requires)',
      integer('--visibility-timeout', 1, 43_200),
    )
    .option('--verbose', "show the functions' JSON logs on stderr (default: <data dir>/logs/) and stack traces of errors")
    .option(
      '--chaos <SPEC>',
      'inject faults beneath the functions: comma-separated NAME=RATE (probability 0..1) and seed=N, e.g. ' +
        's3-put-error=0.1,s3-get-error=0.05,sqs-send-error=0.05,transform-crash=0.05,duplicate-delivery=0.05,seed=7. ' +
        `NAME is one of ${FAULTS.join(', ')}. Transient: s3-put-error / s3-get-error (a function's S3 write / GET ` +
        'answered 503), sqs-send-error (SendMessage(Batch) answered 503), transform-crash (the environment dies after ' +
        'the handler ran, response lost), duplicate-delivery (a processed message delivered again); the run must still ' +
        'write every valid ride once. Permanent: poison-message (a message whose processed/ object is always refused ' +
        "with 403, so it ends in the DLQ; exit 1, the summary checks the lost rides are the DLQ's). The summary lists " +
        'faults injected and retries spent by kind',
    )
    .action(async (files: string[], flags: RunFlags, command: Command) => {
      if (!flags.inventory && command.getOptionValueSource('elements') === 'cli') {
        throw new RydesCliError('--elements needs --inventory: without an inventory every station is a candidate.', EXIT.USAGE, 'Add --inventory ghcnd-inventory.txt, or leave out --elements.');
      }
      // Before anything else: a typo in the spec should not cost a run first.
      const chaos = flags.chaos ? new FaultInjector(parseChaos(flags.chaos)) : undefined;
      const { runPipeline } = await import('../run/run-pipeline');
      const result = await runPipeline({
        files,
        sample: files.length ? undefined : { rides: flags.rides, seed: flags.seed },
        outDir: flags.out,
        force: flags.force,
        dataDir: flags.dataDir && resolve(flags.dataDir),
        stationsFile: flags.stations,
        inventoryFile: flags.inventory,
        requiredElements: flags.inventory ? flags.elements : undefined,
        ridesPerMessage: flags.ridesPerMessage,
        concurrency: flags.concurrency,
        stallTimeoutSeconds: flags.stallTimeout,
        visibilityTimeoutSeconds: flags.visibilityTimeout,
        functionTimeoutSeconds: flags.functionTimeout,
        verbose: flags.verbose,
        chaos,
        chaosSpec: flags.chaos,
      });
      process.exitCode = result.exitCode;
    });
}
