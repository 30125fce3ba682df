import { ConfigError } from './errors';

type Env = Record<string, string | undefined>;

/**
 * A required environment variable; throws `"<NAME> is required"` when unset or blank, so a
 * misconfigured function fails at cold start with the variable's name.
 * @example
 * const queueUrl = requiredEnv(process.env, 'OUTPUT_QUEUE');
 */
export function requiredEnv(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, 'is required (set it in the function configuration)');
  return value;
}

/**
 * An optional positive integer variable, `fallback` when unset.
 * @example
 * const ridesPerMessage = positiveIntEnv(process.env, 'RIDES_PER_MESSAGE', 100);
 */
export function positiveIntEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ConfigError(name, `must be a positive integer, got "${raw}"`);
  return Number(raw);
}
