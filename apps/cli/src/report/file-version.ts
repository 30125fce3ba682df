import { fstatSync, type BigIntStats } from 'node:fs';

/**
 * A file's identity and version (device, inode, size, modification time in ns) from an open
 * descriptor: a hard link shares it; a rewrite or a replaced file changes it.
 * @example
 * fileVersion(openSync('out/processed/x.csv', 'r')); // '2049:1234:150210:1764520000123456789'
 */
export function fileVersion(fd: number): string {
  return versionOf(fstatSync(fd, { bigint: true }));
}

/** {@link fileVersion} of a stat already taken (with `bigint: true`). */
export function versionOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
}
