import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  QUARANTINE_RECORD_BYTES,
  QuarantineWriter,
  quarantineEntry,
  quarantineRecord,
} from '../../../lambdas/process/quarantine';
import { oversizeResult, parsemain } from '../../../lambdas/tahoe/parsemain';
import { parseQuarantine } from './outputs';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('quarantine records', () => {
  test('keeps valid UTF-8 as text and anything else as base64, with length and hash', () => {
    const textual = Buffer.from('{"user": "jos\u00e9"}');
    expect(quarantineRecord(textual, textual.length)).toEqual({
      encoding: 'utf8',
      data: '{"user": "jos\u00e9"}',
      bytes: textual.length,
      sha256: sha(textual),
      truncated: false,
    });
    const binary = Buffer.from([0xc3, 0x28, 0x00]);
    expect(quarantineRecord(binary, 3)).toEqual({
      encoding: 'base64',
      data: 'wygA',
      bytes: 3,
      sha256: sha(binary),
      truncated: false,
    });
  });

  test('cuts a long record to the documented size at a character boundary, hashing all of it', () => {
    // 'é' is two bytes: an odd limit would split one in two.
    const long = Buffer.from(`x${'\u00e9'.repeat(QUARANTINE_RECORD_BYTES)}`);
    const r = quarantineRecord(long, long.length);
    expect(r).toMatchObject({ encoding: 'utf8', bytes: long.length, sha256: sha(long), truncated: true });
    const kept = Buffer.from(r.data as string, 'utf8');
    expect(kept.length).toBeLessThanOrEqual(QUARANTINE_RECORD_BYTES);
    expect(kept.length).toBeGreaterThan(QUARANTINE_RECORD_BYTES - 4);
    expect(long.subarray(0, kept.length).equals(kept)).toBe(true);
    expect(r.data).not.toContain('\ufffd');

    const binary = Buffer.alloc(QUARANTINE_RECORD_BYTES + 10, 0xff);
    const b = quarantineRecord(binary, binary.length);
    expect(Buffer.from(b.data as string, 'base64').length).toBe(QUARANTINE_RECORD_BYTES);
    expect(b.truncated).toBe(true);
  });

  test('lists a record dropped for its size by its length alone', () => {
    const entry = quarantineEntry({ line: 9, recordNo: 7 }, oversizeResult(5_000_000, 1_048_576), null, 5_000_000);
    expect(entry).toEqual({
      line: 9,
      record_no: 7,
      outcome: 'BAD_DATA',
      stage: 'decode',
      error_type: 'RecordTooLarge',
      reason: 'record is 5000000 bytes, over the 1048576-byte limit',
      raw_hash: null,
      record: { encoding: null, data: null, bytes: 5_000_000, sha256: null, truncated: true },
    });
  });

  test('refuses to quarantine a record that succeeded', () => {
    const ok = parsemain('cowrie', 'a'.repeat(64), 'UTC', 'not json', { receivedAt: 0 });
    expect(ok.outcome).toBe('SUCCESS_INVALID');
    expect(() => quarantineEntry({ line: 1, recordNo: 1 }, ok, Buffer.from('not json'), 8)).toThrow();
  });
});

describe('QuarantineWriter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'quarantine-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('writes every line, in order, as gzip JSON lines', async () => {
    const writer = new QuarantineWriter(join(dir, 'q.jsonl.gz'));
    const bad = parsemain('cowrie', 'a'.repeat(64), 'UTC', Buffer.from([0xff]), { receivedAt: 0 });
    for (let i = 1; i <= 3000; i++)
      await writer.write(quarantineEntry({ line: i, recordNo: i }, bad, Buffer.from([0xff]), 1));
    expect(await writer.end()).toBe(true);
    const lines = parseQuarantine(readFileSync(join(dir, 'q.jsonl.gz')));
    expect(lines.map((l) => l.line)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  test('creates no file when nothing was quarantined', async () => {
    const writer = new QuarantineWriter(join(dir, 'q.jsonl.gz'));
    expect(await writer.end()).toBe(false);
    expect(() => readFileSync(join(dir, 'q.jsonl.gz'))).toThrow(/ENOENT/);
  });
});
