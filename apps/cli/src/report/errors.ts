import { RydesCliError } from '../errors';

/** A file of the run's output could not be read for the report. */
export class ReportInputError extends RydesCliError {
  override name = 'ReportInputError';
  constructor(readonly file: string, reason: string) {
    super(`${file}: ${reason}. The report reads what "rydes run" writes to --out (summary.json, rides.csv or processed/, rejects/, manifests/).`);
  }
}

/** The folder given to "rydes report" holds no run output at all. */
export class NoRunOutputError extends RydesCliError {
  override name = 'NoRunOutputError';
  constructor(readonly dir: string) {
    super(`${dir}: no summary.json, rides.csv, processed/ or manifests/ here. Pass the --out folder of a "rydes run" (default ./out).`);
  }
}
