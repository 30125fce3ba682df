#!/usr/bin/env node
/*
 * The `rydes` executable (dist/apps/cli/main.js): installs the CLI's code cache (compile-cache.ts),
 * then loads the CLI itself (cli.ts, built beside it as cli.js) through it, so the bundle and the
 * packages a command requires compile from the cached code of the last start of that command.
 * Exports what cli.js exports (`main`, for bin/rydes.cjs).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

const cli = require(cliBundle) as typeof import('./cli');
export const { main, createProgram, reportError } = cli;

if (require.main === module) void main(process.argv);
