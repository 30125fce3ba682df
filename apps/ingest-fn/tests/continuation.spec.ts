import { createLogger } from '@rydes/aws-adapters';
import type { FanoutMessage } from '@rydes/ride-model';
import type { Continuation } from '../src/continuation';
import { ingestEvent } from '../src/ingest-event';
import { lambdaContext, s3Event } from './helpers/lambda';
import { BUCKET, drainQueue, gzip, rawRide, readManifest, readText, rideFile, startStack, upload, type Stack } from './helpers/stack';

const etag8 = (etag: string) => etag.replace(/"/g, '').slice(0, 8);
const shape = (messages: FanoutMessage[]) => messages.map((m) => [m.chunk, m.firstIndex, m.rides]);

describe('continuation near the timeout (real s3rver and local-aws-sqs)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('hands the rest of a file to a continuation that finishes it exactly as one uninterrupted run would', async () => {
    // Prepare: the same gzip file under two keys, rides 7, 33 and 34 invalid, 10 rides per message
    const records: unknown[] = Array.from({ length: 95 }, (_, i) => rawRide(i));
    for (const i of [7, 33, 34]) records[i] = { ...rawRide(i), Name: '' };
    const body = gzip(rideFile(records, 'concatenated'));
    const etag = await upload(stack.s3, 'raw/whole.json.gz', body);
    await upload(stack.s3, 'raw/parted.json.gz', body);
    const handler = stack.loadHandler({ RIDES_PER_MESSAGE: '10' });
    await handler(s3Event(BUCKET, [{ key: 'raw/whole.json.gz', eTag: etag }]), lambdaContext());
    const whole = await drainQueue(stack.sqs, stack.queueUrl);
    const wholeRejects = await readText(stack.s3, `rejects/whole-${etag8(etag)}.ndjson`);
    const wholeManifest = await readManifest(stack.s3, `manifests/whole-${etag8(etag)}.json`);

    // Act 1: time "runs out" at the fourth chunk boundary check
    let checks = 0;
    const handedOff: Continuation[] = [];
    const first = await ingestEvent(s3Event(BUCKET, [{ key: 'raw/parted.json.gz', eTag: etag }]), {
      s3: stack.s3,
      sqs: stack.sqs,
      config: { outputQueue: stack.queueUrl, ridesPerMessage: 10, continueBelowMs: 60_000 },
      logger: createLogger({ level: 'silent' }),
      metrics: () => undefined,
      remainingMs: () => (++checks >= 4 ? 59_999 : 600_000),
      handOff: async (c) => void handedOff.push(c),
    });
    const part1 = await drainQueue(stack.sqs, stack.queueUrl);
    // Act 2: the continuation event, through the handler
    const second = await handler(JSON.parse(JSON.stringify({ rydesContinuation: handedOff[0] })), lambdaContext('continuation'));
    const part2 = await drainQueue(stack.sqs, stack.queueUrl);

    // Assess
    expect(first).toEqual([]);
    expect(handedOff).toEqual([{ v: 1, bucket: BUCKET, key: 'raw/parted.json.gz', etag, nextIndex: expect.any(Number), part: 1, startedAt: expect.any(String) }]);
    expect(part1.length).toBeGreaterThan(0);
    expect(Math.max(...part1.map((m) => m.firstIndex + m.rides.length))).toBe(handedOff[0].nextIndex);
    expect(Math.min(...part2.map((m) => m.firstIndex))).toBeGreaterThanOrEqual(handedOff[0].nextIndex);
    expect(shape([...part1, ...part2])).toEqual(shape(whole));
    expect(await readText(stack.s3, `rejects/parted-${etag8(etag)}.ndjson`)).toBe(wholeRejects);
    const manifest = await readManifest(stack.s3, `manifests/parted-${etag8(etag)}.json`);
    expect(second).toEqual([manifest]);
    const { startedAt: _a, finishedAt: _b, source: _c, ...counts } = manifest;
    const { startedAt: _d, finishedAt: _e, source: _f, ...wholeCounts } = wholeManifest;
    expect(counts).toEqual(wholeCounts);
    expect(manifest.startedAt).toBe(handedOff[0].startedAt);
  });

  it('refuses to continue a file that changed since the first part (If-Match on the ETag)', async () => {
    const etag = await upload(stack.s3, 'raw/changed.json', rideFile([rawRide(1), rawRide(2)], 'array'));
    await upload(stack.s3, 'raw/changed.json', rideFile([rawRide(3)], 'array'));
    const continuation: Continuation = { v: 1, bucket: BUCKET, key: 'raw/changed.json', etag, nextIndex: 1, part: 1, startedAt: new Date().toISOString() };
    await expect(stack.loadHandler()({ rydesContinuation: continuation } as never, lambdaContext())).rejects.toThrow(/raw\/changed\.json changed since the first part|PreconditionFailed/);
    expect(await drainQueue(stack.sqs, stack.queueUrl)).toEqual([]);
  });
});
