import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { putObject } from '@rydes/aws-adapters';

/** One line of `rejects/<stem>-<etag8>.ndjson`. */
export interface RejectLine {
  index: number;
  reasons: string[];
  record: unknown;
}

/**
 * Streams reject lines into one S3 object as they come, so memory stays bounded however many
 * rides are rejected (a multipart upload past 5 MiB). Nothing is written when there are none.
 */
export class RejectsWriter {
  count = 0;
  private stream?: PassThrough;
  private upload?: Promise<unknown>;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
  ) {}

  async add(line: RejectLine): Promise<void> {
    if (!this.stream) {
      this.stream = new PassThrough();
      this.upload = putObject(this.s3, this.bucket, this.key, this.stream, 'application/x-ndjson');
      // Observed through close() or the race below; never an unhandled rejection meanwhile.
      this.upload.catch(() => undefined);
    }
    this.count++;
    if (!this.stream.write(JSON.stringify(line) + '\n')) {
      await Promise.race([once(this.stream, 'drain'), this.upload]);
    }
  }

  /** Ends the object and waits until S3 has it. */
  async close(): Promise<void> {
    if (!this.stream) return;
    this.stream.end();
    await this.upload;
  }
}
