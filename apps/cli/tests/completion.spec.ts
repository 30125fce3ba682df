import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, putObject } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import type { Manifest } from '@rydes/ride-model';
import { CompletionTracker } from '../src/run/completion';
import type { LocalStack } from '../src/stack/local-stack';

const BUCKET = 'completion-spec';
const SOURCE = 'raw/rides.json';

function manifest(overrides: Partial<Manifest>): Manifest {
  return {
    bucket: BUCKET, source: SOURCE, etag: '"0badc0de0badc0de0badc0de0badc0de"', total: 100, valid: 100, rejected: 0, chunks: 1,
    ridesPerMessage: 100, droppedFields: 0, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', ...overrides,
  };
}

/** The parts of the stack the tracker reads: real S3, quiet queues, an ingest whose pending count the test sets. */
function stackOn(s3: S3Client, ingest: { pending: number }): LocalStack {
  const queue = { url: 'unused', arn: 'unused' };
  return {
    s3,
    bucket: BUCKET,
    queues: { fanout: queue, fanoutDlq: queue, ingestDlq: queue },
    depth: async () => ({ visible: 0, inFlight: 0, delayed: 0 }),
    ingest: { stats: ingest, failures: [] },
    transform: { stats: { inFlight: 0 } },
  } as unknown as LocalStack;
}

describe('CompletionTracker', () => {
  let servers: LocalServers;
  let s3: S3Client;

  beforeAll(async () => {
    servers = await startLocalServers({ buckets: [BUCKET] });
    s3 = createS3Client(servers.env);
  });
  afterAll(async () => {
    s3.destroy();
    await servers.close();
  });

  it("re-reads a manifest recorded with an error until the ingest's retry overwrites it with the good one", async () => {
    // Prepare: a first ingest attempt failed (S3/SQS errors past the SDK's retries) and recorded it.
    const ingest = { pending: 1 };
    const tracker = new CompletionTracker(stackOn(s3, ingest), [SOURCE]);
    const key = 'manifests/rides-0badc0de.json';
    await putObject(s3, BUCKET, key, JSON.stringify(manifest({ chunks: 0, error: { message: 'SqsSendError', byteOffset: 10, lastGoodIndex: 3 } })));
    const during = await tracker.check();
    // Act: the async retry succeeds and rewrites the same key.
    await putObject(s3, BUCKET, 'processed/rides-0badc0de-000000.csv', 'distance\n1\n');
    await putObject(s3, BUCKET, key, JSON.stringify(manifest({ finishedAt: '2026-01-01T00:00:09.000Z' })));
    ingest.pending = 0;
    const after = await tracker.check();
    // Assess
    expect(during.settled).toBe(false);
    expect(during.sources[0].manifest?.error?.message).toBe('SqsSendError');
    expect(after.sources[0].manifest?.error).toBeUndefined();
    expect(after).toMatchObject({ settled: true, complete: true });
    expect(after.sources[0].missingChunks).toEqual([]);
  });
});
