#!/usr/bin/env node
/*
 * The `rydes` executable (dist/apps/cli/main.js): installs the CLI's code cache (compile-cache.ts),
 * then loads the CLI itself (cli.ts, built beside it as cli.js) through it, so the bundle and the
 * packages a command requires compile from the cached code of the last start of that command.
 * Exports what cli.js exports (`main`, for bin/rydes.cjs).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleCacheKey, cliCodeCacheFolder, installCompileCache } from './compile-cache';

const cliBundle = join(__dirname, 'cli.js');

if (!process.env.RYDES_NO_CODE_CACHE) {
  try {
    // One cache per command: each command loads and runs other code.
    const command = /^[a-z][a-z-]*$/.test(process.argv[2] ?? '') ? process.argv[2] : '-';
    installCompileCache(cliCodeCacheFolder(), bundleCacheKey(cliBundle, command));
  } catch {
    // Without the cache the CLI compiles from source as usual.
  }
}

// s3rver bundled into one file by `cli:build-s3rver`, for its worker thread to load at each start
// of the local stack (S3RVER_BUNDLE_VAR of libs/local-aws, named here: importing the lib would load
// the local servers' packages before any command needs them).
const s3rverBundle = join(__dirname, '..', 'cli-s3rver', 's3rver-bundle.js');
if (!process.env.RYDES_S3RVER_BUNDLE && existsSync(s3rverBundle)) process.env.RYDES_S3RVER_BUNDLE = s3rverBundle;

const cli = require(cliBundle) as typeof import('./cli');
export const { main, createProgram, reportError } = cli;

/** Exits once stdout and stderr have written everything (pipes are asynchronous on some systems). */
function exitWhenWritten(): void {
  const pending = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0);
  if (pending.length === 0) return void process.exit();
  let left = pending.length;
  for (const stream of pending) stream.once('drain', () => --left === 0 && process.exit());
}

if (require.main === module) {
  void main(process.argv).then(() => {
    // `rydes run` has closed all it opened when its action returns (the stack, its threads, temp
    // folders): it exits then, not after Node has freed every heap (tens of ms after a large run).
    // Other commands end when nothing is left to wait for, as usual.
    if (process.argv[2] === 'run') exitWhenWritten();
  });
}
