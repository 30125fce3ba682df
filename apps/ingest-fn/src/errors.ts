/** Base class of the ingest function's errors. */
export class IngestError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A ride file could not be ingested completely; its manifest already records the error. */
export class IngestFileError extends IngestError {
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly manifestKey: string | undefined,
    cause: unknown,
  ) {
    const where = manifestKey ? `see s3://${bucket}/${manifestKey}` : 'no manifest could be written';
    super(
      `ingesting s3://${bucket}/${key} failed: ${cause instanceof Error ? cause.message : String(cause)} (${where}); ` +
        'the invocation is retried; if the file itself is broken, fix it and upload it again',
      { cause },
    );
  }
}

/** Some files of an S3 event failed; the others were ingested. Thrown so AWS retries the event. */
export class IngestEventError extends IngestError {
  constructor(readonly failures: IngestFileError[]) {
    super(`${failures.length} ride file(s) of the event failed: ${failures.map((f) => f.message).join(' | ')}`, { cause: failures[0] });
  }
}
