import type { Manifest } from '@rydes/ride-model';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompletionCheck, SourceStatus } from '../src/run/completion';
import { describeIngestDeadLetter, ingestDeadLetters, lostWork, userFileName, type DeadLetters } from '../src/run/dead-letters';
import type { RunInput } from '../src/run/inputs';
import type { MergedRides } from '../src/run/output';
import { buildSummaryFile } from '../src/run/run-summary';
import { countNotRead, exitCodeOf, figuresOf, formatSummary, verdictOf, withOutcomes, type FileLine, type RunFigures } from '../src/run/summary';

const KEY = 'raw/my_rides-0123456789ab.json';
const OTHER = 'raw/other-ba9876543210.ndjson';

function manifest(source: string, counts: Partial<Manifest> = {}): Manifest {
  return {
    bucket: 'b', source: `s3://b/${source}`, etag: '"abcdef0123"', total: 100, valid: 100, rejected: 0, chunks: 1, ridesPerMessage: 100, droppedFields: 0,
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', ...counts,
  };
}

function check(sources: SourceStatus[], dlq: { fanout?: number; ingest?: number } = {}): CompletionCheck {
  return { settled: true, complete: false, sources, fanout: { visible: 0, inFlight: 0, delayed: 0 }, fanoutDlq: dlq.fanout ?? 0, ingestDlq: dlq.ingest ?? 0 };
}

