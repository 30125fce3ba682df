/**
 * Proves the project graph tells `nx affected` the truth: in a throwaway git repository holding
 * a copy of this workspace's tracked files, it commits a one-line change to a file and asks
 * `nx show projects --affected` between the two commits it made itself (so it works in a shallow
 * CI clone, which has no HEAD~1), once per case below.
 *
 *   npx tsx tools/graph-proof/src/affected-proof.ts            # prints each case and exits 1 on a wrong answer
 *   npx tsx tools/graph-proof/src/affected-proof.ts --json     # the same as JSON
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, appendFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** A file to touch, the projects that must be affected and those that must not. */
export interface AffectedCase {
  touch: string;
  affected: string[];
  unaffected: string[];
}

/** What the graph must say (issue 12): who runs or deploys which bundle. */
export const CASES: AffectedCase[] = [
  // Everything that runs the transform bundle: the e2e specs, the cli (`rydes` runs it), infra
  // (deploys it) and ingest-fn (its specs drain the fan-out queue through it).
  {
    touch: 'apps/transform-fn/src/main.ts',
    affected: ['transform-fn', 'e2e', 'cli', 'infra', 'ingest-fn'],
    unaffected: ['ride-model', 'geo-index', 'aws-adapters', 'local-aws'],
  },
  // Nothing runs, imports or deploys the CDK app but itself.
  {
    touch: 'apps/infra/src/main.ts',
    affected: ['infra'],
    unaffected: ['cli', 'ingest-fn', 'transform-fn', 'e2e', 'ride-model', 'geo-index', 'aws-adapters', 'local-aws', 'graph-proof'],
  },
  {
    touch: 'libs/geo-index/src/index.ts',
    affected: ['geo-index', 'transform-fn', 'e2e', 'cli', 'infra'],
    unaffected: ['ride-model', 'aws-adapters', 'local-aws'],
  },
];

export interface CaseResult extends AffectedCase {
  got: string[];
  missing: string[];
  extra: string[];
}

const WORKSPACE = resolve(__dirname, '../../..');

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Nx in the copy, isolated from any Nx run that started this one (its env names the outer workspace). */
function nxEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('NX_') && !name.startsWith('JEST_')) env[name] = value;
  return { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: 'true', NX_VERBOSE_LOGGING: 'false' };
}

/**
 * Copies the tracked files of `workspace` into a new repository (node_modules linked, not copied)
 * and commits them; returns its folder.
 */
export function throwawayRepo(workspace = WORKSPACE): string {
  const dir = mkdtempSync(join(tmpdir(), 'rydes-affected-'));
  const files = git(workspace, 'ls-files', '-z', '--cached', '--others', '--exclude-standard').split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    try {
      cpSync(join(workspace, file), join(dir, file));
    } catch (err) {
      // A tracked file deleted in the working tree is not part of what is being proved.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  symlinkSync(join(workspace, 'node_modules'), join(dir, 'node_modules'), 'dir');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, '-c', 'user.name=affected-proof', '-c', 'user.email=proof@localhost', 'commit', '-q', '-m', 'base', '--no-verify');
  return dir;
}

/** Commits a change to `file` in `repo`, asks Nx what it affects, then drops the commit. */
export function affectedBy(repo: string, file: string): string[] {
  const base = git(repo, 'rev-parse', 'HEAD');
  appendFileSync(join(repo, file), '\n// touched by tools/graph-proof\n');
  git(repo, '-c', 'user.name=affected-proof', '-c', 'user.email=proof@localhost', 'commit', '-q', '-am', `touch ${file}`, '--no-verify');
  const head = git(repo, 'rev-parse', 'HEAD');
  try {
    const out = execFileSync(join(repo, 'node_modules/.bin/nx'), ['show', 'projects', '--affected', `--base=${base}`, `--head=${head}`, '--json'], {
      cwd: repo,
      env: nxEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return (JSON.parse(out.slice(out.indexOf('['))) as string[]).sort();
  } finally {
    git(repo, 'reset', '-q', '--hard', base);
  }
}

/** Runs every case in one throwaway repository, removed afterwards. */
export function proveAffected(cases = CASES, workspace = WORKSPACE): CaseResult[] {
  const repo = throwawayRepo(workspace);
  try {
    return cases.map((c) => {
      const got = affectedBy(repo, c.touch);
      return { ...c, got, missing: c.affected.filter((p) => !got.includes(p)), extra: c.unaffected.filter((p) => got.includes(p)) };
    });
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
  const results = proveAffected();
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else {
    for (const r of results) {
      const ok = r.missing.length === 0 && r.extra.length === 0;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${r.touch} → ${r.got.join(', ')}`);
      if (r.missing.length) console.log(`     missing: ${r.missing.join(', ')}`);
      if (r.extra.length) console.log(`     must not be affected: ${r.extra.join(', ')}`);
    }
  }
  process.exit(results.every((r) => r.missing.length === 0 && r.extra.length === 0) ? 0 : 1);
}
