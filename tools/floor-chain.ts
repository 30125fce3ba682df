/**
 * One process of the floor bench (tools/floor-bench.ts runs several of these and prints their
 * median; run that, not this): the per-ride chain of the pipeline in one process with the
 * project's own code, no AWS and no I/O — parse (64 KiB chunks) → validate → chunk → encode
 * message → the transform's body → CSV — over a sample file the driver wrote (`rydes run`'s
 * seeded sample: N rides, seed 1, pretty-printed JSON array). The driver runs it as an esbuild
 * bundle built as the functions' bundles are, so the code measured is the code they run.
 *
 * Each pass is a fresh parse of the same bytes; the loop over the records is ingest-fn's (a
 * parser batch at a time: validateRecord, Chunker.push, encodeMessage of each closed message),
 * then transform-fn's transformBody of each body. Stages are timed per group of parser batches
 * (process.cpuUsage: user + system, every thread). Pass 1 also hashes every body and CSV it
 * writes. Per pass it prints one `floor-pass {…}` line:
 * those CPU seconds, the main thread's own on-CPU and run-queue time and the other threads'
 * CPU (/proc/self/task/<tid>/schedstat: concurrent compilation and GC helpers), GC pauses, and
 * two reference loops timed on the main thread just before the pass (a memory-bound one and a
 * register-only one: how fast this machine was at that moment).
 *
 * With `--baseline yes` it runs one pass of this chain (warm-up), then one pass of the generic
 * chain this one replaced (JSON.stringify of each ride for its size and again for the body, a
 * decode that copies every ride through validateRide, rows built with an object spread,
 * csv-stringify), then the parser and the validator alone.
 */
import { createHash, type Hash } from 'node:crypto';
import { openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { DEFAULT_STATIONS, parseStations, StationLookup } from '@rydes/geo-index';
import { Chunker, CSV_COLUMNS, decodeMessage, DEFAULT_RIDES_PER_MESSAGE, encodeMessage, EnvelopeError, parseRides, validateRecord, validateRide, type FanoutMessage, type ProcessedRow, type RawRecord, type Ride, type SourceRef } from '@rydes/ride-model';
import { nearestStations, processedCsv, transformBody } from '../apps/transform-fn/src/transform-message';
import { args } from './cli-process';
import { STAGES, type PassFigures, type Stage } from './floor-figures';

const flags = args({ sample: '', passes: '3', 'rides-per-message': String(DEFAULT_RIDES_PER_MESSAGE), stations: '', baseline: 'no' });
const PASSES = Number(flags.passes);
const RIDES_PER_MESSAGE = Number(flags['rides-per-message']);
const STATIONS = flags.stations;
const BASELINE = flags.baseline === 'yes';
const CHUNK_BYTES = 64 * 1024;
/** Records per timed group: parser batches (~280 records of 64 KiB each) are gathered up to this many. */
const GROUP = 2_000;

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** On-CPU and run-queue nanoseconds of the main thread, and on-CPU nanoseconds of the others (schedstat). */
function threadTimes(): { main: number; mainWait: number; others: number } {
  let main = 0;
  let mainWait = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ').map(Number);
      if (Number(tid) === process.pid) {
        main = run;
        mainWait = wait;
      } else others += run;
    } catch {
      // the thread ended
    }
  }
  return { main, mainWait, others };
}

// The main thread's on-CPU nanoseconds, read again and again from one open file (a pread at 0 regenerates it).
const schedstat = openSync('/proc/thread-self/schedstat', 'r');
const schedstatBytes = Buffer.alloc(128);
function mainThreadSeconds(): number {
  const n = readSync(schedstat, schedstatBytes, 0, schedstatBytes.length, 0);
  return Number(schedstatBytes.toString('latin1', 0, n).split(' ')[0]) / 1e9;
}

/*
 * Two reference loops, timed on the main thread just before each pass. The chain's CPU per pass
 * swings by up to 2× between consecutive passes of one process, every stage by the same factor,
 * with no run-queue wait and the same background-thread CPU: the machine's memory speed at that
 * moment (a shared host), not the code. The memory-bound loop (random reads and writes over
 * 32 MiB) swings with it; the register-only loop does not. Printed beside each figure so a
 * reader sees which passes ran on a slow moment.
 */
const referenceArray = new Float64Array(1 << 22);
function memoryReference(): number {
  const t = mainThreadSeconds();
  const mask = referenceArray.length - 1;
  let sum = 0;
  let j = 0;
  for (let i = 0; i < 2_000_000; i++) {
    j = (Math.imul(j, 1664525) + 1013904223) >>> 0;
    sum += referenceArray[j & mask];
    referenceArray[j & mask] = sum * 1e-9;
  }
  return mainThreadSeconds() - t;
}
function registerReference(): number {
  const t = mainThreadSeconds();
  let x = 0x12345678;
  for (let i = 0; i < 50_000_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    x ^= x >>> 13;
  }
  if (x === 0.5) console.log(x); // keeps the loop
  return mainThreadSeconds() - t;
}

