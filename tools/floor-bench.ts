/**
 * Floor bench (not a test): the per-ride chain of the pipeline in one process with the project's
 * own code, no AWS and no I/O — parse (64 KiB chunks) → validate → chunk → encode message →
 * decode message → nearest station + row → CSV — on the seeded sample `rydes run` generates
 * (N rides, seed 1, pretty-printed JSON array). Prints CPU seconds per stage (process.cpuUsage:
 * user + system, GC threads included) and rides/s/core; the last line is machine-readable
 * (`floor-json {…}`) for `cli:bench`, which prints it beside the `rydes run` figures.
 *
 *   npx nx run transform-fn:bench-floor
 *   npx tsx --tsconfig apps/transform-fn/tsconfig.json tools/floor-bench.ts \
 *     [--rides 200000] [--passes 2] [--stations file.csv] [--rides-per-message N] [--baseline no]
 *
 * Rides per message default to the pipeline's (DEFAULT_RIDES_PER_MESSAGE), so the floor is the
 * chain `rydes run` runs.
 * Like transform-fn, the chain reads each message body straight into its CSV in one pass
 * (transformBody: decode, nearest station and CSV together), printed as the stage `body → csv`.
 *
 * Stages run interleaved per batch of records, as a file streams through ingest and transform,
 * so the heap holds one batch at a time; each pass is a fresh parse of the same bytes. The
 * baseline pass, in the same run, is the generic chain this one replaced: JSON.stringify of each
 * ride for its size and again for the body, a decode that copies every ride through validateRide,
 * rows built with an object spread, csv-stringify. Then the parser and the validator alone.
 */
import { readFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { Readable } from 'node:stream';
import { DEFAULT_STATIONS, parseStations, StationLookup } from '@rydes/geo-index';
import { Chunker, CSV_COLUMNS, decodeMessage, DEFAULT_RIDES_PER_MESSAGE, encodeMessage, EnvelopeError, generateRides, parseRides, validateRecord, validateRide, writeRides, type FanoutMessage, type ProcessedRow, type RawRecord, type Ride, type SourceRef } from '@rydes/ride-model';
import { nearestStations, processedCsv, transformBody } from '../apps/transform-fn/src/transform-message';
import { args } from './cli-process';

const flags = args({ rides: '200000', passes: '2', 'rides-per-message': String(DEFAULT_RIDES_PER_MESSAGE), stations: '', baseline: 'yes' });
const RIDES = Number(flags.rides);
const PASSES = Number(flags.passes);
const RIDES_PER_MESSAGE = Number(flags['rides-per-message']);
const STATIONS = flags.stations;
const BASELINE = flags.baseline !== 'no';
const CHUNK_BYTES = 64 * 1024;
const BATCH = 2_000;
const STAGES = ['parse', 'validate', 'chunk', 'encode', 'decode', 'nearest + row', 'csv', 'body → csv'] as const;
type Stage = (typeof STAGES)[number];

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function sampleBytes(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of writeRides(generateRides({ count: RIDES, seed: 1 }), { shape: 'array', gzip: false })) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts);
}

function* chunksOf(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) yield bytes.subarray(at, at + CHUNK_BYTES);
}

/** The stages as they were written before (see the header): the same-run baseline. */
interface Chain {
  chunker: (source: SourceRef) => Chunker;
  encode: (m: FanoutMessage) => string;
  /** Set when the transform reads a body into its CSV in one pass ('body → csv'), as transform-fn does. */
  transform?: (body: string, index: StationLookup) => string | Buffer;
  decode: (body: string) => FanoutMessage;
  join: (m: FanoutMessage, index: StationLookup) => unknown;
  csv: (m: FanoutMessage, joined: unknown) => string | Buffer;
}

const CURRENT: Chain = {
  chunker: (source) => new Chunker({ source, ridesPerMessage: RIDES_PER_MESSAGE }),
  encode: encodeMessage,
  transform: (body, index) => transformBody(body, index).csv,
  decode: decodeMessage,
  join: nearestStations,
  csv: (m, joined) => processedCsv(m, joined as ReturnType<typeof nearestStations>),
};

class GenericChunker extends Chunker {
  override push(index: number, ride: Ride): readonly FanoutMessage[] {
    Buffer.byteLength(JSON.stringify(ride)); // the size, as it was computed
    return super.push(index, ride);
  }
}

