import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The workspace root: the nearest folder up from here (or the cwd) holding nx.json. */
export function workspaceRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, 'nx.json'))) return dir;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return process.cwd();
}

export interface BundlePaths {
  ingest: string;
  transform: string;
}

/**
 * The built function bundles the stack runs — what deploys, from `nx build`. Overridable
 * (tests wrap a bundle) with RYDES_INGEST_BUNDLE / RYDES_TRANSFORM_BUNDLE.
 */
export function defaultBundles(env: NodeJS.ProcessEnv = process.env): BundlePaths {
  const root = workspaceRoot();
  return {
    ingest: resolve(env.RYDES_INGEST_BUNDLE ?? join(root, 'dist/apps/ingest-fn/main.js')),
    transform: resolve(env.RYDES_TRANSFORM_BUNDLE ?? join(root, 'dist/apps/transform-fn/main.js')),
  };
}
