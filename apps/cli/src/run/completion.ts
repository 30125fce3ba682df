import { listKeys, readManifest } from '@rydes/aws-adapters';
import { LIST_PAGE_KEYS } from '../stack/names';
import { decodeEventKey, parseOutputKey, sameVersion, type Manifest, type OutputKey } from '@rydes/ride-model';
import type { LocalStack, QueueDepth } from '../stack/local-stack';

export interface SourceStatus {
  /** The raw/ key uploaded. */
  key: string;
  manifestKey?: string;
  manifest?: Manifest;
  /** Distinct chunk numbers found in processed/ (only counted once the queues are quiet). */
  chunksPresent?: number;
  missingChunks?: number[];
  /** The ingest invocation's final error when it went to the ingest DLQ. */
  ingestError?: string;
}

export interface CompletionCheck {
  /** Nothing more will happen by itself: ingests settled, fan-out queue empty, no batch running. */
  settled: boolean;
  /** Settled, every manifest without error and every chunk present in processed/. */
  complete: boolean;
  sources: SourceStatus[];
  fanout: QueueDepth;
  fanoutDlq: number;
  ingestDlq: number;
}

/**
 * Decides when a run is over by looking, not by sleeping: manifests in manifests/ (one per
 * ingested file, with its chunk count), chunk objects in processed/, the queues' attributes and
 * the invocations still running.
 *
 * With the stack's object events ({@link LocalStack.onObjectEvent}: s3rver's notifications for
 * every object the run writes or deletes) nothing is listed: a manifest is read when its event
 * says it was written (again), and the chunks present are the processed/ keys written since the
 * tracker started. Only when those events leave a chunk missing at the end is processed/ listed
 * once, to be sure (an object written before the tracker started, e.g. an earlier run's in a kept
 * --data-dir). Without events (a stack that has none) manifests/ is listed at every check and
 * processed/ once at the end. Create the tracker before uploading, so no event is missed;
 * `sourceKeys` may grow afterwards.
 */
