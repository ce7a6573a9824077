/**
 * Encodes one part — a complete Parquet file with a single row group — from column arrays.
 *
 * Why not hyparquet-writer's own file writer: in the pinned version it writes only DATA_PAGE_V2 pages, and Redshift
 * is documented nowhere to read those. We keep its building blocks (dictionary selection, RLE/bit-packed hybrid,
 * PLAIN for fixed-width values, Snappy, the Thrift page headers and footer) and lay out data page v1 ourselves.
 *
 * What Redshift documents for `COPY … FORMAT AS PARQUET` (docs.aws.amazon.com/redshift/latest/dg/
 * copy-usage_notes-copy-from-columnar.html): COPY reads the files through Redshift Spectrum, maps file columns to
 * table columns by position (same count, same order) and fails the whole command on the first bad value. It lists
 * neither the page versions nor the timestamp encodings it accepts, so the layout below sticks to what every
 * reader handles and what parquet-mr and pyarrow write by default:
 * - data page v1 (DATA_PAGE); DATA_PAGE_V2 is still refused by some engines (e.g. Snowflake, per apache/iceberg-go
 *   #800) and was unread by parquet-cpp until PARQUET-1482;
 * - SNAPPY on every page;
 * - dictionary pages and dictionary-encoded data pages labelled PLAIN_DICTIONARY, the format-1.0 names that
 *   parquet-mr's v1 writer uses (format 2.0 renamed them PLAIN / RLE_DICTIONARY; readers accept both);
 * - definition levels RLE/bit-packed with the 4-byte length prefix of v1 pages, inside the compressed body;
 * - timestamps as INT64 TIMESTAMP(MICROS, isAdjustedToUTC) with the legacy TIMESTAMP_MICROS annotation too (the
 *   deprecated INT96 was once the only timestamp Spectrum read — apache/arrow#16721 — but is not needed today).
 *
 * The output is a pure function of the rows and of the pinned library versions: no clock, no random, no host
 * names, so that re-processing an object writes byte-identical parts (create-only keys then compare equal).
 */
import type { ColumnChunk, DecodedArray, Encoding, FileMetaData, SchemaElement, Statistics } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { useDictionary } from 'hyparquet-writer/src/dictionary.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { writePlain } from 'hyparquet-writer/src/plain.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';

/**
 * Identifies the layout and the encoders (whose versions change the bytes), so that a reader that finds a bug in
 * them can recognise the files that have it. A test keeps the versions in step with node_modules.
 */
export const CREATED_BY = 'cyberactive parquet version 1 (build hyparquet-writer 0.17.0)';

/** Target uncompressed size of a data page, as parquet-mr and pyarrow use. */
const PAGE_BYTES = 1024 * 1024;
/**
 * Beyond this many distinct-value bytes a column chunk falls back to PLAIN (parquet-mr's default dictionary page
 * size), so that a dictionary page is never much larger than a data page.
 */
const DICTIONARY_BYTES = 1024 * 1024;

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // "PAR1"

/*
 * Snappy is hyparquet-writer's JavaScript compressor, which clears its hash table on every call, so its output
 * depends on the input alone. hysnappy (WebAssembly) compresses about twice as fast, but its 1.1.1 output for a
 * given input varies with what the same instance compressed before (valid Snappy either way, yet not
 * byte-identical), which would break the determinism this file promises.
 */

/** Non-null values in their physical representation. */
export type PhysicalValues = string[] | boolean[] | Int32Array | BigInt64Array | Float64Array;

export interface ColumnInput {
  readonly element: SchemaElement;
  /** OPTIONAL columns: one entry per row, 1 when the row has a value, 0 for null. REQUIRED columns: null. */
  readonly defined: Uint8Array | null;
  /** The non-null values, in row order, exactly as many as there are defined rows. */
  readonly values: PhysicalValues;
}

export interface PartInput {
  readonly schema: SchemaElement[];
  readonly columns: readonly ColumnInput[];
  readonly rowCount: number;
  readonly keyValueMetadata?: { key: string; value: string }[];
}

/** Collects the file as a list of exact-size chunks and joins them once, so no buffer ever doubles. */
class Output {
  private readonly chunks: Uint8Array[] = [];
  length = 0;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.byteLength;
  }

  join(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

function owned(bytes: Uint8Array): Uint8Array {
  // ByteWriter hands out a view of a buffer that may be twice its content; keep only the content.
  return bytes.slice();
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  return Buffer.concat(parts);
}

/** PLAIN BYTE_ARRAY: a 4-byte little-endian length, then the UTF-8 bytes. Strings were checked well-formed. */
function plainStrings(values: readonly string[], start: number, end: number): Uint8Array {
  let total = 0;
  for (let i = start; i < end; i++) total += 4 + Buffer.byteLength(values[i] as string, 'utf8');
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = start; i < end; i++) {
    const written = out.write(values[i] as string, at + 4, 'utf8');
    out.writeUInt32LE(written, at);
    at += 4 + written;
  }
  if (at !== total) throw new Error(`PLAIN byte array size mismatch (${at} of ${total} bytes)`);
  return out;
}

