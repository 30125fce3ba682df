import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';

/** The function bundles as Lambda runs them (`nx build`; this project's test target builds them first). */
export const BUNDLES = {
  ingest: join(__dirname, '../../../../dist/apps/ingest-fn/main.js'),
  transform: join(__dirname, '../../../../dist/apps/transform-fn/main.js'),
};

/**
 * Requires a bundle afresh, so it reads `process.env` at module scope again (as a new Lambda
 * execution environment does), and returns its exports.
 */
export function loadBundle<T>(path: string): T {
  if (!existsSync(path)) throw new Error(`${path} is missing: run "npx nx run-many -t build -p ingest-fn transform-fn" (nx test e2e does)`);
  let loaded: T | undefined;
  jest.isolateModules(() => {
    loaded = require(path);
  });
  return loaded as T;
}

/** The parts of a Lambda context the functions read. */
export function contextFor(functionName: string, requestId: string): Context {
  const none = () => undefined;
  return {
    functionName,
    awsRequestId: requestId,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'e2e',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 900_000,
    done: none,
    fail: none,
    succeed: none,
  };
}
