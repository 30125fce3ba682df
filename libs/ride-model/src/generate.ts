import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { ByteWriter } from './byte-writer';
import { GeneratorOptionsError } from './errors';
import { Ride } from './types';

/**
 * The workshop producer's starting point: 40.749167, -73.985184 (Midtown Manhattan).
 *
 * @example
 * const { latitude, longitude } = START;
 */
export const START = { latitude: 40.749167, longitude: -73.985184 } as const;
/**
 * Unicorns of the generated fleet; each walks on its own bearing.
 *
 * @example
 * UNICORNS.includes(ride.name as (typeof UNICORNS)[number]);
 */
export const UNICORNS = ['Shadowfax', 'Rocinante', 'Bucephalus', 'Blossom', 'Sparkles', 'Twilight', 'Epona', 'Artax'] as const;

const EARTH_RADIUS_M = 6371000;
const YEAR_2018_MS = Date.UTC(2018, 0, 1);
const SECONDS_IN_2018 = 365 * 86400;
const DEG = Math.PI / 180;

export interface GenerateOptions {
  /** Number of records. */
  count: number;
  /** Any integer; the same seed gives the same records, byte for byte once written. */
  seed: number;
  /** Share of records made invalid, in [0, 1]; default 0. */
  invalidRate?: number;
}

/** A generated record; `reason` is the reason validateRide gives when it was made invalid. */
export interface GeneratedRecord {
  index: number;
  record: Ride | Record<string, unknown>;
  reason?: string;
}

/**
 * mulberry32: a 32-bit seeded PRNG, uniform in [0, 1); enough for test data and fault
 * injection, not for secrets. The same seed gives the same sequence on every platform.
 * @example
 * const random = seededRandom(7);
 * random(); // the same number in every run
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6 + 0;

/** Great-circle destination from (lat, lon) in degrees, bearing in radians, distance in metres. */
function destination(lat: number, lon: number, bearing: number, metres: number): [number, number] {
  const d = metres / EARTH_RADIUS_M;
  const phi1 = lat * DEG;
  const phi2 = Math.asin(Math.sin(phi1) * Math.cos(d) + Math.cos(phi1) * Math.sin(d) * Math.cos(bearing));
  const dLambda = Math.atan2(Math.sin(bearing) * Math.sin(d) * Math.cos(phi1), Math.cos(d) - Math.sin(phi1) * Math.sin(phi2));
  const lon2 = ((((lon * DEG + dLambda) / DEG + 540) % 360) + 360) % 360 - 180;
  return [phi2 / DEG, lon2];
}

function checkOptions({ count, seed, invalidRate = 0 }: GenerateOptions): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new GeneratorOptionsError(`count is ${count}; use an integer >= 0`);
  if (!Number.isSafeInteger(seed)) throw new GeneratorOptionsError(`seed is ${seed}; use an integer`);
  if (!(invalidRate >= 0 && invalidRate <= 1)) throw new GeneratorOptionsError(`invalidRate is ${invalidRate}; use a number in [0, 1]`);
}

/**
 * Deterministic rides modelled on the workshop's producer: every unicorn starts at
 * {@link START} and walks on its own fixed random bearing, 29–31 m per step (great-circle
 * destination, R = 6371 km); `distance` is that step in metres. statustime is a random second of
 * 2018 with milliseconds; healthpoints and magicpoints are integers 0–10,000; fieldservice is 1
 * with probability 0.9 at 0 healthpoints falling to 0.1 at 10,000. Coordinates and distance are
 * rounded to 6 decimals. With `invalidRate` > 0, that share of records comes out broken, as
 * {@link generateRecords} describes (use that to know which and why).
 *
 * @example
 * const rides = [...generateRides({ count: 3, seed: 42 })];
 * rides[0].name; // one of UNICORNS
 */
export function generateRides(options: { count: number; seed: number; invalidRate?: 0 }): Generator<Ride>;
export function generateRides(options: GenerateOptions): Generator<Ride | Record<string, unknown>>;
export function generateRides(options: GenerateOptions): Generator<Ride | Record<string, unknown>> {
  checkOptions(options);
  return options.invalidRate ? recordsOnly(generateRecords(options)) : validRides(options);
}

function* recordsOnly(generated: Iterable<GeneratedRecord>): Generator<Ride | Record<string, unknown>> {
  for (const g of generated) yield g.record;
}

/** One valid ride's random draws, unrounded; {@link drawRide} refills the same object for every ride. */
interface RideDraw {
  unicorn: number;
  /** The step walked, in metres: the ride's `distance`. */
  step: number;
  latitude: number;
  longitude: number;
  /** statustime as epoch milliseconds. */
  ms: number;
  healthpoints: number;
  magicpoints: number;
  fieldservice: 0 | 1;
}

