#!/usr/bin/env node
// `npx rydes …` in this repo runs the current sources: the cli and the two function bundles it
// runs are brought up to date through Nx's cached build first (a few seconds when nothing
// changed: every task is a cache hit), so an edit is never answered by a stale dist/.
// RYDES_SKIP_BUILD=1 runs whatever dist/ holds.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { nxBuildSync, nxBuildCommand } = require('./nx-build.cjs');

const root = join(__dirname, '..', '..', '..');
const cli = join(root, 'dist/apps/cli/main.js');
if (process.env.RYDES_SKIP_BUILD !== '1') {
  const projects = ['cli', 'ingest-fn', 'transform-fn'];
  const built = nxBuildSync(root, projects);
  if (!built.ok) {
    process.stderr.write(`${built.output}rydes: the build failed (${nxBuildCommand(projects)}); fix it or set RYDES_SKIP_BUILD=1\n`);
    process.exit(1);
  }
} else if (!existsSync(cli)) {
  process.stderr.write('rydes: RYDES_SKIP_BUILD=1 but dist/apps/cli/main.js is missing: run npx nx run-many -t build\n');
  process.exit(1);
}
// main() reports every error itself (one line, an exit code, the stack only with --verbose).
let rydes;
try {
  rydes = require(cli);
} catch (err) {
  process.stderr.write(`rydes: cannot load ${cli}: ${String(err && err.message).split('\n')[0]}\n  Rebuild it: npx nx build cli\n`);
  process.exit(70);
}
rydes.main(process.argv);
