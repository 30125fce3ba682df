import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnoseLocal } from '../src/commands/doctor';
import type { RunSummaryFile } from '../src/run/summary-file';
import { defaultBundles } from '../src/stack/bundles';
import { startStack } from '../src/stack/local-stack';
import { runQuietly, writeInput } from './helpers/pipeline';

const bundlesBuilt = existsSync(defaultBundles().ingest) && existsSync(defaultBundles().transform);
const FAIL_INGEST = join(__dirname, 'fixtures/fail-ingest.js');

describe('an ingest that fails every attempt: the summary, summary.json and doctor name the file and the reason from the ingest DLQ (real s3rver + local-aws-sqs, fail-ingest.js around the BUILT bundle)', () => {
  let dir: string;
  beforeAll(() => {
    if (!bundlesBuilt) throw new Error('build the bundles first: npx nx run-many -t build -p ingest-fn transform-fn');
    dir = mkdtempSync(join(tmpdir(), 'rydes-e2e-dlq-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rydes run: the file is "lost" with the invocation record\'s condition, attempts and error; the other file is done; exit 1', async () => {
    const good = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'good.ndjson' }, 11, 200, 0);
    const doomed = await writeInput(dir, { shape: 'array', gzip: false, name: 'doomed.json' }, 12, 150, 0);
    const outDir = join(dir, 'out');
    process.env.RYDES_INGEST_BUNDLE = FAIL_INGEST;
    let run: Awaited<ReturnType<typeof runQuietly>>;
    try {
      run = await runQuietly({
        files: [good.path, doomed.path],
        outDir,
        ridesPerMessage: 100,
        ingestRetryDelaysMs: [10, 10],
        extraEnvironment: { REAL_INGEST_BUNDLE: defaultBundles({}).ingest, FAIL_SOURCE: 'doomed-' },
      });
    } finally {
      delete process.env.RYDES_INGEST_BUNDLE;
    }

    expect(run.result.exitCode).toBe(1);
    const reason = `InjectedIngestError: injected failure for ${doomed.key}: test fixture (RetriesExhausted after 3 attempt(s))`;
    expect(run.output.out).toContain(`${doomed.path} → ${doomed.key}: lost: in the ingest DLQ: ${reason}`);
    expect(run.output.out).toContain(`${good.path} → ${good.key}: done: 200 rides written (0 rejected)`);
    expect(run.output.out).toContain(`whole file(s) in the ingest DLQ: ${doomed.path}`);
    expect(run.output.out).toMatch(/^FAILED: .*1 ingest event\(s\) in the ingest DLQ: /m);
    const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as RunSummaryFile;
    expect(summary.exitCode).toBe(1);
    expect(summary.dlq.ingest).toBe(1);
    expect(summary.dlq.ingestFiles).toEqual([
      {
        key: doomed.key,
        path: doomed.path,
        error: `InjectedIngestError: injected failure for ${doomed.key}: test fixture`,
        condition: 'RetriesExhausted',
        attempts: 3,
        errorType: 'InjectedIngestError',
        errorMessage: `injected failure for ${doomed.key}: test fixture`,
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    ]);
    expect(summary.files.find((f) => f.path === doomed.path)).toMatchObject({ status: 'failed', error: `ingest DLQ: ${reason}` });
    expect(summary.files.find((f) => f.path === good.path)).toMatchObject({ status: 'done', rowsWritten: 200 });
  }, 300_000);

  it('rydes doctor --local on the running stack: the DLQ line names the file, the condition, the attempts and the error', async () => {
    const doomed = await writeInput(dir, { shape: 'ndjson', gzip: false, name: 'doomed_too.ndjson' }, 13, 50, 0);
    const stack = await startStack({
      dataDir: join(dir, 'data'),
      concurrency: 1,
      ridesPerMessage: 100,
      ingestRetryDelaysMs: [10, 10],
      bundles: { ingest: FAIL_INGEST, transform: defaultBundles({}).transform },
      extraEnvironment: { REAL_INGEST_BUNDLE: defaultBundles({}).ingest, FAIL_SOURCE: 'doomed_too' },
    });
    try {
      await stack.upload(doomed.path, doomed.key);
      const deadline = Date.now() + 60_000;
      while (stack.ingest.stats.deadLettered === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await stack.ingest.drain();

      const checks = await diagnoseLocal({ s3: stack.s3, sqs: stack.sqs }, { eventSourceLog: join(stack.logDir, 'event-source.log') });

      const dlqs = checks.find((c) => c.label === 'DLQs empty');
      expect(dlqs?.ok).toBe(false);
      expect(dlqs?.hint).toContain(
        `ingest DLQ holds 1 message(s) (${stack.queues.ingestDlq.url}): doomed_too.ndjson (${doomed.key}): InjectedIngestError: injected failure for ${doomed.key}: test fixture (RetriesExhausted after 3 attempt(s))`,
      );
      expect(checks.find((c) => c.label === 'event source receives without errors')?.ok).toBe(true);
      // doctor only looked: the record is still there.
      const again = await diagnoseLocal({ s3: stack.s3, sqs: stack.sqs });
      expect(again.find((c) => c.label === 'DLQs empty')?.hint).toContain('doomed_too.ndjson');
    } finally {
      await stack.close();
    }
  }, 120_000);
});
