/**
 * Exit codes of `rydes` (documented in the README). The user-mistake codes follow BSD
 * sysexits.h, so scripts can tell "fix the command" from "fix the data" from "the run lost rides".
 */
export const EXIT = {
  OK: 0,
  /**
   * `run`: it finished but not every valid ride was written (lost rides, DLQ messages, a stall, a
   * failed file). Other commands: their check failed (an upload's ingest error, doctor's findings).
   */
  RIDES_LOST: 1,
  /** A flag or argument is wrong (unknown option, bad value, unsupported file suffix). */
  USAGE: 64,
  /** An input is malformed (a station catalogue or inventory that does not parse, an inventory covering no station). */
  DATA: 65,
  /** An input file does not exist or cannot be read. */
  NO_INPUT: 66,
  /** Something the run needs is missing (the built function bundles). */
  UNAVAILABLE: 69,
  /** A bug: an error rydes did not expect (`--verbose` shows the stack). */
  SOFTWARE: 70,
  /** The output cannot be created (--out not a directory, not writable, foreign, `/`). */
  CANT_CREATE: 73,
  /** Another run holds --out's lock: try again when it is done. */
  TEMP_FAIL: 75,
} as const;

/**
 * Base class of every error the `rydes` CLI raises on purpose: main.ts prints `rydes: <message>`
 * and, on a second line, `hint` (what to do); no stack unless `--verbose`.
 */
export class RydesCliError extends Error {
  override name = 'RydesCliError';
  constructor(
    message: string,
    /** Process exit code when this error ends the CLI. */
    readonly exitCode: number = EXIT.RIDES_LOST,
    /** What to do about it, one line. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A built function bundle is missing: the run needs `nx build ingest-fn transform-fn` first. */
export class BundleNotFoundError extends RydesCliError {
  override name = 'BundleNotFoundError';
  constructor(readonly functionName: string, readonly path: string) {
    super(`${functionName}: no bundle at ${path}.`, EXIT.UNAVAILABLE, `Build it first: npx nx build ${functionName} (npm start builds everything it runs).`);
  }
}

/** A command-line value is out of range or unparsable. */
export class InvalidOptionError extends RydesCliError {
  override name = 'InvalidOptionError';
  constructor(readonly option: string, readonly value: string, expected: string) {
    super(`${option} ${JSON.stringify(value)}: expected ${expected}.`, EXIT.USAGE);
  }
}

/** An input FILE named on the command line cannot be read. */
export class InputFileError extends RydesCliError {
  override name = 'InputFileError';
  constructor(readonly path: string, reason: string) {
    super(`${path}: ${reason}.`, EXIT.NO_INPUT, 'Pass an existing, readable ride file.');
  }
}

/** Input files whose names end in a suffix the pipeline's S3 trigger would ignore. */
export class UnsupportedInputError extends RydesCliError {
  override name = 'UnsupportedInputError';
  constructor(readonly paths: string[], accepted: readonly string[]) {
    super(
      `${paths.join(', ')}: not a ride file name; rydes reads files ending ${accepted.join(', ')}.`,
      EXIT.USAGE,
      `Rename the file (the content decides the shape and gzip, e.g. mv rides.txt rides.json).`,
    );
  }
}

/** The --stations catalogue is missing, unreadable or malformed. */
export class StationsFileError extends RydesCliError {
  override name = 'StationsFileError';
  /** `reason` may already start with the path (geo-index's messages name the source). */
  constructor(readonly path: string, reason: string, exitCode: number, hint: string) {
    super(`--stations ${reason.startsWith(path) ? reason : `${path}: ${reason}`}`, exitCode, hint);
  }
}

/** The --inventory file is missing, unreadable, malformed or covers none of the catalogue's stations. */
export class InventoryFileError extends RydesCliError {
  override name = 'InventoryFileError';
  /** `reason` may already start with the path (geo-index's messages name the source). */
  constructor(readonly path: string, reason: string, exitCode: number, hint: string) {
    super(`--inventory ${reason.startsWith(path) ? reason : `${path}: ${reason}`}`, exitCode, hint);
  }
}

/** --out (or an output file such as `generate -o`) cannot be used. */
export class OutputError extends RydesCliError {
  override name = 'OutputError';
  constructor(readonly path: string, reason: string, hint: string) {
    super(`${path}: ${reason}`, EXIT.CANT_CREATE, hint);
  }
}

/** Another `rydes run` (alive) holds the lock of the same --out. */
export class OutputLockedError extends RydesCliError {
  override name = 'OutputLockedError';
  constructor(readonly path: string, readonly pid: number, since: string) {
    super(
      `${path} is in use by another rydes run (PID ${pid}, since ${since}).`,
      EXIT.TEMP_FAIL,
      'Wait for it to finish, or pass another --out.',
    );
  }
}

/** The run stopped making progress before every chunk reached processed/. */
export class StallError extends RydesCliError {
  override name = 'StallError';
  constructor(readonly seconds: number) {
    super(`no progress for ${seconds} s (--stall-timeout)`, EXIT.RIDES_LOST);
  }
}
