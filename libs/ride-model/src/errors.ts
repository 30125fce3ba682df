/**
 * Base class of every error thrown by `@rydes/ride-model`; catch this to catch them all.
 *
 * @example
 * if (e instanceof RideModelError) log.warn({ kind: e.name }, e.message);
 */
export class RideModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A ride file cannot be read any further: malformed JSON, invalid UTF-8, a corrupt gzip stream.
 * Every record before `byteOffset` has already been yielded.
 *
 * @example
 * try { for await (const raw of parseRides(stream)) handle(raw); }
 * catch (e) { if (e instanceof RideParseError) log.error({ at: e.byteOffset, last: e.lastGoodIndex }); }
 */
export class RideParseError extends RideModelError {
  constructor(
    message: string,
    /** Offset in the decompressed stream where reading stopped. */
    readonly byteOffset: number,
    /** Index of the last record yielded before the error; -1 if none. */
    readonly lastGoodIndex: number,
  ) {
    super(message);
  }
}

/**
 * A fan-out message body is not a valid version-1 envelope.
 *
 * @example
 * try { decodeMessage(body); } catch (e) { if (e instanceof EnvelopeError) reportItemFailure(); }
 */
export class EnvelopeError extends RideModelError {}

/**
 * Rides were pushed to a `Chunker` out of order, or a ride alone exceeds the message size.
 *
 * @example
 * new Chunker({ source, ridesPerMessage: 0 }); // throws ChunkerError
 */
export class ChunkerError extends RideModelError {}

/**
 * An S3 key or ETag cannot name a ride file's outputs (not under `raw/`, no ride suffix, bad ETag).
 *
 * @example
 * objectKeys({ bucket: 'b', key: 'other/x.json', etag: '"abc"' }); // throws ObjectKeyError
 */
export class ObjectKeyError extends RideModelError {}

/**
 * The ride generator was given options it cannot honour (negative count, rate outside [0, 1]).
 *
 * @example
 * generateRides({ count: -1, seed: 1 }); // throws GeneratorOptionsError
 */
export class GeneratorOptionsError extends RideModelError {}