/** Every unicorn at {@link START} with its own bearing: the first draws of a seed. */
function startWalks(rng: () => number): Array<{ latitude: number; longitude: number; bearing: number }> {
  return UNICORNS.map(() => ({ latitude: START.latitude as number, longitude: START.longitude as number, bearing: rng() * 2 * Math.PI }));
}

/**
 * The next ride's draws into `draw`, advancing its unicorn's walk. Both writers of valid rides
 * ({@link validRides}, the sample's {@link generatedArrayText}) take them here, so a seed gives
 * the same rides, in the same order, either way.
 */
function drawRide(rng: () => number, walks: ReturnType<typeof startWalks>, draw: RideDraw): RideDraw {
  const u = Math.floor(rng() * UNICORNS.length);
  const walk = walks[u];
  const step = 29 + 2 * rng();
  [walk.latitude, walk.longitude] = destination(walk.latitude, walk.longitude, walk.bearing, step);
  draw.unicorn = u;
  draw.step = step;
  draw.latitude = walk.latitude;
  draw.longitude = walk.longitude;
  draw.ms = YEAR_2018_MS + Math.floor(rng() * SECONDS_IN_2018) * 1000 + Math.floor(rng() * 1000);
  draw.healthpoints = Math.floor(rng() * 10001);
  draw.magicpoints = Math.floor(rng() * 10001);
  draw.fieldservice = rng() < 0.9 - 0.8 * (draw.healthpoints / 10000) ? 1 : 0;
  return draw;
}

const newDraw = (): RideDraw => ({ unicorn: 0, step: 0, latitude: 0, longitude: 0, ms: 0, healthpoints: 0, magicpoints: 0, fieldservice: 0 });

function* validRides(options: GenerateOptions): Generator<Ride> {
  const rng = seededRandom(options.seed);
  const walks = startWalks(rng);
  const d = newDraw();
  for (let i = 0; i < options.count; i++) {
    drawRide(rng, walks, d);
    yield {
      distance: round6(d.step),
      healthpoints: d.healthpoints,
      latitude: round6(d.latitude),
      longitude: round6(d.longitude),
      magicpoints: d.magicpoints,
      name: UNICORNS[d.unicorn],
      statustime: statusTimeOf(d.ms),
      fieldservice: d.fieldservice,
    };
  }
}

const two = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/** Year, month, day, hours, minutes, seconds, milliseconds of the last {@link civilTime}. */
const CIVIL = new Int32Array(7);

/**
 * The UTC calendar fields of an instant (years 0–9999) into {@link CIVIL}: the civil-from-days
 * conversion of H. Hinnant's date algorithms, without a Date.
 */
function civilTime(ms: number): void {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  CIVIL[0] = yoe + era * 400 + (month <= 2 ? 1 : 0);
  CIVIL[1] = month;
  CIVIL[2] = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  CIVIL[3] = hours;
  CIVIL[4] = minutes;
  CIVIL[5] = seconds;
  CIVIL[6] = rest - seconds * 1000;
}

/**
 * `YYYY-MM-DD HH:MM:SS.fff` of a UTC instant (years 0–9999): what
 * `new Date(ms).toISOString().replace('T', ' ').slice(0, 23)` gives, without a Date, an ISO
 * string and two more strings per ride (they were a third of the generator's time).
 */
