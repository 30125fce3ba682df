/*
 * Parse + normalise + validate throughput of a pretty-printed ride array, with baselines.
 *   npx nx run ride-model:bench                     100 MB and 1 GB (about 4.4 M rides)
 *   RIDES_BENCH_MB=20 npx nx run ride-model:bench   a quick run
 *   RIDES_BENCH_STREAM_JSON_MB=2000 …               also time stream-json above 100 MB (slow)
 * Files are written to os.tmpdir() and deleted afterwards. Each workload runs in its own child
 * process; peak RSS is that child's process.resourceUsage().maxRSS.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { generateRideFile, writeRides, generateRides } from '../src';

const SIZES_MB = (process.env.RIDES_BENCH_MB ?? '100,1024').split(',').map(Number);
const STREAM_JSON_MAX_MB = Number(process.env.RIDES_BENCH_STREAM_JSON_MB ?? 100);
const SEED = 2018;
const MB = 1e6; // decimal megabytes for throughput, as disk and network figures are quoted

interface Result {
  mode: string;
  bytes: number;
  records: number;
  valid: number;
  seconds: number;
  maxRssMB: number;
}

async function bytesPerRide(): Promise<number> {
  let bytes = 0;
  for await (const chunk of writeRides(generateRides({ count: 10_000, seed: SEED }), { shape: 'array', pretty: true })) bytes += chunk.length;
  return bytes / 10_000;
}

/** `[ride, {"name": "xxx…" (fieldMB), …}, ride]`: one record far over the 64 KiB limit. */
async function writeOversizeFile(file: string, fieldMB: number): Promise<void> {
  const ride = JSON.stringify([...generateRides({ count: 1, seed: SEED })][0]);
  const piece = 'x'.repeat(1 << 20);
  async function* text(): AsyncGenerator<string> {
    yield `[${ride},{"distance": 1, "name": "`;
    for (let i = 0; i < (fieldMB * MB) / piece.length; i++) yield piece;
    yield `"},${ride}]`;
  }
  await pipeline(Readable.from(text()), createWriteStream(file));
}

function measure(mode: string, file: string): Result {
  const worker = join(__dirname, 'parse.worker.ts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', worker, mode, file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop() as string) as Result;
}

function row(label: string, r: Result): string {
  const mbs = r.bytes / MB / r.seconds;
  const rides = r.records / r.seconds;
  const perRide = r.mode === 'read' ? '     - rides/s  ' : `${(rides / 1000).toFixed(0).padStart(6)} k rides/s`;
  return `  ${label.padEnd(50)} ${mbs.toFixed(1).padStart(7)} MB/s ${perRide}   peak RSS ${r.maxRssMB.toFixed(0).padStart(4)} MB   ${r.seconds.toFixed(2)} s`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rides-bench-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const perRide = await bytesPerRide();
    console.log(`ride-model parse bench: pretty-printed JSON array, seed ${SEED}, ${perRide.toFixed(0)} bytes per ride, Node ${process.version}`);
    for (const sizeMB of SIZES_MB) {
      const count = Math.ceil((sizeMB * MB) / perRide);
      const file = join(dir, `rides-${sizeMB}MB.json`);
      const started = process.hrtime.bigint();
      await pipeline(generateRideFile({ count, seed: SEED, shape: 'array', pretty: true }), createWriteStream(file));
      const genSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const bytes = statSync(file).size;
      console.log(`\nN = ${count.toLocaleString('en')} rides, ${(bytes / MB).toFixed(0)} MB (generated at ${(bytes / MB / genSeconds).toFixed(1)} MB/s, ${(count / genSeconds / 1000).toFixed(0)} k rides/s)`);
      const full = measure('full', file);
      if (full.valid !== count) throw new Error(`expected ${count} valid rides, got ${full.valid}`);
      console.log(row(`parse + normalise + validate (${full.valid.toLocaleString('en')} valid)`, full));
      console.log(row('baseline: parse only (record splitter)', measure('split', file)));
      console.log(row('baseline: raw read, 64 KiB chunks', measure('read', file)));
      if (sizeMB <= STREAM_JSON_MAX_MB) console.log(row('baseline: stream-json 1.9.1 + validate', measure('stream-json', file)));
      else console.log(`  baseline: stream-json skipped above ${STREAM_JSON_MAX_MB} MB (RIDES_BENCH_STREAM_JSON_MB to include)`);
      rmSync(file);
    }
    const fieldMB = Number(process.env.RIDES_BENCH_FIELD_MB ?? 100);
    const oversize = join(dir, 'oversize.json');
    await writeOversizeFile(oversize, fieldMB);
    const skipped = measure('full', oversize);
    console.log(`\nN = 3 records, one with a ${fieldMB} MB string field (constant memory: skipped, not buffered)`);
    console.log(row(`parse + normalise + validate (${skipped.valid} valid of ${skipped.records})`, skipped));
    rmSync(oversize);
  } finally {
    cleanup();
  }
}

void main();
