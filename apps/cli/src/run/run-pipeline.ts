import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { objectKeys, peekMessage } from '@rydes/ride-model';
import { EXIT, StallError } from '../errors';
import type { BatchReport } from '../lambda/event-source';
import { startStack, type LocalStack, type StackOptions } from '../stack/local-stack';
import { CompletionTracker, describeQueues, sourceState, type CompletionCheck } from './completion';
import { lostWork, readDeadLetters } from './dead-letters';
import { prepareInputs, sampleInput, type RunInput } from './inputs';
import { OutputFolder, REPORT_FILE } from './out-folder';
import { OutputMirror, mergeRides } from './output';
import { preflightStations } from './preflight';
import { createProgress } from './progress';
import { RunReport } from '../report/after-run';
import { buildSummaryFile, writeSummaryFile } from './run-summary';
import { generateSample, type Sample } from './sample';
import { uploadInput } from './upload-input';
import { formatSteps, step } from './steps';
import type { TimelinePoint } from './summary-file';
import { countNotRead, exitCodeOf, figuresOf, formatSummary, verdictOf, withOutcomes, type FileLine, type FunctionError, type RunFigures, type Verdict } from './summary';

export interface RunOptions extends Omit<StackOptions, 'onBatch' | 'logDir'> {
  /** Ride files; none: `sample` is generated. */
  files: string[];
  /** Generate this sample when no FILE is given (after the preflight). */
  sample?: { rides: number; seed: number };
  outDir: string;
  /** Write into a non-empty folder rydes did not create (never deleting its files). */
  force?: boolean;
  stallTimeoutSeconds: number;
  /** Rides expected, when known up front (the generated sample). */
  expectedRides?: number;
  /** How often the completion check runs, ms. */
  checkIntervalMs?: number;
  /** Write out/report.html at the end (default; specs about the run itself skip it). */
  report?: boolean;
  /** The --chaos spec as given, for summary.json. */
  chaosSpec?: string;
  /** Where progress and the summary go. */
  stderr?: NodeJS.WriteStream;
  stdout?: NodeJS.WritableStream;
}

export interface RunResult {
  figures: RunFigures;
  verdict: Verdict;
  check: CompletionCheck;
  exitCode: number;
  /** Every FILE with its raw/ key (duplicates share the first one's). */
  inputs: RunInput[];
  /** With --chaos: requests the functions sent through each fault proxy, by operation. */
  proxiedRequests?: { S3: Record<string, number>; SQS: Record<string, number> };
}

/** A fan-out message body's chunk identity and rides, for progress only (malformed: undefined); its rides are not parsed. */
function chunkIn(body: string): { version: string; chunk: number; rides: number; source: string; key?: string } | undefined {
  const message = peekMessage(body);
  if (!message) return undefined;
  const { source, chunk } = message;
  const key = typeof source.key === 'string' && typeof source.etag === 'string' ? objectKeys(source).processed(chunk) : undefined;
  return { version: `${source.key}#${source.etag}`, chunk, rides: message.rides, source: source.key, key };
}

/**
 * Chunk numbers seen, by source version: a set of small integers per version, where a set of
 * `key#etag#chunk` strings kept one ~100-byte string per message for the whole run (200,000 with
 * one ride per message).
 */
class ChunksSeen {
  private readonly byVersion = new Map<string, Set<number>>();

  /** Adds the chunk; false when it was there already. */
  add(version: string, chunk: number): boolean {
    let chunks = this.byVersion.get(version);
    if (!chunks) this.byVersion.set(version, (chunks = new Set()));
    if (chunks.has(chunk)) return false;
    chunks.add(chunk);
    return true;
  }
}

/**
 * `rydes run`: the whole pipeline on this machine. First the preflight, before anything starts:
 * every FILE's name and readability (each gets a raw/ key from its name and bytes), the station
 * catalogue parsed as the transform will, --out claimed (see {@link OutputFolder}). Then starts
 * the stack, uploads every distinct file to raw/, waits until every manifest's chunks are in
 * processed/ and the queues are empty (or no progress for the stall timeout), mirrors the outputs
 * into --out, merges `rides.csv`, writes `summary.json` and prints the summary. The stack is
 * closed and --out released on every path.
 */
