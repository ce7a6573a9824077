import { Readable } from 'node:stream';
import fc from 'fast-check';
import { framingFor, RecordSplitter, type SplitRecord, splitRecords } from '../../../lambdas/tahoe/records';

function splitAll(chunks: (string | Buffer)[], framing: 'ndjson' | 'whole', maxRecordBytes = 1024): SplitRecord[] {
  const s = new RecordSplitter(framing, { maxRecordBytes, maxDocumentBytes: maxRecordBytes * 4 });
  const out: SplitRecord[] = [];
  for (const c of chunks) out.push(...s.push(c));
  out.push(...s.end());
  return out;
}

function texts(records: SplitRecord[]): (string | { tooLarge: number })[] {
  return records.map((r) => ('bytes' in r ? r.bytes.toString('latin1') : { tooLarge: r.tooLarge.size }));
}

describe('record framing', () => {
  it('splits cowrie, unr_honeypot and sighting per line and keeps email and feeds whole', () => {
    expect(['cowrie', 'unr_honeypot', 'sighting'].map(framingFor)).toEqual(['ndjson', 'ndjson', 'ndjson']);
    expect(['email', 'openphish_feed', 'phishtank_feed', 'misp'].map(framingFor)).toEqual([
      'whole',
      'whole',
      'whole',
      'whole',
    ]);
  });
});

describe('RecordSplitter', () => {
  it('splits on LF only, keeps a CR as data and skips blank lines while counting them', () => {
    const recs = splitAll(['{"a":1}\r\n\n  \r\n{"b":\r2}\n', 'last'], 'ndjson');
    expect(texts(recs)).toEqual(['{"a":1}\r', '{"b":\r2}', 'last']);
    expect(recs.map((r) => [r.recordNo, r.line])).toEqual([
      [1, 1],
      [2, 4],
      [3, 5],
    ]);
  });

  it('gives the same records however the input is chunked (property)', () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'é', ' ', '\r', '\t', '{', '"'), maxLength: 12 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.array(fc.nat(40), { maxLength: 6 }), (lines, cuts) => {
        const whole = Buffer.from(lines.join('\n'), 'utf8');
        const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(whole.subarray(prev, p));
          prev = p;
        }
        chunks.push(whole.subarray(prev));
        expect(texts(splitAll(chunks, 'ndjson'))).toEqual(texts(splitAll([whole], 'ndjson')));
      }),
    );
  });

  it('reports an over-long line with its size and line number, drops its bytes and goes on', () => {
    const long = 'x'.repeat(5000);
    const recs = splitAll(['ok1\n', long.slice(0, 2000), long.slice(2000), '\nok2\n'], 'ndjson', 1000);
    expect(texts(recs)).toEqual(['ok1', { tooLarge: 5000 }, 'ok2']);
    expect(recs[1]).toMatchObject({ recordNo: 2, line: 2, tooLarge: { limit: 1000 } });
  });

  it('keeps a whole upload as one record, even an empty one, and bounds it too', () => {
    expect(texts(splitAll(['a\nb', '\n'], 'whole'))).toEqual(['a\nb\n']);
    expect(texts(splitAll([], 'whole'))).toEqual(['']);
    expect(texts(splitAll(['y'.repeat(3000), 'y'.repeat(3000)], 'whole', 1000))).toEqual([{ tooLarge: 6000 }]);
  });

  it('yields no record for an empty NDJSON upload', () => {
    expect(splitAll([], 'ndjson')).toEqual([]);
    expect(splitAll(['\n\n'], 'ndjson')).toEqual([]);
  });

  it('does not keep a reference to the caller’s chunk buffers', () => {
    const chunk = Buffer.from('abc');
    const s = new RecordSplitter('ndjson');
    s.push(chunk);
    chunk.fill(0x7a);
    expect(texts(s.end())).toEqual(['abc']);
  });

  it('splits a byte stream asynchronously', async () => {
    const out: SplitRecord[] = [];
    for await (const r of splitRecords(Readable.from([Buffer.from('1\n2'), Buffer.from('\n3')]), 'ndjson')) out.push(r);
    expect(texts(out)).toEqual(['1', '2', '3']);
  });
});
