import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { generateRides, parseRides, SkippedRecord, writeRides, type RawRecord, type ResumePoint } from '../src';
import { collectRides, readAll, SHAPES_AND_GZIP } from '../src/testing';

const rides = [...generateRides({ count: 40, seed: 5 })];

/** Every record of `file` with the resume point after each one, read in `chunkSize`-byte chunks. */
async function readWithPoints(file: Buffer, chunkSize: number): Promise<{ records: RawRecord[]; points: ResumePoint[] }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < file.length; i += chunkSize) chunks.push(file.subarray(i, i + chunkSize));
  const it = parseRides(Readable.from(chunks));
  const records: RawRecord[] = [];
  const points: ResumePoint[] = [];
  for await (const raw of it) {
    records.push(raw);
    points.push(it.resumePointAfter(raw));
  }
  return { records, points };
}

/** Records without `checked`, which says which path read a record (chunk boundaries decide that), not what it holds. */
function content(records: RawRecord[]): Array<Omit<RawRecord, 'checked'>> {
  return records.map(({ checked: _checked, ...rest }) => rest);
}

/** What a continuation reads: the bytes from the resume point (plain) or the whole object (gzip). */
function continuationInput(file: Buffer, point: ResumePoint): Buffer {
  return point.gzip ? file : file.subarray(point.byteOffset);
}

describe('parseRides: resuming just after a record (continuations without re-parsing the prefix)', () => {
  describe.each(SHAPES_AND_GZIP)('%s, gzip %s', (shape, gzip) => {
    it('yields, from every resume point, exactly the records after it with the same index, offsets and content', async () => {
      // Prepare
      const file = await readAll(writeRides(rides, { shape, gzip }));
      const { records, points } = await readWithPoints(file, 97);

      // Act + Assess: resume after each record, reading in odd-sized chunks
      expect(records).toHaveLength(rides.length);
      for (const [i, point] of points.entries()) {
        expect(point).toMatchObject({ index: i + 1, byteOffset: records[i].endOffset, gzip });
        const resumed = await collectRides(continuationInput(file, point), 13, { resume: point });
        expect({ after: i, error: resumed.error }).toEqual({ after: i, error: undefined });
        expect(content(resumed.records)).toEqual(content(records.slice(i + 1)));
      }
    });
  });

  it('names the layout it resumes in: array, wrapper or stream', async () => {
    const layouts = [];
    for (const shape of ['array', 'travel_data', 'concatenated', 'ndjson'] as const) {
      const { points } = await readWithPoints(await readAll(writeRides(rides.slice(0, 2), { shape })), 8);
      layouts.push(points[0].layout);
    }
    expect(layouts).toEqual(['array', 'wrapper', 'stream', 'stream']);
  });

  it('carries record-level rejects (oversize, too deep) and the wrapper\'s later members across a resume point', async () => {
    // Prepare: a wrapper with an oversize record, a deep one, and a member after the array
    const deep = '['.repeat(80) + ']'.repeat(80);
    const text = `{"travel_data": [{"name":"a"}, {"name":"${'x'.repeat(300)}"}, ${deep}, {"name":"b"}], "source": {"k": [1, 2]}}`;
    const file = Buffer.from(text);
    const options = { maxRecordBytes: 100, maxDepth: 8 };
    const it = parseRides(Readable.from([file]), options);
    const whole: RawRecord[] = [];
    for await (const raw of it) whole.push(raw);

    // Act
    const point = it.resumePointAfter(whole[0]);
    const resumed = await collectRides(file.subarray(point.byteOffset), 3, { ...options, resume: point });

    // Assess
    expect(resumed.error).toBeUndefined();
    expect(resumed.records.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(content(resumed.records)).toEqual(content(whole.slice(1)));
    expect((resumed.records[0].record as SkippedRecord).reason).toMatch(/exceeds the 100-byte limit/);
  });

  it('resumes after the last record to nothing, and fails with the same error and offset as a read from the start', async () => {
    // Prepare
    const complete = Buffer.from('[{"name":"a"},{"name":"b"}]');
    const truncated = Buffer.from('[{"name":"a"},{"name":"b"},{"name":');
    const points = await Promise.all([complete, truncated].map(async (file) => {
      const it = parseRides(Readable.from([file]));
      const got: RawRecord[] = [];
      try {
        for await (const raw of it) got.push(raw);
      } catch {
        // the truncated file: its error is compared below
      }
      return it.resumePointAfter(got[1]);
    }));

    // Act
    const end = await collectRides(complete.subarray(points[0].byteOffset), 1, { resume: points[0] });
    const fromStart = await collectRides(truncated, 5);
    const fromPoint = await collectRides(truncated.subarray(points[1].byteOffset), 5, { resume: points[1] });

    // Assess
    expect(end).toEqual({ records: [] });
    expect(fromPoint.error?.message).toBe(fromStart.error?.message);
    expect(fromPoint.error).toMatchObject({ byteOffset: fromStart.error?.byteOffset, lastGoodIndex: 1 });
  });

  it('refuses a gzip file shorter than the resume point, naming it', async () => {
    const file = gzipSync('[{"name":"a"}]');
    const resumed = await collectRides(file, 4, { resume: { index: 1, byteOffset: 500, layout: 'array', gzip: true } });
    expect(resumed.error?.message).toMatch(/ends before the resume point at byte 500/);
  });

  it('rejects a resume point that is not just after a record, and a request for one after a record it never yielded', async () => {
    expect(() => parseRides(Readable.from([]), { resume: { index: 0, byteOffset: 0, layout: 'array', gzip: false } })).toThrow(/integers >= 1/);
    const it = parseRides(Readable.from([Buffer.from('[{"name":"a"}]')]));
    expect(() => it.resumePointAfter({ index: 0, endOffset: 14 })).toThrow(/pass a record this iterator yielded/);
  });
});
