/**
 * `out/summary.json`: the run summary in machine-readable form, for scripts and the run report
 * (`out/report.html`). The shape is a contract: add fields, never rename or remove one.
 * `rydes run` writes it after the merge; `rydes report OUT_DIR` reads it.
 */
export const SUMMARY_FILE = 'summary.json';
export const SUMMARY_VERSION = 1;

export type FileStatus =
  /** Every valid ride of the file is in processed/ (rejects counted). */
  | 'done'
  /** The file failed as a whole (its manifest has `error`, or it sits in the ingest DLQ). */
  | 'failed'
  /** The run ended (stall, signal) before every chunk was written. */
  | 'incomplete'
  /** The same bytes were given again: processed once, under the first file's key. */
  | 'duplicate'
  /**
   * The raw object was deleted before ingest read all of it: every ride read was written (or
   * rejected); `notRead` rides were never read. Not a loss, nothing in a DLQ, nothing retries it.
   */
  | 'source-deleted';

export interface FileSummary {
  /** The path the user gave. */
  path: string;
  /** The raw/ key it was uploaded to (also the `source` column of rides.csv). */
  key: string;
  etag?: string;
  bytes: number;
  status: FileStatus;
  total: number;
  valid: number;
  rejected: number;
  rowsWritten: number;
  /** Rides never read because the file failed part-way (0 when done), e.g. its source was deleted mid-run. */
  notRead?: number;
  /** First line of the failure, when status is failed or incomplete. */
  error?: string;
  /** Where the full function log of a failure is kept. */
  logFile?: string;
  /** status `duplicate`: the FILE (path) with the same bytes, processed under the same key. */
  duplicateOf?: string;
}

/** A function that failed at least once during the run (a cold start, a handler error, a timeout). */
export interface FunctionErrorSummary {
  /** `ingest-fn` or `transform-fn`. */
  function: string;
  /** Failed invocations (ingest: attempts that failed; transform: batches with a failure). */
  failures: number;
  /** The first error line the function logged. */
  firstError: string;
  /** Where its full log is kept (absent with --verbose: the log went to stderr). */
  logFile?: string;
}

/**
 * A file in the ingest DLQ, as Lambda's invocation record tells it (AWS Lambda Developer Guide,
 * "Capturing records of Lambda asynchronous invocations"): which file, why, how often it ran.
 */
export interface IngestDlqFile {
  /** The raw/ key of the S3 event (or continuation) that failed. */
  key: string;
  /** `errorType: errorMessage` of the last attempt. */
  error?: string;
  /** The FILE the user gave for that key, when it is one of this run's. */
  path?: string;
  /** `RetriesExhausted` or `EventAgeExceeded` (requestContext.condition). */
  condition?: string;
  /** requestContext.approximateInvokeCount. */
  attempts?: number;
  errorType?: string;
  errorMessage?: string;
  requestId?: string;
  /** The continuation part, when a continuation of the file failed (not its first invocation). */
  part?: number;
}

/**
 * The local event source's own errors (sqs-consumer's `error`: a ReceiveMessage or delete that
 * failed, retried by the next poll; `processing_error`: a batch handler that threw). On AWS the
 * event source mapping's equivalents are not visible to the CLI.
 */
export interface EventSourceSummary {
  pollErrors: number;
  processingErrors: number;
  /** The last of either, `name: message`. */
  lastError?: string;
  /** Where every one of them is logged (one JSON line each). */
  logFile?: string;
}

export interface TimelinePoint {
  /** Seconds since the run started. */
  t: number;
  ingested: number;
  written: number;
  inFlightMessages: number;
  /** How far the ingest had read the run's files, bytes (local runs: the local S3's count). */
  bytesRead?: number;
}

export interface RunSummaryFile {
  version: typeof SUMMARY_VERSION;
  ok: boolean;
  /** Why the run failed, one per entry; empty when ok. */
  reasons: string[];
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  settings: {
    ridesPerMessage: number;
    concurrency: number;
    /** The catalogue's path, or `bundled` for the default NYC stations. */
    stations: string;
    stationCount?: number;
    inventory?: string;
    requiredElements?: string[];
    chaos?: string;
    sample?: { rides: number; seed: number };
  };
  files: FileSummary[];
  totals: {
    files: number;
    ridesRead: number;
    valid: number;
    rejected: number;
    rowsWritten: number;
    lostRides: number;
    /** Rides with an empty groundstation (no station covers them; inventory runs only). */
    unmatched?: number;
  };
  dlq: {
    fanout: number;
    ingest: number;
    /** Decoded fan-out DLQ messages: which chunk of which source. */
    fanoutMessages: Array<{ source: string; etag: string; chunk: number; rides: number }>;
    /** Files whose ingest failed for good, with the reason from the invocation record. */
    ingestFiles: IngestDlqFile[];
  };
  retries: {
    ingestInvocations: number;
    transformRedeliveries: number;
    sdk?: { S3: number; SQS: number };
  };
  faults?: Record<string, number>;
  /** Seconds per phase: start, upload, pipeline, download, merge (and report when built). */
  phases: Record<string, number>;
  wallSeconds: number;
  ridesPerSecond: number;
  /** Progress samples taken while the run went on (one per completion check). */
  timeline: TimelinePoint[];
  /** Functions that failed at least once; empty when none did. */
  functionErrors?: FunctionErrorSummary[];
  /** The transform's event source: receive/delete and batch-handler errors (zeros when none). */
  eventSource?: EventSourceSummary;
  /** Rides never read because a source was deleted part-way (0 when none was). */
  notRead?: number;
}
