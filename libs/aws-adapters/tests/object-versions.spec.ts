import { S3Client } from '@aws-sdk/client-s3';
import { startLocalServers, type LocalServers } from '@rydes/local-aws';
import { countRequests, createS3Client, currentEtag, deleteKeys, listKeys, putObject, S3ObjectError, sameEtag } from '../src';

const BUCKET = 'adapters-versions';

describe('object versions against s3rver (currentEtag, deleteKeys)', () => {
  let local: LocalServers;
  let s3: S3Client;
  beforeAll(async () => {
    local = await startLocalServers({ buckets: [BUCKET] });
    s3 = createS3Client(local.env);
  });
  afterAll(async () => {
    s3.destroy();
    await local.close();
  });
  const keysUnder = async (prefix: string) => {
    const keys: string[] = [];
    for await (const key of listKeys(s3, BUCKET, prefix)) keys.push(key);
    return keys;
  };

  it('reports the ETag PutObject returned, a new one after an overwrite, and undefined once deleted', async () => {
    // Prepare
    const first = await putObject(s3, BUCKET, 'v/a.json', '[1]');
    // Act / Assess
    expect(await currentEtag(s3, BUCKET, 'v/a.json')).toBe(first.etag);
    const second = await putObject(s3, BUCKET, 'v/a.json', '[2]');
    expect(sameEtag(second.etag, first.etag)).toBe(false);
    expect(await currentEtag(s3, BUCKET, 'v/a.json')).toBe(second.etag);
    await deleteKeys(s3, BUCKET, ['v/a.json']);
    expect(await currentEtag(s3, BUCKET, 'v/a.json')).toBeUndefined();
  });

  it('names the operation and the key when HeadObject fails for another reason than a missing key (server down)', async () => {
    const down = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const call = currentEtag(down, BUCKET, 'raw/a.json');
    await expect(call).rejects.toThrow(S3ObjectError);
    await expect(call).rejects.toThrow(/HeadObject s3:\/\/adapters-versions\/raw\/a\.json failed/);
    down.destroy();
  });

  it('treats ETags with and without quotes, W/ and upper case as the same version', () => {
    expect(sameEtag('"9b2cf535f27731c974343645a3985328"', '9B2CF535F27731C974343645A3985328')).toBe(true);
    expect(sameEtag('W/"9b2cf535"', '"9b2cf535"')).toBe(true);
    expect(sameEtag('"9b2cf535"', '"9b2cf536"')).toBe(false);
  });

  it('deletes 1,234 keys read lazily from a listing in batches of at most 1000, keeping the neighbours', async () => {
    // Prepare
    const keys = Array.from({ length: 1234 }, (_, i) => `del/x-${String(i).padStart(6, '0')}.csv`);
    for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => putObject(s3, BUCKET, k, 'a')));
    await putObject(s3, BUCKET, 'del/y-000000.csv', 'keep');
    const counts = countRequests(s3, {});
    // Act
    const deleted = await deleteKeys(s3, BUCKET, listKeys(s3, BUCKET, 'del/x-'));
    // Assess
    expect(deleted).toBe(1234);
    expect(counts.DeleteObjectsCommand).toBe(2);
    expect(await keysUnder('del/')).toEqual(['del/y-000000.csv']);
  }, 120_000);

  it('counts missing keys as deleted and sends nothing for an empty list', async () => {
    const counts = countRequests(s3, {});
    expect(await deleteKeys(s3, BUCKET, ['del/never-there.csv'])).toBe(1);
    expect(await deleteKeys(s3, BUCKET, [])).toBe(0);
    expect(counts.DeleteObjectsCommand).toBe(1);
  });
});