export async function runPipeline(options: RunOptions): Promise<RunResult> {
  step('runPipeline');
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const stderr = options.stderr ?? process.stderr;
  const stdout = options.stdout ?? process.stdout;
  const inputs = await prepareInputs(options.files);
  step('inputs');
  const stationCount = await preflightStations(options, stderr);
  step('preflight');
  const out = await OutputFolder.claim(options.outDir, { force: options.force, notes: stderr });
  step('claimed');
  let sampling: Promise<Sample> | undefined;
  let logs: { dir: string; temporary: boolean } | undefined;
  let keepLogs = false;
  try {
    if (!options.files.length && options.sample) {
      // Written while the stack starts (the same event loop: the generator yields every 64 KiB);
      // the upload waits for it. A failure surfaces there, inside the stack's cleanup.
      sampling = generateSample(options.sample.rides, options.sample.seed, options.dataDir);
      sampling.catch(() => undefined);
    }
    logs = options.dataDir
      ? { dir: join(options.dataDir, 'logs'), temporary: false }
      : { dir: await mkdtemp(join(tmpdir(), 'rydes-logs-')), temporary: true };
    const result = await runStack(options, inputs, out, logs.dir, { started, startedAt, stationCount, stderr, stdout, sampling });
    keepLogs = result.exitCode !== EXIT.OK || result.figures.functionErrors.length > 0 || !!result.figures.eventSource?.logFile;
    return result;
  } catch (err) {
    // A run stopped by a signal fails where the closing stack cuts it off (an upload whose
    // server thread ended, …): the signal's handler decides the exit (130 / 143), not that error.
    if (signalStop) await signalStop;
    throw err;
  } finally {
    await (await sampling?.catch(() => undefined))?.remove();
    if (logs?.temporary) await rm(logs.dir, { recursive: true, force: true });
    if (!keepLogs) await out.removeStale('logs/', () => false);
    await out.release();
    step('released');
    const steps = formatSteps();
    if (steps) stderr.write(`steps:\n${steps}`);
  }
}

interface RunContext {
  started: number;
  startedAt: string;
  stationCount?: number;
  stderr: NodeJS.WriteStream;
  stdout: NodeJS.WritableStream;
  /** The generated sample being written (no FILE given): the run's one input once it is. */
  sampling?: Promise<Sample>;
}

/**
 * Rides still to be written, at least, when the ingest is done for the report's thread to start
 * then (it loads ECharts meanwhile, ~0.2 s of CPU): with fewer (a small file), the last
 * invocations are the pipeline's whole remaining time, and the thread would slow them; it then
 * starts when the pipeline is over.
 */
const REPORT_EARLY_RIDES_LEFT = 20_000;

