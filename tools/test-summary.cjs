#!/usr/bin/env node
// Sums the per-project Jest totals written by jest-count-reporter.cjs and prints the line CI reads.
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'tmp', 'test-results');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files.sort()) {
  const c = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  console.log(`  ${c.project.padEnd(24)} ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
  passed += c.passed;
  failed += c.failed;
  skipped += c.skipped;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
