/*
 * Test helpers for code that uses @rydes/ride-model (alias @rydes/ride-model/testing). Never
 * imported by shipped code.
 */
import { Readable } from 'node:stream';
import { parseRides, ParseOptions } from './parse';
import { RawRecord, Ride } from './types';

/**
 * A valid ride; `overrides` replace fields (pass `undefined` to drop one).
 *
 * @example
 * aRide({ name: 'Rocinante', fieldservice: undefined });
 */
export function aRide(overrides: Partial<Record<keyof Ride, unknown>> = {}): Ride {
  const ride: Record<string, unknown> = {
    distance: 29.212845,
    healthpoints: 217,
    latitude: 40.749167,
    longitude: -73.985184,
    magicpoints: 112,
    name: 'Shadowfax',
    statustime: '2018-05-07 20:11:04.247',
    fieldservice: 0,
    ...overrides,
  };
  for (const key of Object.keys(ride)) if (ride[key] === undefined) delete ride[key];
  return ride as unknown as Ride;
}

/**
 * Names that break naive CSV, JSON or terminal handling. Validation rejects the ones holding a
 * control character (line feed, carriage return, tab, NUL, bell, escape: `findControlCharacter`);
 * every other one is a valid ride name that must come through unchanged.
 *
 * @example
 * for (const name of HOSTILE_NAMES.filter((n) => !findControlCharacter(n))) expect(roundTrip(aRide({ name })).name).toBe(name);
 */
export const HOSTILE_NAMES: readonly string[] = [
  'Comma, Unicorn',
  'Quote "Sparkles" Unicorn',
  '"',
  '""',
  'Line\nFeed',
  'Carriage\rReturn',
  'CRLF\r\nInside',
  'Trailing newline\n',
  '=1+2',
  '=HYPERLINK("http://example.com")',
  '+SUM(A1)',
  '-2+3',
  '@cmd',
  '🦄 Unicorn 🌈',
  'Ünïcödé Ñame',
  'Tab\tSeparated',
  ' leading and trailing spaces ',
  'Back\\slash',
  'NUL\u0000byte',
  'Bell\u0007and\u001bEscape',
  '\u2028line separator\u2029',
  'x'.repeat(256),
  '{"json":"inside"}',
  '__proto__',
];

/**
 * Splits `data` into chunks of `chunkSize` bytes and collects what parseRides yields; an error is
 * returned rather than thrown, with the records yielded before it.
 *
 * @example
 * const { records, error } = await collectRides('[{"name":"x"}]', 1);
 */
export async function collectRides(
  data: string | Buffer,
  chunkSize = 64 * 1024,
  options?: ParseOptions,
): Promise<{ records: RawRecord[]; error?: Error & { byteOffset?: number; lastGoodIndex?: number } }> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const records: RawRecord[] = [];
  try {
    for await (const raw of parseRides(Readable.from(chunks), options)) records.push(raw);
    return { records };
  } catch (e) {
    return { records, error: e as Error };
  }
}

/**
 * Reads a whole Readable into one Buffer (for small test files only).
 *
 * @example
 * const bytes = await readAll(writeRides(rides, { shape: 'ndjson' }));
 */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/**
 * Every input shape, plain and gzip-compressed: the cases of shape-by-shape specs.
 *
 * @example
 * describe.each(SHAPES_AND_GZIP)('%s, gzip %s', (shape, gzip) => { … });
 */
export const SHAPES_AND_GZIP = (['array', 'travel_data', 'concatenated', 'ndjson'] as const).flatMap((shape) => [[shape, false], [shape, true]] as const);
