import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { createLogger } from '@rydes/aws-adapters';
import { decodeMessage, type FanoutMessage } from '@rydes/ride-model';
import type { Continuation } from '../src/continuation';
import { ingestEvent } from '../src/ingest-event';
import { startInvokeEndpoint } from './helpers/invoke-endpoint';
import { lambdaContext, s3Event } from './helpers/lambda';
import { BUCKET, drainQueue, gzip, rawRide, readManifest, readText, rideFile, startStack, upload, type Shape, type Stack } from './helpers/stack';

const etag8 = (etag: string) => etag.replace(/"/g, '').slice(0, 8);
const shape = (messages: FanoutMessage[]) => messages.map((m) => [m.chunk, m.firstIndex, m.rides]);

/** A Lambda context whose remaining time drops by 20 s per call from 150 s: the 6th check is below 60 s. */
function shrinkingContext(requestId: string): Context {
  let remaining = 170_000;
  return { ...lambdaContext(requestId), getRemainingTimeInMillis: () => (remaining -= 20_000) };
}

describe('continuation near the timeout (real s3rver and local-aws-sqs)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  /** Receives and deletes every waiting message; the raw bodies, ordered by chunk. */
  async function drainBodies(): Promise<string[]> {
    const bodies: string[] = [];
    for (;;) {
      const got = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      const batch = got.Messages ?? [];
      if (batch.length === 0) break;
      bodies.push(...batch.map((m) => m.Body ?? ''));
      await stack.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: stack.queueUrl, Entries: batch.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
    return bodies.sort((a, b) => decodeMessage(a).chunk - decodeMessage(b).chunk);
  }

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

  describe.each<[Shape, boolean, string]>([
    ['array', false, 'json'],
    ['travel_data', false, 'json'],
    ['concatenated', false, 'json'],
    ['ndjson', false, 'ndjson'],
    ['array', true, 'json.gz'],
    ['travel_data', true, 'json.gz'],
    ['concatenated', true, 'json.gz'],
    ['ndjson', true, 'json.gz'],
  ])('a %s file (gzip: %s) of 2,000 rides with a clock that runs out fast (Lambda Invoke API mocked by a local HTTP endpoint)', (fileShape, gzipped, ext) => {
    it('needs at least 3 parts, and their messages, rejects and manifest equal one uninterrupted run\'s', async () => {
      // Prepare: every 97th ride invalid up to 1,300 (no chunk fills: cuts at gaps and rejects), then
      // none (cuts at full chunks); the same object ingested once without continuation
      const records: unknown[] = Array.from({ length: 2_000 }, (_, i) => (i % 97 === 5 && i < 1_300 ? { ...rawRide(i), Longitude: 200 } : rawRide(i)));
      const text = rideFile(records, fileShape);
      const key = `raw/parts-${fileShape}-${gzipped}.${ext}`;
      const etag = await upload(stack.s3, key, gzipped ? gzip(text) : text);
      const stem = `parts-${fileShape}-${gzipped}`;
      await stack.loadHandler()(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext('whole'));
      const whole = await drainBodies();
      const wholeRejects = await readText(stack.s3, `rejects/${stem}-${etag8(etag)}.ndjson`);
      const wholeManifest = await readManifest(stack.s3, `manifests/${stem}-${etag8(etag)}.json`);
      const endpoint = await startInvokeEndpoint();
      const handler = stack.loadHandler({ AWS_LAMBDA_FUNCTION_NAME: 'ingest-fn', AWS_ENDPOINT_URL_LAMBDA: endpoint.url });

      // Act: the S3 event, then each continuation payload the endpoint received, fed back as Lambda would
      const parted: string[] = [];
      let last = await handler(s3Event(BUCKET, [{ key, eTag: etag }]), shrinkingContext('part-0'));
      parted.push(...(await drainBodies()));
      for (let fed = 0; fed < endpoint.invocations.length; fed++) {
        last = await handler(endpoint.invocations[fed].payload as never, shrinkingContext(`part-${fed + 1}`));
        parted.push(...(await drainBodies()));
      }
      await endpoint.close();

      // Assess
      const handedOff = endpoint.invocations.map((i) => (i.payload as { rydesContinuation: Continuation }).rydesContinuation);
      const parts = handedOff.length + 1;
      expect(parts).toBeGreaterThanOrEqual(3);
      expect(handedOff.some((c) => c.nextIndex < 1_300)).toBe(true);
      expect(handedOff.some((c) => c.nextIndex > 1_300)).toBe(true);
      expect(handedOff.map((c) => c.part)).toEqual(handedOff.map((_, i) => i + 1));
      expect(endpoint.invocations.every((i) => i.functionName.endsWith('ingest-fn') && i.invocationType === 'Event')).toBe(true);
      expect(handedOff.every((c, i) => i === 0 || c.nextIndex > handedOff[i - 1].nextIndex)).toBe(true);
      expect(parted.length).toBe(whole.length);
      expect(parted).toEqual(whole);
      expect(await readText(stack.s3, `rejects/${stem}-${etag8(etag)}.ndjson`)).toBe(wholeRejects);
      const manifest = await readManifest(stack.s3, `manifests/${stem}-${etag8(etag)}.json`);
      const { startedAt: _a, finishedAt: _b, ...counts } = manifest;
      const { startedAt: _c, finishedAt: _d, ...wholeCounts } = wholeManifest;
      expect(counts).toEqual(wholeCounts);
      expect(wholeCounts).toMatchObject({ total: 2_000, rejected: 14, valid: 1_986 });
      expect(last).toEqual([manifest]);
    }, 20_000);
  });

  it('matches one uninterrupted run for seeded random reject patterns, chunk sizes and cut moments (oracle: the same file in one part)', async () => {
    const partCounts: number[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      // Prepare: a seeded PRNG (mulberry32) picks rejects, RIDES_PER_MESSAGE and when time runs out
      let state = seed * 0x9e3779b9;
      const random = () => {
        state = (state + 0x6d2b79f5) | 0;
        let t = Math.imul(state ^ (state >>> 15), 1 | state);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
      };
      const rejectRate = random() * 0.4;
      const ridesPerMessage = 1 + Math.floor(random() * 12);
      const records = Array.from({ length: 150 }, (_, i) => (random() < rejectRate ? { ...rawRide(i), Name: ' ' } : rawRide(i)));
      const key = `raw/random-${seed}.ndjson`;
      const etag = await upload(stack.s3, key, rideFile(records, 'ndjson'));
      const deps = (handOff?: (c: Continuation) => Promise<void>) => ({
        s3: stack.s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage, continueBelowMs: 60_000 },
        logger: createLogger({ level: 'silent' }), metrics: () => undefined,
        remainingMs: () => (random() < 0.04 ? 1_000 : 600_000),
        ...(handOff && { handOff }),
      });
      await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), deps());
      const whole = await drainBodies();
      const wholeManifest = await readManifest(stack.s3, `manifests/random-${seed}-${etag8(etag)}.json`);
      // Act
      const handedOff: Continuation[] = [];
      const handOff = async (c: Continuation) => void handedOff.push(c);
      await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), deps(handOff));
      const parted = await drainBodies();
      for (let fed = 0; fed < handedOff.length; fed++) {
        await ingestEvent({ rydesContinuation: handedOff[fed] }, deps(handOff));
        parted.push(...(await drainBodies()));
      }
      // Assess
      const context = `seed ${seed}: ${ridesPerMessage} rides per message, ${handedOff.length + 1} parts`;
      expect({ context, bodies: parted.sort((a, b) => decodeMessage(a).chunk - decodeMessage(b).chunk) }).toEqual({ context, bodies: whole });
      const manifest = await readManifest(stack.s3, `manifests/random-${seed}-${etag8(etag)}.json`);
      expect({ context, chunks: manifest.chunks, total: manifest.total }).toEqual({ context, chunks: wholeManifest.chunks, total: 150 });
      partCounts.push(handedOff.length + 1);
    }
    // The cut moments really vary: most seeds need several parts.
    expect(partCounts.filter((n) => n >= 3).length).toBeGreaterThanOrEqual(5);
  }, 30_000);

  it('refuses to continue a file that changed since the first part (If-Match on the ETag)', async () => {
    const etag = await upload(stack.s3, 'raw/changed.json', rideFile([rawRide(1), rawRide(2)], 'array'));
    await upload(stack.s3, 'raw/changed.json', rideFile([rawRide(3)], 'array'));
    const continuation: Continuation = { v: 1, bucket: BUCKET, key: 'raw/changed.json', etag, nextIndex: 1, part: 1, startedAt: new Date().toISOString() };
    await expect(stack.loadHandler()({ rydesContinuation: continuation } as never, lambdaContext())).rejects.toThrow(/raw\/changed\.json changed since the first part|PreconditionFailed/);
    expect(await drainQueue(stack.sqs, stack.queueUrl)).toEqual([]);
  });
});
