import { describeRead, EtaEstimator, formatBytes, formatEta, READ_AHEAD_BYTES } from '../src/run/progress';

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

  it('gives an ETA before any manifest, from bytes read and rides written: the total is extrapolated from the rides fanned out per byte', () => {
    let now = 0;
    const eta = new EtaEstimator(() => now, 0);
    const MB = 1e6;
    // The ingest reads 1 MB/s of a 40 MB file (~5,000 rides per MB); the transform keeps up 1 s behind.
    const at = (s: number) => ({ bytesRead: s * MB, bytesTotal: 40 * MB, ingested: s * 5_000, written: Math.max(0, (s - 1) * 5_000), total: undefined });
    now = 1_000;
    expect(eta.estimate(at(1))).toBeUndefined(); // nothing written yet
    now = 2_000;
    expect(eta.estimate(at(2))).toBeUndefined(); // 2.5% read: too little to extrapolate from
    now = 4_000;
    expect(eta.estimate(at(4))).toBeUndefined(); // 2 s of writing
    now = 6_000;
    // Read rate 1 MB/s since the first byte count (at 1 s): 34 MB left → 34 s; writing: 200,000 − 25,000 at 5,000/s → 35 s.
    expect(eta.estimate(at(6))).toBeCloseTo(35, 5);
  });

  it('lets the slower stage decide: reading at 1 MB/s, 30 MB left, is 30 s however fast the writer is', () => {
    let now = 0;
    const eta = new EtaEstimator(() => now, 0);
    const MB = 1e6;
    eta.estimate({ bytesRead: 1 * MB, bytesTotal: 40 * MB, ingested: 5_000, written: 5_000 });
    now = 9_000;
    // Writing 40,000 rides in 9 s (4,444/s); the total (200,000) known from the sample.
    expect(eta.estimate({ bytesRead: 10 * MB, bytesTotal: 40 * MB, ingested: 50_000, written: 45_000, total: 200_000 })).toBeCloseTo(Math.max(30, 155_000 / (40_000 / 9)), 5);
    now = 10_000;
    // Everything read: only the writer is left.
    const left = eta.estimate({ bytesRead: 40 * MB, bytesTotal: 40 * MB, ingested: 200_000, written: 50_000, total: 200_000 }) as number;
    expect(left).toBeCloseTo(150_000 / (45_000 / 10), 5);
  });

  it('says nothing while the reads stall (no rate) and shows bytes read in progress lines', () => {
    let now = 0;
    const eta = new EtaEstimator(() => now, 0);
    eta.estimate({ bytesRead: 5e6, bytesTotal: 40e6, ingested: 25_000, written: 1_000 });
    now = 5_000;
    expect(eta.estimate({ bytesRead: 5e6, bytesTotal: 40e6, ingested: 25_000, written: 20_000 })).toBeUndefined();
    expect(describeRead({ bytesRead: 12_345_678, bytesTotal: 40_100_000 })).toBe('read 12.3 MB of 40.1 MB');
    expect(describeRead({})).toBe('');
    expect([formatBytes(900), formatBytes(512_000), formatBytes(2_500_000_000)]).toEqual(['900 B', '512 kB', '2.50 GB']);
  });

  it('counts a file read only READ_AHEAD_BYTES behind the bytes served: a small file all "read" at once does not shrink the total', () => {
    let now = 0;
    const eta = new EtaEstimator(() => now);
    // 4.7 MB served at once (it waits in socket buffers) while the ingest has parsed part of it: no total to extrapolate.
    eta.estimate({ bytesRead: 4.7e6, bytesTotal: 4.7e6, ingested: 2_000, written: 1_000 });
    now = 5_000;
    expect(eta.estimate({ bytesRead: 4.7e6, bytesTotal: 4.7e6, ingested: 8_000, written: 6_000 })).toBeUndefined();
    // A 100 MB file 58 MB served: at least 50 % parsed, so at most 2 × the rides fanned out.
    const big = new EtaEstimator(() => now);
    big.estimate({ bytesRead: 9e6, bytesTotal: 100e6, ingested: 10_000, written: 10_000 });
    now = 10_000;
    expect(big.estimate({ bytesRead: 58e6, bytesTotal: 100e6, ingested: 100_000, written: 50_000 })).toBeCloseTo(Math.max(0.5 / ((0.5 - 0.01) / 5), 150_000 / (40_000 / 5)), 5);
    expect(READ_AHEAD_BYTES).toBe(8e6);
  });
});
