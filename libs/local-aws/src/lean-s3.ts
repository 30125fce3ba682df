/**
 * Per-request work s3rver repeats for nothing, removed (in-process and in the worker thread
 * alike, so this function must stay self-contained: its source is evaluated in the worker; the
 * s3rver app and its store class come in as arguments).
 *
 * Why: with one object per ride every request counts (200,000 PUTs, HEADs and listings' metadata
 * reads), and s3rver spends most of a small request outside the object itself:
 * - a silent s3rver still formats a coloured log line per request (koa-logger, then winston with
 *   a silenced transport): the logger is left out when `silent`;
 * - every request reads the bucket's `cors.xml` and `website.xml` (ENOENT nearly always) and
 *   stats the bucket folder: these bucket-level answers are kept until s3rver itself creates or
 *   deletes a bucket or writes or deletes a bucket subresource (the only ways they change through
 *   the S3 API; a folder removed behind s3rver's back is not seen until then);
 * - an object's two small side files (`.md5`, `metadata.json`) are read and written with
 *   synchronous calls: a few bytes each, where an asynchronous call costs a trip through libuv's
 *   thread pool per open, stat, read and close (4 per file read) — most of the thread's time per
 *   HEAD and per listed object. Object bodies stay streamed;
 * - an object of at most 1 MiB gets no `.md5` file: its ETag is the MD5 of
 *   its bytes (s3rver's `.md5` always holds that, multipart uploads included, and s3rver's own
 *   getMetadata hashes the bytes when the file is missing), computed from the bytes when asked
 *   (the same open, read and close as reading the `.md5`). Creating a file is the dearest system
 *   call of a PUT on a journalled file system: two files per object instead of three. A larger
 *   object keeps its `.md5` (hashing it at every HEAD would cost more than the file); a PUT
 *   removes a `.md5` its key kept from a larger object, and a CopyObject (s3rver copies the
 *   source's `.md5` as a file) gets one written for its source first;
 * - a PUT creates its object's folder only the first time (s3rver: a recursive mkdir, then a
 *   stat, per PUT); the folders are forgotten whenever s3rver deletes anything (it removes
 *   folders left empty), so a folder removed through the API is made again.
 * - with `models` (s3rver's account and event classes), a plain PutObject — what the transform
 *   sends once per message — is answered without s3rver's Koa chain at all: in front of Koa, the request listener checks what s3rver's
 *   middlewares would check (bucket, Signature V4 header form, known access key, clock skew),
 *   stores the object through the same store, emits the same ObjectCreated:Put event and writes
 *   the answer Koa would write (status 200; ETag, Content-Type, Content-Length 0). Koa and its
 *   router, nine middlewares, lodash picks and s3rver's controller were most of the thread's time
 *   per PUT. Anything else — another method, a query other than `x-id`, anonymous or presigned
 *   requests, conditional, copy, storage-class or website-redirect headers, an Origin (CORS), a
 *   host name that could be a virtual-hosted bucket, a bucket that does not exist, a logging
 *   s3rver — goes through Koa as before, untouched. Middlewares added to the chain do not see
 *   those PUTs (the strict front and the read counter have nothing to do with them).
 * What a request returns is unchanged, except that a PUT is answered once the object's bytes are
 * in its file (s3rver answered once they had passed its hash, possibly before the file held them).
 * Install it before installFastListing, which wraps the store's writes, and before the server
 * starts (Koa builds its request listener then).
 */
