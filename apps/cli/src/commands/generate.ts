import type { Command } from 'commander';
import { generateRides, RIDE_FILE_SUFFIXES, rideFileSuffix, writeRides } from '@rydes/ride-model';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { InvalidOptionError, OutputError } from '../errors';
import { describeFsError } from '../run/inputs';
import { decimal, integer } from './options';

const SHAPES = ['array', 'travel_data', 'concatenated', 'ndjson'] as const;
type Shape = (typeof SHAPES)[number];

interface GenerateFlags {
  rides: number;
  seed: number;
  shape: Shape;
  gzip?: boolean;
  invalidRate: number;
  output: string;
}

function shape(value: string): Shape {
  if (!(SHAPES as readonly string[]).includes(value)) throw new InvalidOptionError('--shape', value, SHAPES.join('|'));
  return value as Shape;
}

export function register(program: Command): void {
  program
    .command('generate')
    .description('Write seeded sample rides (the same seed gives the same file) in any accepted input shape.')
    .requiredOption('-o, --output <FILE>', 'file to write')
    .option('--rides <N>', 'number of rides', integer('--rides', 0), 200_000)
    .option('--seed <N>', 'seed', integer('--seed', 0), 1)
    .option('--shape <SHAPE>', `input shape: ${SHAPES.join('|')}`, shape, 'array' as Shape)
    .option('--gzip', 'gzip the output (name it .json.gz or .ndjson.gz)')
    .option('--invalid-rate <R>', 'fraction of rides made invalid on purpose, 0–1', decimal('--invalid-rate', 0, 1), 0)
    .action(async (flags: GenerateFlags) => {
      // Opened before generating: a bad path fails in a second with one line, not a stack trace.
      const handle = await open(flags.output, 'w').catch((err: NodeJS.ErrnoException) => {
        throw new OutputError(flags.output, `cannot write: ${describeFsError(err)}.`, 'Pass -o a path in an existing, writable folder.');
      });
      if (!rideFileSuffix(flags.output)) {
        process.stderr.write(`rydes: note: ${flags.output} does not end in ${RIDE_FILE_SUFFIXES.join(', ')}; rydes run and the S3 trigger read only those.\n`);
      }
      const rides = generateRides({ count: flags.rides, seed: flags.seed, invalidRate: flags.invalidRate });
      await pipeline(writeRides(rides, { shape: flags.shape, gzip: Boolean(flags.gzip) }), handle.createWriteStream());
      process.stderr.write(`wrote ${flags.rides} rides (${flags.shape}${flags.gzip ? ', gzip' : ''}, seed ${flags.seed}) to ${flags.output}\n`);
    });
}
