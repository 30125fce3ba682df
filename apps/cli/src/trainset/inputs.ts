import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream';
import type { WeatherFile } from '@rydes/training-set';
import { TrainsetInputError } from './errors';

/** A weather file as `rydes trainset` reads it: NOAA's by-year (no header) or by-station (header) CSV, gzip or not. */
export interface WeatherInput extends WeatherFile {
  /** Size on disk (compressed size for gzip). */
  bytes: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const WEATHER_LINE = /^[A-Z0-9]{11},\d{8},[A-Z0-9]{4},-?\d+,/;
const WEATHER_HEADER = /^"?ID"?,"?DATE"?,"?ELEMENT"?,"?DATA_VALUE"?/i;

/** The columns `rydes trainset` needs from a run's rides.csv (processed/ CSV columns). */
export const RIDES_COLUMNS = ['distance', 'healthpoints', 'magicpoints', 'name', 'statustime', 'fieldservice', 'groundstation', 'source', 'ride_index'];

/**
 * Looks at a weather file's first bytes: gzip or not (magic number, whatever the name), and
 * whether its first line is NOAA's header `ID,DATE,ELEMENT,DATA_VALUE,…` or already data. A first
 * line that is neither is refused, naming the file and line 1, before any work starts.
 */
export async function describeWeatherFile(path: string): Promise<WeatherInput> {
  const bytes = await sizeOf(path, 'a GHCN-Daily CSV (ID,DATE,ELEMENT,DATA_VALUE,M_FLAG,Q_FLAG,S_FLAG,OBS_TIME), optionally gzip');
  const head = await readHead(path, 4096);
  const gzip = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  const first = (gzip ? await firstGunzippedLine(path) : head.toString('utf8').split('\n', 1)[0]).replace(/^\uFEFF/, '').replace(/\r$/, '');
  const header = WEATHER_HEADER.test(first);
  if (!header && !WEATHER_LINE.test(first) && bytes > 0) {
    throw new TrainsetInputError(
      path,
      `line 1 is ${JSON.stringify(first.slice(0, 60))}: expected NOAA's GHCN-Daily CSV, a header "ID,DATE,ELEMENT,DATA_VALUE,M_FLAG,Q_FLAG,S_FLAG,OBS_TIME" or a line like "USW00094728,20180101,TMAX,-56,,,W,2400"`,
    );
  }
  return { path, header, gzip, bytes };
}

/** Checks that rides.csv exists and its header names every column the training set needs. */
export async function checkRidesFile(path: string): Promise<void> {
  await sizeOf(path, "a run's rides.csv (rydes run writes it into --out)");
  const first = (await readHead(path, 4096)).toString('utf8').split('\n', 1)[0].replace(/^\uFEFF/, '').replace(/\r$/, '');
  const columns = first.split(',').map((c) => c.trim());
  const missing = RIDES_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    throw new TrainsetInputError(path, `line 1 (the header) lacks ${missing.join(', ')}; expected the processed/ CSV header that rydes run writes into rides.csv`);
  }
}

async function sizeOf(path: string, expected: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new TrainsetInputError(path, `not a regular file; expected ${expected}`);
    return info.size;
  } catch (err) {
    if (err instanceof TrainsetInputError) throw err;
    throw new TrainsetInputError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected ${expected}`);
  }
}

async function readHead(path: string, length: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

async function firstGunzippedLine(path: string): Promise<string> {
  const file = await open(path, 'r');
  const gunzip = createGunzip();
  // pipeline, not pipe: when the loop stops early, the file stream destroyed under a read in
  // progress reports its premature close to pipeline's callback (nothing to do), where piping left
  // it an 'error' event nobody listened to, i.e. an uncaught exception at a random later moment.
  // A gzip error reaches the loop below as well.
  pipeline(file.createReadStream({ highWaterMark: 64 * 1024 }), gunzip, () => undefined);
  let text = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.includes('\n') || text.length > 4096) break;
    }
  } catch (err) {
    throw new TrainsetInputError(path, `starts like gzip but does not decompress (${(err as Error).message})`);
  } finally {
    gunzip.destroy();
    await file.close().catch(() => undefined);
  }
  return text.split('\n', 1)[0];
}