async function runStack(options: RunOptions, inputs: RunInput[], out: OutputFolder, logDir: string, context: RunContext): Promise<RunResult> {
  const { stderr, stdout, started } = context;
  let sample: Sample | undefined;
  let written = 0;
  const writtenBySource: Record<string, number> = {};
  // A chunk can be processed more than once (an ingest retry resends its chunks, duplicate deliveries): count it once.
  const writtenChunks = new ChunksSeen();
  const transformErrors: { count: number; first?: string } = { count: 0 };
  // The stack's S3 client exists only once the stack runs, after onBatch is handed to it.
  const outputs: { mirror?: OutputMirror; report?: RunReport } = {};
  let batches = 0;
  const onBatch = (batch: BatchReport) => {
    if (batches++ === 0) step('first batch done');
    if (batch.errorMessage || batch.failed) {
      transformErrors.count++;
      transformErrors.first ??= batch.errorMessage ?? `${batch.failed} message(s) reported failed by the handler (batchItemFailures)`;
    }
    for (const body of batch.deletedBodies) {
      const chunk = chunkIn(body);
      if (!chunk || !writtenChunks.add(chunk.version, chunk.chunk)) continue;
      written += chunk.rides;
      if (chunk.source) writtenBySource[chunk.source] = (writtenBySource[chunk.source] ?? 0) + chunk.rides;
      // Copied into --out while the run goes on; the final pass fixes whatever this got wrong.
      if (chunk.key) outputs.mirror?.fetch(chunk.key);
      if (chunk.key) outputs.report?.offer(chunk.key);
    }
  };
  const phases: Array<[string, number]> = [];
  let mark = Date.now();
  const phase = (name: string) => {
    step(`phase ${name} done`);
    phases.push([name, (Date.now() - mark) / 1000]);
    mark = Date.now();
  };
  // The handler is in place before the stack starts: its function environments are forked while
  // it starts, and a Ctrl-C then must still close them and the servers (exit 130, not death by signal).
  const starting = startStack({ ...options, logDir, onBatch });
  const stop = stopOnSignal(starting, stderr, () => out.release());
  const stack = await starting.catch((error: unknown) => {
    stop();
    throw error;
  });
  // The servers' own temp folder (no --data-dir) is deleted after the run: its files can be linked into --out.
  const mirror = (outputs.mirror = new OutputMirror(stack.s3, stack.bucket, out, {
    localFile: (key) => stack.servers.objectFile(stack.bucket, key),
    linkLocalFiles: !options.dataDir,
    listLocal: (prefix) => stack.servers.listObjectFiles(stack.bucket, prefix),
  }));
  // The report's rows are read from the bucket's files as they are written when --out gets links to those same files.
  const report = (outputs.report = options.report === false ? undefined : new RunReport(options.outDir, options.stationsFile, (key) => (options.dataDir ? undefined : stack.servers.objectFile(stack.bucket, key))));
  try {
    phase('start');
    if (context.sampling) {
      sample = await context.sampling;
      inputs = [sampleInput(sample)];
      // What writing the sample took beyond the stack's start.
      phase('sample');
    }
    const keys: string[] = [];
    // Listening before the first upload: a small file's manifest can be written before the last upload ends.
    const tracker = new CompletionTracker(stack, keys);
    for (const input of inputs) {
      if (input.duplicateOf) continue;
      keys.push((await uploadInput(stack, input)).key);
    }
    phase('upload');
    const progress = createProgress(stderr);
    const timeline: TimelinePoint[] = [];
    let check: CompletionCheck;
    let stalled: string | undefined;
    try {
      const read = bytesReadOf(stack, inputs);
      ({ check, stalled } = await waitUntilSettled(stack, tracker, options, () => written, (counts) => {
        const state = { ...counts, ...read() };
        timeline.push({ t: round((Date.now() - started) / 1000), ingested: state.ingested, written: state.written, inFlightMessages: state.inFlightMessages, bytesRead: state.bytesRead });
        progress.update(state);
        // The ingest's environment is retired (every file ingested, its memory given back): the
        // report's thread loads while the last messages are transformed, when enough are left.
        if (stack.ingestPool.retired > 0 && stack.ingestPool.environmentCount === 0 && (state.total ?? 0) - state.written >= REPORT_EARLY_RIDES_LEFT) report?.prepare();
      }));
    } finally {
      progress.stop();
      tracker.close();
    }
    phase('pipeline');
    step(`batches ${batches}`);
    report?.pipelineDone(timeline);
    await mirror.finish();
    phase('download');
    const merged = await mergeRides(out, check.sources, (key) => mirror.readable(key), report?.mergedChunk);
    const dead = await readDeadLetters(stack.sqs, stack.queues, check);
    phase('merge');
    const logFile = (name: string) => (options.verbose ? undefined : join(logDir, `${name}.log`));
    const functionErrors: FunctionError[] = [];
    const ingestFailures = stack.ingest.failures.filter((f) => !f.outcome.ok);
    if (ingestFailures.length || stack.ingest.stats.retries) {
      const outcome = ingestFailures[0]?.outcome;
      functionErrors.push({
        function: 'ingest-fn',
        failures: ingestFailures.length + stack.ingest.stats.retries,
        firstError: (await firstLoggedError(logFile('ingest-fn'))) ?? (outcome && !outcome.ok ? `${outcome.errorType}: ${outcome.errorMessage}` : 'see the log'),
        logFile: logFile('ingest-fn'),
      });
    }
    if (transformErrors.count) {
      functionErrors.push({
        function: 'transform-fn',
        failures: transformErrors.count,
        firstError: (await firstLoggedError(logFile('transform-fn'))) ?? transformErrors.first ?? 'see the log',
        logFile: logFile('transform-fn'),
      });
    }
    const proxies = stack.faultProxies;
    const figures = figuresOf(check, merged.rows, (Date.now() - started) / 1000, {
      ingestRetries: stack.ingest.stats.retries,
      transformRedeliveries: stack.transform.stats.failedDeliveries,
      ...(proxies && { sdkRetries: { S3: proxies.S3.stats.retries, SQS: proxies.SQS.stats.retries } }),
      ...(options.chaos && { faults: { ...options.chaos.injected } }),
      lost: lostWork(check, merged.bySource, dead),
      duplicates: inputs.filter((i) => i.duplicateOf).length,
      conflicts: [...mirror.conflicts].map((key) => out.path(key)),
      functionErrors: [],
      eventSource: eventSourceOf(stack, logDir),
      notRead: await countNotRead(check, new Map(inputs.map((i) => [i.key, i.path]))),
    });
    const verdict = verdictOf(figures, check, stalled);
    const exitCode = exitCodeOf(verdict);
    // Logs of a failed run (or of failed invocations) are kept: copied into --out when they sit in a temp dir.
    if ((functionErrors.length || !verdict.ok || figures.eventSource?.logFile) && !options.dataDir && !options.verbose) {
      const kept: Record<string, string> = {};
      for (const name of ['ingest-fn', 'transform-fn']) kept[name] = await keepLog(join(logDir, `${name}.log`), out);
      for (const error of functionErrors) error.logFile = kept[error.function] ?? error.logFile;
      if (figures.eventSource?.logFile) figures.eventSource.logFile = await keepLog(figures.eventSource.logFile, out);
    }
    if (figures.eventSource?.logFile) figures.eventSource.logFile = shownPath(figures.eventSource.logFile);
    figures.functionErrors = functionErrors.map((e) => ({ ...e, ...(e.logFile && { logFile: shownPath(e.logFile) }) }));
    const sources = new Map(check.sources.map((s) => [s.key, s]));
    const lines: FileLine[] = inputs.map((input) => {
      const source = sources.get(input.key);
      if (input.duplicateOf) return { path: input.path, key: input.key, status: 'duplicate', detail: `same bytes as ${input.duplicateOf}, processed once` };
      const { state, detail } = source ? sourceState(source, writtenBySource[input.key] ?? 0, check.settled) : { state: 'waiting', detail: '' };
      const status = state === 'failed' && (source?.ingestError || source?.manifest?.error) ? 'lost' : state === 'waiting' ? 'incomplete' : state;
      return { path: input.path, key: input.key, status, detail };
    });
    const files = withOutcomes(lines, check, figures);
    // The files block is the per-file status (a stall's too): every missing item is named once.
    stdout.write(`${formatSummary(figures, verdict, files, stalled ? describeQueues(check) : [])}\n`);
    const summary = buildSummaryFile({
      options,
      inputs,
      check,
      figures,
      verdict,
      exitCode,
      files,
      merged,
      dead,
      timeline,
      phases: Object.fromEntries(phases),
      startedAt: context.startedAt,
      stationCount: context.stationCount,
      sample,
    });
    await writeSummaryFile(out, summary);
    step('summary written');
    stderr.write(`phases: ${phases.map(([name, s]) => `${name} ${s.toFixed(1)} s`).join(', ')}\n`);
    // Nothing needs the stack any more: its environments, servers and temp bucket go while the
    // report is built (the finally below waits for the same close).
    void stack.close().catch(() => undefined);
    if (report) {
      // The report's file is rydes's too: recorded before it is written, like every output.
      out.record(REPORT_FILE);
      await report.finish(stdout, stderr);
      step('report done');
    }
    return {
      figures,
      verdict,
      check,
      exitCode,
      inputs,
      ...(proxies && { proxiedRequests: { S3: { ...proxies.S3.stats.requests }, SQS: { ...proxies.SQS.stats.requests } } }),
    };
  } finally {
    stop();
    await Promise.all([outputs.report?.close(), stack.close()]);
    step('stack closed');
  }
}

