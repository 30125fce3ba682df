import { lstatSync, mkdirSync } from 'node:fs';

/**
 * `path` as a folder only this user can write (created 0700), or undefined when it is anything
 * else. The code caches of the CLI and of the function environments read compiled code from it,
 * so a folder another user could write to is never used.
 * @example
 * const folder = privateFolder(join(tmpdir(), `rydes-code-cache-${process.getuid?.() ?? 'user'}`));
 */
export function privateFolder(path: string): string | undefined {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const stat = lstatSync(path);
    const uid = process.getuid?.();
    if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0) return undefined;
    return path;
  } catch {
    return undefined;
  }
}
