/** Base class of every error the `rydes` CLI raises on purpose; main.ts prints its message alone. */
export class RydesCliError extends Error {
  override name = 'RydesCliError';
  /** Process exit code when this error ends the CLI. */
  readonly exitCode: number = 1;
}

/** A built function bundle is missing: the run needs `nx build ingest-fn transform-fn` first. */
export class BundleNotFoundError extends RydesCliError {
  override name = 'BundleNotFoundError';
  constructor(readonly functionName: string, readonly path: string) {
    super(
      `${functionName}: no bundle at ${path}. Build it first: npx nx build ${functionName} ` +
        `(npm start builds everything it runs).`,
    );
  }
}

/** A command-line value is out of range or unparsable. */
export class InvalidOptionError extends RydesCliError {
  override name = 'InvalidOptionError';
  constructor(readonly option: string, readonly value: string, expected: string) {
    super(`${option} ${JSON.stringify(value)}: expected ${expected}.`);
  }
}

/** An input FILE named on the command line cannot be read. */
export class InputFileError extends RydesCliError {
  override name = 'InputFileError';
  constructor(readonly path: string, reason: string) {
    super(`${path}: ${reason}. Pass an existing .json, .ndjson or .json.gz file.`);
  }
}

/** The run stopped making progress before every chunk reached processed/. */
export class StallError extends RydesCliError {
  override name = 'StallError';
  constructor(readonly seconds: number, missing: string) {
    super(`no progress for ${seconds} s (--stall-timeout). Missing: ${missing}`);
  }
}
