/**
 * The strict front of the local S3: S3's conditional requests, which s3rver ignores
 * (PITFALLS #19), enforced by a middleware placed first in s3rver's own Koa chain, so every
 * client of the local stack (functions, CLI, tests) meets it and no extra network hop is paid.
 *
 * What it enforces (Amazon S3 API Reference: GetObject, HeadObject, PutObject,
 * CompleteMultipartUpload; User Guide "How to prevent object overwrites with conditional writes"):
 * - GetObject / HeadObject, ranged or not: `If-Match` → 412 PreconditionFailed when the object's
 *   ETag differs; `If-None-Match` → 304 Not Modified when it is the same. Decided on the ETag of
 *   the very response s3rver produced, so a replacement between check and read cannot slip in.
 * - PutObject and CompleteMultipartUpload: `If-None-Match: *` → 412 when the key exists;
 *   `If-Match: <etag>` → 412 on a different ETag, 404 NoSuchKey when there is no object;
 *   `If-None-Match` with anything but `*` → 501 NotImplemented; a conditional write while another
 *   conditional write of the same key is running → 409 ConditionalRequestConflict. A PUT is never
 *   answered 304.
 */

/** The slice of Koa's context the middleware uses (s3rver is a Koa app; its store is on ctx). */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, unknown>;
  status: number;
  body: unknown;
  type: string;
  app: { rydesConditionalWrites?: Set<string> };
  store: { getMetadata(bucket: string, key: string): Promise<{ etag: string }> };
  /** A request header ('' when absent). */
  get(field: string): string;
  response: { get(field: string): string };
  remove(field: string): void;
}

/**
 * Koa middleware enforcing S3's conditional requests in front of s3rver's routes. It is
 * self-contained (no imports, no outer variables) because the worker thread that runs s3rver
 * receives it as source text; its state lives on the Koa app.
 * @example
 * const s3 = new S3rver(options);
 * (s3 as unknown as { middleware: unknown[] }).middleware.unshift(strictConditionalRequests);
 */