function plainValues(element: SchemaElement, values: PhysicalValues | unknown[], start: number, end: number) {
  if (element.type === 'BYTE_ARRAY') return plainStrings(values as string[], start, end);
  const range = Array.isArray(values) ? values.slice(start, end) : values.subarray(start, end);
  const w = new ByteWriter(Math.max(16, (end - start) * 8));
  writePlain(w, range as DecodedArray, element.type as NonNullable<SchemaElement['type']>, undefined);
  return w.getBytes();
}

function valueSize(element: SchemaElement, values: PhysicalValues, i: number): number {
  switch (element.type) {
    case 'BYTE_ARRAY':
      // UTF-16 length: exact for the ASCII that dominates, an estimate otherwise, which is all a page target needs.
      return 4 + (values[i] as string).length;
    case 'BOOLEAN':
      return 0.125;
    case 'INT32':
      return 4;
    default:
      return 8;
  }
}

function pageHeaderBytes(header: Parameters<typeof writePageHeader>[1]): Uint8Array {
  const w = new ByteWriter(64);
  writePageHeader(w, header);
  return owned(w.getBytes());
}

/** Min/max of a numeric chunk (NaN never bounds, and ±0 are widened as the format asks), null count of all. */
function statistics(column: ColumnInput, rowCount: number): Statistics {
  const stats: Statistics = { null_count: BigInt(rowCount - column.values.length) };
  const { type } = column.element;
  if (type !== 'INT32' && type !== 'INT64' && type !== 'DOUBLE') return stats;
  const values = column.values as Int32Array | BigInt64Array | Float64Array;
  let min: number | bigint | undefined;
  let max: number | bigint | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number | bigint;
    if (typeof v === 'number' && Number.isNaN(v)) continue;
    if (min === undefined || v < min) min = v;
    if (max === undefined || v > max) max = v;
  }
  if (min === undefined || max === undefined) return stats;
  if (min === 0) min = -0;
  if (max === 0) max = 0;
  return { ...stats, min_value: min, max_value: max };
}

interface Dictionary {
  readonly values: unknown[];
  readonly indexes: number[];
  readonly bitWidth: number;
}

function chooseDictionary(column: ColumnInput): Dictionary | undefined {
  const { type } = column.element;
  const { values } = column;
  if (type === 'BOOLEAN' || values.length === 0) return undefined;
  // Dictionary keys compare with SameValueZero, which would fold -0 into 0: keep such a chunk PLAIN and exact.
  if (values instanceof Float64Array && values.some((v) => Object.is(v, -0))) return undefined;
  const { dictionary, indexes } = useDictionary(
    values as DecodedArray,
    type as NonNullable<SchemaElement['type']>,
    undefined,
    undefined,
    DICTIONARY_BYTES,
    true,
  );
  if (!dictionary || !indexes) return undefined;
  // One bit at least: a zero bit width is legal but some readers have mishandled it (Arrow writes 1 too).
  return { values: dictionary, indexes, bitWidth: Math.max(1, Math.ceil(Math.log2(dictionary.length))) };
}

