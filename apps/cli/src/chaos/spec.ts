import { InvalidOptionError } from '../errors';

export const FAULTS = ['s3-put-error', 's3-get-error', 'sqs-send-error', 'transform-crash', 'duplicate-delivery'] as const;
export type Fault = (typeof FAULTS)[number];

export interface ChaosSpec {
  /** Probability of each fault per opportunity (request, invocation, delivered message). */
  rates: Record<Fault, number>;
  seed: number;
}

/**
 * `s3-put-error=0.1,transform-crash=0.05,seed=7` → rates (unnamed faults 0) and seed (default 1).
 * @example
 * parseChaos('s3-put-error=0.1,seed=3').rates['s3-put-error']; // 0.1
 */
export function parseChaos(text: string): ChaosSpec {
  const rates = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  let seed = 1;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, value = ''] = part.split('=');
    const number = Number(value);
    if (name === 'seed' && Number.isInteger(number)) seed = number;
    else if ((FAULTS as readonly string[]).includes(name) && value !== '' && number >= 0 && number <= 1) rates[name as Fault] = number;
    else throw new InvalidOptionError('--chaos', part, `NAME=RATE with NAME one of ${FAULTS.join(', ')} and RATE in [0, 1], or seed=INTEGER`);
  }
  return { rates, seed };
}

/** mulberry32: seeded, uniform in [0, 1). */
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

/** Decides and counts faults: one seeded stream for the whole run. */
export class FaultInjector {
  readonly injected: Record<Fault, number> = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  private readonly random: () => number;

  constructor(readonly spec: ChaosSpec) {
    this.random = seededRandom(spec.seed);
  }

  /** True (and counted) when this opportunity gets the fault. */
  strike(fault: Fault): boolean {
    const rate = this.spec.rates[fault];
    if (rate <= 0 || this.random() >= rate) return false;
    this.injected[fault]++;
    return true;
  }

  get total(): number {
    return FAULTS.reduce((n, f) => n + this.injected[f], 0);
  }
}
