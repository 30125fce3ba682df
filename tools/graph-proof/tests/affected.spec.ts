import { CASES, proveAffected, type CaseResult } from '../src/affected-proof';

/*
 * The project graph is what `nx affected` and the cache trust: a spec that runs a bundle must be
 * affected when that bundle's sources change. src/affected-proof.ts commits a one-line change
 * in a throwaway copy of the workspace and asks Nx; here every case must come out as declared.
 */
describe('nx affected on a throwaway commit', () => {
  let results: CaseResult[];
  beforeAll(() => {
    results = proveAffected();
  }, 600_000);

  it.each(CASES.map((c) => [c.touch, c.affected.join(', ')]))('touching %s affects %s', (touch) => {
    const result = results.find((r) => r.touch === touch) as CaseResult;
    expect(result.missing).toEqual([]);
  });

  it.each(CASES.map((c) => [c.touch, c.unaffected.join(', ')]))('touching %s leaves %s unaffected', (touch) => {
    const result = results.find((r) => r.touch === touch) as CaseResult;
    expect(result.extra).toEqual([]);
  });
});
