/** Shared by the client factories; not part of the public surface (index.ts does not export it). */
export type Env = Record<string, string | undefined>;

/** The endpoint the SDK would use for a service, from the standard variables (service first). */
export function customEndpoint(env: Env, service: 'S3' | 'SQS' | 'LAMBDA'): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

/**
 * Credentials come from the SDK's default chain; only when an env object other than
 * process.env carries keys (tests, the local stack) are they passed explicitly.
 */
export function localCredentials(env: Env, endpoint: string | undefined) {
  if (env === process.env || !endpoint || !env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return {};
  return { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } };
}

/** The region of every client: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1. */
export function regionOf(env: Env): string {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
}

/**
 * Attempts per SDK call (the first included): `AWS_MAX_ATTEMPTS` when set, else
 * {@link DEFAULT_MAX_ATTEMPTS}. The SDK's standard retry mode retries throttling, 5xx and network
 * errors with backoff; it is the only retry of a whole call in this code base.
 */
export function maxAttemptsOf(env: Env): number {
  const raw = Number(env.AWS_MAX_ATTEMPTS);
  return Number.isInteger(raw) && raw >= 1 ? raw : DEFAULT_MAX_ATTEMPTS;
}

/** The SDK's default is 3; 5 rides out a few seconds of throttling or a server restart. */
export const DEFAULT_MAX_ATTEMPTS = 5;