export function statusTimeOf(ms: number): string {
  civilTime(ms);
  const year = CIVIL[0], month = CIVIL[1], day = CIVIL[2], hours = CIVIL[3], minutes = CIVIL[4], seconds = CIVIL[5], millis = CIVIL[6];
  return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)} ${two(hours)}:${two(minutes)}:${two(seconds)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`;
}

/** Ways to break a ride, each with the single reason validateRide gives for it. */
const BREAKAGES: Array<{ reason: string; apply: (r: Record<string, unknown>) => void }> = [
  { reason: 'latitude: 91 is outside [-90, 90]', apply: (r) => (r.latitude = 91) },
  { reason: 'longitude: 181 is outside [-180, 180]', apply: (r) => (r.longitude = 181) },
  { reason: 'name: is empty or blank', apply: (r) => (r.name = '') },
  { reason: 'statustime: "2018-02-30 12:00:00" is not a real calendar time', apply: (r) => (r.statustime = '2018-02-30 12:00:00') },
  { reason: 'distance: -1 is negative', apply: (r) => (r.distance = -1) },
  { reason: 'healthpoints: 2.5 is not an integer', apply: (r) => (r.healthpoints = 2.5) },
  { reason: 'magicpoints: missing', apply: (r) => delete r.magicpoints },
  { reason: 'fieldservice: 2 is not 0/1, true/false or absent', apply: (r) => (r.fieldservice = 2) },
];

/**
 * The rides of {@link generateRides} with a seeded share `invalidRate` replaced by broken copies;
 * each broken record carries the `reason` validateRide will give. Which records break is drawn
 * from a second PRNG, so the valid records are the same rides as with `invalidRate: 0`.
 *
 * @example
 * for (const { index, record, reason } of generateRecords({ count: 1000, seed: 7, invalidRate: 0.01 })) {
 *   if (reason) expectedRejects.set(index, reason);
 * }
 */
export function* generateRecords(options: GenerateOptions): Generator<GeneratedRecord> {
  checkOptions(options);
  const rate = options.invalidRate ?? 0;
  const rng = seededRandom(options.seed ^ 0x5bd1e995);
  let index = 0;
  for (const ride of validRides(options)) {
    if (rate > 0 && rng() < rate) {
      const breakage = BREAKAGES[Math.floor(rng() * BREAKAGES.length)];
      const record: Record<string, unknown> = { ...ride };
      breakage.apply(record);
      yield { index: index++, record, reason: breakage.reason };
    } else {
      yield { index: index++, record: ride };
    }
  }
}

export type RideFileShape = 'array' | 'travel_data' | 'concatenated' | 'ndjson';

export interface WriteOptions {
  shape: RideFileShape;
  /** gzip-compress the output; default false. */
  gzip?: boolean;
  /** Indent with 2 spaces; default true except for ndjson, which is always one record per line. */
  pretty?: boolean;
}

const BATCH_BYTES = 64 * 1024;

/** A ride's keys in the order the generator writes them (and JSON.stringify keeps). */
const RIDE_KEYS = ['distance', 'healthpoints', 'latitude', 'longitude', 'magicpoints', 'name', 'statustime', 'fieldservice'] as const;

/** Exactly a ride as the generator makes it: the eight keys in that order, finite numbers, strings. */
function isPlainRide(record: object): record is Ride & { fieldservice: number } {
  const r = record as Record<string, unknown>;
  let keys = 0;
  for (const key in r) if (key !== RIDE_KEYS[keys++]) return false;
  return (
    keys === RIDE_KEYS.length &&
    Number.isFinite(r.distance) &&
    Number.isFinite(r.healthpoints) &&
    Number.isFinite(r.latitude) &&
    Number.isFinite(r.longitude) &&
    Number.isFinite(r.magicpoints) &&
    Number.isFinite(r.fieldservice) &&
    typeof r.name === 'string' &&
    typeof r.statustime === 'string'
  );
}

/**
 * A writer of plain rides (see {@link isPlainRide}) as the bytes of `JSON.stringify(ride, null, 2)`
 * with every line break followed by `indent` (or of `JSON.stringify(ride)` when not pretty): keys
 * and punctuation copied four bytes at a time from pieces made once (a generated name and the
 * keys around it as one piece), numbers digit by digit. Hand-written because the generic
 * stringify, the re-indenting regex and the strings in between were most of the time of a
 * 200,000-ride sample, which `rydes run` writes before anything else can start (and copying the
 * pieces a byte at a time was still the largest share of it); a spec holds both ways to the same
 * bytes for every shape.
 */
function plainRideWriter(pretty: boolean, indent: string): (w: ByteWriter, ride: Ride & { fieldservice: number }) => void {
  const at = pretty ? `${indent}  ` : '';
  const colon = pretty ? '": ' : '":';
  const [distance, healthpoints, latitude, longitude, magicpoints, name, statustime, fieldservice] = RIDE_KEYS.map(
    (key, i) => `${i === 0 ? '{' : ','}${at}"${key}${colon}`,
  );
  const [distanceKey, healthpointsKey, latitudeKey, longitudeKey, magicpointsKey, fieldserviceKey] = [distance, healthpoints, latitude, longitude, magicpoints, fieldservice].map(
    ByteWriter.prepare,
  );
  const nameKey = ByteWriter.prepare(name);
  const statustimeKey = ByteWriter.prepare(statustime);
  // The name key, a generated name and the statustime key: one piece for the eight names the generator uses.
  const named = new Map(UNICORNS.map((unicorn) => [unicorn as string, ByteWriter.prepare(`${name}"${unicorn}"${statustime}`)]));
  const end = ByteWriter.prepare(pretty ? `${indent}}` : '}');
  return (w, ride) => {
    w.literal(distanceKey);
    w.number(ride.distance);
    w.literal(healthpointsKey);
    w.number(ride.healthpoints);
    w.literal(latitudeKey);
    w.number(ride.latitude);
    w.literal(longitudeKey);
    w.number(ride.longitude);
    w.literal(magicpointsKey);
    w.number(ride.magicpoints);
    const piece = named.get(ride.name);
    if (piece) w.literal(piece);
    else {
      w.literal(nameKey);
      w.jsonString(ride.name);
      w.literal(statustimeKey);
    }
    w.jsonString(ride.statustime);
    w.literal(fieldserviceKey);
    w.number(ride.fieldservice);
    w.literal(end);
  };
}

