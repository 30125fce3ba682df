import type { S3Client } from '@aws-sdk/client-s3';
import { copyObject } from '@rydes/aws-adapters';
import type { ObjectKeys, ResumePoint, SourceRef } from '@rydes/ride-model';
import type { Continuation, RejectsPart } from './continuation';
import type { PartResult } from './fan-out';

/**
 * The continuation of a part that stopped early at `handOff`, its rejects (if any) registered
 * for the last part's join. The first part wrote the file's rejects object as if it were the
 * only part; its copy under rejectsPart(0) is what the last part joins, so a rerun of the join
 * starts clean.
 * @example
 * await handOff(await nextPart(s3, keys, source, part, point, rejected, resume, startedAt));
 */
export async function nextPart(
  s3: S3Client,
  keys: ObjectKeys,
  source: SourceRef,
  result: PartResult,
  handOff: ResumePoint,
  rejectedHere: number,
  resume: Continuation | undefined,
  startedAt: Date,
): Promise<Continuation> {
  const part = resume?.part ?? 0;
  const rejectParts: RejectsPart[] = [...(resume?.rejectParts ?? [])];
  if (rejectedHere > 0) {
    if (!resume) await copyObject(s3, source.bucket, keys.rejects, keys.rejectsPart(0));
    rejectParts.push({ part, from: result.startIndex, to: handOff.index });
  }
  const { progress, stats } = result;
  return {
    v: 2, bucket: source.bucket, key: source.key, etag: source.etag, resume: handOff,
    counts: { total: progress.total, valid: progress.valid, rejected: progress.rejected, droppedFields: progress.droppedFields, chunks: progress.priorChunks + stats.sent },
    rejectParts, part: part + 1, startedAt: startedAt.toISOString(),
  };
}

/** The rejects parts the last part joins: the earlier parts', and its own when it rejected rides. */
export function lastPartRejects(resume: Continuation | undefined, startIndex: number, rejectedHere: number): RejectsPart[] {
  const parts = [...(resume?.rejectParts ?? [])];
  if (resume && rejectedHere > 0) parts.push({ part: resume.part, from: startIndex });
  return parts;
}
