import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ObjectWriter } from './object-writer';

/** The one middleware-stack method used, typed loosely enough for any client's stack. */
interface UntypedStack {
    add(
      middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
      options: { step: 'finalizeRequest'; priority: 'low'; name: string },
    ): void;
}

/** HTTP requests sent per SDK command name (`SendMessageBatchCommand` → 12). */
export type RequestCounts = Record<string, number>;

/**
 * Counts the requests an SDK client really sends, by command, SDK-level retries included (the
 * middleware sits inside the retry loop). For benchmarks and tests that report "requests per
 * 1,000 rides" from measurement rather than arithmetic. An {@link ObjectWriter} (which sends
 * without the SDK's middleware) counts its PutObject and HeadObject requests, retries included, the same way.
 * @example
 * const counts = countRequests(s3);
 * await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
 * counts.PutObjectCommand; // → 1
 */
export function countRequests(client: S3Client | SQSClient | ObjectWriter, counts: RequestCounts = {}): RequestCounts {
  if ('onRequest' in client) {
    client.onRequest((name) => void (counts[name] = (counts[name] ?? 0) + 1));
    return counts;
  }
  (client.middlewareStack as unknown as UntypedStack).add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      counts[name] = (counts[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: `rydesRequestCounter${Math.random().toString(36).slice(2)}` },
  );
  return counts;
}
