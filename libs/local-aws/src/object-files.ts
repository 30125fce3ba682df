import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

/** s3rver's suffix of the file holding an object's bytes (its `.md5` sits beside it). */
const OBJECT_SUFFIX = '._S3rver_object';

/** One object of a local bucket as its files show it: what a ListObjectsV2 entry says, and the file's identity. */
export interface ObjectFile {
  key: string;
  /** The file holding the object's bytes. */
  file: string;
  size: number;
  /** The file's device and inode: a hard link to it has the same. */
  dev: number;
  ino: number;
  /**
   * The object's ETag as a listing gives it (quoted), on demand (most callers need it only for
   * some objects): the MD5 of the bytes of an object up to 1 MiB (which keeps no `.md5`), else
   * s3rver's `.md5`; without one, the MD5 of the bytes, which is what s3rver would compute and answer.
   */
  etag(): string;
}

/**
 * Every object of `bucket` under `prefix` in s3rver's folder `directory`, read from the folder
 * itself: the keys s3rver's ListObjectsV2 would list (its object files, whatever their order), each
 * with its size and file identity, and its ETag on demand. For a reader on this machine that would
 * otherwise list the bucket through HTTP: with one object per ride, a listing of 200,000 objects
 * cost an XML page build on the S3 thread and an XML parse in the SDK per object, where here it
 * is one `lstat` (and a read only when the caller asks for the ETag). Read it only while
 * nothing writes the bucket (an object written meanwhile may or may not be listed, as in S3).
 * A missing bucket or prefix folder lists nothing.
 * @example
 * for (const object of listObjectFiles(local.directory, 'rides-local', 'processed/')) console.log(object.key, object.size);
 */
export function listObjectFiles(directory: string, bucket: string, prefix = ''): ObjectFile[] {
  const bucketDir = join(directory, bucket);
  const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const found: ObjectFile[] = [];
  const walk = (rel: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(bucketDir, ...rel.split('/')), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) {
        walk(`${rel}${entry.name}/`);
        continue;
      }
      if (!entry.isFile() || !entry.name.endsWith(OBJECT_SUFFIX)) continue;
      const key = decodeKeyPath(rel + entry.name.slice(0, -OBJECT_SUFFIX.length));
      if (!key.startsWith(prefix)) continue;
      const file = join(bucketDir, ...rel.split('/').filter(Boolean), entry.name);
      let stat: ReturnType<typeof lstatSync>;
      try {
        stat = lstatSync(file);
      } catch (err) {
        // Deleted since the folder was read: not listed.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      found.push({ key, file, size: stat.size, dev: stat.dev, ino: stat.ino, etag: () => etagOf(file, stat.size) });
    }
  };
  walk(dir);
  return found;
}

/** Objects up to this size keep no `.md5` (lean-s3.ts): their ETag is the MD5 of their bytes. */
const SMALL_OBJECT_BYTES = 1 << 20;

/**
 * s3rver's ETag of the object in `file`: the MD5 of its bytes up to 1 MiB (no `.md5` is kept for
 * those), else its `.md5`, else the MD5 of its bytes (s3rver computes it so).
 */
function etagOf(file: string, size: number): string {
  let md5: string;
  if (size <= SMALL_OBJECT_BYTES) md5 = createHash('md5').update(readFileSync(file)).digest('hex');
  else {
    try {
      md5 = readFileSync(`${file}.md5`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      md5 = createHash('md5').update(readFileSync(file)).digest('hex');
    }
  }
  return JSON.stringify(md5);
}

/** s3rver's FilesystemStore.decodeKeyPath: keys are stored as they are, except Windows' reserved characters. */
function decodeKeyPath(rel: string): string {
  return process.platform === 'win32' ? rel.replace(/&../g, (ent) => Buffer.from(ent.slice(1), 'hex').toString()) : rel;
}