function* fileText(records: Iterable<object>, shape: RideFileShape, pretty: boolean): Generator<Buffer> {
  const nested = shape === 'travel_data' ? 2 : 1;
  const pad = pretty ? '\n' + '  '.repeat(nested) : '';
  const open = { array: '[', travel_data: pretty ? '{\n  "travel_data": [' : '{"travel_data":[', concatenated: '', ndjson: '' }[shape];
  const close = { array: pretty ? '\n]\n' : ']\n', travel_data: pretty ? '\n  ]\n}\n' : ']}\n', concatenated: '\n', ndjson: '' }[shape];
  // Records in an array are indented by `pad`; concatenated ones start at the margin.
  const indent = shape === 'concatenated' ? '\n' : pad;
  const writePlainRide = plainRideWriter(pretty, indent);
  const listed = shape === 'array' || shape === 'travel_data';
  const [firstSeparator, separator] = [ByteWriter.prepare(pad), ByteWriter.prepare(`,${pad}`)];
  let w = new ByteWriter(BATCH_BYTES + 4096);
  w.ascii(open);
  let first = true;
  for (const record of records) {
    if (listed) w.literal(first ? firstSeparator : separator);
    if (isPlainRide(record)) writePlainRide(w, record);
    else {
      const json = pretty ? JSON.stringify(record, null, 2) : JSON.stringify(record);
      w.utf8(pretty && indent !== '\n' ? json.replace(/\n/g, indent) : json);
    }
    if (shape === 'ndjson') w.byte(0x0a);
    first = false;
    if (w.length >= BATCH_BYTES) {
      yield w.bytes.subarray(0, w.length);
      w = new ByteWriter(BATCH_BYTES + 4096);
    }
  }
  w.ascii(close);
  if (w.length > 0) yield w.bytes.subarray(0, w.length);
}

/** The digits of an integer 0 ≤ n < 10^width, zero-padded to `width`, at `at`; returns the end. */
function putDigits(bytes: Buffer, at: number, n: number, width: number): number {
  for (let end = at + width, k = end - 1; k >= at; k--) {
    const q = (n / 10) | 0;
    bytes[k] = 0x30 + n - q * 10;
    n = q;
  }
  return at + width;
}

/**
 * The text of a coordinate or distance as the generator rounds it, `round6(x)`, written from
 * n = round(x·10^6): the digits of n with the point six from the end, trailing zeros (and a bare
 * point) cut, `-` before a negative. That is `String(round6(x))`: n·10^-6 has at most 15
 * significant digits (|n| < 10^15), so it is the one such decimal that reads back as the double
 * round6 gives, and the shortest text of that double (which String writes) is that decimal.
 */
function putMicros(w: ByteWriter, x: number): void {
  let n = Math.round(x * 1e6);
  w.reserve(24);
  const bytes = w.bytes;
  let at = w.length;
  if (n < 0) {
    bytes[at++] = 0x2d;
    n = -n;
  }
  const whole = Math.floor(n / 1e6);
  let fraction = n - whole * 1e6;
  let digits = 1;
  while (digits < 15 && whole >= 10 ** digits) digits++;
  at = putDigits(bytes, at, whole, digits);
  if (fraction > 0) {
    let width = 6;
    while (fraction % 10 === 0) {
      fraction /= 10;
      width--;
    }
    bytes[at++] = 0x2e;
    at = putDigits(bytes, at, fraction, width);
  }
  w.length = at;
}

/**
 * `writeRides(generateRides({ count, seed }), { shape: 'array' })` (pretty), byte for byte,
 * written straight from the generator's numbers: no ride objects, no strings, no check of each
 * ride's shape. `rydes run` writes its 200,000-ride sample before its pipeline can start, and
 * making and re-reading those objects and strings was most of that time. A spec holds it to the
 * generic way for many seeds and counts.
 */