export function installLeanRequests(
  app: { silent?: boolean; middleware: Array<(...args: never[]) => unknown> },
  FilesystemStore: { prototype: object },
  S3Object: { ALLOWED_METADATA: string[] },
  modules: { fs: typeof import('node:fs'); path: typeof import('node:path'); crypto: typeof import('node:crypto'); stream: Pick<typeof import('node:stream'), 'Transform' | 'pipeline' | 'promises' | 'finished'> },
  models?: {
    AWSAccount: { registry: Map<string, unknown> };
    S3Event: new (eventData: { bucket: string; eventType: 'Put'; S3Item: { key: string; size: number; metadata: { etag: string } } }, request: { reqHeaders: Record<string, unknown>; sourceIp: string }) => unknown;
  },
  options: { shareMetadata?: boolean } = {},
): void {
  const { fs, path, crypto, stream } = modules;
  /** Bytes per file read, for a stored file (putFile) and a served body (getObject), instead of fs's 64 KiB. */
  const READ_BYTES = 1 << 20;
  type Store = {
    rydesBucketCache?: Map<string, Promise<unknown>>;
    rydesShareMetadata?: boolean;
    getResourcePath(bucket: string, key: string, resource: string): string;
    putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5?: string): Promise<void>;
  };
  if (app.silent) {
    const at = app.middleware.findIndex((fn) => fn.name === 'logger');
    if (at >= 0) app.middleware.splice(at, 1);
  }
  if (models && app.silent) installFastPuts(app as unknown as FastPutApp, models);
  // Per store (the prototype's methods are shared by every s3rver of this thread): see putMetadata.
  if (options.shareMetadata) (app as unknown as { store: { rydesShareMetadata?: boolean } }).store.rydesShareMetadata = true;

  type Headers = import('node:http').IncomingHttpHeaders;
  type Listener = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => unknown;
  type FastPutApp = {
    store: {
      getBucket(bucket: string): Promise<unknown>;
      putObject(object: { bucket: string; key: string; content: NodeJS.ReadableStream; metadata: Record<string, unknown> }): Promise<{ size: number; md5: string }>;
    };
    callback(): Listener;
    createContext(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): { onerror(err: unknown): void };
    emit(event: string, payload: unknown): boolean;
  };
  /**
   * Answers a plain PutObject in front of Koa (see above); everything else goes to Koa's listener.
   * Each condition below stands for a middleware of s3rver's chain that would do something else
   * with the request than store it and answer 200: where one might, Koa gets the request.
   */
  function installFastPuts(fastApp: FastPutApp, { AWSAccount, S3Event }: NonNullable<typeof models>): void {
    const { ALLOWED_METADATA } = S3Object;
    // /bucket/key with non-empty segments (the router's `/:bucket/:key+`), and no query but the
    // SDK's `x-id` (which no middleware reads: not a subresource, x-amz-* or response-* parameter).
    const plainPath = /^\/([^/?#]+)\/([^/?#]+(?:\/[^/?#]+)*)(?:\?x-id=[^&=#]*)?$/;
    // A loopback address or localhost: never a virtual-hosted bucket or website endpoint (vhost).
    const plainHost = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost)(?::\d{1,5})?$/;
    // Signature V4's long date (s3rver parses it only after `new Date()` fails, as it does on this form).
    const longDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
    const SKEW_MS = 900_000;

    /** Bucket and key of a request Koa would only store and answer 200, else undefined. */
    const plainPut = (req: import('node:http').IncomingMessage): { bucket: string; key: string } | undefined => {
      if (req.method !== 'PUT') return undefined;
      const path = plainPath.exec(req.url ?? '');
      if (!path) return undefined;
      const h = req.headers;
      if (!plainHost.test(h.host ?? '')) return undefined;
      // cors, strict front, copy, storage class check, website redirect check.
      for (const name of ['origin', 'if-match', 'if-none-match', 'x-amz-copy-source', 'x-amz-storage-class', 'x-amz-website-redirect-location']) {
        if (h[name] !== undefined) return undefined;
      }
      // authentication: the Authorization header's V4 form, as s3rver checks it (it does not verify V4 signatures).
      const [algorithm, ...components] = (h.authorization ?? '').split(' ');
      if (algorithm !== 'AWS4-HMAC-SHA256') return undefined;
      const payload = String(h['x-amz-content-sha256'] ?? '');
      if (payload !== 'UNSIGNED-PAYLOAD' && !/^[0-9A-Fa-f]{64}$/.test(payload)) return undefined;
      const parts = new Map(components.join('').split(',').map((part): [string, string] => {
        const [name, ...value] = part.split('=');
        return [name, value.join('=')];
      }));
      if (parts.size !== 3 || !parts.has('SignedHeaders') || !parts.has('Signature')) return undefined;
      if (!AWSAccount.registry.has((parts.get('Credential') ?? '').split('/')[0])) return undefined;
      const stamp = longDate.exec((h['x-amz-date'] as string | undefined) || h.date || '');
      if (!stamp) return undefined;
      const [, y, mo, d, hh, mi, ss] = stamp.map(Number);
      if (!(Math.abs(Date.now() - Date.UTC(y, mo - 1, d, hh, mi, ss)) <= SKEW_MS)) return undefined;
      try {
        return { bucket: decodeURIComponent(path[1]), key: decodeURIComponent(path[2]) };
      } catch {
        return undefined;
      }
    };

    /** s3rver's S3Object metadata of a PUT: its allowed headers, the default content type, x-amz-meta-*. */
    const metadataOf = (h: Headers): Record<string, unknown> => {
      const metadata: Record<string, unknown> = {};
      for (const name of ALLOWED_METADATA) if (name in h) metadata[name] = h[name];
      if (!metadata['content-type']) metadata['content-type'] = 'binary/octet-stream';
      for (const name in h) if (name.startsWith('x-amz-meta-')) metadata[name] = h[name];
      return metadata;
    };

    const fastPut = async (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, koa: Listener, bucket: string, key: string) => {
      // An unknown bucket (or a store error) is Koa's to answer: the body is still unread.
      const known = await fastApp.store.getBucket(bucket).catch(() => undefined);
      if (!known) return koa(req, res);
      try {
        const { size, md5 } = await fastApp.store.putObject({ bucket, key, content: req, metadata: metadataOf(req.headers) });
        // s3rver's controller: the event first, then the answer Koa writes for `ctx.etag = md5; ctx.body = ''`.
        fastApp.emit('event', new S3Event({ bucket, eventType: 'Put', S3Item: { key, size, metadata: { etag: JSON.stringify(md5) } } }, { reqHeaders: req.headers, sourceIp: req.socket.remoteAddress || '' }));
        res.statusCode = 200;
        res.setHeader('ETag', `"${md5}"`);
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.setHeader('Content-Length', '0');
        res.end();
      } catch (err) {
        // s3rver's own error answer (its Koa onerror: the XML error document, or nothing once the client is gone).
        fastApp.createContext(req, res).onerror(err);
      }
    };

    /**
     * A local file stored as `bucket`/`key` the way a plain PutObject of its bytes is (the same
     * store, the same files, the same ObjectCreated:Put event, emitted once the object is
     * complete), without the HTTP hop: for a caller on this machine whose object is a file it
     * has (`rydes run` uploading a FILE). `bytes`: the size the file must have; a file found
     * larger or smaller fails with `code` EGREW or ESHRANK and stores nothing, as an upload cut
     * off mid-body does. `metadata`: the request headers s3rver would keep (`content-type`, …).
     */
    const putFile = async (request: { bucket: string; key: string; file: string; bytes?: number; metadata: Record<string, unknown>; host: string }): Promise<{ size: number; md5: string }> => {
      const { bucket, key, file, bytes } = request;
      const known = await fastApp.store.getBucket(bucket).catch(() => undefined);
      if (!known) throw Object.assign(new Error(`The specified bucket does not exist: ${bucket}`), { code: 'NoSuchBucket' });
      let read = 0;
      const counted = new stream.Transform({
        transform(chunk: Buffer, _encoding, done) {
          read += chunk.length;
          if (bytes !== undefined && read > bytes) done(Object.assign(new Error(`${file} has more than ${bytes} bytes`), { code: 'EGREW' }));
          else done(null, chunk);
        },
        flush(done) {
          done(bytes !== undefined && read < bytes ? Object.assign(new Error(`${file} has ${read} of ${bytes} bytes`), { code: 'ESHRANK', read }) : null);
        },
      });
      // 1 MiB reads: a 46 MB file in ~45 pieces through the hash and into the object's file.
      // pipeline, not pipe: a file found too large ends `counted` with EGREW, and pipeline then
      // closes the file's stream too (pipe would leave it open, paused); a read error ends `counted`.
      stream.pipeline(fs.createReadStream(file, { highWaterMark: READ_BYTES }), counted, () => undefined);
      const { size, md5 } = await fastApp.store.putObject({ bucket, key, content: counted, metadata: request.metadata });
      fastApp.emit('event', new S3Event({ bucket, eventType: 'Put', S3Item: { key, size, metadata: { etag: JSON.stringify(md5) } } }, { reqHeaders: { host: request.host }, sourceIp: '127.0.0.1' }));
      return { size, md5 };
    };
    (fastApp as unknown as { rydesPutFile?: typeof putFile }).rydesPutFile = putFile;

    const koaCallback = fastApp.callback;
    fastApp.callback = function (this: FastPutApp) {
      const koa = koaCallback.call(this);
      return (req, res) => {
        const put = plainPut(req);
        return put ? fastPut(req, res, koa, put.bucket, put.key) : koa(req, res);
      };
    };
  }
  const proto = FilesystemStore.prototype as Record<string, unknown>;
  if (proto.rydesLeanRequests) return;
  proto.rydesLeanRequests = true;

  const cached = (name: string, keyOf: (args: unknown[]) => string | undefined) => {
    const original = proto[name] as (...args: unknown[]) => Promise<unknown>;
    proto[name] = function (this: Store, ...args: unknown[]) {
      const key = keyOf(args);
      if (key === undefined) return original.apply(this, args);
      this.rydesBucketCache ??= new Map();
      const known = this.rydesBucketCache.get(key);
      if (known) return known;
      const cache = this.rydesBucketCache;
      const answer = original.apply(this, args);
      cache.set(key, answer);
      // A failure is not kept: the next request asks the disk again.
      answer.catch(() => cache.get(key) === answer && cache.delete(key));
      return answer;
    };
  };
  cached('getBucket', ([bucket]) => `bucket\0${String(bucket)}`);
  // Bucket-level subresources only (cors, website, …); an object's are read as before.
  cached('getSubresource', ([bucket, key, type]) => (key === undefined || key === '' ? `sub\0${String(bucket)}\0${String(type)}` : undefined));

  // An object's body is read 1 MiB at a time instead of fs's 64 KiB: a 46 MB ride file served to
  // the ingest is ~45 reads through libuv's pool and socket writes instead of ~710.
  const getObject = proto.getObject as (this: Store, ...args: unknown[]) => Promise<{ content?: { readableHighWaterMark?: number; _readableState?: { highWaterMark: number } } } | null>;
  proto.getObject = async function (this: Store, ...args: unknown[]) {
    const object = await getObject.apply(this, args);
    const state = object?.content?._readableState;
    if (state && state.highWaterMark < READ_BYTES) state.highWaterMark = READ_BYTES;
    return object;
  };
  const getMetadata = proto.getMetadata as (this: Store, bucket: string, key: string) => Promise<Record<string, unknown>>;
  const absent = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';
  /** Objects up to this size keep no `.md5` (see above); the same limit as a body gathered whole. */
  const SMALL_OBJECT_BYTES = 1 << 20;
  /** The object's MD5 (hex): of its bytes up to SMALL_OBJECT_BYTES, else its `.md5` (undefined when missing). */
  const md5Of = (objectPath: string, size: number): string | undefined => {
    if (size <= SMALL_OBJECT_BYTES) return crypto.createHash('md5').update(fs.readFileSync(objectPath)).digest('hex');
    try {
      return fs.readFileSync(`${objectPath}.md5`, 'utf8');
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
  };
  // s3rver's getMetadata, synchronously; a large object without its .md5 (s3rver then hashes the object and writes one) goes its own way.
  proto.getMetadata = async function (this: Store, bucket: string, key: string) {
    const objectPath = this.getResourcePath(bucket, key, 'object');
    const stat = fs.statSync(objectPath);
    let stored: Record<string, unknown> | undefined;
    try {
      stored = JSON.parse(fs.readFileSync(this.getResourcePath(bucket, key, 'metadata.json'), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      if (!absent(err)) throw err;
    }
    const md5 = md5Of(objectPath, stat.size);
    if (md5 === undefined) return getMetadata.call(this, bucket, key);
    return { ...stored, etag: JSON.stringify(md5), 'last-modified': stat.mtime.toUTCString(), 'content-length': stat.size };
  };
  /**
   * metadata.json files shared by hard links: for each distinct content, the path of one file that
   * holds it (`shared`), and the reverse (`sharedAt`). A file is never written in place (it may be
   * one of many names of one inode): a new content always gets a new inode or a link.
   */
  const shared = new Map<string, { path: string; links: number }>();
  const sharedAt = new Map<string, string>();
  /** Links per inode before a content starts a new file (ext4 allows 65,000). */
  const MAX_LINKS = 50_000;
  /**
   * Contents remembered at most (the oldest forgotten first): rydes's objects carry a handful of
   * distinct metadata texts, but a client giving each object its own x-amz-meta-* must not grow
   * these maps by an entry per object.
   */
  const MAX_TEXTS = 1_000;
  /** Cleared for good when the file system refuses hard links (EPERM, ENOTSUP, …): every object writes its own file. */
  let linking = true;
  const code = (err: unknown) => (err as NodeJS.ErrnoException).code;
  /** The content held at `file` changes (or `file` goes): it may no longer be linked to as that content. */
  const forget = (file: string) => {
    const text = sharedAt.get(file);
    if (text === undefined) return;
    sharedAt.delete(file);
    if (shared.get(text)?.path === file) shared.delete(text);
  };
  /** Links `to` to `from`: undefined when done, else the error's code. */
  const link = (from: string, to: string): string | undefined => {
    try {
      fs.linkSync(from, to);
      return undefined;
    } catch (err) {
      return code(err) ?? 'EUNKNOWN';
    }
  };
  /** Removes `file` (absent is fine). */
  const unlinkIfThere = (file: string) => {
    try {
      fs.unlinkSync(file);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
    }
  };
  /**
   * Puts `text` at `file` as a new name of an earlier file with the same text where it can (no new
   * inode), else as a file of its own, which later objects with that text link to. Never writes
   * into a file that is already there: an old metadata.json at `file` is unlinked first.
   */
  const putShared = (file: string, text: string) => {
    forget(file);
    const source = linking ? shared.get(text) : undefined;
    if (source && source.path !== file && source.links < MAX_LINKS) {
      let failed = link(source.path, file);
      if (failed === 'EEXIST') {
        // An older metadata.json of this key: unlinked, never written into.
        unlinkIfThere(file);
        failed = link(source.path, file);
      }
      if (failed === undefined) {
        source.links++;
        return;
      }
      // ENOENT: the source is gone (its object deleted); EMLINK: its inode is full; EXDEV: it is on
      // another file system (another store's folder); anything else: no hard links on this file
      // system. This file gets an inode of its own.
      if (!['ENOENT', 'EMLINK', 'EXDEV', 'EEXIST'].includes(failed)) linking = false;
      forget(source.path);
    }
    unlinkIfThere(file);
    fs.writeFileSync(file, text, { flag: 'wx' });
    if (!linking) return;
    const before = shared.get(text);
    if (before) {
      sharedAt.delete(before.path);
      shared.delete(text);
    } else if (shared.size >= MAX_TEXTS) {
      const [oldest, entry] = shared.entries().next().value as [string, { path: string }];
      shared.delete(oldest);
      sharedAt.delete(entry.path);
    }
    shared.set(text, { path: file, links: 1 });
    sharedAt.set(file, text);
  };
  /**
   * s3rver's putMetadata (the same files, the same JSON: its allowed headers in its order, then
   * x-amz-meta-*), synchronously, and with a metadata.json that has the same text as an earlier
   * one made a hard link to it. Why: creating a file is the dearest part of a small PUT — on this
   * kind of machine's ext4 (no journal) a `perf record` of 20,000 one-ride PUTs put 18 % of the
   * whole run's CPU in the kernel's inode allocation (`__ext4_new_inode`), two inodes per object;
   * a link takes no inode. The transform's objects all carry the same metadata (their content
   * type), so each object costs one inode. What every name holds is byte for byte what s3rver
   * writes, and a plain s3rver reads the folder as its own; but s3rver writes a metadata.json in
   * place, which would change every name of a shared file: so only a store given `shareMetadata`
   * (the servers' own temp folder, deleted at close) shares; a `--data-dir` a user keeps does not.
   */
  proto.putMetadata = async function (this: Store, bucket: string, key: string, metadata: Record<string, unknown>, md5?: string) {
    const json: Record<string, unknown> = {};
    for (const name of S3Object.ALLOWED_METADATA) if (name in metadata) json[name] = metadata[name];
    for (const name in metadata) if (name.startsWith('x-amz-meta-')) json[name] = metadata[name];
    if (md5) fs.writeFileSync(this.getResourcePath(bucket, key, 'object.md5'), md5);
    const file = this.getResourcePath(bucket, key, 'metadata.json');
    if (this.rydesShareMetadata) putShared(file, JSON.stringify(json, null, 2));
    else fs.writeFileSync(file, JSON.stringify(json, null, 2));
  };
  // s3rver copies the source's .md5 file with the object (and fails without one): a small source gets it written first.
  // It copies metadata.json with fs-extra's copy, which unlinks the target first: a shared file is not written into.
  const copyObject = proto.copyObject as (this: Store, ...args: unknown[]) => Promise<unknown>;
  proto.copyObject = async function (this: Store, srcBucket: string, srcKey: string, destBucket: string, destKey: string, ...rest: unknown[]) {
    const objectPath = this.getResourcePath(srcBucket, srcKey, 'object');
    const stat = fs.statSync(objectPath, { throwIfNoEntry: false });
    if (stat && stat.size <= SMALL_OBJECT_BYTES && !fs.existsSync(`${objectPath}.md5`)) fs.writeFileSync(`${objectPath}.md5`, md5Of(objectPath, stat.size) as string);
    // The target's metadata.json gets its source's text: no longer a file to link that target's old text to.
    forget(this.getResourcePath(destBucket, destKey, 'metadata.json'));
    return copyObject.call(this, srcBucket, srcKey, destBucket, destKey, ...rest);
  };

  /** Object folders known to exist; emptied by any delete. */
  const folders = new Set<string>();
  /** Bodies up to this size are gathered in memory and written with one synchronous call. */
  const WHOLE_BODY_BYTES = 1 << 20;
  type Body = NodeJS.ReadableStream & { pause(): unknown };
  /**
   * Reads `content` until it ends or passes WHOLE_BODY_BYTES, hashing what it reads. `whole` says
   * the stream ended (all of it is in `chunks`); otherwise it is paused with the rest unread.
   */
  const gather = (content: Body, hash: import('node:crypto').Hash) =>
    new Promise<{ chunks: Buffer[]; size: number; whole: boolean }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (whole: boolean, err?: unknown) => {
        if (settled) return;
        settled = true;
        content.removeListener('data', onData);
        stop();
        if (err) reject(err);
        else resolve({ chunks, size, whole });
      };
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        hash.update(chunk);
        if (size > WHOLE_BODY_BYTES) {
          content.pause();
          settle(false);
        }
      };
      content.on('data', onData);
      // end, error or a premature close (a client gone mid-body) settle it; the callback form needs no AbortController.
      const stop = stream.finished(content, { writable: false }, (err) => settle(true, err));
    });
  let partials = 0;
  proto.putObject = async function (this: Store, object: { bucket: string; key: string; content: Buffer | NodeJS.ReadableStream; metadata: Record<string, unknown> }) {
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    const folder = path.dirname(objectPath);
    if (!folders.has(folder)) {
      fs.mkdirSync(folder, { recursive: true });
      folders.add(folder);
    }
    const hash = crypto.createHash('md5');
    let size = 0;
    try {
      if (Buffer.isBuffer(object.content)) {
        fs.writeFileSync(objectPath, object.content);
        hash.update(object.content);
        size = object.content.length;
      } else {
        // A body of a few hundred bytes (one ride's CSV) is read whole and written with one
        // synchronous call: a write stream costs an open, a write and a close through libuv's
        // thread pool, and stream.pipeline an AbortController and its DOMException, per PUT.
        const body = await gather(object.content as Body, hash);
        size = body.size;
        if (body.whole) fs.writeFileSync(objectPath, body.chunks.length === 1 ? body.chunks[0] : Buffer.concat(body.chunks, size));
        else {
          const hashing = new stream.Transform({
            transform(chunk: Buffer, _encoding, done) {
              hash.update(chunk);
              size += chunk.length;
              done(null, chunk);
            },
          });
          // Into a file of its own, renamed over the object only once the whole body has come: S3
          // never stores part of a body, and a client gone mid-body must leave the key as it was
          // (s3rver wrote straight into the object's file, so a cut-off upload truncated it).
          const partial = `${objectPath}.rydes-partial-${++partials}`;
          const file = fs.createWriteStream(partial);
          for (const chunk of body.chunks) file.write(chunk);
          try {
            await stream.promises.pipeline(object.content, hashing, file);
          } catch (err) {
            fs.rmSync(partial, { force: true });
            throw err;
          }
          fs.renameSync(partial, objectPath);
        }
      }
    } catch (err) {
      // A folder removed behind s3rver's back is made again by the next PUT.
      folders.delete(folder);
      throw err;
    }
    const md5 = hash.digest('hex');
    if (size <= SMALL_OBJECT_BYTES) {
      // No .md5 for a small object; one its key kept from a larger object would now be wrong.
      const kept = `${objectPath}.md5`;
      if (fs.lstatSync(kept, { throwIfNoEntry: false })) fs.unlinkSync(kept);
      await this.putMetadata(object.bucket, object.key, object.metadata);
    } else await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };
  for (const name of ['deleteObject', 'deleteObjects', 'deleteBucket', 'reset']) {
    const original = proto[name] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof original !== 'function') continue;
    proto[name] = function (this: Store, ...args: unknown[]) {
      folders.clear();
      const result = original.apply(this, args);
      const clear = () => folders.clear();
      if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(clear, clear);
      else clear();
      return result;
    };
  }

  for (const name of ['putBucket', 'deleteBucket', 'putSubresource', 'deleteSubresource', 'reset']) {
    const original = proto[name] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof original !== 'function') continue;
    proto[name] = function (this: Store, ...args: unknown[]) {
      // Cleared before and after: a request that runs while the change is under way reads afresh.
      this.rydesBucketCache = undefined;
      const result = original.apply(this, args);
      const clear = () => void (this.rydesBucketCache = undefined);
      if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(clear, clear);
      else clear();
      return result;
    };
  }
}

