import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthPipeline } from './helpers';

/** The committed template of the default stack; `npx nx run infra:snapshot` rewrites it. */
export const SNAPSHOT_FILE = join(__dirname, 'snapshots/pipeline.template.json');

/**
 * The default stack's CloudFormation template with what changes on every build replaced: asset
 * hashes (bundle contents, CDK's own handlers) become `<asset-hash>`. Everything else is the
 * template a deploy would send, so any infra change shows in review as a diff of this file.
 */
export function normalisedTemplate(): string {
  const template = synthPipeline().template.toJSON();
  return `${JSON.stringify(template, null, 2).replace(/[0-9a-f]{64}/g, '<asset-hash>')}\n`;
}

export function readSnapshot(): string | undefined {
  try {
    return readFileSync(SNAPSHOT_FILE, 'utf8');
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  writeFileSync(SNAPSHOT_FILE, normalisedTemplate());
  process.stdout.write(`wrote ${SNAPSHOT_FILE}\n`);
}
