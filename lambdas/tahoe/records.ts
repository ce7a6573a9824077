/**
 * How an upload splits into records (DESIGN.md §3.5): one record per line for the NDJSON typetags (cowrie,
 * unr_honeypot, sighting), the whole upload as one record for everything else (email, the phishing feeds, whose
 * reference raw holds the whole list). Works on bytes, chunk by chunk, with bounded memory: a line longer than
 * the limit is skipped up to its end and reported, never buffered.
 *
 * Not node:readline: it decodes on the fly (invalid UTF-8 would silently become U+FFFD, which must instead be
 * reported as BAD_DATA per record) and it also breaks lines at a lone "\r", which is data in a record.
 */

export type RecordFraming = 'ndjson' | 'whole';

export const NDJSON_TYPETAGS: ReadonlySet<string> = new Set(['cowrie', 'unr_honeypot', 'sighting']);

export function framingFor(typetag: string): RecordFraming {
  return NDJSON_TYPETAGS.has(typetag) ? 'ndjson' : 'whole';
}

export interface RecordLimits {
  /** Largest NDJSON line, in bytes (without its line break). @default 1 MiB */
  readonly maxRecordBytes: number;
  /** Largest whole-upload record (email, feeds), in bytes. @default 32 MiB */
  readonly maxDocumentBytes: number;
}

export const DEFAULT_RECORD_LIMITS: RecordLimits = {
  maxRecordBytes: 1024 * 1024,
  maxDocumentBytes: 32 * 1024 * 1024,
};

export function recordLimitFor(framing: RecordFraming, limits: RecordLimits = DEFAULT_RECORD_LIMITS): number {
  return framing === 'ndjson' ? limits.maxRecordBytes : limits.maxDocumentBytes;
}

/** One record of an upload, in order. */
export type SplitRecord =
  | {
      /** 1-based position among the records of the upload (blank lines are not records). */
      readonly recordNo: number;
      /** 1-based line where the record starts (1 for a whole-upload record). */
      readonly line: number;
      /** The record's bytes, without the line break. */
      readonly bytes: Buffer;
    }
  | {
      readonly recordNo: number;
      readonly line: number;
      /** The record was over the limit: its bytes were dropped; `size` is its length in bytes. */
      readonly tooLarge: { readonly size: number; readonly limit: number };
    };

const LF = 0x0a;

/** A blank line: empty or only spaces, tabs and carriage returns. Skipped without being a record. */
function isBlank(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/**
 * Incremental splitter: `push` chunks as they arrive, then `end()`. Each call returns the records completed by
 * it. Memory is bounded by the record limit plus one chunk.
 */
export class RecordSplitter {
  private readonly limit: number;
  private parts: Buffer[] = [];
  private size = 0;
  private overflow = false;
  private line = 1;
  private startLine = 1;
  private recordNo = 0;

  constructor(
    readonly framing: RecordFraming,
    limits: RecordLimits = DEFAULT_RECORD_LIMITS,
  ) {
    this.limit = recordLimitFor(framing, limits);
  }

  push(chunk: Uint8Array | string): SplitRecord[] {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.framing === 'whole') {
      this.append(buf);
      return [];
    }
    const out: SplitRecord[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(LF, start);
      if (nl === -1) break;
      this.append(buf.subarray(start, nl));
      const rec = this.finish();
      if (rec) out.push(rec);
      this.line++;
      this.startLine = this.line;
      start = nl + 1;
    }
    if (start < buf.length) this.append(buf.subarray(start));
    return out;
  }

  end(): SplitRecord[] {
    const rec = this.finish(this.framing === 'whole');
    return rec ? [rec] : [];
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    this.size += piece.length;
    if (this.overflow) return;
    if (this.size > this.limit) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    // Copy: the caller may reuse its chunk buffer after push() returns.
    this.parts.push(Buffer.from(piece));
  }

  /** Closes the current record. A whole-upload record exists even when empty (an empty upload is one record). */
  private finish(always = false): SplitRecord | undefined {
    const size = this.size;
    const overflow = this.overflow;
    const parts = this.parts;
    this.parts = [];
    this.size = 0;
    this.overflow = false;
    if (overflow) {
      this.recordNo++;
      return { recordNo: this.recordNo, line: this.startLine, tooLarge: { size, limit: this.limit } };
    }
    const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
    if (!always && isBlank(bytes)) return undefined;
    this.recordNo++;
    return { recordNo: this.recordNo, line: this.startLine, bytes };
  }
}

/** Splits a byte stream into records (see {@link RecordSplitter}). */
export async function* splitRecords(
  source: AsyncIterable<Uint8Array | string>,
  framing: RecordFraming,
  limits: RecordLimits = DEFAULT_RECORD_LIMITS,
): AsyncGenerator<SplitRecord> {
  const splitter = new RecordSplitter(framing, limits);
  for await (const chunk of source) yield* splitter.push(chunk);
  yield* splitter.end();
}