const GENERIC: Chain = {
  chunker: (source) => new GenericChunker({ source, ridesPerMessage: RIDES_PER_MESSAGE, version: 1 }),
  encode: (m) => JSON.stringify({ v: 1, source: m.source, chunk: m.chunk, firstIndex: m.firstIndex, rides: m.rides }),
  decode: (body) => {
    const m = JSON.parse(body) as FanoutMessage;
    const rides = m.rides.map((raw) => {
      const result = validateRide(raw);
      if (!result.ok) throw new EnvelopeError(result.reasons.join('; '));
      return result.ride;
    });
    return { v: 1, source: { bucket: m.source.bucket, key: m.source.key, etag: m.source.etag }, chunk: m.chunk, firstIndex: m.firstIndex, rides };
  },
  join: (m, index) =>
    m.rides.map((ride, i): ProcessedRow => {
      const found = index.nearest(ride.latitude, ride.longitude, ride.statustime);
      return { ...ride, groundstation: found?.station.id ?? '', groundstation_distance_km: found?.distanceKm, source: m.source.key, ride_index: m.firstIndex + i };
    }),
  csv: (_m, joined) => {
    const cells = (joined as ProcessedRow[]).map((r) => [r.distance, r.healthpoints, r.latitude, r.longitude, r.magicpoints, r.name, r.statustime, r.fieldservice ?? '', r.groundstation, r.groundstation_distance_km, r.source, r.ride_index]);
    return stringify([CSV_COLUMNS as unknown as string[], ...cells], { record_delimiter: '\n', quoted_match: /\r/, cast: { number: (n) => String(n) } });
  },
};

interface PassResult {
  cpu: Record<Stage, number>;
  total: number;
  wall: number;
  rides: number;
  valid: number;
  messages: number;
  csvBytes: number;
}

/*
 * The stages of a batch run in small functions of their own, not inline in `pass`: `pass` is
 * called once per pass, so V8 compiles it while it runs (on-stack replacement), and a single
 * deoptimisation in it — the last, empty batch of a pass is an array of another kind — threw its
 * compiled code away at the end of every pass; compiling this long async function again cost
 * 0.1–0.2 s of background CPU in every later pass (`node --trace-opt --trace-deopt`), counted in
 * the pass's CPU although it is the bench's own work, not the chain's.
 */

// Called for every ride: under tsx (this bench's usual form) each use of an import reads export
// getters, two levels through the package index; the pipeline's bundles call it directly.
const validate = validateRecord;

/** The records of `batch` that validateRecord accepts, and their rides, appended to the two arrays. */
function validateBatch(batch: RawRecord[], accepted: RawRecord[], acceptedRides: Ride[]): void {
  for (const raw of batch) {
    const result = validate(raw);
    if (result.ok) {
      accepted.push(raw);
      acceptedRides.push(result.ride);
    }
  }
}

/** The messages the accepted rides close (and, at the end of the file, the open one). */
function chunkBatch(chunker: Chunker, accepted: RawRecord[], acceptedRides: Ride[], done: boolean): FanoutMessage[] {
  const closed: FanoutMessage[] = [];
  for (let k = 0; k < accepted.length; k++) for (const m of chunker.push(accepted[k].index, acceptedRides[k])) closed.push(m);
  if (done) {
    const last = chunker.flush();
    if (last) closed.push(last);
  }
  return closed;
}

/** The CSV bytes of every body, as transform-fn makes them. */
function transformBodies(chain: Chain, bodies: string[], index: StationLookup): number {
  let csvBytes = 0;
  for (const b of bodies) csvBytes += (chain.transform as NonNullable<Chain['transform']>)(b, index).length;
  return csvBytes;
}

async function pass(bytes: Buffer, index: StationLookup, chain: Chain): Promise<PassResult> {
  const cpu = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const source: SourceRef = { bucket: 'rydes-local', key: `raw/rides-${RIDES}-seed1.json`, etag: '"0123456789abcdef0123456789abcdef"' };
  const chunker = chain.chunker(source);
  const records = parseRides(Readable.from(chunksOf(bytes)));
  let rides = 0;
  let valid = 0;
  let messages = 0;
  let csvBytes = 0;
  const wallStart = process.hrtime.bigint();
  let done = false;
  while (!done) {
    let t = cpuSeconds();
    const lap = (stage: Stage) => {
      const now = cpuSeconds();
      cpu[stage] += now - t;
      t = now;
    };
    // As ingest-fn reads them: a chunk of the file's records at a time.
    let batch: RawRecord[] = [];
    while (batch.length < BATCH) {
      const next = await records.nextBatch();
      if (next === undefined) {
        done = true;
        break;
      }
      batch = batch.length === 0 ? next : batch.concat(next);
    }
    lap('parse');
    const accepted: RawRecord[] = [];
    const acceptedRides: Ride[] = [];
    if (batch.length > 0) validateBatch(batch, accepted, acceptedRides);
    lap('validate');
    const closed = chunkBatch(chunker, accepted, acceptedRides, done);
    lap('chunk');
    const bodies = closed.map((m) => chain.encode(m));
    lap('encode');
    if (chain.transform) {
      csvBytes += transformBodies(chain, bodies, index);
      lap('body → csv');
    } else {
      const decoded = bodies.map((b) => chain.decode(b));
      lap('decode');
      const joined = decoded.map((m) => chain.join(m, index));
      lap('nearest + row');
      for (let k = 0; k < decoded.length; k++) csvBytes += chain.csv(decoded[k], joined[k]).length;
      lap('csv');
    }
    rides += batch.length;
    valid += accepted.length;
    messages += closed.length;
  }
  const wall = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const total = STAGES.reduce((s, k) => s + cpu[k], 0);
  return { cpu, total, wall, rides, valid, messages, csvBytes };
}

