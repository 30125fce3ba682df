import { RydesCliError } from '../errors';

/** An input of `rydes trainset` is missing or not what it should be; the message names the file and the place. */
export class TrainsetInputError extends RydesCliError {
  override name = 'TrainsetInputError';
  constructor(readonly file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
