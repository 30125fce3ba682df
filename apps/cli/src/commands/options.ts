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