/** Lambda's invocation record of an S3 event that failed every attempt. */
function invocationRecord(key: string, error: { errorType: string; errorMessage: string }, condition = 'RetriesExhausted', attempts = 3): string {
  return JSON.stringify({
    version: '1.0',
    timestamp: '2026-01-01T00:00:00.000Z',
    requestContext: { requestId: 'f8a7c1d2-0000-4000-8000-000000000000', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rydes-ingest:$LATEST', condition, approximateInvokeCount: attempts },
    requestPayload: { Records: [{ s3: { bucket: { name: 'b' }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } }] },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { ...error, stackTrace: ['at handler (main.js:1:1)'] },
  });
}

function deadLetters(bodies: string[]): DeadLetters {
  const dead: DeadLetters = { fanout: [], undecodable: 0, ingestFiles: [], ingestEntries: [] };
  for (const body of bodies) {
    for (const entry of ingestDeadLetters(body)) {
      dead.ingestEntries.push(entry);
      if (!dead.ingestFiles.includes(entry.key)) dead.ingestFiles.push(entry.key);
    }
  }
  return dead;
}

function figures(c: CompletionCheck, rows: Record<string, number>, dead: DeadLetters, extra: Partial<RunFigures> = {}): RunFigures {
  return figuresOf(c, Object.values(rows).reduce((a, b) => a + b, 0), 2, {
    ingestRetries: 0, transformRedeliveries: 0, lost: lostWork(c, rows, dead), duplicates: 0, conflicts: [], functionErrors: [], ...extra,
  });
}

const lines: FileLine[] = [
  { path: 'data/my_rides.json', key: KEY, status: 'lost', detail: 'ingest failed after retries: (in memory)' },
  { path: 'other.ndjson', key: OTHER, status: 'done', detail: '100 rides written (0 rejected)' },
];

describe('the run summary reads the ingest DLQ\'s invocation records: which file failed and why', () => {
  const c = check([{ key: KEY, ingestError: 'IngestEventError: in memory' }, { key: OTHER, manifest: manifest(OTHER), missingChunks: [] }], { ingest: 1 });
  const dead = deadLetters([invocationRecord(KEY, { errorType: 'RideParseError', errorMessage: 'byte 812: unexpected token\nsecond line' })]);
  const f = figures(c, { [OTHER]: 100 }, dead);

  it('prints the user\'s file with the condition, the attempts and errorType: errorMessage (first line only)', () => {
    const verdict = verdictOf(f, c);
    const text = formatSummary(f, verdict, withOutcomes(lines, c, f));
    expect(text).toContain(`data/my_rides.json → ${KEY}: lost: in the ingest DLQ: RideParseError: byte 812: unexpected token (RetriesExhausted after 3 attempt(s))`);
    expect(text).toContain(`whole file(s) in the ingest DLQ: data/my_rides.json`);
    expect(text).toMatch(new RegExp(`^FAILED: .*1 ingest event\\(s\\) in the ingest DLQ: ${KEY}: RideParseError: byte 812: unexpected token \\(RetriesExhausted after 3 attempt\\(s\\)\\)`, 'm'));
    expect(text).not.toContain('second line');
    expect(verdict.exitCode).toBe(1);
  });

  it('writes the record\'s fields into summary.json (dlq.ingestFiles and the file\'s error)', () => {
    const verdict = verdictOf(f, c);
    const inputs: RunInput[] = [
      { path: 'data/my_rides.json', key: KEY, bytes: 1000 } as RunInput,
      { path: 'other.ndjson', key: OTHER, bytes: 900 } as RunInput,
    ];
    const summary = buildSummaryFile({
      options: { ridesPerMessage: 100, concurrency: 2 }, inputs, check: c, figures: f, verdict, exitCode: verdict.exitCode ?? 1,
      files: withOutcomes(lines, c, f), merged: { rows: 100, bySource: { [OTHER]: 100 } } as unknown as MergedRides, dead, timeline: [], phases: {}, startedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(summary.dlq.ingestFiles).toEqual([
      {
        key: KEY, path: 'data/my_rides.json', error: 'RideParseError: byte 812: unexpected token', condition: 'RetriesExhausted', attempts: 3,
        errorType: 'RideParseError', errorMessage: 'byte 812: unexpected token\nsecond line', requestId: 'f8a7c1d2-0000-4000-8000-000000000000',
      },
    ]);
    expect(summary.files[0]).toMatchObject({ status: 'failed', error: 'ingest DLQ: RideParseError: byte 812: unexpected token (RetriesExhausted after 3 attempt(s))' });
    expect(summary.eventSource).toEqual({ pollErrors: 0, processingErrors: 0 });
  });

  it('names an EventAgeExceeded record and a continuation part, and a key that is none of the FILEs', () => {
    const entries = ingestDeadLetters(JSON.stringify({
      ...JSON.parse(invocationRecord(KEY, { errorType: 'Runtime.ExitError', errorMessage: 'Task timed out after 75.00 seconds' }, 'EventAgeExceeded', 1)),
      requestPayload: { rydesContinuation: { key: KEY, part: 2 } },
    }));
    expect(describeIngestDeadLetter(entries[0])).toBe(`${KEY} (continuation part 2): Runtime.ExitError: Task timed out after 75.00 seconds (EventAgeExceeded after 1 attempt(s))`);
    const stray = deadLetters([invocationRecord('raw/old upload.json', { errorType: 'Error', errorMessage: 'x' })]);
    const text = formatSummary(figures(c, { [OTHER]: 100 }, stray), verdictOf(figures(c, { [OTHER]: 100 }, stray), c), lines);
    expect(text).toContain('ingest DLQ: raw/old upload.json: Error: x (RetriesExhausted after 3 attempt(s))');
  });

  it('gives back the name the user gave a file from its raw/ key', () => {
    expect(userFileName(KEY)).toBe('my_rides.json');
    expect(userFileName('raw/x-0123456789ab.ndjson.gz')).toBe('x.ndjson.gz');
    expect(userFileName('raw/2019/rides.json.gz')).toBe('rides.json.gz');
  });
});

describe('the run summary shows the event source\'s errors (sqs-consumer error / processing_error)', () => {
  const c = check([{ key: OTHER, manifest: manifest(OTHER), missingChunks: [] }]);
  const eventSource = { pollErrors: 3, processingErrors: 1, lastError: 'QueueDoesNotExist: The specified queue does not exist.', logFile: 'out/logs/event-source.log' };

  it('prints a row with both counts, the last error and the log, and keeps an otherwise complete run OK', () => {
    const f = figures(c, { [OTHER]: 100 }, deadLetters([]), { eventSource });
    const verdict = verdictOf(f, c);
    const text = formatSummary(f, verdict, lines.slice(1));
    expect(text).toMatch(/^ {2}event source +3 poll error\(s\), 1 batch-handler error\(s\); last: QueueDoesNotExist: The specified queue does not exist\. \(log: out\/logs\/event-source\.log\)$/m);
    expect(verdict).toMatchObject({ ok: true, exitCode: 0 });
  });

  it('names them in the reason of a stall', () => {
    const stalled = check([{ key: OTHER, manifest: manifest(OTHER) }]);
    const f = figures(stalled, {}, deadLetters([]), { eventSource });
    expect(verdictOf(f, stalled, 'no progress for 30 s (--stall-timeout)').reasons[0]).toBe(
      'no progress for 30 s (--stall-timeout); the event source reported 3 poll error(s), 1 batch-handler error(s); last: QueueDoesNotExist: The specified queue does not exist.',
    );
  });

  it('prints no row without errors', () => {
    const f = figures(c, { [OTHER]: 100 }, deadLetters([]), { eventSource: { pollErrors: 0, processingErrors: 0 } });
    expect(formatSummary(f, verdictOf(f, c), lines.slice(1))).not.toContain('event source');
  });
});

describe('a source deleted mid-run: the unread rest is "not read", not lost', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rydes-summary-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const deleted = manifest(KEY, {
    total: 40, valid: 38, rejected: 2, chunks: 1,
    error: { message: 'source deleted after 40 ride(s) were read (last index 39, byte 5120); the rest of the file was not read. Upload the file again to ingest all of it', byteOffset: 5120, lastGoodIndex: 39, code: 'source-deleted' },
  });

  it('counts the rides of the FILE the ingest never read, exits 66 and says INCOMPLETE, not FAILED', async () => {
    const file = join(dir, 'my_rides.json');
    writeFileSync(file, Array.from({ length: 100 }, (_, i) => JSON.stringify({ name: `r${i}` })).join('\n'));
    const c = check([{ key: KEY, manifest: deleted, missingChunks: [] }, { key: OTHER, manifest: manifest(OTHER), missingChunks: [] }]);
    const notRead = await countNotRead(c, new Map([[KEY, file]]));
    expect(notRead).toEqual([{ key: KEY, read: 40, rides: 60 }]);
    const f = figures(c, { [KEY]: 38, [OTHER]: 100 }, deadLetters([]), { notRead });
    const verdict = verdictOf(f, c);
    expect(verdict).toMatchObject({ ok: false, reasons: [], notRead: [`not read: 60 rides (source deleted after ride 39): ${KEY}`], exitCode: 66 });
    const text = formatSummary(f, verdict, withOutcomes([{ ...lines[0], status: 'lost', detail: 'ingest stopped' }, lines[1]], c, f));
    expect(text).toContain(`data/my_rides.json → ${KEY}: source deleted: 38 rides written (2 rejected); not read: 60 rides (source deleted after ride 39)`);
    expect(text).toMatch(/^ {2}not read +60 rides \(source deleted mid-run: not lost, not in a DLQ\)$/m);
    expect(text).toMatch(/^ {2}lost rides +0$/m);
    expect(text).toMatch(new RegExp(`^INCOMPLETE: not read: 60 rides \\(source deleted after ride 39\\): ${KEY}; every ride read was written, DLQs empty\\.$`, 'm'));
  });

  it('exits 1 when something was lost as well', () => {
    const c = check([{ key: KEY, manifest: deleted, missingChunks: [] }, { key: OTHER, manifest: manifest(OTHER), missingChunks: [0] }], { fanout: 1 });
    const dead: DeadLetters = { fanout: [{ source: OTHER, etag: '"abcdef0123"', chunk: 0, rides: 100 }], undecodable: 0, ingestFiles: [], ingestEntries: [] };
    const f = figures(c, { [KEY]: 38 }, dead, { notRead: [{ key: KEY, read: 40 }] });
    const verdict = verdictOf(f, c);
    expect(verdict.exitCode).toBe(1);
    expect(formatSummary(f, verdict, lines)).toMatch(/^FAILED: .*; not read: the rest of the file \(source deleted after ride 39\)/m);
    expect(exitCodeOf({ ok: true, reasons: [] })).toBe(0);
  });

  it('says "before any ride was read" for a file deleted before ingest read it', () => {
    const none = manifest(KEY, { total: 0, valid: 0, rejected: 0, chunks: 0, error: { message: 'source deleted before ingest read any ride', byteOffset: 0, lastGoodIndex: -1, code: 'source-deleted' } });
    const c = check([{ key: KEY, manifest: none, missingChunks: [] }]);
    const f = figures(c, {}, deadLetters([]), { notRead: [{ key: KEY, read: 0, rides: 100 }] });
    expect(verdictOf(f, c).notRead).toEqual([`not read: 100 rides (source deleted before any ride was read): ${KEY}`]);
  });
});
