/** Base class of the transform function's errors. */
export class TransformError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The station catalogue could not be read or parsed: every message of the batch would fail. */
export class StationCatalogueError extends TransformError {
  constructor(readonly uri: string, cause: unknown) {
    super(
      `station catalogue ${uri} is unusable: ${cause instanceof Error ? cause.message : String(cause)}; ` +
        'fix or replace the object (GHCN ghcnd-stations.txt, CSV id,latitude,longitude or JSON), or unset STATIONS_URI to use the bundled stations',
      { cause },
    );
  }
}

/** The station inventory could not be read or parsed: every message of the batch would fail. */
export class StationInventoryError extends TransformError {
  constructor(readonly uri: string, cause: unknown) {
    super(
      `station inventory ${uri} is unusable: ${cause instanceof Error ? cause.message : String(cause)}; ` +
        'fix or replace the object (NOAA ghcnd-inventory.txt or CSV id,element,firstyear,lastyear), or unset INVENTORY_URI to use the nearest station whatever it reports',
      { cause },
    );
  }
}

/**
 * The station lookup was still being built when the invocation neared its timeout. The batch is
 * handed back (SQS redelivers it after the visibility timeout) while this execution environment
 * keeps building: a timeout would kill the environment and throw the half-built lookup away, so
 * that under a slow cold start every attempt would start over and time out again.
 */
export class StationsNotReadyError extends TransformError {
  constructor(readonly waitedMs: number) {
    super(
      `the station lookup is still being built after ${waitedMs} ms, too close to the function timeout; the batch is handed back for redelivery ` +
        'and this execution environment keeps building it (a larger function timeout avoids the retry)',
    );
  }
}
