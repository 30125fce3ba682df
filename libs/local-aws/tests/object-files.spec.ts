import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand, type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { existsSync, rmSync, statSync } from 'node:fs';
import { startLocalServers, type LocalServers } from '../src';

const BUCKET = 'rides-files';

describe('listObjectFiles (real s3rver in its worker thread, its folder read directly)', () => {
  let local: LocalServers;
  let s3: S3Client;
  beforeAll(async () => {
    local = await startLocalServers({ buckets: [BUCKET], s3Thread: true });
    s3 = new S3Client({
      endpoint: local.s3Endpoint, region: local.region, forcePathStyle: true,
      credentials: { accessKeyId: local.env.AWS_ACCESS_KEY_ID, secretAccessKey: local.env.AWS_SECRET_ACCESS_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const keys = ['processed/a b-000000.csv', 'processed/a b-000001.csv', 'processed/deep/er/x.csv', 'processed/é+1.csv', 'processedx/not-under.csv', 'rejects/a.ndjson', 'top.json'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `bytes of ${key}` }));
    // A multipart object: its ETag is not the MD5 of its bytes.
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'processed/multi.csv' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'processed/multi.csv', UploadId, PartNumber: 1, Body: 'one part' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'processed/multi.csv', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  });
  afterAll(async () => {
    s3.destroy();
    await local.close();
  });

  /** Key, size and ETag of every object under `prefix`, as ListObjectsV2 lists them. */
  async function listed(prefix: string): Promise<Array<[string, number, string]>> {
    const found: Array<[string, number, string]> = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }));
      for (const object of page.Contents ?? []) found.push([object.Key ?? '', object.Size ?? -1, object.ETag ?? '']);
      token = page.NextContinuationToken;
    } while (token);
    return found.sort();
  }

  it('lists what ListObjectsV2 lists under a prefix (keys, sizes, ETags, multipart included), each with its own file', async () => {
    for (const prefix of ['processed/', 'processed', 'processed/a', 'rejects/', '', 'nothing/here/']) {
      // Act
      const files = local.listObjectFiles(BUCKET, prefix);

      // Assess
      expect(files.map((o): [string, number, string] => [o.key, o.size, o.etag()]).sort()).toEqual(await listed(prefix));
      for (const object of files) {
        const stat = statSync(local.objectFile(BUCKET, object.key) as string);
        expect([object.file, object.dev, object.ino]).toEqual([local.objectFile(BUCKET, object.key), stat.dev, stat.ino]);
      }
    }
  });

  it('gives the MD5 of the bytes as the ETag of an object over 1 MiB whose .md5 is missing, as s3rver answers it', async () => {
    // Prepare
    const key = 'processed/no-md5.bin';
    const body = Buffer.alloc(1024 * 1024 + 1, 'h');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    rmSync(`${local.objectFile(BUCKET, key)}.md5`);

    // Act
    const [object] = local.listObjectFiles(BUCKET, key);

    // Assess
    expect(object.etag()).toBe((await listed(key))[0][2]);
    expect(object.etag()).toBe('"' + createHash('md5').update(body).digest('hex') + '"');
  });

  it('gives the MD5 of the bytes as the ETag of an object up to 1 MiB, which keeps no .md5', async () => {
    // Prepare
    const key = 'processed/small.csv';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'h\nno md5 here\n' }));

    // Act
    const [object] = local.listObjectFiles(BUCKET, key);

    // Assess
    expect(existsSync(`${local.objectFile(BUCKET, key)}.md5`)).toBe(false);
    expect(object.etag()).toBe((await listed(key))[0][2]);
    expect(object.etag()).toBe('"' + createHash('md5').update('h\nno md5 here\n').digest('hex') + '"');
  });

  it('lists nothing for a bucket that does not exist', () => {
    expect(local.listObjectFiles('rides-none', '')).toEqual([]);
  });
});
