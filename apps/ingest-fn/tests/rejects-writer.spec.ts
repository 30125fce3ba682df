import { countRequests, createS3Client } from '@rydes/aws-adapters';
import { RejectsWriter } from '../src/rejects-writer';
import { BUCKET, keysUnder, readText, startStack, type Stack } from './helpers/stack';

describe('RejectsWriter (real s3rver)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('streams lines into a multipart upload once they pass 5 MiB, keeping every line in order', async () => {
    // Prepare
    const s3 = createS3Client(stack.local.env);
    const counts = countRequests(s3, {});
    const writer = new RejectsWriter(s3, BUCKET, 'rejects/streamed-0000aaaa.ndjson');
    const record = { note: 'y'.repeat(400) };
    // Act: about 12 MB of lines
    for (let index = 0; index < 25_000; index++) await writer.add({ index, reasons: ['latitude: missing'], record });
    await writer.close();
    // Assess
    expect(counts.CreateMultipartUploadCommand).toBe(1);
    expect(counts.UploadPartCommand).toBe(3);
    const lines = (await readText(s3, 'rejects/streamed-0000aaaa.ndjson')).trimEnd().split('\n');
    expect(lines).toHaveLength(25_000);
    expect(lines.map((l) => JSON.parse(l).index)).toEqual(Array.from({ length: 25_000 }, (_, i) => i));
    s3.destroy();
  }, 30_000);

  it('writes nothing when there were no rejects', async () => {
    await new RejectsWriter(stack.s3, BUCKET, 'rejects/none-0000bbbb.ndjson').close();
    expect(await keysUnder(stack.s3, 'rejects/none-')).toEqual([]);
  });
});
