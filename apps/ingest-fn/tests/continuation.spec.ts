import type { Context } from 'aws-lambda';
import { createLogger, putObject } from '@rydes/aws-adapters';
import { decodeMessage, objectKeys, rideIndexes, type FanoutMessage } from '@rydes/ride-model';
import type { Continuation } from '../src/continuation';
import { ingestEvent } from '../src/ingest-event';
import { startInvokeEndpoint } from './helpers/invoke-endpoint';
import { lambdaContext, s3Event } from './helpers/lambda';
import { BUCKET, drainMessages, drainQueue, gzip, keysUnder, rawRide, readManifest, readText, rideFile, startStack, upload, type Shape, type Stack } from './helpers/stack';

const etag8 = (etag: string) => etag.replace(/"/g, '').slice(0, 8);
const LAYOUT: Record<Shape, string> = { array: 'array', travel_data: 'wrapper', concatenated: 'stream', ndjson: 'stream' };
const shape = (messages: FanoutMessage[]) => messages.map((m) => [m.chunk, m.firstIndex, m.gaps, m.rides]);

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
    const bodies = (await drainMessages(stack.sqs, stack.queueUrl)).map((m) => m.Body ?? '');
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
    expect(handedOff).toEqual([{
      v: 2, bucket: BUCKET, key: 'raw/parted.json.gz', etag, part: 1, startedAt: expect.any(String),
      resume: { index: expect.any(Number), byteOffset: expect.any(Number), layout: 'stream', gzip: true },
      counts: { total: expect.any(Number), valid: expect.any(Number), rejected: expect.any(Number), droppedFields: 0, chunks: part1.length },
      rejectParts: [{ part: 0, from: 0, to: expect.any(Number) }],
    }]);
    const nextIndex = handedOff[0].resume.index;
    expect(handedOff[0].rejectParts[0].to).toBe(nextIndex);
    const rejectedBefore = [7, 33, 34].filter((i) => i < nextIndex).length;
    expect(handedOff[0].counts).toMatchObject({ total: nextIndex, rejected: rejectedBefore, valid: nextIndex - rejectedBefore });
    expect(part1.length).toBeGreaterThan(0);
    // Time ran out at ride 33 (rejected) with a chunk open since ride 31: the file is left at 31.
    expect(nextIndex).toBe(31);
    expect(Math.max(...part1.flatMap(rideIndexes))).toBeLessThan(nextIndex);
    expect(Math.min(...part2.flatMap(rideIndexes))).toBeGreaterThanOrEqual(nextIndex);
    expect(shape([...part1, ...part2])).toEqual(shape(whole));
    expect(await readText(stack.s3, `rejects/parted-${etag8(etag)}.ndjson`)).toBe(wholeRejects);
    const manifest = await readManifest(stack.s3, `manifests/parted-${etag8(etag)}.json`);
    expect(second).toEqual([manifest]);
    const { startedAt: _a, finishedAt: _b, source: _c, ...counts } = manifest;
    const { startedAt: _d, finishedAt: _e, source: _f, ...wholeCounts } = wholeManifest;
    expect(counts).toEqual(wholeCounts);
    expect(manifest.startedAt).toBe(handedOff[0].startedAt);

    // A rerun of the finished last part (Lambda may retry it) finds the parts' rejects removed
    // and the manifest in place: it succeeds and changes nothing.
    const again = await handler(JSON.parse(JSON.stringify({ rydesContinuation: handedOff[0] })), lambdaContext('continuation-retry'));
    await drainQueue(stack.sqs, stack.queueUrl);
    expect(again).toEqual([manifest]);
    expect(await readText(stack.s3, `rejects/parted-${etag8(etag)}.ndjson`)).toBe(wholeRejects);
  });

  it('continues a file cut just after its last record: the continuation reads the last byte, finds the end and writes the manifest', async () => {
    // Prepare: 201 rides, ride 10 invalid, 100 per message: the second chunk ends with the file;
    // time runs out at the 2nd check (chunk 0 completed by ride 100, chunk 1 by ride 200)
    const records: unknown[] = Array.from({ length: 201 }, (_, i) => (i === 10 ? { ...rawRide(i), Latitude: 91 } : rawRide(i)));
    const text = rideFile(records, 'array');
    const etag = await upload(stack.s3, 'raw/cut-at-end.json', text);
    let checks = 0;
    const handedOff: Continuation[] = [];
    const deps = {
      s3: stack.s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage: 100, continueBelowMs: 60_000 },
      logger: createLogger({ level: 'silent' }), metrics: () => undefined,
      remainingMs: () => (++checks === 2 ? 1_000 : 600_000),
      handOff: async (c: Continuation) => void handedOff.push(c),
    };
    // Act
    await ingestEvent(s3Event(BUCKET, [{ key: 'raw/cut-at-end.json', eTag: etag }]), deps);
    const last = await ingestEvent({ rydesContinuation: handedOff[0] }, deps);
    const messages = await drainQueue(stack.sqs, stack.queueUrl);
    // Assess
    expect(handedOff).toHaveLength(1);
    expect(handedOff[0].resume).toEqual({ index: 201, byteOffset: text.lastIndexOf('}') + 1, layout: 'array', gzip: false });
    expect(handedOff[0].rejectParts).toEqual([{ part: 0, from: 0, to: 201 }]);
    expect(last).toEqual([expect.objectContaining({ total: 201, valid: 200, rejected: 1, chunks: 2 })]);
    expect(messages.map((m) => [m.chunk, m.firstIndex, m.gaps, m.rides.length])).toEqual([[0, 0, [[10, 1]], 100], [1, 101, [], 100]]);
    expect(await keysUnder(stack.s3, 'rejects/cut-at-end-')).toEqual([`rejects/cut-at-end-${etag8(etag)}.ndjson`]);
    expect((await readText(stack.s3, `rejects/cut-at-end-${etag8(etag)}.ndjson`)).trim().split('\n').map((l) => JSON.parse(l).index)).toEqual([10]);
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
      // Chunks of 100: a 2,000-ride file has chunk boundaries to cut at past ride 1,300 too.
      await stack.loadHandler({ RIDES_PER_MESSAGE: '100' })(s3Event(BUCKET, [{ key, eTag: etag }]), lambdaContext('whole'));
      const whole = await drainBodies();
      const wholeRejects = await readText(stack.s3, `rejects/${stem}-${etag8(etag)}.ndjson`);
      const wholeManifest = await readManifest(stack.s3, `manifests/${stem}-${etag8(etag)}.json`);
      const endpoint = await startInvokeEndpoint();
      const handler = stack.loadHandler({ AWS_LAMBDA_FUNCTION_NAME: 'ingest-fn', AWS_ENDPOINT_URL_LAMBDA: endpoint.url, RIDES_PER_MESSAGE: '100' });

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
      expect(handedOff.some((c) => c.resume.index < 1_300)).toBe(true);
      expect(handedOff.some((c) => c.resume.index > 1_300)).toBe(true);
      expect(handedOff.map((c) => c.part)).toEqual(handedOff.map((_, i) => i + 1));
      expect(endpoint.invocations.every((i) => i.functionName.endsWith('ingest-fn') && i.invocationType === 'Event')).toBe(true);
      expect(handedOff.every((c, i) => i === 0 || c.resume.index > handedOff[i - 1].resume.index)).toBe(true);
      expect(handedOff.every((c) => c.resume.gzip === gzipped && c.resume.layout === LAYOUT[fileShape])).toBe(true);
      expect(parted.length).toBe(whole.length);
      expect(parted).toEqual(whole);
      expect(await readText(stack.s3, `rejects/${stem}-${etag8(etag)}.ndjson`)).toBe(wholeRejects);
      // The parts' rejects objects are joined into that one and removed.
      expect(handedOff[handedOff.length - 1].rejectParts.length).toBeGreaterThanOrEqual(2);
      expect(await keysUnder(stack.s3, `rejects/${stem}-`)).toEqual([`rejects/${stem}-${etag8(etag)}.ndjson`]);
      const manifest = await readManifest(stack.s3, `manifests/${stem}-${etag8(etag)}.json`);
      const { startedAt: _a, finishedAt: _b, ...counts } = manifest;
      const { startedAt: _c, finishedAt: _d, ...wholeCounts } = wholeManifest;
      expect(counts).toEqual(wholeCounts);
      expect(wholeCounts).toMatchObject({ total: 2_000, rejected: 14, valid: 1_986 });
      expect(last).toEqual([manifest]);
    }, 20_000);
  });

  const FULL = 'after a full chunk';
  const REJECTED = 'after a rejected ride, nothing open';
  const BACK = 'back at the first ride of the open chunk';
  const SIZE = 'after a chunk closed by size';
  describe.each<[string, number, number, number, number, number, string[]]>([
    // label, invalid rate, rides, rides per message, name length, try every n-th point, kinds of cut point seen
    ['5 % invalid rides', 0.05, 160, 8, 9, 1, [FULL, REJECTED, BACK]],
    ['50 % invalid rides', 0.5, 80, 8, 9, 2, [FULL, REJECTED, BACK]],
    ['1 % invalid rides and 250-character names (chunks closed by size)', 0.01, 700, 1_000, 250, 1, [SIZE, REJECTED, BACK]],
  ])('a file with %s, cut at each point a part may stop', (label, rate, count, ridesPerMessage, nameLength, step, expectedKinds) => {
    it('equals one uninterrupted run wherever it is cut, and every kind of cut point occurs', async () => {
      // Prepare: seeded rejects; the uninterrupted run counts the points where a part may stop
      let state = 1 + Math.round(rate * 1000) + nameLength;
      const random = () => (state = (state * 48271) % 2147483647) / 2147483647;
      const invalid = new Set<number>();
      const records = Array.from({ length: count }, (_, i) => {
        const ride = { ...rawRide(i), Name: `${i} ${'n'.repeat(nameLength)}`.slice(0, nameLength) };
        if (random() >= rate) return ride;
        invalid.add(i);
        return { ...ride, Latitude: 91 };
      });
      const key = `raw/every-cut-${count}.ndjson`;
      const etag = await upload(stack.s3, key, rideFile(records, 'ndjson'));
      const keys = objectKeys({ bucket: BUCKET, key, etag });
      let checks = 0;
      const deps = (cutAt: number, handOff?: (c: Continuation) => Promise<void>) => ({
        s3: stack.s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage, continueBelowMs: 60_000 },
        logger: createLogger({ level: 'silent' }), metrics: () => undefined,
        remainingMs: () => (++checks >= cutAt ? 1_000 : 600_000),
        ...(handOff && { handOff }),
      });
      await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), deps(Infinity, async () => undefined));
      const points = checks;
      const whole = await drainBodies();
      const wholeRejects = await readText(stack.s3, keys.rejects);
      const { startedAt: _a, finishedAt: _b, ...wholeCounts } = await readManifest(stack.s3, keys.manifest);
      const lastOf = new Map(whole.map(decodeMessage).map((m) => [rideIndexes(m).pop() as number, m.rides.length]));
      const kinds = new Set<string>();

      for (let cutAt = 1; cutAt <= points; cutAt += step) {
        // Act: the first part stops at the cutAt-th point, the continuation runs to the end
        checks = 0;
        const handedOff: Continuation[] = [];
        await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), deps(cutAt, async (c) => void handedOff.push(c)));
        const k = handedOff[0]?.resume.index;
        const part0 = invalid.size > 0 ? await readText(stack.s3, keys.rejectsPart(0)).catch(() => '') : '';
        const parted = await drainBodies();
        await ingestEvent({ rydesContinuation: handedOff[0] }, deps(Infinity));
        parted.push(...(await drainBodies()));

        // Assess
        const context = `${label}: cut at point ${cutAt} of ${points}, ride ${k}`;
        expect({ context, handedOff: handedOff.length }).toEqual({ context, handedOff: 1 });
        expect({ context, bodies: parted.sort((a, b) => decodeMessage(a).chunk - decodeMessage(b).chunk) }).toEqual({ context, bodies: whole });
        expect({ context, rejects: await readText(stack.s3, keys.rejects) }).toEqual({ context, rejects: wholeRejects });
        const { startedAt: _c, finishedAt: _d, ...counts } = await readManifest(stack.s3, keys.manifest);
        expect({ context, counts }).toEqual({ context, counts: wholeCounts });
        const readPast = part0.split('\n').some((line) => line !== '' && JSON.parse(line).index >= k);
        if (readPast) kinds.add(BACK);
        else if (invalid.has(k - 1)) kinds.add(REJECTED);
        else if (lastOf.get(k - 1) === ridesPerMessage) kinds.add(FULL);
        else if (lastOf.has(k - 1)) kinds.add(SIZE);
        else kinds.add(`unexplained cut at ${k}`);
      }
      expect([...kinds].sort()).toEqual([...expectedKinds].sort());
    }, 240_000);
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
  }, 90_000);

  it.each([false, true])('reads only the rest of the file in a continuation: a byte range for a plain file, inflate-and-skip for gzip (gzip: %s)', async (gzipped) => {
    // Prepare: 3,000 rides; record every GetObject the ingest sends
    const text = rideFile(Array.from({ length: 3_000 }, (_, i) => rawRide(i)), 'array');
    const key = `raw/ranged-${gzipped}.json${gzipped ? '.gz' : ''}`;
    const etag = await upload(stack.s3, key, gzipped ? gzip(text) : text);
    const gets: Array<{ Key?: string; Range?: string }> = [];
    const name = `recordGets${gzipped}`;
    stack.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetObjectCommand') gets.push({ ...(args.input as { Key?: string; Range?: string }) });
        return next(args);
      },
      { step: 'initialize', name },
    );
    const handedOff: Continuation[] = [];
    let checks = 0;
    const deps = {
      s3: stack.s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage: 100, continueBelowMs: 60_000 },
      logger: createLogger({ level: 'silent' }), metrics: () => undefined,
      remainingMs: () => (++checks % 12 === 0 ? 1_000 : 600_000),
      handOff: async (c: Continuation) => void handedOff.push(c),
    };
    try {
      // Act
      await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), deps);
      for (let fed = 0; fed < handedOff.length; fed++) await ingestEvent({ rydesContinuation: handedOff[fed] }, deps);
    } finally {
      stack.s3.middlewareStack.remove(name);
    }
    const messages = await drainQueue(stack.sqs, stack.queueUrl);

    // Assess
    expect(handedOff.length).toBeGreaterThanOrEqual(2);
    const reads = gets.filter((g) => g.Key === key);
    expect(reads.map((g) => g.Range)).toEqual([
      undefined,
      ...handedOff.map((c) => (gzipped ? undefined : `bytes=${c.resume.byteOffset - 1}-`)),
    ]);
    // Each resume point sits just after a record: the byte before it closes that record.
    for (const c of handedOff) expect(Buffer.from(text).subarray(c.resume.byteOffset - 1, c.resume.byteOffset).toString()).toBe('}');
    expect(messages.reduce((n, m) => n + m.rides.length, 0)).toBe(3_000);
    expect(new Set(messages.map((m) => m.chunk)).size).toBe(30);
  });

  it('joins only the rides each part read from its rejects object, and fails loudly when a part\'s rejects lack some (a retried part rewrote them)', async () => {
    // Prepare: 300 rides, every 10th invalid; time runs out once, at the 6th check
    const records: unknown[] = Array.from({ length: 300 }, (_, i) => (i % 10 === 3 ? { ...rawRide(i), Name: '' } : rawRide(i)));
    const text = rideFile(records, 'ndjson');
    const run = async (key: string, tamper: (part0: string) => string) => {
      const etag = await upload(stack.s3, key, text);
      const keys = objectKeys({ bucket: BUCKET, key, etag });
      const handedOff: Continuation[] = [];
      let checks = 0;
      const deps = {
        s3: stack.s3, sqs: stack.sqs, config: { outputQueue: stack.queueUrl, ridesPerMessage: 100, continueBelowMs: 60_000 },
        logger: createLogger({ level: 'silent' }), metrics: () => undefined,
        remainingMs: () => (++checks === 6 ? 1_000 : 600_000),
        handOff: async (c: Continuation) => void handedOff.push(c),
      };
      await ingestEvent(s3Event(BUCKET, [{ key, eTag: etag }]), deps);
      const part0 = await readText(stack.s3, keys.rejectsPart(0));
      // What a retry of part 0 that read further than the hand-off (or stopped short) would leave
      await putObject(stack.s3, BUCKET, keys.rejectsPart(0), tamper(part0));
      const outcome = await ingestEvent({ rydesContinuation: handedOff[0] }, deps).then(() => 'ok', (err: Error) => err.message);
      await drainQueue(stack.sqs, stack.queueUrl);
      return { outcome, handedOff, keys, part0 };
    };
    const line = (i: number) => JSON.stringify({ index: i, reasons: ['name: must be a non-empty string'], record: records[i] });

    // Act: extra lines past the hand-off point, then a missing line before it
    const extra = await run('raw/rejects-extra.ndjson', (part0) => part0 + line(9_999) + '\n');
    const short = await run('raw/rejects-short.ndjson', (part0) => part0.split('\n').slice(1).join('\n'));

    // Assess
    expect(extra.handedOff).toHaveLength(1);
    expect(extra.outcome).toBe('ok');
    const joined = (await readText(stack.s3, extra.keys.rejects)).trim().split('\n').map((l) => JSON.parse(l).index);
    expect(joined).toEqual(Array.from({ length: 30 }, (_, i) => i * 10 + 3));
    expect(short.outcome).toMatch(/the parts' rejects hold 29 lines for the 30 rejected rides; a retried part may have rewritten its rejects/);
    // The failed join wrote nothing: the rejects object is still the one part 0 wrote, which
    // holds the rides part 0 read past the point it left the file at (the open chunk's start).
    expect(await readText(stack.s3, short.keys.rejects)).toBe(short.part0);
    expect(short.part0.trim().split('\n').map((l) => JSON.parse(l).index).some((i) => i >= short.handedOff[0].resume.index)).toBe(true);
  });

  it('fails a continuation payload of another version loudly instead of ignoring it', async () => {
    const old = { rydesContinuation: { v: 1, bucket: BUCKET, key: 'raw/old.json', etag: '"abc"', nextIndex: 100, part: 1, startedAt: '2026-01-01T00:00:00Z' } };
    await expect(stack.loadHandler()(old as never, lambdaContext())).rejects.toThrow(/continuation payload version 1 is not one this function reads \(2\); re-upload the file/);
  });

  it('ends the continuation of a file that changed since the first part as superseded (412 on If-Match): no error, nothing sent', async () => {
    const etag = await upload(stack.s3, 'raw/changed.json', rideFile([rawRide(1), rawRide(2)], 'array'));
    await upload(stack.s3, 'raw/changed.json', rideFile([rawRide(3)], 'array'));
    const continuation: Continuation = {
      v: 2, bucket: BUCKET, key: 'raw/changed.json', etag, part: 1, startedAt: new Date().toISOString(),
      resume: { index: 1, byteOffset: 40, layout: 'array', gzip: false }, counts: { total: 1, valid: 1, rejected: 0, droppedFields: 0, chunks: 1 }, rejectParts: [],
    };
    await expect(stack.loadHandler()({ rydesContinuation: continuation } as never, lambdaContext())).resolves.toEqual([]);
    expect(await drainQueue(stack.sqs, stack.queueUrl)).toEqual([]);
  });
});
