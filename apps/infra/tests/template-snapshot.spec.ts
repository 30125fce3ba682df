import { normalisedTemplate, readSnapshot, SNAPSHOT_FILE } from './template-snapshot';

describe('template snapshot', () => {
  it('matches the committed template (regenerate with: npx nx run infra:snapshot, then review the diff)', () => {
    const committed = readSnapshot();
    if (committed === undefined) throw new Error(`${SNAPSHOT_FILE} is missing: run npx nx run infra:snapshot`);
    // Compared as parsed JSON so a failure prints the changed paths, not one long string.
    expect(JSON.parse(normalisedTemplate())).toEqual(JSON.parse(committed));
  });

  it('contains no asset hash, absolute path or account-specific value', () => {
    const text = readSnapshot() ?? '';
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    expect(text).not.toContain('/work/');
    expect(text).not.toMatch(/\b\d{12}\b/);
  });
});
