import type { Command } from 'commander';
import { resolve } from 'node:path';
import { buildTrainingSet, DEFAULT_MEMORY_LIMIT, formatCoverage } from '../trainset/build-training-set';
import { decimal, integer } from './options';

interface TrainsetFlags {
  rides: string;
  weather: string[];
  out: string;
  seed: number;
  testFraction: number;
  dropIncomplete?: boolean;
  memoryLimit: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command('trainset')
    .description(
      "The data scientist's preparation as one command: join a run's rides.csv with NOAA GHCN-Daily TMIN, TMAX and PRCP " +
        "of each ride's groundstation and date (Q_FLAG empty, repeated values averaged), split by a seeded hash into " +
        'train.csv and test.csv, and report coverage (printed and coverage.json).',
    )
    .requiredOption('--rides <FILE>', 'rides.csv written by rydes run (processed/ CSV columns)')
    .requiredOption('--weather <FILE>', 'GHCN-Daily CSV (ID,DATE,ELEMENT,DATA_VALUE,…; header or not; .gz or not); repeat for more years', collect)
    .requiredOption('--out <DIR>', 'where train.csv, test.csv and coverage.json go')
    .option('--seed <N>', 'seed of the split and shuffle', integer('--seed', 0), 0)
    .option('--test-fraction <F>', 'share of rides in test.csv, 0–1 (to 0.001)', decimal('--test-fraction', 0, 1), 0.1)
    .option('--drop-incomplete', 'write only rides with tmin_c, tmax_c and prcp_mm all present (default: keep, empty cells, as a left join)')
    .option(
      '--memory-limit <SIZE>',
      "DuckDB's buffer pool: it fills with read buffers up to this size and spills beyond it; the process peaks at about this plus 270 MB",
      DEFAULT_MEMORY_LIMIT,
    )
    .action(async (flags: TrainsetFlags) => {
      const outDir = resolve(flags.out);
      const coverage = await buildTrainingSet({
        ridesPath: resolve(flags.rides),
        weatherPaths: flags.weather.map((w) => resolve(w)),
        outDir,
        seed: flags.seed,
        testFraction: flags.testFraction,
        dropIncomplete: Boolean(flags.dropIncomplete),
        memoryLimit: flags.memoryLimit,
      });
      process.stdout.write(`${formatCoverage(coverage, outDir)}\n`);
    });
}
