/*
 * validateRide (hand-written, normalises first) against an equivalent zod 4 schema, which gets
 * the easier job: records already lower-case with numbers as numbers, so no normalisation.
 *   npx nx run ride-model:bench-validate        (N = 200,000 rides; RIDES_BENCH_N to change)
 */
import { z } from 'zod';
import { generateRides, validateRide } from '../src';

const N = Number(process.env.RIDES_BENCH_N ?? 200_000);
const ROUNDS = 5;

const isRealTime = (s: string): boolean => {
  const [date, time] = s.split(' ');
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm, ss] = time.split(':').map(Number);
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return m >= 1 && m <= 12 && d >= 1 && d <= days && hh <= 23 && mm <= 59 && ss < 60;
};

const schema = z.object({
  distance: z.number().min(0),
  healthpoints: z.number().int().min(0),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  magicpoints: z.number().int().min(0),
  name: z.string().trim().min(1).max(256),
  statustime: z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/).refine(isRealTime),
  fieldservice: z.union([z.literal(0), z.literal(1)]).optional(),
});

// Fresh objects as JSON.parse would give them, not the generator's own.
const records = [...generateRides({ count: N, seed: 1 })].map((r) => JSON.parse(JSON.stringify(r)) as unknown);

function time(label: string, check: (r: unknown) => boolean): void {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    let ok = 0;
    for (const r of records) if (check(r)) ok++;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (ok !== N) throw new Error(`${label}: ${ok} of ${N} valid`);
    best = Math.min(best, seconds);
  }
  console.log(`  ${label.padEnd(58)} ${(N / best / 1e6).toFixed(2)} M rides/s (${((best / N) * 1e9).toFixed(0)} ns/ride, best of ${ROUNDS})`);
}

console.log(`ride-model validate bench: N = ${N.toLocaleString('en')} generated rides, Node ${process.version}`);
time('validateRide (normalise + validate, hand-written)', (r) => validateRide(r).ok);
time('baseline: zod 4 schema, same rules, no normalisation', (r) => schema.safeParse(r).success);