/**
 * How far the ingest has read the run's files: the local S3's furthest byte served per raw/ key
 * (each capped at the file's size), against the files' sizes.
 */
function bytesReadOf(stack: LocalStack, inputs: RunInput[]): () => { bytesRead: number; bytesTotal: number } {
  const files = inputs.filter((i) => !i.duplicateOf);
  const bytesTotal = files.reduce((n, i) => n + i.bytes, 0);
  return () => {
    const reads = stack.servers.rawReads();
    return { bytesRead: files.reduce((n, i) => n + Math.min(i.bytes, reads[i.key]?.furthest ?? 0), 0), bytesTotal };
  };
}

/** The event source's error counts; its log file only when there is something in it. */
function eventSourceOf(stack: LocalStack, logDir: string): NonNullable<RunFigures['eventSource']> {
  const { pollErrors, processingErrors, lastError } = stack.transform.stats;
  const any = pollErrors + processingErrors > 0;
  return { pollErrors, processingErrors, ...(lastError && { lastError }), ...(any && { logFile: join(logDir, 'event-source.log') }) };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** A path as the user would type it: relative to the working directory when inside it. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** Copies a temp-dir log into `<out>/logs/` (rydes's) and returns where it is now. */
async function keepLog(file: string, out: OutputFolder): Promise<string> {
  const rel = `logs/${file.split(/[\\/]/).pop()}`;
  if (out.isForeign(rel)) return file;
  try {
    await mkdir(out.path('logs'), { recursive: true });
    out.record(rel);
    await copyFile(file, out.path(rel));
    return out.path(rel);
  } catch {
    out.forget(rel);
    return file;
  }
}

/**
 * The first error a function logged: a pino line at level error or above (its `msg` and `err` or
 * `reason`), else the first line that is not JSON (a crash's stack trace starts with one).
 */
export async function firstLoggedError(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let entry: { level?: number; msg?: string; reason?: string; err?: { message?: string; type?: string } } | undefined;
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return line.trim().slice(0, 300);
    }
    if (entry && typeof entry.level === 'number' && entry.level >= 50) {
      const detail = entry.reason ?? entry.err?.message;
      return `${entry.msg ?? 'error'}${detail ? `: ${detail}` : ''}`.split('\n')[0].slice(0, 300);
    }
  }
  return undefined;
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
      total: allManifests ? valid : options.expectedRides ?? options.sample?.rides,
    });
    // Idle environments are reclaimed as soon as no more work can reach them, not when the run
    // ends: the ingest's once every file has its manifest and no attempt is pending, all of them
    // once the run has settled (a later invocation would simply start cold).
    if (check.settled || (allManifests && stack.ingest.stats.pending === 0)) stack.ingestPool.retireIdle();
    if (check.settled) {
      stack.transformPool.retireIdle();
      return { check };
    }
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
      return { check: await tracker.check({ countChunks: true }), stalled: new StallError(options.stallTimeoutSeconds).message };
    }
    await nextLook(stack, tracker, interval, check.fanout.visible + check.fanout.delayed === 0);
  }
}