/**
 * s3rver's random ids (three per object event: request id and principal ids) cut from a pool of
 * random bytes refilled 4 KiB at a time, instead of a `crypto.randomBytes` call each: with one
 * object per ride that call was a visible share of the S3 thread's time per PUT. The same
 * cryptographic source and the same hex strings. Install it before s3rver is first required: its
 * event model keeps the function it found at load. Self-contained like installLeanRequests.
 * @example
 * installLeanIds(require(join(dirname(require.resolve('s3rver')), 'utils')), crypto);
 */
export function installLeanIds(utils: { randomHexString: (length: number) => string; rydesLeanIds?: boolean }, crypto: Pick<typeof import('node:crypto'), 'randomBytes'>): void {
  if (utils.rydesLeanIds) return;
  utils.rydesLeanIds = true;
  let pool = Buffer.alloc(0);
  let at = 0;
  utils.randomHexString = (length: number) => {
    const bytes = Math.ceil(length / 2);
    if (bytes > 1024) return crypto.randomBytes(bytes).toString('hex').slice(0, length);
    if (at + bytes > pool.length) {
      pool = crypto.randomBytes(4096);
      at = 0;
    }
    const hex = pool.toString('hex', at, at + bytes).slice(0, length);
    at += bytes;
    return hex;
  };
}
