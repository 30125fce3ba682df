import type { S3Client } from '@aws-sdk/client-s3';
import { listKeys, openObject } from '@rydes/aws-adapters';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { SourceStatus } from './completion';
import { chunkOf, manifestBase } from './completion';

/** The prefixes mirrored into --out. */
export const OUTPUT_PREFIXES = ['processed/', 'rejects/', 'manifests/'];

/**
 * Copies every object under processed/, rejects/ and manifests/ into `outDir`, mirroring the
 * keys (`out/processed/…`), several downloads at a time. Earlier copies of those folders are
 * replaced so the folder shows this bucket only.
 */
export async function downloadOutputs(s3: S3Client, bucket: string, outDir: string, parallel = 16): Promise<number> {
  const keys: string[] = [];
  for (const prefix of OUTPUT_PREFIXES) {
    await rm(join(outDir, prefix), { recursive: true, force: true });
    for await (const key of listKeys(s3, bucket, prefix)) keys.push(key);
  }
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const target = join(outDir, key);
      await mkdir(dirname(target), { recursive: true });
      const { body } = await openObject(s3, bucket, key);
      await pipeline(body, createWriteStream(target));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return keys.length;
}

/**
 * Rows in a CSV body without its header. Names may hold quoted commas, quotes or line breaks
 * (RFC 4180); only bodies with a quote pay for the quote-aware count.
 */
export function countRows(body: string): number {
  if (!body.includes('"')) return body.split('\n').filter((line) => line.length > 0).length;
  let rows = 0;
  let quoted = false;
  let lineHasData = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"') quoted = !quoted;
    if (c === '\n' && !quoted) {
      if (lineHasData) rows++;
      lineHasData = false;
    } else lineHasData = true;
  }
  return lineHasData ? rows + 1 : rows;
}

/** Splits a processed/ CSV object into its header line and the rest. */
function splitHeader(text: string): { header: string; body: string } {
  const end = text.indexOf('\n');
  return end < 0 ? { header: text, body: '' } : { header: text.slice(0, end + 1), body: text.slice(end + 1) };
}

async function readText(path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Rows written to rides.csv, in all and by source key. */
export interface MergedRides {
  rows: number;
  bySource: Record<string, number>;
}

/**
 * Streams `out/rides.csv`: one header, then every row of every downloaded chunk, ordered by
 * source key then chunk number — chunks hold consecutive ride indexes, so this is ride_index
 * order. Returns the rows written.
 */
export async function mergeRides(outDir: string, sources: SourceStatus[]): Promise<MergedRides> {
  const target = join(outDir, 'rides.csv');
  const out = createWriteStream(target);
  const bySource: Record<string, number> = {};
  let rows = 0;
  let headerWritten = false;
  const ordered = [...sources].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  try {
    for (const source of ordered) {
      if (!source.manifestKey || !source.manifest) continue;
      const base = manifestBase(source.manifestKey);
      for (let chunk = 0; chunk < source.manifest.chunks; chunk++) {
        if (source.missingChunks?.includes(chunk)) continue;
        const key = `processed/${base}-${String(chunk).padStart(6, '0')}.csv`;
        if (chunkOf(key, base) !== chunk) continue;
        const { header, body } = splitHeader(await readText(join(outDir, key)));
        if (!headerWritten) {
          if (!out.write(header)) await once(out, 'drain');
          headerWritten = true;
        }
        const count = countRows(body);
        rows += count;
        bySource[source.key] = (bySource[source.key] ?? 0) + count;
        if (!out.write(body)) await once(out, 'drain');
      }
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { rows, bySource };
}