let gcPauses = 0;
let gcSeconds = 0;
const gcEntries = new PerformanceObserver((list) => countGc(list.getEntries()));
gcEntries.observe({ entryTypes: ['gc'] });
function countGc(entries: readonly { duration: number }[]): void {
  for (const entry of entries) {
    gcPauses++;
    gcSeconds += entry.duration / 1e3;
  }
}

function* chunksOf(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) yield bytes.subarray(at, at + CHUNK_BYTES);
}

/** The stages as this chain runs them, or as they were written before (see the header): the same-run baseline. */
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


/*
 * The stages of a group run in small functions of their own, not inline in `pass`: `pass` is
 * called once per pass, so V8 compiles it while it runs (on-stack replacement), and a single
 * deoptimisation in it threw its compiled code away at the end of every pass; compiling this
 * long async function again cost 0.1–0.2 s of background CPU in every later pass (`node
 * --trace-opt --trace-deopt`), counted in the pass's CPU although it is the bench's own work.
 * The arrays they fill are reused from group to group (the pipeline keeps no such arrays).
 */

/**
 * The records of `group` that validateRecord accepts, and their rides, into the two arrays from
 * their start; how many. (Not `length = 0` and push: that frees the arrays' storage and grows
 * it again for every group.)
 */
function validateGroup(group: RawRecord[][], accepted: RawRecord[], acceptedRides: Ride[]): number {
  let n = 0;
  for (let b = 0; b < group.length; b++) {
    const batch = group[b];
    for (let i = 0; i < batch.length; i++) {
      const raw = batch[i];
      const result = validateRecord(raw);
      if (result.ok) {
        accepted[n] = raw;
        acceptedRides[n] = result.ride;
        n++;
      }
    }
  }
  return n;
}

/** As ingest-fn's loop: the messages each ride closes (and, at the end of the file, the open one). */
function chunkGroup(chunker: Chunker, accepted: RawRecord[], acceptedRides: Ride[], count: number, done: boolean, closed: FanoutMessage[]): void {
  closed.length = 0;
  for (let k = 0; k < count; k++) for (const m of chunker.push(accepted[k].index, acceptedRides[k])) closed.push(m);
  // Let go of the group's rides, as the ingest's loop does: held here, they would live through the next group's collections.
  accepted.fill(NO_RECORD, 0, count);
  acceptedRides.fill(NO_RIDE, 0, count);
  if (done) {
    const last = chunker.flush();
    if (last) closed.push(last);
  }
}

function encodeGroup(chain: Chain, closed: FanoutMessage[], bodies: string[]): void {
  bodies.length = 0;
  for (const m of closed) bodies.push(chain.encode(m));
}

/** The CSV bytes of every body, as transform-fn makes them; with `hash`, the bodies and the CSVs go into it. */
function transformBodies(chain: Chain, bodies: string[], index: StationLookup, hash: Hash | undefined): number {
  let csvBytes = 0;
  for (const b of bodies) {
    const csv = (chain.transform as NonNullable<Chain['transform']>)(b, index);
    csvBytes += csv.length;
    if (hash) hash.update(b).update(csv);
  }
  return csvBytes;
}

/** The generic transform: decode, join, CSV, each a stage of its own. */
function genericTransform(chain: Chain, bodies: string[], index: StationLookup, lap: (stage: Stage) => void): number {
  const decoded = bodies.map((b) => chain.decode(b));
  lap('decode');
  const joined = decoded.map((m) => chain.join(m, index));
  lap('nearest + row');
  let csvBytes = 0;
  for (let k = 0; k < decoded.length; k++) csvBytes += chain.csv(decoded[k], joined[k]).length;
  lap('csv');
  return csvBytes;
}

const NO_RECORD: RawRecord = { index: -1, record: null };
const NO_RIDE: Ride = { distance: 0, healthpoints: 0, latitude: 0, longitude: 0, magicpoints: 0, name: '', statustime: '' };
const accepted: RawRecord[] = [];
const acceptedRides: Ride[] = [];
const closed: FanoutMessage[] = [];
const bodies: string[] = [];
const group: RawRecord[][] = [];

