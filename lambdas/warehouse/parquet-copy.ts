/**
 * Reads a TAHOE Parquet file with hyparquet and writes its rows as PostgreSQL COPY text (tab-separated, `\N` for
 * NULL, backslash escapes), one row group at a time: memory holds one row group's decoded columns and one chunk of
 * text, whatever the file's size. Both PostgreSQL adapters feed this text to `COPY … FROM STDIN` (the server) or
 * `COPY … FROM '/dev/blob'` (PGlite).
 *
 * The file must have exactly the table's columns, in order, with the physical types the schema source gives
 * (lambdas/parquet/parquet-schema.ts): anything else is refused before a row is read, as Redshift's COPY refuses a
 * file whose columns do not line up.
 *
 * Values keep their exact meaning: int64 as decimal text; doubles in JavaScript's shortest round-trip form
 * (PostgreSQL reads it back to the same binary64, NaN and ±Infinity included); timestamps from their raw
 * microseconds (hyparquet would otherwise round them to milliseconds through Date).
 */
import { open } from 'node:fs/promises';
import type { AsyncBuffer, FileMetaData, SchemaElement } from 'hyparquet';
import { parquetMetadataAsync, parquetRead } from 'hyparquet';
import { parquetColumn } from '../parquet/parquet-schema';
import type { ColumnSpec } from '../schema/tables';
import { TABLES } from '../schema/tables';
import type { TahoeTable } from '../shared/s3-keys';

/** The file is not a readable TAHOE Parquet file of the expected table. */
export class ParquetFileError extends Error {
  override readonly name = 'ParquetFileError';
}

/** Rows per emitted text chunk: large enough to amortise the COPY protocol, small enough to stay a few MB. */
const ROWS_PER_CHUNK = 2048;

const ESCAPES = /[\\\n\r\t]/g;
const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const NEEDS_ESCAPE = /[\\\n\r\t]/;

function textCell(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPES, (c) => ESCAPED[c] as string) : value;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Microseconds since the epoch → `YYYY-MM-DD HH:MM:SS.ffffff+00`, exactly. */
export function microsToTimestampText(micros: bigint): string {
  let seconds = micros / 1_000_000n;
  let frac = micros % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    seconds -= 1n;
  }
  const d = new Date(Number(seconds) * 1000);
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) throw new ParquetFileError(`timestamp out of range: ${micros} µs`);
  return (
    `${String(y).padStart(4, '0')}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(frac).padStart(6, '0')}+00`
  );
}

type Cell = (value: unknown) => string;

function cellEncoder(column: ColumnSpec, where: string): Cell {
  const bad = (value: unknown): never => {
    throw new ParquetFileError(`${where}.${column.name}: unexpected value ${String(value).slice(0, 40)}`);
  };
  const nullable = column.nullable;
  const nullCell = (): string => (nullable ? '\\N' : bad(null));
  switch (column.type) {
    case 'string':
      return (v) => (typeof v === 'string' ? textCell(v) : v == null ? nullCell() : bad(v));
    case 'int32':
      return (v) => (typeof v === 'number' ? String(v) : v == null ? nullCell() : bad(v));
    case 'int64':
      return (v) => (typeof v === 'bigint' || typeof v === 'number' ? String(v) : v == null ? nullCell() : bad(v));
    case 'double':
      return (v) => (typeof v === 'number' ? String(v) : v == null ? nullCell() : bad(v));
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? (v ? 't' : 'f') : v == null ? nullCell() : bad(v));
    case 'timestamp':
      return (v) => (typeof v === 'bigint' ? microsToTimestampText(v) : v == null ? nullCell() : bad(v));
  }
}

