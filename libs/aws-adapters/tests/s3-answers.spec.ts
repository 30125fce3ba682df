import { PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../src/clients';
import { MissingEtagError, isNoSuchKey, isPreconditionFailed } from '../src/errors';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { currentEtag } from '../src/object-versions';
import { openObject } from '../src/open-object';

/** Removes the ETag header from every response the client receives (an S3-compatible server that omits it). */
function withoutEtags(s3: S3Client): void {
  s3.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const headers = (out.response as { headers?: Record<string, string> }).headers;
      if (headers) delete headers.etag;
      return out;
    },
    { step: 'deserialize', name: 'dropEtag', priority: 'low' },
  );
}

describe('S3 answers are read by status and error name, never by message text', () => {
  const Bucket = 'rides-answers';
  let local: LocalServers;
  let s3: S3Client;
  beforeAll(async () => {
    local = await startLocalServers({ buckets: [Bucket] });
    s3 = createS3Client(local.env);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'raw/a.json', Body: '[]' }));
  });
  afterAll(async () => {
    s3.destroy();
    await local.close();
  });

  it('recognises a missing key from GetObject (NoSuchKey) and from HeadObject (a bodiless 404)', async () => {
    expect(isNoSuchKey(await openObject(s3, Bucket, 'raw/none.json').catch((err: unknown) => err))).toBe(true);
    expect(await currentEtag(s3, Bucket, 'raw/none.json')).toBeUndefined();
  });

  it('recognises a refused condition (412) from the strict local S3', async () => {
    expect(isPreconditionFailed(await openObject(s3, Bucket, 'raw/a.json', { ifMatch: '"00000000000000000000000000000000"' }).catch((err: unknown) => err))).toBe(true);
  });

  it('does not take an access error whose message mentions NotFound for a missing key', () => {
    const denied = new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'NotFound: bucket policy denies s3:GetObject' });
    expect(isNoSuchKey(denied)).toBe(false);
    expect(isNoSuchKey(new Error('NoSuchKey in the text only'))).toBe(false);
  });

  it('treats an answer without an ETag as an error, never as an empty ETag', async () => {
    const bare = createS3Client(local.env);
    withoutEtags(bare);
    try {
      await expect(currentEtag(bare, Bucket, 'raw/a.json')).rejects.toBeInstanceOf(MissingEtagError);
      await expect(openObject(bare, Bucket, 'raw/a.json')).rejects.toBeInstanceOf(MissingEtagError);
    } finally {
      bare.destroy();
    }
  });
});