function* generatedArrayText(count: number, seed: number): Generator<Buffer> {
  const rng = seededRandom(seed);
  const walks = startWalks(rng);
  const d = newDraw();
  const pad = '\n  ';
  const key = (name: string) => `,${pad}  "${name}": `;
  const prepare = (text: string) => ByteWriter.prepare(text);
  const first = prepare(`${pad}{${pad}  "distance": `);
  const next = prepare(`,${pad}{${pad}  "distance": `);
  const healthpoints = prepare(key('healthpoints'));
  const latitude = prepare(key('latitude'));
  const longitude = prepare(key('longitude'));
  const magicpoints = prepare(key('magicpoints'));
  const named = UNICORNS.map((unicorn) => prepare(`${key('name')}${JSON.stringify(unicorn)}${key('statustime')}"`));
  const fieldservice = prepare(`"${key('fieldservice')}`);
  const end = prepare(`${pad}}`);
  let w = new ByteWriter(BATCH_BYTES + 4096);
  w.ascii('[');
  for (let i = 0; i < count; i++) {
    drawRide(rng, walks, d);
    w.literal(i === 0 ? first : next);
    putMicros(w, d.step);
    w.literal(healthpoints);
    w.number(d.healthpoints);
    w.literal(latitude);
    putMicros(w, d.latitude);
    w.literal(longitude);
    putMicros(w, d.longitude);
    w.literal(magicpoints);
    w.number(d.magicpoints);
    w.literal(named[d.unicorn]);
    civilTime(d.ms);
    w.reserve(32);
    const bytes = w.bytes;
    let at = putDigits(bytes, w.length, CIVIL[0], 4);
    bytes[at++] = 0x2d;
    at = putDigits(bytes, at, CIVIL[1], 2);
    bytes[at++] = 0x2d;
    at = putDigits(bytes, at, CIVIL[2], 2);
    bytes[at++] = 0x20;
    at = putDigits(bytes, at, CIVIL[3], 2);
    bytes[at++] = 0x3a;
    at = putDigits(bytes, at, CIVIL[4], 2);
    bytes[at++] = 0x3a;
    at = putDigits(bytes, at, CIVIL[5], 2);
    bytes[at++] = 0x2e;
    w.length = putDigits(bytes, at, CIVIL[6], 3);
    w.literal(fieldservice);
    w.byte(0x30 + d.fieldservice);
    w.literal(end);
    if (w.length >= BATCH_BYTES) {
      yield w.bytes.subarray(0, w.length);
      w = new ByteWriter(BATCH_BYTES + 4096);
    }
  }
  w.ascii('\n]\n');
  yield w.bytes.subarray(0, w.length);
}

/**
 * Streams records as a ride file of the given shape, in batches of about 64 KiB (never one giant
 * string); gzip-compressed when asked. `concatenated` writes objects back to back with no
 * separator, as the workshop's pretty-printed dumps do.
 *
 * @example
 * writeRides(generateRides({ count: 1000, seed: 1 }), { shape: 'array', gzip: true })
 *   .pipe(fs.createWriteStream('rides.json.gz'));
 */
export function writeRides(records: Iterable<object>, options: WriteOptions): Readable {
  const shape = options.shape;
  if (!['array', 'travel_data', 'concatenated', 'ndjson'].includes(shape)) {
    throw new GeneratorOptionsError(`shape is ${JSON.stringify(shape)}; use array, travel_data, concatenated or ndjson`);
  }
  if (shape === 'ndjson' && options.pretty === true) throw new GeneratorOptionsError('pretty NDJSON is not NDJSON; drop pretty or use shape concatenated');
  const pretty = options.pretty ?? shape !== 'ndjson';
  const text = Readable.from(fileText(records, shape, pretty), { objectMode: false });
  return options.gzip ? pipeline(text, createGzip(), () => undefined) : text;
}

/**
 * {@link generateRecords} written by {@link writeRides}: a whole deterministic ride file.
 *
 * @example
 * generateRideFile({ count: 200_000, seed: 1, shape: 'array' }).pipe(fs.createWriteStream('rides.json'));
 */
export function generateRideFile(options: GenerateOptions & WriteOptions): Readable {
  checkOptions(options);
  if (!options.invalidRate && options.shape === 'array' && options.pretty !== false) {
    const text = Readable.from(generatedArrayText(options.count, options.seed), { objectMode: false });
    return options.gzip ? pipeline(text, createGzip(), () => undefined) : text;
  }
  return writeRides(recordsOnly(generateRecords(options)), options);
}