async function pass(number: number, bytes: Buffer, index: StationLookup, chain: Chain): Promise<PassFigures> {
  // Pass 1 (compiling the chain, never the figure) also hashes what it writes: every process, and
  // both builds of an --against pair, must write the same bytes.
  const hash = number === 1 && chain === CURRENT ? createHash('sha256') : undefined;
  const memoryReferenceSeconds = memoryReference();
  const registerReferenceSeconds = registerReference();
  const stages = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const source: SourceRef = { bucket: 'rydes-local', key: `raw/rides-sample.json`, etag: '"0123456789abcdef0123456789abcdef"' };
  const chunker = chain.chunker(source);
  const records = parseRides(Readable.from(chunksOf(bytes)));
  let rides = 0;
  let valid = 0;
  let messages = 0;
  let csvBytes = 0;
  // Node hands GC entries over on a later turn of the event loop: let the earlier ones arrive first.
  await new Promise((resolve) => setImmediate(resolve));
  countGc(gcEntries.takeRecords());
  const gc0 = { pauses: gcPauses, seconds: gcSeconds };
  const threads0 = threadTimes();
  const wallStart = process.hrtime.bigint();
  let t = cpuSeconds();
  const lap = (stage: Stage) => {
    const now = cpuSeconds();
    stages[stage] += now - t;
    t = now;
  };
  let done = false;
  while (!done) {
    // As ingest-fn reads them: a parser batch (a chunk of the file's records) at a time.
    group.length = 0;
    let count = 0;
    while (count < GROUP) {
      const next = await records.nextBatch();
      if (next === undefined) {
        done = true;
        break;
      }
      group.push(next);
      count += next.length;
    }
    lap('parse');
    const accepts = validateGroup(group, accepted, acceptedRides);
    lap('validate');
    chunkGroup(chunker, accepted, acceptedRides, accepts, done, closed);
    lap('chunk');
    encodeGroup(chain, closed, bodies);
    lap('encode');
    if (chain.transform) {
      csvBytes += transformBodies(chain, bodies, index, hash);
      lap('body → csv');
    } else {
      csvBytes += genericTransform(chain, bodies, index, lap);
    }
    rides += count;
    valid += accepts;
    messages += closed.length;
  }
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const threads1 = threadTimes();
  // The pass's GC entries reach the observer only on a later turn of the event loop.
  await new Promise((resolve) => setImmediate(resolve));
  countGc(gcEntries.takeRecords());
  const round = (x: number) => +x.toFixed(4);
  return {
    pass: number,
    chain: chain === CURRENT ? 'current' : 'generic',
    cpuSeconds: round(STAGES.reduce((sum, s) => sum + stages[s], 0)),
    stages: Object.fromEntries(STAGES.map((s) => [s, round(stages[s])])) as Record<Stage, number>,
    wallSeconds: round(wallSeconds),
    mainSeconds: round((threads1.main - threads0.main) / 1e9),
    mainWaitSeconds: round((threads1.mainWait - threads0.mainWait) / 1e9),
    otherThreadsSeconds: round((threads1.others - threads0.others) / 1e9),
    gcPauses: gcPauses - gc0.pauses,
    gcSeconds: round(gcSeconds - gc0.seconds),
    memoryReferenceSeconds: round(memoryReferenceSeconds),
    registerReferenceSeconds: round(registerReferenceSeconds),
    rides,
    valid,
    messages,
    csvBytes,
    ...(hash && { outputSha256: hash.digest('hex') }),
  };
}

/** The parser and the validator alone over the same bytes: what the chain's first two stages could cost. */
async function standalone(bytes: Buffer): Promise<{ parse: number; validate: number; rides: number }> {
  let t = cpuSeconds();
  const records: unknown[] = [];
  for await (const raw of parseRides(Readable.from(chunksOf(bytes)))) records.push(raw.record);
  const parse = cpuSeconds() - t;
  t = cpuSeconds();
  let valid = 0;
  for (const record of records) if (validateRide(record).ok) valid++;
  const validate = cpuSeconds() - t;
  if (valid !== records.length) throw new Error(`standalone validate: ${valid} of ${records.length} valid`);
  return { parse: +parse.toFixed(4), validate: +validate.toFixed(4), rides: records.length };
}

async function main(): Promise<void> {
  if (!flags.sample) throw new Error('--sample <file>: tools/floor-bench.ts writes it and runs this');
  const index = new StationLookup(STATIONS ? await parseStations(readFileSync(STATIONS, 'utf8'), { source: STATIONS }) : DEFAULT_STATIONS);
  const bytes = readFileSync(flags.sample);
  console.log(`floor-process ${JSON.stringify({ stations: index.size, bytes: bytes.length, chunkBytes: CHUNK_BYTES, ridesPerMessage: RIDES_PER_MESSAGE, node: process.version })}`);
  if (BASELINE) {
    // One pass of this chain first, so that both find the shared parts (parse, validate, nearest) compiled.
    await pass(1, bytes, index, CURRENT);
    console.log(`floor-pass ${JSON.stringify(await pass(2, bytes, index, GENERIC))}`);
    console.log(`floor-standalone ${JSON.stringify(await standalone(bytes))}`);
    return;
  }
  for (let p = 1; p <= PASSES; p++) console.log(`floor-pass ${JSON.stringify(await pass(p, bytes, index, CURRENT))}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
