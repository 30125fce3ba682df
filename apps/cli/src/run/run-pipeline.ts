import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { objectKeys, peekMessage } from '@rydes/ride-model';
import { InputFileError, StallError } from '../errors';
import type { BatchReport } from '../lambda/event-source';
import { startStack, type LocalStack, type StackOptions } from '../stack/local-stack';
import { CompletionTracker, describeMissing, type CompletionCheck } from './completion';
import { lostWork, readDeadLetters } from './dead-letters';
import { OutputMirror, mergeRides } from './output';
import { createProgress } from './progress';
import { reportAfterRun } from '../report/after-run';
import { figuresOf, formatSummary, verdictOf, type RunFigures, type Verdict } from './summary';

export interface RunOptions extends Omit<StackOptions, 'onBatch'> {
  files: string[];
  outDir: string;
  stallTimeoutSeconds: number;
  /** Rides expected, when known up front (the generated sample). */
  expectedRides?: number;
  /** How often the completion check runs, ms. */
  checkIntervalMs?: number;
  /** Write out/report.html at the end (default; specs about the run itself skip it). */
  report?: boolean;
  /** Where progress and the summary go. */
  stderr?: NodeJS.WriteStream;
  stdout?: NodeJS.WritableStream;
}

export interface RunResult {
  figures: RunFigures;
  verdict: Verdict;
  check: CompletionCheck;
  exitCode: number;
  /** With --chaos: requests the functions sent through each fault proxy, by operation. */
  proxiedRequests?: { S3: Record<string, number>; SQS: Record<string, number> };
}

/** A fan-out message body's chunk identity and rides, for progress only (malformed: undefined); its rides are not parsed. */
function chunkIn(body: string): { id: string; rides: number; key?: string } | undefined {
  const message = peekMessage(body);
  if (!message) return undefined;
  const { source, chunk } = message;
  const key = typeof source.key === 'string' && typeof source.etag === 'string' ? objectKeys(source).processed(chunk) : undefined;
  return { id: `${source.key}#${source.etag}#${chunk}`, rides: message.rides, key };
}

function checkInputs(files: string[]): void {
  for (const file of files) {
    if (!existsSync(file)) throw new InputFileError(file, 'no such file');
    if (!statSync(file).isFile()) throw new InputFileError(file, 'not a regular file');
  }
}

/**
 * `rydes run`: the whole pipeline on this machine. Starts the stack, uploads every file to
 * raw/, waits until every manifest's chunks are in processed/ and the queues are empty (or no
 * progress for the stall timeout), mirrors the outputs into `outDir`, merges `rides.csv` and
 * prints the summary. The stack is closed on every path.
 */
