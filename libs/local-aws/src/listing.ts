/**
 * A faster ListObjects for s3rver's filesystem store, installed on its prototype (in-process and
 * in the worker thread alike, so this function must stay self-contained: its source is evaluated
 * in the worker; s3rver's classes and node's modules come in as arguments).
 *
 * Why: s3rver answers every ListObjects page by walking the bucket's folders from the start,
 * `statSync` on every file (three per object) until it has passed `start-after`: listing N
 * objects in pages of P costs O(N²/P) stats, about 6 minutes for 200,000 objects. Here a folder's
 * sorted key list is read once (`readdir` with file types, no stat) and kept until the store
 * changes (any write, copy or delete through s3rver clears it): a page is a binary search for
 * `start-after` and a slice, so the whole walk of a paginated listing costs one read of the
 * folder. What a page returns is unchanged: keys in order after `start-after`, under `prefix`,
 * common prefixes for `delimiter`, at most `maxKeys`, each with its metadata.
 */
export function installFastListing(
  FilesystemStore: { prototype: object },
  S3Object: new (bucket: string, key: string, content: null, metadata: Record<string, unknown>) => unknown,
  fs: typeof import('node:fs'),
  path: typeof import('node:path'),
  crypto: Pick<typeof import('node:crypto'), 'createHash'>,
): void {
  type Store = {
    rootDirectory: string;
    getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
    getResourcePath(bucket: string, key: string, resource: string): string;
    rydesKeyCache?: Map<string, string[]>;
  };
  const proto = FilesystemStore.prototype as Record<string, unknown>;
  if (proto.rydesFastListing) return;
  proto.rydesFastListing = true;
  const OBJECT_SUFFIX = '._S3rver_object';

  for (const name of ['putObject', 'copyObject', 'deleteObject', 'putObjectMultipart', 'putBucket', 'deleteBucket', 'reset']) {
    const original = proto[name] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof original !== 'function') continue;
    proto[name] = function (this: Store, ...args: unknown[]) {
      // Cleared before and after: a listing that runs while the write is under way reads afresh.
      this.rydesKeyCache = undefined;
      const result = original.apply(this, args);
      const clear = () => void (this.rydesKeyCache = undefined);
      if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(clear, clear);
      else clear();
      return result;
    };
  }

  /** Every key under `dir` (a folder path relative to the bucket, '' or ending in '/'), sorted. */
  function keysUnder(store: Store, bucket: string, dir: string): string[] {
    const cacheKey = `${bucket}\0${dir}`;
    store.rydesKeyCache ??= new Map();
    const cached = store.rydesKeyCache.get(cacheKey);
    if (cached) return cached;
    const keys: string[] = [];
    const walk = (rel: string) => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = fs.readdirSync(path.join(store.rootDirectory, bucket, rel), { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      for (const entry of entries) {
        if (entry.isDirectory()) walk(`${rel}${entry.name}/`);
        else if (entry.name.endsWith(OBJECT_SUFFIX)) keys.push(rel + entry.name.slice(0, -OBJECT_SUFFIX.length));
      }
    };
    walk(dir);
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    store.rydesKeyCache.set(cacheKey, keys);
    return keys;
  }

  /** Objects up to this size have no `.md5` (lean-s3.ts): their ETag is the MD5 of their bytes. */
  const SMALL_OBJECT_BYTES = 1 << 20;
  /**
   * What a listing shows of an object (ListBucketResult: key, LastModified, ETag, Size; the
   * storage class is always STANDARD): its file's stat and its MD5, read synchronously (a few
   * bytes each; an asynchronous call would cost a trip through libuv's pool per open, read and
   * close, 1,000 times a page) — the MD5 of the bytes of an object up to 1 MiB, which keeps no
   * `.md5`, else its `.md5`. Its metadata.json (content type, user metadata) is not read: no
   * listing shows it. A larger object without a `.md5`: s3rver's own getMetadata computes and stores one.
   */
  async function listedMetadata(store: Store, bucket: string, key: string): Promise<Record<string, unknown>> {
    const objectPath = store.getResourcePath(bucket, key, 'object');
    const stat = fs.statSync(objectPath);
    let md5: string;
    if (stat.size <= SMALL_OBJECT_BYTES) md5 = crypto.createHash('md5').update(fs.readFileSync(objectPath)).digest('hex');
    else {
      try {
        md5 = fs.readFileSync(`${objectPath}.md5`, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return store.getMetadata(bucket, key);
        throw err;
      }
    }
    return { etag: JSON.stringify(md5), 'last-modified': stat.mtime.toUTCString(), 'content-length': stat.size };
  }

  /** First index whose key is > `after` (or ≥ `from` when that is later). */
  function firstIndex(keys: string[], after: string, from: string): number {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const key = keys[mid];
      if (key <= after || key < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  proto.listObjects = async function (this: Store, bucket: string, options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number }) {
    const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options;
    const keys = keysUnder(this, bucket, prefix.slice(0, prefix.lastIndexOf('/') + 1));
    const commonPrefixes = new Set<string>();
    const found: string[] = [];
    let isTruncated = false;
    for (let i = firstIndex(keys, startAfter, prefix); i < keys.length; i++) {
      const key = keys[i];
      if (!key.startsWith(prefix)) break;
      if (delimiter) {
        const at = key.indexOf(delimiter, prefix.length);
        if (at !== -1) {
          commonPrefixes.add(key.slice(0, at + delimiter.length));
          continue;
        }
      }
      if (found.length < maxKeys) found.push(key);
      else {
        isTruncated = true;
        break;
      }
    }
    const metadata = await Promise.all(
      found.map((key) =>
        listedMetadata(this, bucket, key).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        }),
      ),
    );
    const objects: unknown[] = [];
    found.forEach((key, i) => {
      const meta = metadata[i];
      if (meta !== undefined) objects.push(new S3Object(bucket, key, null, meta));
    });
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated };
  };
}
