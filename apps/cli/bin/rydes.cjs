#!/usr/bin/env node
// `npx rydes …` in this repo: runs the built CLI, building it (and the function bundles it runs)
// first when dist/ has none of them, e.g. right after `npm ci`.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..', '..', '..');
const outputs = ['cli/main.js', 'ingest-fn/main.js', 'transform-fn/main.js'].map((f) => join(root, 'dist/apps', f));
if (!outputs.every((f) => existsSync(f))) {
  process.stderr.write('rydes: building cli, ingest-fn and transform-fn first (npx nx run-many -t build)…\n');
  const built = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', 'cli', 'ingest-fn', 'transform-fn', '--outputStyle=static'], {
    cwd: root,
    stdio: ['ignore', 2, 2],
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
require(outputs[0]).main(process.argv);
