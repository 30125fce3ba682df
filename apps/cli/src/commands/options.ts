import { availableParallelism } from 'node:os';
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

/** commander parser for a comma-separated list of GHCN elements (`TMIN,TMAX,PRCP`). */
export function elementList(value: string): string[] {
  const elements = value.split(',').map((e) => e.trim().toUpperCase());
  const bad = elements.find((e) => !/^[A-Z0-9]{4}$/.test(e));
  if (bad !== undefined) throw new InvalidOptionError('--elements', value, 'comma-separated 4-character GHCN elements such as TMIN,TMAX,PRCP');
  return elements;
}
