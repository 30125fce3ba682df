/*
 * One measurement in a fresh process, so that peak RSS belongs to that workload alone.
 * Usage: tsx parse.worker.ts <read|split|full|stream-json> <file>
 * Prints one JSON line: { mode, bytes, records, valid, seconds, maxRssMB }.
 */
import { createReadStream, statSync } from 'node:fs';
import { parser } from 'stream-json';
import { streamArray } from 'stream-json/streamers/StreamArray';
import { parseRides, validateRide } from '../src';

const [mode, file] = process.argv.slice(2);
const HIGH_WATER_MARK = 64 * 1024; // what an S3 GetObject body stream typically delivers

async function read(): Promise<[number, number]> {
  let chunks = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: HIGH_WATER_MARK })) chunks += (chunk as Buffer).length > 0 ? 1 : 0;
  return [chunks, 0];
}

async function ours(validate: boolean): Promise<[number, number]> {
  let records = 0;
  let valid = 0;
  for await (const raw of parseRides(createReadStream(file, { highWaterMark: HIGH_WATER_MARK }))) {
    records++;
    if (validate && validateRide(raw.record).ok) valid++;
  }
  return [records, valid];
}

async function streamJson(): Promise<[number, number]> {
  let records = 0;
  let valid = 0;
  // The fastest stream-json setup measured: no streamed string/number chunks, packed values.
  const pipeline = createReadStream(file, { highWaterMark: HIGH_WATER_MARK }).pipe(parser({ streamValues: false })).pipe(streamArray());
  for await (const item of pipeline) {
    records++;
    if (validateRide((item as { value: unknown }).value).ok) valid++;
  }
  return [records, valid];
}

async function main(): Promise<void> {
  const run = { read, split: () => ours(false), full: () => ours(true), 'stream-json': streamJson }[mode];
  if (!run) throw new Error(`mode ${mode}: use read, split, full or stream-json`);
  const started = process.hrtime.bigint();
  const [records, valid] = await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ mode, bytes: statSync(file).size, records, valid, seconds, maxRssMB })}\n`);
}

void main();
