import { createLogger, deleteKeys } from '@rydes/aws-adapters';
import type { Manifest } from '@rydes/ride-model';
import type { Continuation } from '../src/continuation';
import { ingestEvent } from '../src/ingest-event';
import { lambdaContext, s3Event } from './helpers/lambda';
import { drainThroughTransform, loadTransform, outputsOf, processedRows } from './helpers/pipeline';
import { BUCKET, keysUnder, rawRide, readManifest, readText, rideFile, startStack, upload, type Stack } from './helpers/stack';

const etag8 = (etag: string) => etag.replace(/"/g, '').slice(0, 8);
/** `count` rides as an array file, ride 5 invalid; `variant` changes every name (and so the ETag). */
const version = (variant: string, count: number) =>
  rideFile(Array.from({ length: count }, (_, i) => (i === 5 ? { ...rawRide(i), Latitude: 95 } : { ...rawRide(i), Name: `${variant} ${i}` })), 'array');

describe('a source replaced or deleted while (or after) it is ingested (strict local S3, local-aws-sqs, transform bundle)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  /** Runs the first part of `key` at `etag` and stops it after `checks` hand-off checks: the continuation it handed off. */
  async function firstPart(key: string, etag: string, checks = 3): Promise<Continuation> {
    let seen = 0;
    const handedOff: Continuation[] = [];
    const manifests = await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), {
      s3: stack.s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage: 10, continueBelowMs: 60_000 },
      logger: createLogger({ level: 'silent' }), metrics: () => undefined,
      remainingMs: () => (++seen >= checks ? 59_999 : 600_000),
      handOff: async (c) => void handedOff.push(c),
    });
    expect(manifests).toEqual([]);
    expect(handedOff).toHaveLength(1);
    return handedOff[0];
  }

  it('ends a continuation whose file was replaced (412 on If-Match) successfully: that version\'s outputs removed, the new version complete', async () => {
    // Prepare: part 1 of version 1 sent and transformed, then the key replaced by version 2
    const key = 'raw/replaced-midway.json';
    const v1 = await upload(stack.s3, key, version('Old', 200));
    const continuation = await firstPart(key, v1);
    await drainThroughTransform(stack, loadTransform(stack));
    expect(await keysUnder(stack.s3, `processed/replaced-midway-${etag8(v1)}-`)).not.toEqual([]);
    const v2 = await upload(stack.s3, key, version('New', 30));
    // Act: the continuation of version 1 (no throw = no retry, nothing for the ingest DLQ), then version 2's own event
    const handler = stack.loadHandler();
    await expect(handler({ rydesContinuation: continuation } as never, lambdaContext('continuation'))).resolves.toEqual([]);
    await handler(s3Event(BUCKET, [{ key, eTag: v2 }]), lambdaContext('v2'));
    const drained = await drainThroughTransform(stack, loadTransform(stack));
    // Assess: only version 2's outputs, each of its valid rides once
    expect(drained.failed).toEqual([]);
    const outputs = Object.keys(await outputsOf(stack, 'replaced-midway'));
    expect(outputs.filter((k) => k.includes(etag8(v1)))).toEqual([]);
    expect(outputs).toContain(`manifests/replaced-midway-${etag8(v2)}.json`);
    const rows = await processedRows(stack, 'replaced-midway');
    expect(rows.map((r) => Number(r.ride_index)).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== 5));
    expect(new Set(rows.map((r) => r.name.split(' ')[0]))).toEqual(new Set(['New']));
  });

  it('ends a file deleted between two parts with a "source deleted" manifest counting the rides read; the rides already fanned out stay', async () => {
    // Prepare: part 1 sent and transformed, then the raw object deleted
    const key = 'raw/deleted-midway.json';
    const etag = await upload(stack.s3, key, version('Gone', 200));
    const continuation = await firstPart(key, etag);
    await drainThroughTransform(stack, loadTransform(stack));
    await deleteKeys(stack.s3, BUCKET, [key]);
    // Act
    const [manifest] = await stack.loadHandler()({ rydesContinuation: continuation } as never, lambdaContext('continuation'));
    const late = await drainThroughTransform(stack, loadTransform(stack));
    // Assess: the manifest says how far ingest read; every ride read is in processed/, once
    expect(late.messages).toEqual([]);
    expect(manifest).toMatchObject<Partial<Manifest>>({ etag, total: continuation.counts.total, valid: continuation.counts.valid, chunks: continuation.counts.chunks });
    expect(manifest.error).toMatchObject({ code: 'source-deleted', message: expect.stringMatching(new RegExp(`^source deleted after ${continuation.counts.total} ride\\(s\\) were read`)) });
    expect(await readManifest(stack.s3, `manifests/deleted-midway-${etag8(etag)}.json`)).toEqual(manifest);
    const rows = await processedRows(stack, 'deleted-midway');
    expect(rows).toHaveLength(continuation.counts.valid);
    expect(new Set(rows.map((r) => r.ride_index)).size).toBe(rows.length);
    // The first part's rejects (ride 5) are joined into the file's rejects object, the part copies gone.
    expect((await readText(stack.s3, `rejects/deleted-midway-${etag8(etag)}.ndjson`)).trim().split('\n').map((l) => JSON.parse(l).index)).toEqual([5]);
    expect(await keysUnder(stack.s3, `rejects/deleted-midway-${etag8(etag)}-part`)).toEqual([]);
  });

  it('ends a file deleted before ingest read it with a "source deleted" manifest under the event\'s ETag, without throwing', async () => {
    const etag = '"0123456789abcdef0123456789abcdef"';
    const manifests = await stack.loadHandler()(s3Event(BUCKET, [{ key: 'raw/never-read.json', eTag: etag }]), lambdaContext());
    expect(manifests).toEqual([expect.objectContaining({ total: 0, chunks: 0, error: expect.objectContaining({ code: 'source-deleted', message: expect.stringMatching(/^source deleted before ingest read any ride/) }) })]);
    expect(await readManifest(stack.s3, 'manifests/never-read-01234567.json')).toEqual(manifests[0]);
  });

  it('keeps every ride already fanned out when the source is deleted after ingest: late and redelivered messages are written, once', async () => {
    // Prepare: the file ingested, its messages not yet transformed; then the raw object deleted
    const key = 'raw/deleted-after.json';
    const etag = await upload(stack.s3, key, version('Kept', 95));
    const [manifest] = await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext());
    await deleteKeys(stack.s3, BUCKET, [key]);
    // Act: transform the late messages, then deliver everything once more (redeliveries)
    const transform = loadTransform(stack);
    const first = await drainThroughTransform(stack, transform);
    for (const m of first.messages) await stack.sqs.send(new (await import('@aws-sdk/client-sqs')).SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: JSON.stringify(m) }));
    const again = await drainThroughTransform(stack, transform);
    // Assess
    expect(first.failed).toEqual([]);
    expect(again.failed).toEqual([]);
    const rows = await processedRows(stack, 'deleted-after');
    expect(rows).toHaveLength(manifest.valid);
    expect(new Set(rows.map((r) => r.ride_index)).size).toBe(manifest.valid);
    expect(Object.keys(await outputsOf(stack, 'deleted-after'))).toContain(`manifests/deleted-after-${etag8(etag)}.json`);
  });

  it('removes an older version\'s outputs when the file is replaced and the newer version deleted before it was read (a newer manifest exists)', async () => {
    // Prepare: version 1 ingested and transformed; version 2 uploaded and deleted before its event ran
    const key = 'raw/replaced-then-deleted.json';
    const v1 = await upload(stack.s3, key, version('First', 40));
    await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: v1 }]), lambdaContext());
    await drainThroughTransform(stack, loadTransform(stack));
    const v2 = await upload(stack.s3, key, version('Second', 20));
    await deleteKeys(stack.s3, BUCKET, [key]);
    // Act
    const [manifest] = await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: v2 }]), lambdaContext());
    // Assess: version 2's manifest records the deletion; version 1 is superseded by it
    expect(manifest).toMatchObject({ etag: v2, total: 0, error: expect.objectContaining({ code: 'source-deleted' }) });
    expect(Object.keys(await outputsOf(stack, 'replaced-then-deleted'))).toEqual([`manifests/replaced-then-deleted-${etag8(v2)}.json`]);
  });
});