/** Throws ParquetFileError unless the file's schema is the table's, column for column. */
export function checkSchema(metadata: FileMetaData, table: TahoeTable): void {
  const spec = TABLES[table];
  const leaves = metadata.schema.slice(1);
  const names = leaves.map((l) => l.name);
  const expected = spec.columns.map((c) => c.name);
  if (names.join(',') !== expected.join(',')) {
    throw new ParquetFileError(`columns ${names.join(', ')} are not ${table}'s (${expected.join(', ')})`);
  }
  spec.columns.forEach((c, i) => {
    const want: SchemaElement = parquetColumn(c);
    const got = leaves[i] as SchemaElement;
    if (got.type !== want.type || (got.num_children ?? 0) !== 0) {
      throw new ParquetFileError(`${table}.${c.name}: physical type ${got.type ?? 'group'}, expected ${want.type}`);
    }
    if (got.repetition_type === 'REPEATED' || (!c.nullable && got.repetition_type !== 'REQUIRED')) {
      throw new ParquetFileError(
        `${table}.${c.name}: repetition ${got.repetition_type}, expected ${want.repetition_type}`,
      );
    }
  });
}

/** A Parquet file in memory. */
export function bufferSource(bytes: Uint8Array): AsyncBuffer {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return { byteLength: ab.byteLength, slice: (start, end) => ab.slice(start, end) };
}

/** A Parquet file on disk, read by ranges through one open handle. Close it with `close()`. */
export async function fileSource(path: string): Promise<AsyncBuffer & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    byteLength: size,
    async slice(start, end) {
      const stop = end === undefined ? size : Math.min(end, size);
      const buf = Buffer.allocUnsafe(Math.max(0, stop - start));
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await handle.read(buf, done, buf.length - done, start + done);
        if (bytesRead === 0) throw new ParquetFileError('file ends early');
        done += bytesRead;
      }
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
    },
    close: () => handle.close(),
  };
}

export interface CopyTextStats {
  rows: number;
}

/**
 * The rows of a Parquet file as COPY text chunks, row group by row group. `stats.rows` is the number of rows
 * emitted so far. Any problem with the file surfaces as ParquetFileError from the iterator.
 */
export async function* parquetCopyText(
  file: AsyncBuffer,
  table: TahoeTable,
  stats: CopyTextStats = { rows: 0 },
): AsyncGenerator<Buffer> {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new ParquetFileError(`not a Parquet file: ${(err as Error).message}`, { cause: err });
  }
  checkSchema(metadata, table);
  const spec = TABLES[table];
  const names: string[] = spec.columns.map((c) => c.name);
  const encoders = spec.columns.map((c) => cellEncoder(c, table));
  const width = names.length;
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupRows = Number(group.num_rows);
    const groupEnd = groupStart + groupRows;
    const columns: unknown[][] = names.map(() => new Array(groupRows));
    try {
      await parquetRead({
        file,
        metadata,
        rowStart: groupStart,
        rowEnd: groupEnd,
        columns: names,
        // Keep timestamps as raw microseconds (bigint): the default parser makes a millisecond Date.
        parsers: { timestampFromMicroseconds: (micros: bigint) => micros as unknown as Date },
        onChunk: ({ columnName, columnData, rowStart, rowEnd }) => {
          const target = columns[names.indexOf(columnName)];
          if (!target) return;
          const from = Math.max(rowStart, groupStart);
          const to = Math.min(rowEnd, groupEnd);
          for (let r = from; r < to; r++) target[r - groupStart] = columnData[r - rowStart];
        },
      });
    } catch (err) {
      if (err instanceof ParquetFileError) throw err;
      throw new ParquetFileError(`row group at row ${groupStart}: ${(err as Error).message}`, { cause: err });
    }
    let text = '';
    let inChunk = 0;
    for (let r = 0; r < groupRows; r++) {
      let line = '';
      for (let c = 0; c < width; c++) {
        if (c > 0) line += '\t';
        line += (encoders[c] as Cell)((columns[c] as unknown[])[r]);
      }
      text += `${line}\n`;
      if (++inChunk === ROWS_PER_CHUNK) {
        stats.rows += inChunk;
        yield Buffer.from(text, 'utf8');
        text = '';
        inChunk = 0;
      }
    }
    if (inChunk > 0) {
      stats.rows += inChunk;
      yield Buffer.from(text, 'utf8');
    }
    groupStart = groupEnd;
  }
  const declared = Number(metadata.num_rows);
  if (stats.rows !== declared) throw new ParquetFileError(`read ${stats.rows} rows, the footer says ${declared}`);
}
