import { StationsNotReadyError } from '../src/errors';
import { once, readyBeforeDeadline } from '../src/stations';

describe('readyBeforeDeadline: a cold start near the timeout hands the batch back and keeps building', () => {
  it('answers the lookup when it is ready in time', async () => {
    await expect(readyBeforeDeadline(Promise.resolve('lookup'), () => 5000)).resolves.toBe('lookup');
  });

  it('fails the batch before the deadline, and the same environment finds the build done later', async () => {
    // Prepare: a build that takes 300 ms, shared by every invocation of the environment (once).
    let builds = 0;
    const stations = once(
      () =>
        new Promise<string>((resolve) => {
          builds++;
          setTimeout(() => resolve('lookup'), 300);
        }),
    );
    // Act: the first invocation has 1,100 ms left, 1,000 of them kept as margin.
    const started = Date.now();
    const first = readyBeforeDeadline(stations(), () => 1100);
    // Assess
    await expect(first).rejects.toBeInstanceOf(StationsNotReadyError);
    await expect(first).rejects.toThrow(/still being built after \d+ ms, too close to the function timeout; the batch is handed back/);
    expect(Date.now() - started).toBeLessThan(300);
    await expect(readyBeforeDeadline(stations(), () => 5000)).resolves.toBe('lookup');
    expect(builds).toBe(1);
  });

  it('passes a build failure through', async () => {
    await expect(readyBeforeDeadline(Promise.reject(new Error('catalogue line 3 field latitude')), () => 5000)).rejects.toThrow('catalogue line 3 field latitude');
  });
});