export async function strictConditionalRequests(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
  const ifMatch = ctx.get('if-match').trim();
  const ifNoneMatch = ctx.get('if-none-match').trim();
  const [, bucket = '', ...rest] = ctx.path.split('/');
  const key = rest.join('/');
  if (!key || (!ifMatch && !ifNoneMatch)) return next();
  const same = (condition: string, etag: string) => {
    if (condition === '*') return true;
    const bare = (tag: string) => tag.trim().replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    return condition.split(',').some((tag) => bare(tag) === bare(etag));
  };
  const refuse = (status: number, code: string, message: string) => {
    const body = ctx.body as { destroy?: () => void } | undefined;
    if (body && typeof body.destroy === 'function') body.destroy();
    for (const header of ['ETag', 'Last-Modified', 'Content-Range', 'Accept-Ranges']) ctx.remove(header);
    ctx.status = status;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Key>${key}</Key></Error>`;
  };
  const failed = 'At least one of the pre-conditions you specified did not hold';

  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    // Preconditions come before the range (RFC 7232 §6): a range past the end of a replaced object is a 412, not a 416.
    try {
      await next();
    } catch (err) {
      if (!ifMatch || (err as { status?: number }).status !== 416) throw err;
      const current = await ctx.store.getMetadata(bucket, decodeURIComponent(key)).then((m) => m.etag, () => undefined);
      if (current !== undefined && !same(ifMatch, current)) return refuse(412, 'PreconditionFailed', failed);
      throw err;
    }
    if (ctx.status < 200 || ctx.status >= 300) return;
    const etag = ctx.response.get('ETag');
    if (ifMatch && !same(ifMatch, etag)) return refuse(412, 'PreconditionFailed', failed);
    if (!ifMatch && ifNoneMatch && same(ifNoneMatch, etag)) {
      const body = ctx.body as { destroy?: () => void } | undefined;
      if (body && typeof body.destroy === 'function') body.destroy();
      ctx.status = 304;
    }
    return;
  }

  const isWrite = (ctx.method === 'PUT' && ctx.query.partNumber === undefined) || (ctx.method === 'POST' && ctx.query.uploadId !== undefined);
  if (!isWrite) return next();
  if (ifNoneMatch && ifNoneMatch !== '*') {
    return refuse(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented: If-None-Match accepts only *');
  }
  const writing = (ctx.app.rydesConditionalWrites ??= new Set<string>());
  const id = `${bucket}/${key}`;
  if (writing.has(id)) {
    return refuse(409, 'ConditionalRequestConflict', 'The conditional request cannot succeed due to a conflicting operation against this resource.');
  }
  writing.add(id);
  try {
    const etag = await ctx.store.getMetadata(bucket, decodeURIComponent(key)).then(
      (metadata) => metadata.etag,
      () => undefined,
    );
    if (ifNoneMatch === '*' && etag !== undefined) return refuse(412, 'PreconditionFailed', failed);
    if (ifMatch && etag === undefined) return refuse(404, 'NoSuchKey', 'The specified key does not exist.');
    if (ifMatch && etag !== undefined && !same(ifMatch, etag)) return refuse(412, 'PreconditionFailed', failed);
    await next();
  } finally {
    writing.delete(id);
  }
}

/** Bytes the local S3 served per raw/ key (the {@link countRawReads} middleware's tally). */
export interface RawReads {
  /** Every body byte sent for the key, re-reads (retries, a gzip continuation inflating from the start) included. */
  served: number;
  /** The furthest byte offset a GetObject has reached (a ranged read counts from its start): how far into the file reads got. */
  furthest: number;
}

/** The slice of Koa's context the byte counter uses. */
interface CountingContext {
  method: string;
  path: string;
  status: number;
  app: { rydesRawReads?: Record<string, RawReads> };
  response: { get(field: string): string };
  res: { write: (...args: unknown[]) => boolean; end: (...args: unknown[]) => unknown };
}

/**
 * Koa middleware counting the body bytes s3rver sends for every GetObject of a `raw/` key
 * (ranged continuations included), as they go to the socket: a reader that stops early (an
 * ingest handing the rest of a file to a continuation) has only what it received counted.
 * The tally lives on the Koa app (`app.rydesRawReads`). Self-contained like
 * {@link strictConditionalRequests}: the worker thread receives it as source text.
 * @example
 * (s3 as unknown as { middleware: unknown[] }).middleware.unshift(countRawReads);
 * (s3 as unknown as { rydesRawReads?: Record<string, RawReads> }).rydesRawReads; // { 'raw/a.json': { served: 7, furthest: 7 } }
 */
export async function countRawReads(ctx: CountingContext, next: () => Promise<void>): Promise<void> {
  await next();
  const [, , ...rest] = ctx.path.split('/');
  const key = decodeURIComponent(rest.join('/'));
  if (ctx.method !== 'GET' || !key.startsWith('raw/') || ctx.status < 200 || ctx.status >= 300) return;
  const tally = (ctx.app.rydesRawReads ??= {});
  const reads = (tally[key] ??= { served: 0, furthest: 0 });
  // A ranged answer (206) says where it starts: `Content-Range: bytes 1024-4095/4096`.
  const start = Number(/^bytes (\d+)-/.exec(ctx.response.get('Content-Range'))?.[1] ?? 0);
  let position = start;
  const count = (chunk: unknown) => {
    const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as { length?: number } | undefined)?.length ?? 0;
    if (typeof chunk !== 'string' && typeof chunk !== 'object') return;
    reads.served += bytes;
    position += bytes;
    if (position > reads.furthest) reads.furthest = position;
  };
  const { write, end } = ctx.res;
  ctx.res.write = function (this: unknown, ...args: unknown[]) {
    count(args[0]);
    return write.apply(this, args);
  };
  ctx.res.end = function (this: unknown, ...args: unknown[]) {
    if (typeof args[0] !== 'function') count(args[0]);
    return end.apply(this, args);
  };
}
