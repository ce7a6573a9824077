/**
 * The quarantine file of a raw object (DESIGN.md §3.3, §3.5): one JSON line per record that did not end as a
 * SUCCESS or SUCCESS-invalid, gzip-compressed, stored at `quarantine/tenant=<t>/dt=<d>/<raw-sha256>.jsonl.gz`.
 *
 * A line (keys in this order, snake_case like the warehouse):
 * ```json
 * {"line":7,"record_no":6,"outcome":"BAD_DATA","stage":"decode","error_type":"UnicodeDecodeError",
 *  "reason":"record is not valid UTF-8","raw_hash":null,
 *  "record":{"encoding":"base64","data":"q83v","bytes":3,"sha256":"…","truncated":false}}
 * ```
 * - `line`: 1-based line of the object where the record starts (1 for whole-file records); `record_no`: its
 *   1-based position among the object's records, as in `tahoe_raw.record_no`.
 * - `outcome`: NOT_SUPPORTED, ERROR or BAD_DATA; `stage`: decode | parsemain | filter; `error_type`: the Python
 *   exception class the reference raises in that case (or our own name where it has none, e.g. RecordTooLarge).
 * - `raw_hash`: for ERROR (a filter raised), the `_hash` of the raw that was kept in `tahoe_raw`; otherwise null.
 * - `record`: the record itself, `encoding` `utf8` (valid UTF-8: `data` is the text) or `base64` (anything else),
 *   cut to the first {@link QUARANTINE_RECORD_BYTES} bytes (`truncated: true`; text is cut at a character
 *   boundary), with the record's full length in bytes and the SHA-256 of all of its bytes, so that a reader can
 *   find it in the raw object and check it. A record over the size limit was never held in memory (records.ts):
 *   it is listed with `encoding` and `data` null, its length, and `sha256` null.
 *
 * Lines are written in record order, so the same object gives the same file on every attempt.
 */

import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, type Gzip } from 'node:zlib';
import type { TahoeRecordResult } from '../tahoe/parsemain';

/** How much of a quarantined record is kept in the quarantine file (the raw object keeps all of it). */
export const QUARANTINE_RECORD_BYTES = 64 * 1024;

export type QuarantinedOutcome = 'NOT_SUPPORTED' | 'ERROR' | 'BAD_DATA';

export interface QuarantineRecord {
  readonly encoding: 'utf8' | 'base64' | null;
  readonly data: string | null;
  readonly bytes: number;
  readonly sha256: string | null;
  readonly truncated: boolean;
}

export interface QuarantineEntry {
  readonly line: number;
  readonly record_no: number;
  readonly outcome: QuarantinedOutcome;
  readonly stage: string;
  readonly error_type: string | null;
  readonly reason: string;
  readonly raw_hash: string | null;
  readonly record: QuarantineRecord;
}

/** Where a record starts in the object. */
export interface RecordPosition {
  readonly line: number;
  readonly recordNo: number;
}

/** Backs off from `end` to the start of a UTF-8 character (never cuts a multi-byte sequence in two). */
function utf8Boundary(bytes: Uint8Array, end: number): number {
  let i = end;
  // Continuation bytes are 10xxxxxx; at most three precede the character's last byte.
  while (i > 0 && i > end - 4 && ((bytes[i] ?? 0) & 0xc0) === 0x80) i--;
  return i;
}

export function quarantineRecord(bytes: Uint8Array | null, size: number): QuarantineRecord {
  if (bytes === null) return { encoding: null, data: null, bytes: size, sha256: null, truncated: true };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sha256 = createHash('sha256').update(buf).digest('hex');
  const truncated = buf.length > QUARANTINE_RECORD_BYTES;
  if (isUtf8(buf)) {
    const end = truncated ? utf8Boundary(buf, QUARANTINE_RECORD_BYTES) : buf.length;
    return { encoding: 'utf8', data: buf.toString('utf8', 0, end), bytes: buf.length, sha256, truncated };
  }
  const cut = truncated ? buf.subarray(0, QUARANTINE_RECORD_BYTES) : buf;
  return { encoding: 'base64', data: cut.toString('base64'), bytes: buf.length, sha256, truncated };
}

/**
 * The quarantine line of a record. `bytes` is null when the splitter dropped the record for its size, in which
 * case `size` is its length.
 */
export function quarantineEntry(
  at: RecordPosition,
  result: TahoeRecordResult,
  bytes: Uint8Array | null,
  size: number,
): QuarantineEntry {
  const outcome = result.outcome;
  if (outcome === 'SUCCESS' || outcome === 'SUCCESS_INVALID') {
    throw new Error(`a ${outcome} record is not quarantined`);
  }
  return {
    line: at.line,
    record_no: at.recordNo,
    outcome,
    stage: result.stage ?? 'parsemain',
    error_type: result.errorType ?? null,
    reason: result.reason ?? outcome,
    raw_hash: result.raw?.hash ?? null,
    record: quarantineRecord(bytes, size),
  };
}

/** Below this many bytes, lines are gathered before they go to gzip (one zlib call per line would be slow). */
const BATCH_BYTES = 64 * 1024;

/**
 * Streams quarantine lines into a gzip file (in the work folder; uploaded only once the object authenticated).
 * The file is created on the first line: an object without quarantined records has no quarantine file.
 */
export class QuarantineWriter {
  private gzip: Gzip | undefined;
  private done: Promise<void> | undefined;
  private failure: unknown;
  private batch: string[] = [];
  private batchBytes = 0;
  private count = 0;

  constructor(readonly path: string) {}

  /** Lines written so far. */
  get entries(): number {
    return this.count;
  }

  async write(entry: QuarantineEntry): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    this.batch.push(line);
    this.batchBytes += line.length;
    this.count++;
    if (this.batchBytes >= BATCH_BYTES) await this.flushBatch();
  }

  /** Finishes the file; resolves once it is complete on disk. Returns false when no line was written. */
  async end(): Promise<boolean> {
    if (this.count === 0) return false;
    await this.flushBatch();
    const gzip = this.gzip as Gzip;
    gzip.end();
    await this.done;
    if (this.failure !== undefined) throw this.failure;
    return true;
  }

  /** Stops writing (the file is then removed with the work folder). */
  abort(): void {
    this.gzip?.destroy();
  }

  private open(): Gzip {
    if (this.gzip) return this.gzip;
    const gzip = createGzip();
    const file: Writable = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
    this.gzip = gzip;
    this.done = pipeline(gzip, file).catch((err: unknown) => {
      this.failure ??= err;
    });
    return gzip;
  }

  private async flushBatch(): Promise<void> {
    if (this.batch.length === 0) return;
    if (this.failure !== undefined) throw this.failure;
    const gzip = this.open();
    const chunk = Buffer.from(this.batch.join(''), 'utf8');
    this.batch = [];
    this.batchBytes = 0;
    if (!gzip.write(chunk)) {
      await Promise.race([once(gzip, 'drain'), this.done]);
      if (this.failure !== undefined) throw this.failure;
    }
  }
}
