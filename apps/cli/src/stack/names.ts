/** Names and settings of the local stack; mirror apps/infra/src/pipeline-stack.ts where they can. */
export const BUCKET = 'rydes-local';
export const FANOUT_QUEUE = 'rydes-fanout';
export const FANOUT_DLQ = 'rydes-fanout-dlq';
export const INGEST_DLQ = 'rydes-ingest-dlq';
export const INGEST_FUNCTION = 'rydes-ingest';
export const TRANSFORM_FUNCTION = 'rydes-transform';

/** Node.js major of the deployed functions (apps/infra `LAMBDA_RUNTIME`, nodejs24.x; an infra spec pins the two together). */
export const DEPLOYED_NODE_MAJOR = 24;

/** As deployed: ingest 15 min / 1024 MB, transform 60 s / 512 MB. */
export const INGEST_TIMEOUT_SECONDS = 15 * 60;
export const INGEST_MEMORY_MB = 1024;
export const TRANSFORM_TIMEOUT_SECONDS = 60;
export const TRANSFORM_MEMORY_MB = 512;

/** Receives before the redrive policy moves a fan-out message to its DLQ (as deployed). */
export const MAX_RECEIVE_COUNT = 5;

/**
 * Fan-out visibility timeout, s. The deployed queue uses 6 × the transform timeout (+ batching
 * window) = 360+ s, AWS's guidance. Locally a failed message should come back in seconds, not
 * minutes (5 receives ≈ 50 s to the DLQ), so the local default is 10 s and the local transform
 * timeout is capped at the visibility timeout: an invocation never outlives its messages'
 * invisibility, so no message is delivered twice while in flight.
 */
export const LOCAL_VISIBILITY_TIMEOUT_SECONDS = 10;

/**
 * Keys asked for per ListObjects page by the CLI's own listings (completion check, ./out mirror).
 * Real S3 returns at most 1,000 whatever is asked; s3rver honours more, and it walks its whole
 * bucket directory for every page, so fewer, larger pages mean fewer walks (one object per ride
 * makes hundreds of thousands of keys).
 */
export const LIST_PAGE_KEYS = 10_000;
