/** Base class of every error the infra app throws; catch this to handle them all. */
export class InfraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A `-c key=value` context value that cannot be used (wrong type, out of range). */
export class InvalidContextError extends InfraError {
  constructor(
    readonly key: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`Context "${key}" is ${JSON.stringify(value)}; expected ${expected}. Fix: cdk synth -c ${key}=<${expected}>`);
  }
}

/** A function bundle folder that `Code.fromAsset` would reject or deploy empty. */
export class MissingBundleError extends InfraError {
  constructor(
    readonly project: string,
    readonly directory: string,
  ) {
    super(
      `Function bundle ${directory}/main.js not found. Fix: build it first with "nx build ${project}" ` +
        `(nx run infra:synth and nx deploy infra do this for you).`,
    );
  }
}

/** The `stationsFile` context names a file that does not exist. */
export class MissingStationsFileError extends InfraError {
  constructor(readonly path: string) {
    super(`Context "stationsFile" is ${JSON.stringify(path)}, but no file exists there. Fix: pass an existing GHCN, CSV or JSON catalogue path.`);
  }
}
