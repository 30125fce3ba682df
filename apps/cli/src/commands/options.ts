import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { isGhcnElement } from '@rydes/geo-index';
import { DEFAULT_STACK_NAME } from '@rydes/ride-model';
import { DEFAULT_DATA_DIR } from '../stack/connect';
import { InvalidOptionError } from '../errors';

/** commander parser for an integer in [min, max]. */
export function integer(option: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      throw new InvalidOptionError(option, value, `an integer from ${min} to ${max}`);
    }
    return parsed;
  };
}

/** commander parser for a number in [min, max]. */
export function decimal(option: string, min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new InvalidOptionError(option, value, `a number from ${min} to ${max}`);
    }
    return parsed;
  };
}

export const CORES = availableParallelism();

/**
 * commander parser for a comma-separated list of GHCN-Daily elements (`TMIN,TMAX,PRCP`): each one
 * NOAA defines (a typo such as TMNI would match no station), at least one, duplicates dropped.
 */
export function elementList(value: string): string[] {
  const elements = value.split(',').map((e) => e.trim().toUpperCase());
  const bad = elements.find((e) => !isGhcnElement(e));
  if (bad !== undefined) {
    const which = bad === '' ? 'an empty element' : `"${bad}" is not one`;
    throw new InvalidOptionError('--elements', value, `comma-separated GHCN-Daily elements (NOAA's readme.txt, section III) such as TMIN,TMAX,PRCP; ${which}`);
  }
  return [...new Set(elements)];
}

/**
 * The options of the commands that check a stack (`rydes doctor`, `rydes smoke`): a deployed one
 * by name and region, or with --local (`local`: what the command does then) the one `rydes up`
 * runs, found through its data dir.
 * @example
 * stackOptions(program.command('doctor'), 'check the stack started by "rydes up" instead').action(run);
 */
export function stackOptions(command: Command, local: string): Command {
  return command
    .option('--stack <NAME>', 'CloudFormation stack name', DEFAULT_STACK_NAME)
    .option('--region <REGION>', 'AWS region (default: AWS_REGION or your profile)')
    .option('--local', local)
    .option('--data-dir <DIR>', 'with --local: the data dir of "rydes up"', DEFAULT_DATA_DIR);
}
