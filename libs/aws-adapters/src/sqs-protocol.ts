import { AwsJson1_0Protocol, JsonCodec } from '@aws-sdk/core/protocols';
import type { BuildMiddleware, MetadataBearer } from '@smithy/types';

type ProtocolSettings = ConstructorParameters<typeof AwsJson1_0Protocol>[0];
type SerializeArgs = Parameters<AwsJson1_0Protocol['serializeRequest']>;

/**
 * SQS's own protocol (AWS JSON 1.0, the settings the SQS client passes it) with one change: the
 * request body is written by the SDK's string JSON serializer (codec v1: the request built as a
 * plain object, then `JSON.stringify`) instead of the default byte serializer (codec v2), which
 * escapes every string character by character in JavaScript. A SendMessageBatch body is ten
 * message bodies of up to ~200 KB of JSON text each, so nearly every byte goes through that
 * escaping; `JSON.stringify` does the same escaping natively. Both write the members in the
 * schema's order and escape alike (`"`, `\`, control characters, lone surrogates as `\udxxx`),
 * so the request bytes are the same (tests/sqs-protocol.spec.ts compares them request by request
 * against the default client, through a real local SQS too). Responses are read as before.
 *
 * The body leaves the serializer as bytes (UTF-8, encoded once), as the default serializer's
 * does: a string body was encoded three more times per call, by the content length, by the
 * SigV4 payload hash and by the socket write, each a full pass over up to 1 MiB of
 * SendMessageBatch.
 *
 * Passed to the client as `protocol` (a constructor: the client calls it with its own
 * `protocolSettings`, error types included).
 * @example
 * const sqs = new SQSClient({ region: 'us-east-1', protocol: SqsStringJsonProtocol });
 */
export class SqsStringJsonProtocol extends AwsJson1_0Protocol {
  constructor(settings: ProtocolSettings) {
    super(settings);
    // The v2 codec's settings (AwsJsonRpcProtocol's default), for the v1 serializer.
    this.serializer = new JsonCodec({ timestampFormat: { useTrait: true, default: 7 }, jsonName: false }).createSerializer();
  }

  override async serializeRequest(...args: SerializeArgs): ReturnType<AwsJson1_0Protocol['serializeRequest']> {
    const request = await super.serializeRequest(...args);
    if (typeof request.body === 'string') request.body = this.encodeBody(request.body);
    return request;
  }

  /** The request body's UTF-8 bytes. */
  protected encodeBody(text: string): Uint8Array {
    return Buffer.from(text, 'utf8');
  }
}

/**
 * Reusable buffers for request bodies: a SendMessageBatch body of up to ~1.2 MB written into a
 * buffer already in memory instead of a fresh `Buffer.from` per call. A fresh buffer of that size
 * is fresh memory (with glibc's mmap threshold at 128 KiB, as the local functions run, an mmap of
 * its own), and touching it cost more than the UTF-8 encoding: in the ingest's profile of a 200k
 * file with the local functions' heap flags and glibc tunable, `Buffer.from` of the 40 request
 * bodies took 79–84 ms of the handler's ~1.5 s, the write into reused buffers 46–49 ms (most of it
 * flattening the JSON.stringify rope, which either pays); the client alone, serialising and
 * signing a 200k file's 40 calls: median 215 → 181 ms.
 *
 * A buffer goes back to the pool only after its call succeeded (the server answered 200, so it has
 * read the whole body, and the SDK's retries, which resend the same body, are over); a call that
 * failed leaves its buffer to the garbage collector, so a body still being written to a socket is
 * never overwritten.
 */
export class RequestBodyPool {
  /** Texts shorter than this (code units) get a buffer of their own. */
  static readonly MIN_TEXT = 65_536;
  private readonly free: ArrayBuffer[] = [];
  private readonly lent = new WeakSet<ArrayBuffer>();

  /** @param keep buffers kept for reuse at most (the calls in flight at once, with room). */
  constructor(private readonly keep = 8, private readonly minBytes = 1_310_720) {}

  /** `text` as UTF-8 bytes in a buffer of the pool (a fresh one when none free is large enough). */
  encode(text: string): Buffer {
    // Written without counting the bytes first: an ASCII text has as many bytes as code units; a
    // write that leaves fewer than 4 bytes free may have stopped short (no character needs more
    // than 4), and then the text is written again into a buffer of its exact UTF-8 length. (The
    // JSON.stringify result is a rope: whichever touches it first, byteLength or the write, pays
    // for flattening it, ~1 ms per ~1.2 MB call in the ingest's profile; skipping byteLength only
    // saves a pass over a flat text.) Small requests (every call but a large SendMessageBatch) are
    // not worth a buffer of the pool.
    if (text.length < RequestBodyPool.MIN_TEXT) return Buffer.from(text, 'utf8');
    const guess = text.length + 4;
    const first = this.take(guess);
    const written = Buffer.from(first).write(text, 0, 'utf8');
    if (written <= first.byteLength - 4) return Buffer.from(first, 0, written);
    this.give(first);
    const bytes = Buffer.byteLength(text, 'utf8');
    const backing = this.take(bytes);
    Buffer.from(backing).write(text, 0, 'utf8');
    return Buffer.from(backing, 0, bytes);
  }

  /** A free buffer of at least `bytes` bytes (a new one when none is), lent until {@link release}. */
  private take(bytes: number): ArrayBuffer {
    const i = this.free.findIndex((b) => b.byteLength >= bytes);
    const backing = i >= 0 ? this.free.splice(i, 1)[0] : new ArrayBuffer(Math.max(bytes, this.minBytes));
    this.lent.add(backing);
    return backing;
  }

  private give(backing: ArrayBuffer): void {
    this.lent.delete(backing);
    if (this.free.length < this.keep) this.free.push(backing);
  }

  /** Gives a body made by {@link encode} back; anything else is ignored. */
  release(body: unknown): void {
    if (body instanceof Uint8Array && body.buffer instanceof ArrayBuffer && this.lent.has(body.buffer)) this.give(body.buffer);
  }
}

/**
 * {@link SqsStringJsonProtocol} writing each request body into a buffer of `pool` (see
 * {@link RequestBodyPool}); the client must give the buffers back after each successful call
 * ({@link releaseRequestBodies}). The bytes are the same.
 */
export function pooledSqsJsonProtocol(pool: RequestBodyPool): typeof SqsStringJsonProtocol {
  return class PooledSqsJsonProtocol extends SqsStringJsonProtocol {
    protected override encodeBody(text: string): Uint8Array {
      return pool.encode(text);
    }
  };
}

/**
 * The middleware that gives a call's request body back to `pool` once the call succeeded: at the
 * build step, so it sees the serialised request and its `await` spans the SDK's retries.
 */
export function releaseRequestBodies(pool: RequestBodyPool): BuildMiddleware<object, MetadataBearer> {
  return (next) => async (args) => {
    const out = await next(args);
    pool.release((args.request as { body?: unknown } | undefined)?.body);
    return out;
  };
}
