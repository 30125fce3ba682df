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
