import { EtaEstimator, formatEta } from '../src/run/progress';

describe('EtaEstimator: an ETA only once it means something', () => {
  it('says nothing before the total is known, before 3 s of writing or before 5% is written', () => {
    let now = 0;
    const eta = new EtaEstimator(() => now);
    expect(eta.estimate({ written: 0, total: 200_000 })).toBeUndefined();
    now = 10_000; // start-up, upload and ingest: nothing written for 10 s
    expect(eta.estimate({ written: 1_000, total: undefined })).toBeUndefined();
    now = 12_000;
    expect(eta.estimate({ written: 8_000, total: 200_000 })).toBeUndefined(); // 2 s of writing, 4%
    now = 13_500;
    expect(eta.estimate({ written: 20_000, total: 200_000 })).toBeCloseTo((180_000 / 19_000) * 3.5, 5);
  });

  it('measures the rate from the first written ride, not from the start (no 5m35s on a 37 s run)', () => {
    let now = 0;
    const eta = new EtaEstimator(() => now);
    now = 20_000;
    eta.estimate({ written: 100, total: 20_000 });
    now = 30_000; // 10 s of writing at 1,000 rides/s
    const left = eta.estimate({ written: 10_100, total: 20_000 }) as number;
    expect(left).toBeCloseTo(9.9, 5);
    expect(formatEta(left)).toBe('10s');
    expect(formatEta(335)).toBe('5m35s');
    expect(formatEta(undefined)).toBe('…');
  });
});