function writeColumnChunk(out: Output, column: ColumnInput, rowCount: number): ColumnChunk {
  const { element, defined } = column;
  const chunkStart = out.length;
  let uncompressed = 0;
  const dictionary = chooseDictionary(column);
  const valueEncoding: Encoding = dictionary ? 'PLAIN_DICTIONARY' : 'PLAIN';

  let dictionaryPageOffset: bigint | undefined;
  if (dictionary) {
    dictionaryPageOffset = BigInt(out.length);
    const body = plainValues(element, dictionary.values, 0, dictionary.values.length);
    const compressed = owned(snappyCompress(body));
    const header = pageHeaderBytes({
      type: 'DICTIONARY_PAGE',
      uncompressed_page_size: body.byteLength,
      compressed_page_size: compressed.byteLength,
      dictionary_page_header: { num_values: dictionary.values.length, encoding: 'PLAIN_DICTIONARY' },
    });
    out.push(header);
    out.push(compressed);
    uncompressed += header.byteLength + body.byteLength;
  }

  const dataPageOffset = BigInt(out.length);
  let pages = 0;
  let rowStart = 0;
  let valueStart = 0;
  while (rowStart < rowCount) {
    // A page ends once its values reach the target size; a single large value makes a page of its own.
    let rowEnd = rowStart;
    let valueEnd = valueStart;
    let bytes = 0;
    while (rowEnd < rowCount && (rowEnd === rowStart || bytes < PAGE_BYTES)) {
      if (!defined || defined[rowEnd] === 1) {
        bytes += dictionary ? dictionary.bitWidth / 8 : valueSize(element, column.values, valueEnd);
        valueEnd++;
      }
      rowEnd++;
    }

    const parts: Uint8Array[] = [];
    if (defined) {
      // v1 pages keep the levels inside the compressed body, prefixed by their byte length.
      const levels = new ByteWriter(Math.max(16, (rowEnd - rowStart) >> 2));
      levels.appendUint32(0);
      const length = writeRleBitPackedHybrid(levels, defined.subarray(rowStart, rowEnd), 1);
      levels.view.setUint32(0, length, true);
      parts.push(levels.getBytes());
    }
    if (dictionary) {
      const indexes = new ByteWriter(Math.max(16, ((valueEnd - valueStart) * dictionary.bitWidth) >> 3));
      indexes.appendUint8(dictionary.bitWidth);
      writeRleBitPackedHybrid(indexes, dictionary.indexes.slice(valueStart, valueEnd), dictionary.bitWidth);
      parts.push(indexes.getBytes());
    } else {
      parts.push(plainValues(element, column.values, valueStart, valueEnd));
    }
    const body = concat(parts);
    const compressed = owned(snappyCompress(body));
    const header = pageHeaderBytes({
      type: 'DATA_PAGE',
      uncompressed_page_size: body.byteLength,
      compressed_page_size: compressed.byteLength,
      data_page_header: {
        num_values: rowEnd - rowStart,
        encoding: valueEncoding,
        definition_level_encoding: 'RLE',
        repetition_level_encoding: 'RLE',
      },
    });
    out.push(header);
    out.push(compressed);
    uncompressed += header.byteLength + body.byteLength;
    pages++;
    rowStart = rowEnd;
    valueStart = valueEnd;
  }
  if (valueStart !== column.values.length) {
    throw new Error(`column ${element.name}: ${column.values.length} values for ${valueStart} defined rows`);
  }

  // Listed in the order of the format's Encoding enum, so that the footer does not depend on code paths.
  const encodings: Encoding[] = dictionary ? ['PLAIN_DICTIONARY', 'RLE'] : ['PLAIN', 'RLE'];
  return {
    file_offset: BigInt(chunkStart),
    meta_data: {
      type: element.type as NonNullable<SchemaElement['type']>,
      encodings,
      path_in_schema: [element.name],
      codec: 'SNAPPY',
      num_values: BigInt(rowCount),
      total_uncompressed_size: BigInt(uncompressed),
      total_compressed_size: BigInt(out.length - chunkStart),
      data_page_offset: dataPageOffset,
      ...(dictionaryPageOffset === undefined ? {} : { dictionary_page_offset: dictionaryPageOffset }),
      statistics: statistics(column, rowCount),
      encoding_stats: [
        ...(dictionary
          ? [{ page_type: 'DICTIONARY_PAGE' as const, encoding: 'PLAIN_DICTIONARY' as const, count: 1 }]
          : []),
        { page_type: 'DATA_PAGE', encoding: valueEncoding, count: pages },
      ],
    },
  };
}

/** One complete Parquet file: `PAR1`, one row group of every column, the footer, `PAR1`. */
export function encodePart(input: PartInput): Uint8Array {
  const { schema, columns, rowCount } = input;
  if (!Number.isSafeInteger(rowCount) || rowCount < 1) throw new RangeError(`a part needs rows, not ${rowCount}`);
  if (columns.length !== schema.length - 1) throw new Error('one column input per schema leaf');
  const out = new Output();
  out.push(MAGIC);
  const chunks = columns.map((c) => writeColumnChunk(out, c, rowCount));
  const totalUncompressed = chunks.reduce((n, c) => n + (c.meta_data?.total_uncompressed_size ?? 0n), 0n);
  const metadata: FileMetaData = {
    version: 1,
    schema,
    num_rows: BigInt(rowCount),
    row_groups: [
      {
        columns: chunks,
        total_byte_size: totalUncompressed,
        num_rows: BigInt(rowCount),
        file_offset: BigInt(MAGIC.byteLength),
        total_compressed_size: BigInt(out.length - MAGIC.byteLength),
      },
    ],
    ...(input.keyValueMetadata ? { key_value_metadata: input.keyValueMetadata } : {}),
    created_by: CREATED_BY,
    metadata_length: 0,
  };
  const footer = new ByteWriter(4096);
  writeMetadata(footer, metadata);
  out.push(owned(footer.getBytes()));
  out.push(MAGIC);
  return out.join();
}