export async function runPipeline(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const stderr = options.stderr ?? process.stderr;
  const stdout = options.stdout ?? process.stdout;
  checkInputs(options.files);
  let written = 0;
  // A chunk can be processed more than once (an ingest retry resends its chunks, duplicate deliveries): count it once.
  const writtenChunks = new Set<string>();
  // The stack's S3 client exists only once the stack runs, after onBatch is handed to it.
  const outputs: { mirror?: OutputMirror } = {};
  const onBatch = (batch: BatchReport) => {
    for (const body of batch.deletedBodies) {
      const chunk = chunkIn(body);
      if (!chunk || writtenChunks.has(chunk.id)) continue;
      writtenChunks.add(chunk.id);
      written += chunk.rides;
      // Copied into --out while the run goes on; the final pass fixes whatever this got wrong.
      if (chunk.key) outputs.mirror?.fetch(chunk.key);
    }
  };
  const phases: Array<[string, number]> = [];
  let mark = Date.now();
  const phase = (name: string) => {
    phases.push([name, (Date.now() - mark) / 1000]);
    mark = Date.now();
  };
  const stack = await startStack({ ...options, onBatch });
  const mirror = (outputs.mirror = new OutputMirror(stack.s3, stack.bucket, options.outDir));
  const stop = stopOnSignal(stack, stderr);
  try {
    phase('start');
    const keys: string[] = [];
    for (const file of options.files) keys.push((await stack.upload(resolve(file))).key);
    phase('upload');
    const tracker = new CompletionTracker(stack, keys);
    const progress = createProgress(stderr);
    let check: CompletionCheck;
    let stalled: string | undefined;
    try {
      ({ check, stalled } = await waitUntilSettled(stack, tracker, options, () => written, (state) => progress.update(state)));
    } finally {
      progress.stop();
    }
    phase('pipeline');
    await mirror.finish();
    phase('download');
    const merged = await mergeRides(options.outDir, check.sources);
    const dead = await readDeadLetters(stack.sqs, stack.queues, check);
    phase('merge');
    const proxies = stack.faultProxies;
    const figures = figuresOf(check, merged.rows, (Date.now() - started) / 1000, {
      ingestRetries: stack.ingest.stats.retries,
      transformRedeliveries: stack.transform.stats.failedDeliveries,
      ...(proxies && { sdkRetries: { S3: proxies.S3.stats.retries, SQS: proxies.SQS.stats.retries } }),
      ...(options.chaos && { faults: { ...options.chaos.injected } }),
      lost: lostWork(check, merged.bySource, dead),
    });
    const verdict = verdictOf(figures, check, stalled);
    stdout.write(`${formatSummary(figures, verdict)}\n`);
    stderr.write(`phases: ${phases.map(([name, s]) => `${name} ${s.toFixed(1)} s`).join(', ')}\n`);
    if (!verdict.ok && !check.complete) stderr.write(`missing:\n  ${describeMissing(check)}\n`);
    if (options.report !== false) await reportAfterRun(options.outDir, stdout, stderr);
    return {
      figures,
      verdict,
      check,
      exitCode: verdict.ok ? 0 : 1,
      ...(proxies && { proxiedRequests: { S3: { ...proxies.S3.stats.requests }, SQS: { ...proxies.SQS.stats.requests } } }),
    };
  } finally {
    stop();
    await stack.close();
  }
}

async function waitUntilSettled(
  stack: LocalStack,
  tracker: CompletionTracker,
  options: RunOptions,
  written: () => number,
  report: (state: { ingested: number; written: number; inFlightMessages: number; total?: number }) => void,
): Promise<{ check: CompletionCheck; stalled?: string }> {
  const interval = options.checkIntervalMs ?? 250;
  let signature = '';
  let lastChange = Date.now();
  for (;;) {
    const check = await tracker.check();
    const manifests = check.sources.flatMap((s) => (s.manifest ? [s.manifest] : []));
    const allManifests = manifests.length === check.sources.length;
    const queued = (check.fanout.visible + check.fanout.inFlight) * options.ridesPerMessage;
    const valid = manifests.reduce((n, m) => n + m.valid, 0);
    report({
      ingested: allManifests ? valid : Math.max(valid, written() + queued),
      written: written(),
      inFlightMessages: check.fanout.visible + check.fanout.inFlight,
      total: allManifests ? valid : options.expectedRides,
    });
    if (check.settled) return { check };
    const now = JSON.stringify([
      written(),
      stack.transform.stats.received,
      stack.ingest.stats,
      manifests.length,
      check.fanout,
      check.fanoutDlq,
      check.ingestDlq,
    ]);
    if (now !== signature) {
      signature = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > options.stallTimeoutSeconds * 1000) {
      const error = new StallError(options.stallTimeoutSeconds, describeMissing(check));
      return { check, stalled: error.message };
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Ctrl-C / SIGTERM: stop pollers and functions, close the servers, exit 130 / 143. */
export function stopOnSignal(stack: LocalStack, stderr: NodeJS.WritableStream): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stderr.write(`\n${signal}: stopping pollers and functions, closing the local servers…\n`);
    void stack.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
