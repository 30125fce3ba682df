import type { Command } from 'commander';
import { generateRides, writeRides } from '@rydes/ride-model';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { InvalidOptionError } from '../errors';
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
    .option('--gzip', 'gzip the output (name it .json.gz)')
    .option('--invalid-rate <R>', 'fraction of rides made invalid on purpose, 0–1', decimal('--invalid-rate', 0, 1), 0)
    .action(async (flags: GenerateFlags) => {
      const rides = generateRides({ count: flags.rides, seed: flags.seed, invalidRate: flags.invalidRate });
      await pipeline(writeRides(rides, { shape: flags.shape, gzip: Boolean(flags.gzip) }), createWriteStream(flags.output));
      process.stderr.write(`wrote ${flags.rides} rides (${flags.shape}${flags.gzip ? ', gzip' : ''}, seed ${flags.seed}) to ${flags.output}\n`);
    });
}
