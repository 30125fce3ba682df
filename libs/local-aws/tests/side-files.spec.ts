import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand,
  S3Client, UploadPartCommand, type ListObjectsCommandOutput,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { startLocalServers, type LocalServers } from '../src';

const BUCKET = 'rides-sides';
const MiB = 1024 * 1024;

/** A plain s3rver (none of local-aws' patches: its own module copies, in a worker thread), its folder and a way to stop it. */
async function startPlainS3rver(): Promise<{ endpoint: string; directory: string; close(): Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), 'rydes-plain-s3rver-'));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const S3rver = require(workerData.s3rverPath);
     const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: workerData.directory, configureBuckets: [{ name: workerData.bucket, configs: [] }] });
     s3.run().then((address) => parentPort.postMessage(address.port));
     parentPort.on('message', () => s3.close().then(() => parentPort.postMessage('closed')));`,
    { eval: true, workerData: { s3rverPath: require.resolve('s3rver'), directory, bucket: BUCKET } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    async close() {
      const closed = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage('close');
      await closed;
      await worker.terminate();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Bytes that are the same in every run (a seeded counter hashed), `size` long. */
function bytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0, n = 0; at < size; n++) at += createHash('sha256').update(`${seed}:${n}`).digest().copy(out, at);
  return out;
}

/**
 * The same requests to one S3 endpoint: small and large objects, a small object over a large one
 * and the reverse, a multipart upload, copies (metadata copied and replaced), a delete; then what
 * HEAD, GET and ListObjectsV2 (whole, and in pages of 2) answer for every key. Dates are left out.
 */
async function exercise(endpoint: string) {
  const s3 = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1,
  });
  const put = (Key: string, Body: string | Buffer, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ...extra }));
  try {
    await put('processed/rides-1-000000.csv', 'distance,name\n1.5,a\n', { ContentType: 'text/csv; charset=utf-8', Metadata: { run: '7' } });
    await put('processed/empty.csv', Buffer.alloc(0));
    await put('raw/big.bin', bytes(MiB + 1, 'big'), { ContentType: 'application/octet-stream' });
    await put('edge/one-mib.bin', bytes(MiB, 'edge'));
    await put('swap/small-over-big.bin', bytes(2 * MiB, 'first'));
    await put('swap/small-over-big.bin', 'small now');
    await put('swap/big-over-small.bin', 'small first');
    await put('swap/big-over-small.bin', bytes(2 * MiB, 'second'));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi/one-part.csv', ContentType: 'text/csv' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'multi/one-part.csv', UploadId, PartNumber: 1, Body: 'one part' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi/one-part.csv', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const copied = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copies/kept-metadata.csv', CopySource: `${BUCKET}/processed/rides-1-000000.csv` }));
    const replaced = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copies/new-metadata.csv', CopySource: `${BUCKET}/processed/rides-1-000000.csv`, MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { run: '8' } }));
    const copiedBig = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copies/big.bin', CopySource: `${BUCKET}/raw/big.bin` }));
    await put('gone/soon.csv', 'deleted below');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'gone/soon.csv' }));
    // metadata.json shared by hard links (lean-s3.ts): objects with the same metadata; one given
    // other metadata; copies (with their source's metadata) onto the file the others link to and
    // onto one that links to it; that file's successor deleted; more with that metadata after each
    // step. shared/7.csv keeps the first file throughout and must still say what it was given.
    const csv9 = { ContentType: 'text/csv', Metadata: { run: '9' } };
    const copyOnto = (Key: string) => s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key, CopySource: `${BUCKET}/processed/rides-1-000000.csv` }));
    for (const n of [1, 2, 3, 4, 7]) await put(`shared/${n}.csv`, `row ${n}\n`, csv9);
    await put('shared/2.csv', 'row 2 again\n', { ContentType: 'text/plain' });
    await copyOnto('shared/1.csv');
    await put('shared/5.csv', 'row 5\n', csv9);
    await copyOnto('shared/3.csv');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'shared/5.csv' }));
    await put('shared/6.csv', 'row 6\n', csv9);
    await put('shared/4.csv', 'row 4 again\n', csv9);
    await put('shared/5.csv', 'row 5 back\n', csv9);

    // ListObjects (v1) with markers pages: s3rver's v2 continuation tokens are DES, which OpenSSL 3 refuses.
    const list = async (MaxKeys: number) => {
      const found: Array<[string | undefined, number | undefined, string | undefined]> = [];
      let page: ListObjectsCommandOutput;
      do {
        page = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Marker: found.at(-1)?.[0], MaxKeys }));
        for (const object of page.Contents ?? []) found.push([object.Key, object.Size, object.ETag]);
      } while (page.IsTruncated);
      return found;
    };
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    const listed = await list(1000);
    const objects = [];
    for (const [key] of [...listed, ['gone/soon.csv']]) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).catch((err: Error) => err.name);
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })).then(
        async (answer) => [answer.ETag, createHash('sha256').update((await answer.Body?.transformToByteArray()) ?? new Uint8Array(0)).digest('hex')],
        (err: Error) => err.name,
      );
      objects.push({ key, head: typeof head === 'string' ? head : [head.ETag, head.ContentLength, head.ContentType, head.Metadata], got });
    }
    const copies = [copied, replaced, copiedBig].map((answer) => answer.CopyObjectResult?.ETag);
    return { listed, v2: (v2.Contents ?? []).map((o) => [o.Key, o.Size, o.ETag]), paged: await list(2), objects, copies };
  } finally {
    s3.destroy();
  }
}

/** The text of every metadata.json under `directory`, by relative path. */
function metadataTexts(directory: string): Record<string, string> {
  return Object.fromEntries(filesUnder(directory).filter((file) => file.endsWith('metadata.json')).map((file) => [file, readFileSync(join(directory, file), 'utf8')]));
}

/** Every file under `directory` (relative paths, sorted). */
function filesUnder(directory: string): string[] {
  return (readdirSync(directory, { recursive: true, withFileTypes: true }) as Array<import('node:fs').Dirent & { parentPath?: string; path?: string }>)
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path ?? '', entry.name).slice(directory.length + 1))
    .sort();
}

describe('the local S3 keeps no .md5 file for objects up to 1 MiB and answers as a plain s3rver does', () => {
  let plain: Awaited<ReturnType<typeof startPlainS3rver>>;
  let local: LocalServers;
  beforeAll(async () => {
    [plain, local] = await Promise.all([startPlainS3rver(), startLocalServers({ buckets: [BUCKET], s3Thread: true })]);
  });
  afterAll(async () => {
    await Promise.all([plain?.close(), local?.close()]);
  });

  it('answers HEAD, GET, CopyObject and ListObjects (paged too) and ListObjectsV2 the same for small, large, replaced, multipart, copied and deleted objects, with two files per small object', async () => {
    // Act
    const [viaPlain, viaLocal] = await Promise.all([exercise(plain.endpoint), exercise(local.s3Endpoint)]);

    // Assess: the same answers
    expect(viaLocal).toEqual(viaPlain);
    expect(viaLocal.listed.length).toBe(17);
    expect(viaLocal.objects.find((o) => o.key === 'gone/soon.csv')?.head).toBe('NotFound');
    // The files: a .md5 only beside the objects over 1 MiB (and beside a copied small source, which s3rver copies as a file)
    const md5Files = filesUnder(join(local.directory, BUCKET)).filter((file) => file.endsWith('.md5'));
    expect(md5Files).toEqual([
      'copies/big.bin._S3rver_object.md5',
      'copies/kept-metadata.csv._S3rver_object.md5',
      'processed/rides-1-000000.csv._S3rver_object.md5',
      'raw/big.bin._S3rver_object.md5',
      'shared/1.csv._S3rver_object.md5',
      'shared/3.csv._S3rver_object.md5',
      'swap/big-over-small.bin._S3rver_object.md5',
    ]);
    expect(existsSync(join(local.directory, BUCKET, 'processed', 'empty.csv._S3rver_metadata.json'))).toBe(true);
    // Every metadata.json holds what a plain s3rver's holds; objects with the same metadata share one inode
    expect(metadataTexts(join(local.directory, BUCKET))).toEqual(metadataTexts(join(plain.directory, BUCKET)));
    const inode = (key: string) => statSync(join(local.directory, BUCKET, `${key}._S3rver_metadata.json`)).ino;
    expect(new Set(['shared/4.csv', 'shared/5.csv', 'shared/6.csv'].map(inode)).size).toBe(1);
    expect(inode('shared/2.csv')).not.toBe(inode('shared/5.csv'));
    expect(statSync(join(local.directory, BUCKET, 'shared/7.csv._S3rver_metadata.json')).nlink).toBe(1);
    expect(new Set(['shared/1.csv', 'shared/3.csv', 'shared/7.csv', 'processed/rides-1-000000.csv'].map(inode)).size).toBe(4);
    // listObjectFiles reads the same ETags from the folder
    expect(local.listObjectFiles(BUCKET).map((o) => [o.key, o.size, o.etag()]).sort()).toEqual([...viaLocal.listed].sort());
  });

  it('shares no metadata.json between objects in a folder it was given (one a plain s3rver may write later)', async () => {
    // Arrange
    const directory = mkdtempSync(join(tmpdir(), 'rydes-kept-dir-'));
    const given = await startLocalServers({ buckets: [BUCKET], s3Thread: true, directory });
    const s3 = new S3Client({
      endpoint: given.s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1,
    });
    try {
      // Act
      for (const n of [1, 2]) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `kept/${n}.csv`, Body: `row ${n}\n`, ContentType: 'text/csv' }));

      // Assess
      const links = [1, 2].map((n) => statSync(join(directory, BUCKET, 'kept', `${n}.csv._S3rver_metadata.json`)).nlink);
      expect(links).toEqual([1, 1]);
    } finally {
      s3.destroy();
      await given.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('remembers at most 1,000 metadata texts to link to (the oldest forgotten), so objects with metadata of their own do not grow it per object', async () => {
    // Arrange
    const s3 = new S3Client({
      endpoint: local.s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1,
    });
    const put = (Key: string, n: number) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: `row ${n}\n`, ContentType: 'text/csv', Metadata: { n: String(n) } }));
    try {
      // Act: 1,001 distinct texts, then the first and the last once more
      for (let n = 0; n <= 1000; n++) await put(`own/${n}.csv`, n);
      await put('own/first-again.csv', 0);
      await put('own/last-again.csv', 1000);

      // Assess
      const at = (key: string) => statSync(join(local.directory, BUCKET, `${key}._S3rver_metadata.json`));
      expect(at('own/first-again.csv').nlink).toBe(1);
      expect(at('own/last-again.csv').ino).toBe(at('own/1000.csv').ino);
      const heads = await Promise.all(['own/0.csv', 'own/first-again.csv', 'own/last-again.csv'].map((Key) => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key }))));
      expect(heads.map((h) => h.Metadata)).toEqual([{ n: '0' }, { n: '0' }, { n: '1000' }]);
    } finally {
      s3.destroy();
    }
  });
});
