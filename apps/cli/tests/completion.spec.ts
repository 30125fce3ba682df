import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, putObject } from '@rydes/aws-adapters';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { decodeEventKey, type Manifest } from '@rydes/ride-model';
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

/** The parts of the stack the tracker reads: real S3, quiet queues, an ingest whose pending count the test sets; object events when given. */
function stackOn(s3: S3Client, ingest: { pending: number }, onObjectEvent?: LocalStack['onObjectEvent']): LocalStack {
  const queue = { url: 'unused', arn: 'unused' };
  return {
    s3,
    bucket: BUCKET,
    queues: { fanout: queue, fanoutDlq: queue, ingestDlq: queue },
    depth: async () => ({ visible: 0, inFlight: 0, delayed: 0 }),
    ingest: { stats: ingest, failures: [] },
    transform: { stats: { inFlight: 0 } },
    ...(onObjectEvent && { onObjectEvent }),
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

  describe('with the stack\'s object events', () => {
    /** s3rver's notifications of this bucket, as the local stack hands them on, and every ListObjects the tracker sends. */
    function watched(ingest: { pending: number }) {
      const listed: string[] = [];
      const send = s3.send.bind(s3);
      const spy = jest.spyOn(s3, 'send').mockImplementation(((command: { constructor: { name: string }; input: { Prefix?: string } }) => {
        if (command.constructor.name === 'ListObjectsCommand') listed.push(command.input.Prefix ?? '');
        return send(command as never);
      }) as never);
      const stack = stackOn(s3, ingest, (listener) =>
        servers.onObjectCreated((event) => {
          for (const r of event.Records) if (r.s3.bucket.name === BUCKET) listener({ eventName: r.eventName, key: decodeEventKey(r.s3.object.key) });
        }),
      );
      return { stack, listed, restore: () => spy.mockRestore() };
    }

    it('reads each manifest its event announces and counts chunks from the events: nothing is listed', async () => {
      // Prepare
      const ingest = { pending: 1 };
      const { stack, listed, restore } = watched(ingest);
      const source = 'raw/evented.json';
      const tracker = new CompletionTracker(stack, [source]);
      try {
        // Act: the run writes two chunks, its manifest (2 chunks), and a chunk of another version
        await putObject(s3, BUCKET, 'processed/evented-0badc0de-000000.csv', 'distance\n1\n');
        await putObject(s3, BUCKET, 'processed/evented-0badc0de-000001.csv', 'distance\n2\n');
        await putObject(s3, BUCKET, 'processed/evented-12345678-000002.csv', 'distance\n3\n');
        await putObject(s3, BUCKET, 'manifests/evented-0badc0de.json', JSON.stringify(manifest({ source, chunks: 2, valid: 2, total: 2 })));
        await tracker.nextChange();
        ingest.pending = 0;
        const check = await tracker.check();
        // Assess
        expect(check).toMatchObject({ settled: true, complete: true });
        expect(check.sources[0]).toMatchObject({ manifestKey: 'manifests/evented-0badc0de.json', chunksPresent: 2, missingChunks: [] });
        expect(listed).toEqual([]);
      } finally {
        tracker.close();
        restore();
      }
    });

    it('lists once where the events cannot tell: a manifest kept from an earlier run, a chunk written before the tracker started', async () => {
      // Prepare: an earlier run of the same version left its chunk and manifest (an unchanged manifest is not rewritten)
      const source = 'raw/kept.json';
      await putObject(s3, BUCKET, 'processed/kept-0badc0de-000000.csv', 'distance\n1\n');
      await putObject(s3, BUCKET, 'manifests/kept-0badc0de.json', JSON.stringify(manifest({ source, chunks: 2, valid: 2, total: 2 })));
      const ingest = { pending: 0 };
      const { stack, listed, restore } = watched(ingest);
      const tracker = new CompletionTracker(stack, [source]);
      try {
        // Act: this run rewrites chunk 1 only
        await putObject(s3, BUCKET, 'processed/kept-0badc0de-000001.csv', 'distance\n2\n');
        const check = await tracker.check();
        // Assess
        expect(check).toMatchObject({ settled: true, complete: true });
        expect(check.sources[0]).toMatchObject({ chunksPresent: 2, missingChunks: [] });
        expect(listed).toEqual(['manifests/', 'processed/']);
      } finally {
        tracker.close();
        restore();
      }
    });
  });
});
