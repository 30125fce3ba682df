import { RAW_PREFIX, RIDE_FILE_SUFFIXES, rideFileSuffix } from '@rydes/ride-model';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputFileError, UnsupportedInputError } from '../errors';

/** Hex characters of the content hash in a raw/ key: 48 bits, no accidental collision in practice. */
export const KEY_HASH_LENGTH = 12;

/** One FILE of `rydes run`, checked and identified by its bytes. */
export interface RunInput {
  /** The path the user gave. */
  path: string;
  /** `raw/<name-stem>-<first 12 hex of sha256(bytes)><suffix>`: the `source` column of rides.csv. */
  key: string;
  bytes: number;
  sha256: string;
  /** Same bytes as an earlier FILE (that one's path): uploaded and processed once, under the same key. */
  duplicateOf?: string;
}

/**
 * The raw/ key of a file: its name without the suffix (characters other than letters, digits,
 * `.`, `_` and `-` become `_`), a dash, the first 12 hex characters of the SHA-256 of its bytes,
 * and the suffix. Distinct files never share a key (`a/rides.json` and `b/rides.json` differ in
 * their hash), a key never names other content, and the same bytes get the same key in every
 * run, so a re-run over a kept --data-dir rewrites the same outputs.
 * @example
 * rawKeyOf('/tmp/my rides.ndjson.gz', '3f2a9c1b7d4e…'); // 'raw/my_rides-3f2a9c1b7d4e.ndjson.gz'
 */
export function rawKeyOf(path: string, sha256: string): string {
  const name = basename(path);
  const suffix = rideFileSuffix(name) ?? '';
  const stem = name.slice(0, name.length - suffix.length).replace(/[^\p{L}\p{N}._-]+/gu, '_') || 'rides';
  return `${RAW_PREFIX}${stem}-${sha256.slice(0, KEY_HASH_LENGTH)}${suffix}`;
}

/**
 * Checks every FILE before anything starts: a ride-file suffix (all wrong names reported at
 * once, with the accepted suffixes), a regular readable file; then hashes each (one streamed
 * read) and gives it its raw/ key. A FILE whose bytes equal an earlier one is marked
 * `duplicateOf` it.
 * @throws UnsupportedInputError (exit 64) or InputFileError (exit 66).
 */
export async function prepareInputs(files: string[]): Promise<RunInput[]> {
  const unsupported = files.filter((file) => !rideFileSuffix(basename(file)));
  if (unsupported.length) throw new UnsupportedInputError(unsupported, RIDE_FILE_SUFFIXES);
  const inputs: RunInput[] = [];
  const byHash = new Map<string, RunInput>();
  for (const path of files) {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new InputFileError(path, describeFsError(err));
    });
    if (!info.isFile()) throw new InputFileError(path, info.isDirectory() ? 'a directory, not a file' : 'not a regular file');
    const sha256 = await hashFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new InputFileError(path, describeFsError(err));
    });
    const first = byHash.get(sha256);
    const input: RunInput = { path, key: rawKeyOf(first?.path ?? path, sha256), bytes: info.size, sha256, ...(first && { duplicateOf: first.path }) };
    if (!first) byHash.set(sha256, input);
    inputs.push(input);
  }
  return inputs;
}

/**
 * The run input of a generated sample: its key from the hash taken while it was written.
 * @example
 * sampleInput(await generateSample(1000, 1)).key; // 'raw/rides-1000-seed1-<12 hex>.json'
 */
export function sampleInput(sample: { file: string; bytes: number; sha256: string }): RunInput {
  return { path: sample.file, key: rawKeyOf(sample.file, sample.sha256), bytes: sample.bytes, sha256: sample.sha256 };
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(resolve(path)), hash);
  return hash.digest('hex');
}

/** A file-system error as the few words a person needs. */
export function describeFsError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a parent of it is not a directory';
    case 'EISDIR':
      return 'a directory, not a file';
    default:
      return err.message;
  }
}
