/*
 * What a continuation pays before its first new ride, with the baseline beside it:
 *   npx nx run ride-model:bench-resume                      a 1 GB pretty-printed array
 *   RIDES_RESUME_MB=200 npx nx run ride-model:bench-resume  a quick run
 * The file (and a gzip copy, zlib's default level) is written to os.tmpdir() and deleted after.
 * A resume point is taken at 90% of the rides, then each way of getting there is timed:
 *   replay      parse + validate from the start up to that ride (what continuations did before
 *               resume points: the cost grows with the file and caps its size);
 *   byte range  read the plain file from the resume point's byte (an S3 Range request);
 *   gzip skip   inflate the gzip file from its start, dropping the bytes before the point.
 * Each way then reads to the end, checking it yields exactly the remaining rides.
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { generateRides, parseRides, validateRide, writeRides, type ResumePoint } from '../src';

const MB_TARGET = Number(process.env.RIDES_RESUME_MB ?? 1024);
const SEED = 2018;
const MB = 1e6;

async function bytesPerRide(): Promise<number> {
  let bytes = 0;
  for await (const chunk of writeRides(generateRides({ count: 10_000, seed: SEED }), { shape: 'array', pretty: true })) bytes += chunk.length;
  return bytes / 10_000;
}

/** Parses `input` (from `resume` when given), validating each ride; times the first record and the end. */
async function readFrom(path: string, resume: ResumePoint | undefined, stopAt?: number) {
  const started = process.hrtime.bigint();
  const input = createReadStream(path, resume && !resume.gzip ? { start: resume.byteOffset, highWaterMark: 1 << 20 } : { highWaterMark: 1 << 20 });
  const records = parseRides(input, resume && { resume });
  let firstMs: number | undefined;
  let count = 0;
  let firstIndex = -1;
  let point: ResumePoint | undefined;
  for await (const raw of records) {
    if (firstMs === undefined) {
      firstMs = Number(process.hrtime.bigint() - started) / 1e6;
      firstIndex = raw.index;
    }
    validateRide(raw.record);
    count++;
    if (stopAt !== undefined && raw.index === stopAt - 1) {
      point = records.resumePointAfter(raw);
      await records.return?.();
      break;
    }
  }
  return { firstMs: firstMs ?? 0, totalMs: Number(process.hrtime.bigint() - started) / 1e6, count, firstIndex, point };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rydes-resume-bench-'));
  try {
    const rides = Math.round((MB_TARGET * MB) / (await bytesPerRide()));
    const plain = join(dir, 'rides.json');
    const gz = join(dir, 'rides.json.gz');
    console.log(`writing ${rides.toLocaleString('en-US')} rides (about ${MB_TARGET} MB) and a gzip copy to ${dir} …`);
    await pipeline(writeRides(generateRides({ count: rides, seed: SEED }), { shape: 'array', pretty: true }), createWriteStream(plain));
    await pipeline(createReadStream(plain), createGzip(), createWriteStream(gz));
    const bytes = statSync(plain).size;
    const at = Math.floor(rides * 0.9);
    console.log(`file ${(bytes / MB).toFixed(1)} MB, gzip ${(statSync(gz).size / MB).toFixed(1)} MB; resume point after ride ${(at - 1).toLocaleString('en-US')} (90%)\n`);

    // Baseline: replay the prefix (parse + validate every ride before the point), plain and gzip.
    const replayPlain = await readFrom(plain, undefined, at);
    const replayGz = await readFrom(gz, undefined, at);
    const point = replayPlain.point as ResumePoint;
    const gzPoint = replayGz.point as ResumePoint;
    if (point.byteOffset !== gzPoint.byteOffset) throw new Error(`resume points differ: ${point.byteOffset} vs ${gzPoint.byteOffset}`);

    const ranged = await readFrom(plain, point);
    const skipped = await readFrom(gz, gzPoint);
    for (const [name, r] of [['byte range', ranged], ['gzip skip', skipped]] as const) {
      if (r.firstIndex !== at || r.count !== rides - at) throw new Error(`${name}: first index ${r.firstIndex}, ${r.count} rides; expected ${at} and ${rides - at}`);
    }
    const row = (name: string, ms: number, note: string) => console.log(`  ${name.padEnd(34)} ${(ms / 1000).toFixed(3).padStart(8)} s   ${note}`);
    console.log('time before the first ride after the resume point:');
    row('replay, plain (baseline)', replayPlain.totalMs, `parse + validate ${(point.byteOffset / MB).toFixed(0)} MB again`);
    row('replay, gzip (baseline)', replayGz.totalMs, 'inflate + parse + validate the prefix again');
    row('byte range, plain (ours)', ranged.firstMs, `read from byte ${point.byteOffset.toLocaleString('en-US')}`);
    row('inflate and skip, gzip (ours)', skipped.firstMs, `inflate ${(point.byteOffset / MB).toFixed(0)} MB, parse none of it`);
    console.log(`\nthen to the end (${(rides - at).toLocaleString('en-US')} rides, all checked): byte range ${(ranged.totalMs / 1000).toFixed(2)} s, gzip ${(skipped.totalMs / 1000).toFixed(2)} s`);
    console.log(`speed-up before the first new ride: plain ×${(replayPlain.totalMs / ranged.firstMs).toFixed(0)}, gzip ×${(replayGz.totalMs / skipped.firstMs).toFixed(1)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