/**
 * Waits for the next reason to look: a manifest written, the ingests all settled, the transform's
 * last batches finished (deleted) once the queue looked drained, or `interval` ms at most (queue
 * depths change with no event).
 */
async function nextLook(stack: LocalStack, tracker: CompletionTracker, interval: number, queueDrained: boolean): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const reasons: Array<Promise<unknown>> = [new Promise((resolve) => (timer = setTimeout(resolve, interval))), tracker.nextChange()];
  if (stack.ingest.stats.pending > 0) reasons.push(stack.ingest.drain().catch(() => undefined));
  // Only once nothing waits in the queue: mid-run the pollers are between batches all the time.
  if (queueDrained && stack.transform.stats.inFlight > 0) reasons.push(stack.transform.whenIdle());
  try {
    await Promise.race(reasons);
  } finally {
    clearTimeout(timer);
  }
}

/** Set once a signal's handler is stopping the run: it ends the process, so this never settles. */
let signalStop: Promise<never> | undefined;

/** Ctrl-C / SIGTERM: stop pollers and functions, close the servers, release --out, exit 130 / 143. */
export function stopOnSignal(
  stack: LocalStack | Promise<LocalStack>,
  stderr: NodeJS.WritableStream,
  release: () => Promise<void> = async () => undefined,
): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    signalStop = new Promise<never>(() => undefined);
    stderr.write(`\n${signal}: stopping pollers and functions, closing the local servers…\n`);
    void Promise.resolve(stack)
      .then((started) => started.close())
      .catch(() => undefined)
      .then(release)
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
