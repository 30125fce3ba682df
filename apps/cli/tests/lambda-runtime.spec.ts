import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { fork } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@aws-sdk/client-sqs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { createLambdaClient, invokeEvent, receiveBatch } from '@rydes/aws-adapters';
import { toDelete } from '../src/lambda/event-source';
import { endEarly, forkEarly, FunctionPool, lambdaHeapFlags, LOCAL_MALLOC_TUNABLES, localHeapFlags, type FunctionConfig, type InvokeOutcome } from '../src/lambda/pool';
import type { HostReply } from '../src/lambda/protocol';
import { startStack, type LocalStack } from '../src/stack/local-stack';
import { alive } from './helpers/processes';

const ECHO = join(__dirname, 'fixtures/echo-fn.js');
const POISON = join(__dirname, 'fixtures/poison-sqs-fn.js');

function echoPool(overrides: Partial<FunctionConfig> = {}): FunctionPool {
  return new FunctionPool({
    name: 'echo',
    bundle: ECHO,
    environment: { OUTPUT_BUCKET: 'b-test' },
    timeoutSeconds: 5,
    memoryMb: 128,
    maxConcurrency: 2,
    logFd: 'inherit',
    ...overrides,
  });
}

describe('FunctionPool (a child process per execution environment)', () => {
  let pool: FunctionPool;
  afterEach(() => pool.close());

  it('invokes the bundle with the event, a Lambda context and the function environment', async () => {
    // Prepare
    pool = echoPool();
    // Act
    const outcome = await pool.invoke({ hello: 'world' });
    // Assess
    expect(outcome.ok).toBe(true);
    const result = (outcome as { result: Record<string, unknown> }).result;
    expect(result.event).toEqual({ hello: 'world' });
    expect(result.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.awsRequestId).toBe(outcome.awsRequestId);
    expect(result.functionName).toBe('echo');
    expect(result.env).toEqual({ OUTPUT_BUCKET: 'b-test', AWS_LAMBDA_FUNCTION_NAME: 'echo' });
    expect(result.remainingMs).toBeGreaterThan(3000);
    expect(result.remainingMs).toBeLessThanOrEqual(5000);
  });

  it('reuses a warm environment and starts another only when all are busy', async () => {
    // Prepare
    pool = echoPool();
    // Act
    const first = await pool.invoke({});
    const second = await pool.invoke({});
    const [a, b] = await Promise.all([pool.invoke({ sleepMs: 200 }), pool.invoke({ sleepMs: 200 })]);
    // Assess
    const pid = (o: typeof first) => (o as { result: { pid: number } }).result.pid;
    expect(pid(second)).toBe(pid(first));
    expect(pid(a)).not.toBe(pid(b));
    expect(pool.coldStarts).toBe(2);
  });

  it('reports a thrown error as a failed invocation with its type and message', async () => {
    pool = echoPool();
    const outcome = await pool.invoke({ fail: 'on purpose' });
    expect(outcome).toMatchObject({ ok: false, errorType: 'TypeError', errorMessage: 'asked to fail: on purpose' });
  });

  it('kills an invocation at its timeout, like Lambda, and starts cold next time', async () => {
    pool = echoPool({ timeoutSeconds: 1 });
    const outcome = await pool.invoke({ sleepMs: 5000 });
    expect(outcome).toMatchObject({ ok: false, errorType: 'Runtime.ExitError', errorMessage: 'Task timed out after 1.00 seconds' });
    expect((await pool.invoke({})).ok).toBe(true);
    expect(pool.coldStarts).toBe(2);
  });

  it('reports an environment that exits mid-invocation as Runtime.ExitError', async () => {
    pool = echoPool();
    const outcome = await pool.invoke({ exit: true });
    expect(outcome).toMatchObject({ ok: false, errorType: 'Runtime.ExitError' });
    expect((outcome as { errorMessage: string }).errorMessage).toContain('code 3');
  });

  it('gives the next invocation a fresh environment when an idle one was killed from outside before the pool saw it exit (no EPIPE escapes)', async () => {
    // Prepare: a warm environment, SIGKILLed by someone else (as `rydes up --watch`'s spec and
    // Lambda's reclaiming do); the event loop is held so the pool has not yet seen the exit.
    pool = echoPool({ maxConcurrency: 1 });
    const pid = (o: InvokeOutcome) => (o as { result: { pid: number } }).result.pid;
    const warm = pid(await pool.invoke({}));
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      process.kill(warm, 'SIGKILL');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      // Act
      const outcome = await pool.invoke({ after: 'kill' });
      await new Promise((r) => setTimeout(r, 200));
      // Assess: the invocation ran, once, on a new environment; nothing escaped as an error
      expect(outcome.ok).toBe(true);
      expect((outcome as { result: { event: unknown } }).result.event).toEqual({ after: 'kill' });
      expect(pid(outcome)).not.toBe(warm);
      expect(pool.coldStarts).toBe(2);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('retires idle environments (their processes end), leaves a busy one running, and starts cold afterwards', async () => {
    // Prepare
    pool = echoPool();
    const pid = (o: InvokeOutcome) => (o as { result: { pid: number } }).result.pid;
    const busy = pool.invoke({ sleepMs: 3000 });
    const warm = pid(await pool.invoke({}));
    // Act
    const retired = pool.retireIdle();
    // Assess
    expect(retired).toBe(1);
    expect(pool.environmentCount).toBe(1);
    await waitFor(() => !alive(warm));
    const during = await busy;
    expect(during.ok).toBe(true);
    expect(alive(pid(during))).toBe(true);
    expect(pool.retireIdle()).toBe(1);
    await waitFor(() => !alive(pid(during)));
    const after = await pool.invoke({});
    expect(after.ok).toBe(true);
    expect(pid(after)).not.toBe(warm);
    expect(pool.coldStarts).toBe(3);
    expect(pool.retired).toBe(2);
  });
});

describe('early environments (forkEarly: forked before the function environment is known)', () => {
  let pool: FunctionPool | undefined;
  afterEach(() => pool?.close());

  it('takes an early environment for its first cold start, which then runs with the function environment alone (not the CLI\'s), and ends the one no pool takes', async () => {
    // Prepare: one early environment of the echo bundle, one of another memory size (no pool takes it).
    const early = [forkEarly(ECHO, 128, 'inherit'), forkEarly(ECHO, 256, 'inherit')];
    const [taken, left] = early.map((e) => e.child.pid);
    try {
      pool = echoPool({ early, maxConcurrency: 1 });
      // Act
      const outcome = await pool.invoke({ hello: 'early' });
      // Assess
      expect(outcome.ok).toBe(true);
      const result = (outcome as { result: { pid: number; env: Record<string, unknown>; event: unknown } }).result;
      expect(result.pid).toBe(taken);
      expect(result.event).toEqual({ hello: 'early' });
      expect(result.env).toEqual({ OUTPUT_BUCKET: 'b-test', AWS_LAMBDA_FUNCTION_NAME: 'echo' });
      expect(early.map((e) => e.child.pid)).toEqual([left]);
      // What only the early fork had (the variable that made it wait) is gone; the function's own variables are there.
      const deferred = await pool.invoke({ envProbe: 'RYDES_LAMBDA_DEFERRED' });
      expect((deferred as { result: { probed?: unknown } }).result.probed).toBeNull();
      const own = await pool.invoke({ envProbe: 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE' });
      expect((own as { result: { probed?: unknown } }).result.probed).toBe('128');
      endEarly(early);
      await waitFor(() => !alive(left as number));
      expect(early).toEqual([]);
      expect(alive(taken as number)).toBe(true);
    } finally {
      endEarly(early);
    }
  });
});

describe('FunctionPool code cache (host.ts loads the bundle through vm.Script with V8 code cache)', () => {
  const saved = process.env.TMPDIR;
  let dir: string;
  let pool: FunctionPool;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-code-cache-spec-'));
    // The environments' os.tmpdir(): this spec's caches stay in its own folder.
    process.env.TMPDIR = dir;
  });
  afterEach(async () => {
    await pool?.close();
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A bundle with `require` of a sibling file, `module.exports`, `__filename` and `__dirname`, answering `answer`. */
  function writeBundle(answer: string): string {
    mkdirSync(join(dir, 'fn'), { recursive: true });
    writeFileSync(join(dir, 'fn', 'helper.js'), 'module.exports = (x) => `${x}!`;\n');
    const bundle = join(dir, 'fn', 'main.js');
    writeFileSync(
      bundle,
      `const helper = require('./helper');\nmodule.exports.handler = async () => ({ answer: helper('${answer}'), file: __filename, dir: __dirname, self: module.exports === exports, cached: require.cache[__filename] === module, pid: process.pid });\n`,
    );
    return bundle;
  }

  it('compiles cold the first time, loads the next environment from the cache, and runs changed code of the same length anew', async () => {
    // Prepare
    const bundle = writeBundle('one');
    pool = echoPool({ bundle });
    // Act
    const first = await pool.invoke({});
    pool.retireIdle();
    const second = await pool.invoke({});
    writeBundle('two');
    pool.retireIdle();
    const changed = await pool.invoke({});
    // Assess
    const result = (o: InvokeOutcome) => (o as { result: Record<string, unknown> }).result;
    expect(result(first)).toMatchObject({ answer: 'one!', file: bundle, dir: join(dir, 'fn'), self: true, cached: true });
    expect(result(second)).toMatchObject({ answer: 'one!', file: bundle, self: true, cached: true });
    expect(result(second).pid).not.toBe(result(first).pid);
    expect(result(changed).answer).toBe('two!');
    expect(pool.coldStarts).toBe(3);
    expect(pool.codeCacheHits).toBe(1);
    // The changed bundle's environment writes its own cache just after answering.
    const caches = () => readdirSync(join(dir, `rydes-code-cache-${process.getuid?.() ?? 'user'}`)).filter((f) => f.endsWith('.v8cache'));
    await waitFor(() => caches().length === 2);
    expect(caches()).toHaveLength(2);
  });

  it("starts each environment with Lambda's old-generation limit for its memory and a small young generation", async () => {
    // Prepare
    mkdirSync(join(dir, 'flags'));
    const bundle = join(dir, 'flags', 'main.js');
    writeFileSync(bundle, "module.exports.handler = async () => ({ flags: process.execArgv.filter((f) => f.startsWith('--max-')), limitMb: require('node:v8').getHeapStatistics().heap_size_limit / 1048576 });\n");
    pool = echoPool({ bundle, memoryMb: 512 });
    // Act
    const outcome = await pool.invoke({});
    // Assess
    const result = (outcome as { result: { flags: string[]; limitMb: number } }).result;
    expect(lambdaHeapFlags(512)).toEqual(['--max-semi-space-size=25', '--max-old-space-size=461']);
    expect(localHeapFlags(512)).toEqual(['--max-semi-space-size=4', '--max-old-space-size=461']);
    expect(localHeapFlags(64)).toEqual(['--max-semi-space-size=3', '--max-old-space-size=58']);
    expect(result.flags).toEqual(localHeapFlags(512));
    expect(result.limitMb).toBeGreaterThan(461);
    expect(result.limitMb).toBeLessThan(512);
  });

  it('starts each environment with a fixed mmap threshold for glibc malloc (large freed blocks go back to the system)', async () => {
    // Prepare
    mkdirSync(join(dir, 'malloc'));
    const bundle = join(dir, 'malloc', 'main.js');
    writeFileSync(bundle, 'module.exports.handler = async () => ({ tunables: process.env.GLIBC_TUNABLES ?? null });\n');
    pool = echoPool({ bundle });
    // Act
    const outcome = await pool.invoke({});
    // Assess
    expect(LOCAL_MALLOC_TUNABLES).toBe('glibc.malloc.mmap_threshold=131072');
    expect((outcome as { result: { tunables: string } }).result.tunables).toBe(LOCAL_MALLOC_TUNABLES);
  });

  it('refreshes the time of a cache each environment loads, so pruning keeps the caches in use (not only the last written)', async () => {
    // Prepare: a cache written, then made to look older than any other
    pool = echoPool({ bundle: writeBundle('one') });
    await pool.invoke({});
    const folder = join(dir, `rydes-code-cache-${process.getuid?.() ?? 'user'}`);
    const caches = () => readdirSync(folder).filter((f) => f.endsWith('.v8cache'));
    // The environment writes its cache just after answering its first invocation.
    for (const deadline = Date.now() + 5000; caches().length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    const [cache] = caches();
    const old = new Date('2020-01-01T00:00:00Z');
    utimesSync(join(folder, cache), old, old);
    // Act
    pool.retireIdle();
    await pool.invoke({});
    // Assess
    expect(pool.codeCacheHits).toBe(1);
    expect(statSync(join(folder, cache)).mtimeMs).toBeGreaterThan(old.getTime() + 1000);
  });

  it('starts an environment run with --cpu-prof from the cache a plain environment wrote (profiling flags are not part of its key)', async () => {
    // Prepare: a plain environment compiles the bundle and writes its cache after its first invocation
    const bundle = writeBundle('one');
    pool = echoPool({ bundle });
    await pool.invoke({});
    const folder = join(dir, `rydes-code-cache-${process.getuid?.() ?? 'user'}`);
    await waitFor(() => readdirSync(folder).some((f) => f.endsWith('.v8cache')));
    await pool.close();
    // Act: an environment started as `node --cpu-prof … main.js run` starts its environments
    const profiles = join(dir, 'prof');
    const host = fork(join(__dirname, '../src/lambda/host.ts'), [], {
      execArgv: [...localHeapFlags(128), '--import', 'tsx', '--cpu-prof', `--cpu-prof-dir=${profiles}`],
      env: { PATH: process.env.PATH, TMPDIR: dir, RYDES_LAMBDA_BUNDLE: bundle, _HANDLER: 'main.handler' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    const ready = await new Promise<HostReply>((resolve) => host.once('message', resolve));
    const exited = new Promise((resolve) => host.once('exit', resolve));
    host.disconnect();
    await exited;
    // Assess: the cache was used, and the profile was written (the flags did reach the environment)
    expect(ready).toEqual({ type: 'ready', codeCache: 'hit' });
    expect(readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile')).length).toBeGreaterThan(0);
    expect(readdirSync(folder).filter((f) => f.endsWith('.v8cache'))).toHaveLength(1);
  });

  it('does not use a cache folder other users can write to', async () => {
    // Prepare
    const shared = join(dir, `rydes-code-cache-${process.getuid?.() ?? 'user'}`);
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    pool = echoPool({ bundle: writeBundle('one') });
    // Act
    await pool.invoke({});
    pool.retireIdle();
    const second = await pool.invoke({});
    // Assess
    expect(second.ok).toBe(true);
    expect(pool.codeCacheHits).toBe(0);
    expect(readdirSync(shared)).toEqual([]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('toDelete (ReportBatchItemFailures rules)', () => {
  const messages: Message[] = ['a', 'b', 'c'].map((id) => ({ MessageId: id, ReceiptHandle: `r-${id}` }));

  it('deletes all but the reported item failures', () => {
    const kept = toDelete(messages, { ok: true, result: { batchItemFailures: [{ itemIdentifier: 'b' }] } });
    expect(kept?.map((m) => m.MessageId)).toEqual(['a', 'c']);
  });

  it('deletes every message of a batch answered with no failures (or no response)', () => {
    expect(toDelete(messages, { ok: true, result: { batchItemFailures: [] } })).toHaveLength(3);
    expect(toDelete(messages, { ok: true, result: null })).toHaveLength(3);
  });

  it('fails the whole batch on an exception or an unknown itemIdentifier', () => {
    expect(toDelete(messages, { ok: false })).toBeUndefined();
    expect(toDelete(messages, { ok: true, result: { batchItemFailures: [{ itemIdentifier: 'zz' }] } })).toBeUndefined();
    expect(toDelete(messages, { ok: true, result: { batchItemFailures: [{ itemIdentifier: '' }] } })).toBeUndefined();
  });
});

describe('local stack wiring on real s3rver + local-aws-sqs (test bundles, no AWS mocks)', () => {
  let stack: LocalStack;
  let dir: string;
  let recordFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-cli-stack-'));
    recordFile = join(dir, 'records.ndjson');
    stack = await startStack({
      dataDir: dir,
      concurrency: 2,
      ridesPerMessage: 100,
      // 6 s, not 1: the first batch waits for the environments' cold starts (a child process each,
      // transpiling the host under tsx in specs), which outlasted 3 s in a loaded CI run, and SQS
      // would then rightly deliver ok-1 again.
      visibilityTimeoutSeconds: 6,
      ingestRetryDelaysMs: [50, 50],
      bundles: { ingest: ECHO, transform: POISON },
      extraEnvironment: { RECORD_FILE: recordFile },
    });
  });
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deletes processed messages, redelivers failed ones and redrives them to the DLQ after 5 receives', async () => {
    // Act
    await stack.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queues.fanout.url,
        Entries: ['ok-1', 'ok-2', 'poison-1', 'ok-3'].map((body, i) => ({ Id: String(i), MessageBody: body })),
      }),
    );
    const deadline = Date.now() + 100_000;
    let dlq = 0;
    while (Date.now() < deadline) {
      const depth = await stack.depth(stack.queues.fanoutDlq);
      dlq = depth.visible;
      const fanout = await stack.depth(stack.queues.fanout);
      if (dlq === 1 && fanout.visible + fanout.inFlight === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // Assess
    expect(dlq).toBe(1);
    const records = readFileSync(recordFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const poison = records.filter((r) => r.body === 'poison-1');
    // local-aws-sqs may return a message twice in one long poll when the visibility timeout
    // expires during the wait; the poller keeps the later copy, so a count can be skipped.
    const counts = poison.map((r) => Number(r.attributes.ApproximateReceiveCount)).sort();
    expect(new Set(counts).size).toBe(counts.length);
    expect(Math.max(...counts)).toBe(5);
    for (const body of ['ok-1', 'ok-2', 'ok-3']) expect(records.filter((r) => r.body === body)).toHaveLength(1);
    expect(Object.keys(records[0]).sort()).toEqual(
      ['attributes', 'awsRegion', 'body', 'eventSource', 'eventSourceARN', 'md5OfBody', 'messageAttributes', 'messageId', 'receiptHandle'].sort(),
    );
    expect(records[0]).toMatchObject({ eventSource: 'aws:sqs', eventSourceARN: stack.queues.fanout.arn, awsRegion: 'us-east-1' });
    const moved = await receiveBatch(stack.sqs, stack.queues.fanoutDlq.url);
    expect(moved.map((m) => m.Body)).toEqual(['poison-1']);
    expect(stack.transform.stats.itemFailures).toBe(counts.length);
    // The ok messages' deletes ran in the background and were all answered.
    expect(stack.transform.stats).toMatchObject({ deleted: 3, deleteFailures: 0, inFlight: 0 });
  }, 120_000);

  it('retries a failing async invocation twice, then sends the event to the ingest DLQ', async () => {
    // Act: the echo bundle throws on { fail }; an S3 event would arrive the same way.
    stack.ingest.invoke({ fail: 'poison file' });
    await stack.ingest.drain();
    // Assess
    expect(stack.ingest.stats).toMatchObject({ invoked: 1, retries: 2, deadLettered: 1, pending: 0 });
    const Messages = await receiveBatch(stack.sqs, stack.queues.ingestDlq.url);
    // An on-failure destination's invocation record, as AWS writes it (parity.spec.ts has the whole shape).
    expect(JSON.parse(Messages[0].Body ?? '')).toMatchObject({
      requestPayload: { fail: 'poison file' },
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      responsePayload: { errorType: 'TypeError', errorMessage: 'asked to fail: poison file' },
    });
  });

  it('serves the Lambda Invoke API: Event invocations are queued, RequestResponse ones answer', async () => {
    // Prepare: the client the ingest bundle uses for its continuation hand-off
    const lambda = createLambdaClient({ ...stack.servers.env, AWS_ENDPOINT_URL_LAMBDA: stack.lambdaEndpoint });
    const before = stack.ingest.stats.succeeded;
    // Act
    await invokeEvent(lambda, 'arn:aws:lambda:us-east-1:123456789012:function:rydes-ingest', { rydesContinuation: { offset: 42 } });
    await stack.ingest.drain();
    const direct = await lambda.send(new InvokeCommand({ FunctionName: 'rydes-ingest', Payload: Buffer.from('{"hello":1}') }));
    lambda.destroy();
    // Assess
    expect(stack.ingest.stats.succeeded).toBe(before + 1);
    expect(direct.StatusCode).toBe(200);
    expect(JSON.parse(Buffer.from(direct.Payload ?? []).toString()).event).toEqual({ hello: 1 });
  });
});
