import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SampleRecordMismatch } from './sample';
import type { SampleBytes } from './sample-file';
import { UPLOAD_READ_BYTES } from './upload-input';

/**
 * A sample file being written whose size and hash are expected (its record, see
 * `readSampleRecord`), read while it grows: {@link body} is the upload's body, the file's bytes as
 * soon as the writer says they are in it. Every byte but the last is sent on the record's word;
 * the last waits for the writer's own hash of what it wrote. When that differs (or the writer
 * fails), the body ends in an error one byte short of its Content-Length, so the PUT fails and no
 * object is stored: the key (made from the recorded hash) never names other bytes.
 * @example
 * const followed = new FollowedSample(record);
 * const sampling = generateSample(n, seed, dir, { onWritten: (file, bytes) => followed.wrote(file, bytes) });
 * const put = s3.send(new PutObjectCommand({ Bucket, Key, Body: followed.body(), ContentLength: record.bytes }));
 * followed.finished(await sampling);
 */
export class FollowedSample {
  private file?: string;
  private written = 0;
  private outcome?: { ok: true } | { ok: false; error: Error };
  private waiters: Array<() => void> = [];

  constructor(readonly expected: SampleBytes) {}

  /** The writer's word: `bytes` of `file` are written. */
  wrote(file: string, bytes: number): void {
    this.file = file;
    this.written = Math.max(this.written, bytes);
    this.wake();
  }

  /** The writer is done: its size and hash of what it wrote, or its error. */
  finished(result: SampleBytes | Error): void {
    if (result instanceof Error) this.outcome = { ok: false, error: result };
    else if (result.bytes === this.expected.bytes && result.sha256 === this.expected.sha256) this.outcome = { ok: true };
    else this.outcome = { ok: false, error: new SampleRecordMismatch(this.expected, result) };
    this.wake();
  }

  /** The file's expected bytes, read as they are written. */
  body(): Readable {
    let handle: FileHandle | undefined;
    let position = 0;
    let reading = false;
    const pump = async (body: Readable) => {
      if (reading) return;
      reading = true;
      try {
        for (;;) {
          if (body.destroyed) return;
          if (this.outcome && !this.outcome.ok) throw this.outcome.error;
          const { bytes } = this.expected;
          const limit = this.outcome?.ok ? bytes : Math.min(this.written, bytes - 1);
          if (position >= limit) {
            if (position === bytes) {
              body.push(null);
              return;
            }
            await this.changed();
            continue;
          }
          handle ??= await open(this.file as string, 'r');
          const piece = Buffer.allocUnsafe(Math.min(UPLOAD_READ_BYTES, limit - position));
          const { bytesRead } = await handle.read(piece, 0, piece.length, position);
          if (bytesRead === 0) throw new Error(`${this.file} ended at byte ${position}, before the ${this.written} bytes its writer reported`);
          position += bytesRead;
          if (!body.push(bytesRead === piece.length ? piece : piece.subarray(0, bytesRead))) return;
        }
      } catch (err) {
        body.destroy(err as Error);
      } finally {
        reading = false;
      }
    };
    return new Readable({
      highWaterMark: UPLOAD_READ_BYTES,
      read() {
        void pump(this);
      },
      destroy(err, done) {
        const closing = handle;
        handle = undefined;
        if (!closing) return done(err);
        closing.close().then(
          () => done(err),
          () => done(err),
        );
      },
    });
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