export class CompletionTracker {
  private readonly manifests = new Map<string, { manifestKey: string; manifest: Manifest }>();
  /** Manifests read and final; one with an `error` is not, an ingest retry may rewrite it (below). */
  private readonly finalManifestKeys = new Set<string>();
  /** With object events: manifest keys written since they were last read. */
  private readonly dirtyManifests = new Set<string>();
  /**
   * With object events: chunk numbers of the processed/ keys written (and not deleted since) while
   * the tracker ran, by source version (`stem\0etag8`): small integers, where the keys themselves
   * kept a ~100-byte string per chunk for the whole run (one per ride with one ride per message).
   */
  private readonly processedChunks = new Map<string, Set<number>>();
  private readonly events: boolean;
  private unsubscribe?: () => void;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly stack: LocalStack, private readonly sourceKeys: string[]) {
    this.events = typeof stack.onObjectEvent === 'function';
    if (this.events) {
      this.unsubscribe = stack.onObjectEvent(({ eventName, key }) => {
        const created = eventName.startsWith('ObjectCreated');
        if (key.startsWith('processed/')) {
          const parsed = parseOutputKey(key);
          if (parsed?.kind !== 'processed') return;
          const version = `${parsed.stem}\0${parsed.etag8}`;
          let chunks = this.processedChunks.get(version);
          if (!chunks) this.processedChunks.set(version, (chunks = new Set()));
          // A deleted key takes its chunk with it (a listing settles it if another key of the same chunk remains).
          if (created) chunks.add(parsed.chunk);
          else chunks.delete(parsed.chunk);
        } else if (key.startsWith('manifests/')) {
          this.dirtyManifests.add(key);
          this.wake();
        }
      });
    }
  }

  /**
   * Resolves when a manifest has been written since the last {@link check} began (at once if one
   * already was): a reason to look again. Also resolves on {@link close}; never without events.
   */
  nextChange(): Promise<void> {
    if (this.dirtyManifests.size > 0 || this.closed) return Promise.resolve();
    if (!this.events) return new Promise(() => undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops listening to the stack's events. */
  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.wake();
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /**
   * One look at the stack. Chunks in processed/ are counted once it has settled, or when
   * `countChunks` asks for it (the final report of a stalled run: which files are done).
   */
  async check(options: { countChunks?: boolean } = {}): Promise<CompletionCheck> {
    const { stack } = this;
    // Taken before the manifests are read: an ingest that ends meanwhile may have rewritten one.
    const ingestPending = stack.ingest.stats.pending;
    const [fanout, fanoutDlq, ingestDlq] = await Promise.all([
      stack.depth(stack.queues.fanout),
      stack.depth(stack.queues.fanoutDlq),
      stack.depth(stack.queues.ingestDlq),
    ]);
    // A re-run of a version already done (a kept --data-dir) keeps its manifest as it was, without
    // writing it: once the ingests are over, a source still without one has its manifest listed.
    await this.readNewManifests();
    if (this.events && ingestPending === 0 && this.sourceKeys.some((key) => !this.manifests.has(key))) {
      for await (const key of listKeys(stack.s3, stack.bucket, 'manifests/')) this.dirtyManifests.add(key);
      await this.readNewManifests();
    }
    const ingestErrors = this.ingestErrors();
    const sources: SourceStatus[] = this.sourceKeys.map((key) => ({
      key,
      ...this.manifests.get(key),
      ...(ingestErrors.has(key) && { ingestError: ingestErrors.get(key) }),
    }));
    const quiet =
      ingestPending === 0 &&
      fanout.visible + fanout.inFlight + fanout.delayed === 0 &&
      stack.transform.stats.inFlight === 0;
    const settled = quiet && sources.every((s) => s.manifest || s.ingestError);
    if (settled || options.countChunks) await this.countChunks(sources);
    const complete =
      settled && sources.every((s) => s.manifest && !s.manifest.error && s.missingChunks?.length === 0);
    return {
      settled,
      complete,
      sources,
      fanout,
      fanoutDlq: fanoutDlq.visible + fanoutDlq.inFlight + fanoutDlq.delayed,
      ingestDlq: ingestDlq.visible + ingestDlq.inFlight + ingestDlq.delayed,
    };
  }

  /** Manifest keys to read now: those written since the last look (events), else every one listed. */
  private async *manifestKeys(): AsyncGenerator<string> {
    if (!this.events) {
      yield* listKeys(this.stack.s3, this.stack.bucket, 'manifests/');
      return;
    }
    const keys = [...this.dirtyManifests];
    this.dirtyManifests.clear();
    for (const key of keys) {
      this.finalManifestKeys.delete(key);
      yield key;
    }
  }

  private async readNewManifests(): Promise<void> {
    const { s3, bucket } = this.stack;
    for await (const manifestKey of this.manifestKeys()) {
      // A failed ingest attempt (e.g. S3 or SQS errors past the SDK's retries) writes a manifest
      // with `error` under the same key its async retry later overwrites with the good one: keep
      // re-reading it until it has no error, or the run would report a failure that healed.
      if (this.finalManifestKeys.has(manifestKey)) continue;
      const manifest = await readManifest(s3, bucket, manifestKey);
      if (!manifest) continue;
      // A deleted source is final too: nothing retries it (`code: 'source-deleted'`).
      if (!manifest.error || manifest.error.code === 'source-deleted') this.finalManifestKeys.add(manifestKey);
      const source = manifest.source.replace(/^s3:\/\/[^/]+\//, '');
      const known = this.manifests.get(source);
      if (!known || known.manifestKey === manifestKey || known.manifest.finishedAt < manifest.finishedAt) {
        this.manifests.set(source, { manifestKey, manifest });
      }
    }
  }

  private ingestErrors(): Map<string, string> {
    const errors = new Map<string, string>();
    for (const { event, outcome } of this.stack.ingest.failures) {
      const record = (event as { Records?: Array<{ s3?: { object?: { key?: string } } }> }).Records?.[0];
      const key = decodeEventKey(record?.s3?.object?.key ?? '');
      if (!outcome.ok) errors.set(key, `${outcome.errorType}: ${outcome.errorMessage}`);
    }
    return errors;
  }

  private async countChunks(sources: SourceStatus[]): Promise<void> {
    if (this.events) {
      this.countChunksOf((version) => this.processedChunks.get(`${version.stem}\0${version.etag8}`) ?? new Set(), sources);
      if (sources.every((source) => !source.missingChunks?.length)) return;
    }
    const keys: string[] = [];
    for await (const key of listKeys(this.stack.s3, this.stack.bucket, 'processed/', { pageSize: LIST_PAGE_KEYS })) keys.push(key);
    this.countChunksIn(keys, sources);
  }

  private countChunksIn(keys: string[], sources: SourceStatus[]): void {
    const parsed = keys.map(parseOutputKey);
    this.countChunksOf((version) => {
      const present = new Set<number>();
      for (const key of parsed) if (key?.kind === 'processed' && sameVersion(key, version)) present.add(key.chunk);
      return present;
    }, sources);
  }

  /** Each source's chunks present and missing, from the chunk numbers `chunksOf` finds for its version. */
  private countChunksOf(chunksOf: (version: OutputKey) => Set<number>, sources: SourceStatus[]): void {
    for (const source of sources) {
      const { manifest } = source;
      const version = source.manifestKey === undefined ? undefined : parseOutputKey(source.manifestKey);
      if (!version || !manifest) continue;
      const present = new Set<number>();
      for (const chunk of chunksOf(version)) if (chunk < manifest.chunks) present.add(chunk);
      source.chunksPresent = present.size;
      source.missingChunks = [];
      for (let chunk = 0; chunk < manifest.chunks; chunk++) {
        if (!present.has(chunk)) source.missingChunks.push(chunk);
      }
    }
  }
}

/** What became of one source so far, for the stall message, the summary and summary.json. */
export type SourceState = 'done' | 'in progress' | 'failed' | 'waiting';

/** The state of `source` and one line saying it (`done: 1,500 rides written`). */
export function sourceState(source: SourceStatus, written: number, settled: boolean): { state: SourceState; detail: string } {
  const { manifest } = source;
  if (source.ingestError) return { state: 'failed', detail: `ingest failed after retries: ${source.ingestError} (event in the ingest DLQ)` };
  if (manifest?.error) {
    return { state: 'failed', detail: `ingest stopped at byte ${manifest.error.byteOffset}: ${manifest.error.message} (${n(manifest.valid)} valid rides read before it)` };
  }
  if (!manifest) return { state: 'waiting', detail: settled ? 'no manifest: the ingest never finished' : 'no manifest yet: ingest still running' };
  const missing = source.missingChunks;
  if (missing?.length === 0) return { state: 'done', detail: `${n(manifest.valid)} rides written (${n(manifest.rejected)} rejected)` };
  if (missing) {
    const shown = missing.slice(0, 10).join(', ') + (missing.length > 10 ? ', …' : '');
    return { state: 'failed', detail: `${missing.length} of ${manifest.chunks} chunks missing from processed/ (chunk ${shown})` };
  }
  return { state: 'in progress', detail: `${n(Math.min(written, manifest.valid))} of ${n(manifest.valid)} rides written` };
}

/** The fan-out queue when it still holds messages (a stalled run), one line. */
export function describeQueues(check: CompletionCheck): string[] {
  return check.fanout.visible + check.fanout.inFlight ? [`fan-out queue: ${check.fanout.visible} waiting, ${check.fanout.inFlight} in flight`] : [];
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}
