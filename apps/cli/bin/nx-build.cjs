// The one way the cli brings built bundles up to date: Nx's cached build of the projects, with
// Nx's output kept back unless it fails. `npx rydes` (bin/rydes.cjs) runs it synchronously
// before loading dist/apps/cli; `rydes up --watch` (src/stack/watch.ts) runs it asynchronously
// after a source change, while the stack keeps serving. Plain CommonJS so the bin wrapper can
// use it before anything is built.
const { spawn, spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

/** @param {string[]} projects */
function nxBuildArgs(projects) {
  return ['nx', 'run-many', '-t', 'build', '-p', ...projects, '--outputStyle=static'];
}

/**
 * The workspace's own nx binary, started directly (a signal then reaches Nx itself: npx does not
 * pass SIGTERM on, which would leave a stopped watch's build running), else npx.
 */
function nxProcess(root, projects) {
  const bin = join(root, 'node_modules', '.bin', 'nx');
  return existsSync(bin) ? [bin, nxBuildArgs(projects).slice(1)] : ['npx', nxBuildArgs(projects)];
}

/** @param {NodeJS.ProcessEnv} env */
function nxBuildEnv(env) {
  return { ...env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true' };
}

/** The command line as a person would type it (for messages). */
function nxBuildCommand(projects) {
  return `npx ${nxBuildArgs(projects).filter((a) => a !== '--outputStyle=static').join(' ')}`;
}

/** Builds and waits: `{ ok, output, ms }`. */
function nxBuildSync(root, projects, env = process.env) {
  const started = Date.now();
  const [command, args] = nxProcess(root, projects);
  const built = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: nxBuildEnv(env) });
  const output = `${built.stdout ?? ''}${built.stderr ?? ''}${built.error ? `${built.error.message}\n` : ''}`;
  return { ok: built.status === 0, output, ms: Date.now() - started };
}

/** Builds without blocking the event loop: resolves `{ ok, output, ms }`, never rejects; `signal` stops the build. */
function nxBuild(root, projects, env = process.env, signal = undefined) {
  const started = Date.now();
  return new Promise((resolve) => {
    const [command, args] = nxProcess(root, projects);
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: nxBuildEnv(env), signal, killSignal: 'SIGINT' });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', (err) => resolve({ ok: false, output: `${output}${err.message}\n`, ms: Date.now() - started }));
    child.once('close', (code) => resolve({ ok: code === 0, output, ms: Date.now() - started }));
  });
}

module.exports = { nxBuild, nxBuildSync, nxBuildCommand, nxBuildEnv };
