#!/usr/bin/env node
/*
 * The `rydes` executable (dist/apps/cli/main.js): installs the CLI's code cache (compile-cache.ts),
 * then loads the CLI itself (cli.ts, built beside it as cli.js) through it, so the bundle and the
 * packages a command requires compile from the cached code of the last start of that command.
 * Exports what cli.js exports (`main`, for bin/rydes.cjs).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCompileCache } from './compile-cache';
import { PROFILING_FLAG } from './lambda/protocol';

const cliBundle = join(__dirname, 'cli.js');

/**
 * The cache's key: the CLI bundle's bytes, the node flags (without the profiling ones, which do
 * not change what V8 compiles) and the command (each command loads and runs other code).
 */
function cacheKey(): string {
  const command = /^[a-z][a-z-]*$/.test(process.argv[2] ?? '') ? process.argv[2] : '-';
  const flags = process.execArgv.filter((flag) => !PROFILING_FLAG.test(flag)).join(' ');
  return `${createHash('sha1').update(readFileSync(cliBundle)).digest('hex')}\0${flags}\0${command}`;
}

if (!process.env.RYDES_NO_CODE_CACHE) {
  try {
    installCompileCache(join(tmpdir(), `rydes-code-cache-${process.getuid?.() ?? 'user'}`, 'cli'), cacheKey());
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

if (require.main === module) void main(process.argv);
