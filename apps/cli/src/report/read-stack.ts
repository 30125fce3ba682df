import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { openObject } from '@rydes/aws-adapters';
import { objectKeys, type Manifest } from '@rydes/ride-model';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { ReportInputError } from './errors';
import { matchedStations } from './read-out-dir';
import { ReportCollector, type ReportData } from './report-data';
import { readRideRows } from './ride-rows';
import { timelineFromTimes, type WrittenObject } from './timeline';

/** processed/ objects fetched ahead of the one being aggregated. */
const PREFETCH = 8;
const REJECT_PART = /-part\d{4}\.ndjson$/;

interface Listed {
  key: string;
  lastModified: number;
}

/**
 * Every object under `prefix` with its LastModified time, page by page. ListObjects v1 with a
 * Marker, as aws-adapters' listObjects (s3rver cannot page ListObjectsV2), which does not return
 * the time the timeline needs.
 */
async function* listWithTimes(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<Listed> {
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }));
    const objects = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ key: o.Key, lastModified: o.LastModified?.getTime() ?? NaN }]));
    yield* objects;
    if (!page.IsTruncated || objects.length === 0) return;
    marker = objects[objects.length - 1].key;
  }
}

async function readText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const { body } = await openObject(s3, bucket, key);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `count` of `n` indexes spread evenly over [0, n). */
export function evenlySpaced(n: number, count: number): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
}

export interface StackReportOptions {
  /** What the page is of, e.g. `stack wildrydes-ride-pipeline (s3://bucket)`. */
  subject: string;
  /** Read at most this many processed/ objects, spread evenly over the listing. */
  sample?: number;
  /** The catalogue the stack's STATIONS_URI points at, as a local file (default: the bundled stations). */
  stationsFile?: string;
}

/**
 * The report's data for a deployed stack, straight from its bucket: manifests/, rejects/ and
 * processed/ streamed object by object (a few in flight), the timeline from the manifests'
 * start/finish times and the processed/ objects' LastModified.
 * @example
 * const data = await readStack(s3, 'my-bucket', { subject: 'stack wildrydes-ride-pipeline', sample: 500 });
 */
export async function readStack(s3: S3Client, bucket: string, options: StackReportOptions): Promise<ReportData> {
  const collector = new ReportCollector();
  const manifests: Manifest[] = [];
  for await (const { key } of listWithTimes(s3, bucket, 'manifests/')) {
    if (!key.endsWith('.json')) continue;
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readText(s3, bucket, key)) as Manifest;
    } catch (err) {
      throw new ReportInputError(`s3://${bucket}/${key}`, `not a manifest (${(err as Error).message})`);
    }
    manifests.push(manifest);
    collector.addManifest(manifest);
  }

  for await (const { key } of listWithTimes(s3, bucket, 'rejects/')) {
    if (!key.endsWith('.ndjson') || REJECT_PART.test(key)) continue;
    const { body } = await openObject(s3, bucket, key);
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) collector.addReject(key, line);
  }

  const processed: Listed[] = [];
  for await (const object of listWithTimes(s3, bucket, 'processed/')) if (object.key.endsWith('.csv')) processed.push(object);
  const chosen = options.sample === undefined ? processed : evenlySpaced(processed.length, options.sample).map((i) => processed[i]);
  await readInOrder(
    chosen.map((o) => o.key),
    (key) => readText(s3, bucket, key).then((text) => ({ key, text })),
    ({ key, text }) => readRideRows(Readable.from([text]), `s3://${bucket}/${key}`, (row) => collector.addRow(row)),
  );

  const written = writtenObjects(manifests, processed);
  const valid = manifests.reduce((n, m) => n + m.valid, 0);
  const sampled = chosen.length < processed.length;
  const partial = collector.finish({
    subject: options.subject,
    ridesSource: sampled ? `${chosen.length} of ${processed.length} processed/ objects (--sample)` : `processed/ (${processed.length} objects)`,
    ...(sampled && { sampledFrom: valid }),
    stations: { source: '', known: new Map() },
    timeline: { points: [], source: '' },
  });
  const stations = await matchedStations(options.stationsFile, new Set(partial.rides.stations.map((s) => s.station)));
  return {
    ...partial,
    stations,
    timeline: {
      points: timelineFromTimes(partial.manifests, written),
      source: "the manifests' startedAt/finishedAt (ingested, spread evenly over each file's ingest) and the processed/ objects' LastModified (written; each object counted as its file's valid rides / messages)",
    },
  };
}

/** Each processed/ object's time and the average rides per object of its file. */
function writtenObjects(manifests: Manifest[], processed: Listed[]): WrittenObject[] {
  const perObject = new Map<string, number>();
  for (const m of manifests) {
    if (m.chunks <= 0) continue;
    // processed(0) is `processed/<stem>-<etag8>-000000.csv`: drop the chunk number for the file's prefix.
    const prefix = objectKeys({ bucket: m.bucket, key: m.source, etag: m.etag }).processed(0).slice(0, -'000000.csv'.length);
    perObject.set(prefix, m.valid / m.chunks);
  }
  return processed.flatMap((o) => {
    const rides = perObject.get(o.key.slice(0, -'000000.csv'.length));
    return rides === undefined || !Number.isFinite(o.lastModified) ? [] : [{ at: o.lastModified, rides }];
  });
}

/** Runs `load` on up to PREFETCH keys at once and hands the results to `use` in key order. */
async function readInOrder<T>(keys: string[], load: (key: string) => Promise<T>, use: (value: T) => Promise<unknown>): Promise<void> {
  const pending: Array<Promise<T>> = [];
  let next = 0;
  while (next < keys.length && pending.length < PREFETCH) pending.push(load(keys[next++]));
  while (pending.length > 0) {
    await use(await (pending.shift() as Promise<T>));
    if (next < keys.length) pending.push(load(keys[next++]));
  }
}