/** The parser and the validator alone over the same bytes: what the chain's first two stages could cost. */
async function standalone(bytes: Buffer): Promise<{ parse: number; validate: number }> {
  let t = cpuSeconds();
  const records: unknown[] = [];
  for await (const raw of parseRides(Readable.from(chunksOf(bytes)))) records.push(raw.record);
  const parse = cpuSeconds() - t;
  t = cpuSeconds();
  let valid = 0;
  for (const record of records) if (validateRide(record).ok) valid++;
  const validate = cpuSeconds() - t;
  if (valid !== RIDES) throw new Error(`standalone validate: ${valid} of ${RIDES} valid`);
  return { parse, validate };
}

async function main(): Promise<void> {
  const index = new StationLookup(STATIONS ? await parseStations(readFileSync(STATIONS, 'utf8'), { source: STATIONS }) : DEFAULT_STATIONS);
  const bytes = await sampleBytes();
  console.log(
    `floor bench: N = ${RIDES.toLocaleString('en-US')} rides (seed 1, ${(bytes.length / 1e6).toFixed(1)} MB pretty JSON array), ` +
      `${RIDES_PER_MESSAGE} rides/message, ${index.size.toLocaleString('en-US')} stations, ${CHUNK_BYTES / 1024} KiB chunks, Node ${process.version}`,
  );
  const show = (label: string, r: PassResult, chain: Chain) => {
    const used = STAGES.filter((s) => (chain.transform ? !['decode', 'nearest + row', 'csv'].includes(s) : s !== 'body → csv'));
    const stages = used.map((s) => `${s} ${r.cpu[s].toFixed(2)}`).join(', ');
    console.log(
      `  ${label}: CPU ${r.total.toFixed(2)} s (${stages}); wall ${r.wall.toFixed(2)} s; ` +
        `${Math.round(r.rides / r.total).toLocaleString('en-US')} rides/s/core; ${r.valid} valid, ${r.messages} messages, ${(r.csvBytes / 1e6).toFixed(1)} MB CSV`,
    );
  };
  // The baseline runs after the first pass, so that both find the shared parts (parse, validate, nearest) compiled.
  const results: PassResult[] = [];
  let baseline: PassResult | undefined;
  for (let p = 1; p <= PASSES; p++) {
    const r = await pass(bytes, index, CURRENT);
    results.push(r);
    show(`pass ${p}`, r, CURRENT);
    if (p === 1 && BASELINE) {
      baseline = await pass(bytes, index, GENERIC);
      show('baseline (generic chain)', baseline, GENERIC);
    }
  }
  const alone = await standalone(bytes);
  console.log(`  standalone, same bytes: parse ${alone.parse.toFixed(2)} s CPU (${(bytes.length / 1e6 / alone.parse).toFixed(0)} MB/s), validate ${alone.validate.toFixed(2)} s CPU (${(RIDES / alone.validate / 1e6).toFixed(2)} M rides/s)`);
  const best = results.reduce((a, b) => (b.total < a.total ? b : a));
  const target = 1.2 * (RIDES / 200_000);
  console.log(
    `  best pass: ${best.total.toFixed(2)} s CPU, ${Math.round(best.rides / best.total).toLocaleString('en-US')} rides/s/core` +
      (baseline ? `; ${(baseline.total / best.total).toFixed(1)}× less CPU than the baseline` : '') +
      `; target ≤ ${target.toFixed(2)} s (≥ 170,000 rides/s/core): ${best.total <= target ? 'met' : 'missed'}`,
  );
  const round = (stages: Record<Stage, number>) => Object.fromEntries(STAGES.map((s) => [s, +stages[s].toFixed(3)]));
  const summary = { rides: best.rides, cpuSeconds: +best.total.toFixed(3), ridesPerCoreSecond: Math.round(best.rides / best.total), stages: round(best.cpu), ...(baseline && { baselineCpuSeconds: +baseline.total.toFixed(3) }) };
  console.log(`floor-json ${JSON.stringify(summary)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
