/**
 * Shared by the Parquet tests: sample rows of every TAHOE table, a collector of parts, the hyparquet reader set up
 * to return timestamps exactly (ISO text with microseconds), a walker over the page headers of a file, and the
 * rows the real TAHOE core builds for a few Cowrie records.
 */
import { createHash } from 'node:crypto';
import { type FileMetaData, type PageHeader, parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { createPartWriter, type PartWriterOptions, type RowFor } from '../../../lambdas/parquet/part-writer';
import { microsToIso } from '../../../lambdas/parquet/timestamp';
import type {
  TableName,
  TableSpec,
  TahoeEdgeRecord,
  TahoeInstanceRecord,
  TahoeRawRecord,
} from '../../../lambdas/schema/tables';
import { parsemain } from '../../../lambdas/tahoe/parsemain';
import { type RowContext, toRows } from '../../../lambdas/tahoe/rows';

export const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
export const ORG = sha('org:demo');

export function rawRow(i: number, over: Partial<TahoeRawRecord> = {}): TahoeRawRecord {
  return {
    tenant: 'demo-public',
    object_sha256: sha('object'),
    record_no: i,
    _hash: sha(`raw ${i % 7}`),
    sub_type: 'cowrie',
    timezone: 'America/New_York',
    received_at: '2021-03-01T12:00:05.123456Z',
    object_key: 'raw/tenant=demo-public/typetag=cowrie/dt=2021-03-01/hour=12/01JN0000000000000000000000.raw',
    data: `{"eventid":"cowrie.login.failed","n":${i},"src_ip":"203.0.113.${i % 250}"}`,
    ...over,
  };
}

const ITYPES = ['attribute', 'object', 'event', 'session'] as const;

export function instanceRow(i: number): TahoeInstanceRecord {
  const itype = ITYPES[i % 4] as (typeof ITYPES)[number];
  return {
    tenant: 'demo-public',
    _hash: sha(`instance ${i}`),
    itype,
    sub_type: itype === 'event' ? 'login' : itype === 'session' ? 'ssh_session' : 'ipv4',
    data: itype === 'attribute' ? `"203.0.113.${i % 250}"` : `{"n":[${i}],"text":["\\u00e9t\\u00e9"]}`,
    orgid: itype === 'event' ? ORG : null,
    event_ts: itype === 'event' ? 1614600000.5 + i : null,
    category: itype === 'event' ? (['benign', 'malicious', 'unknown'] as const)[i % 3] : null,
    start_time: itype === 'session' ? 1614600000.25 + i : null,
    end_time: itype === 'session' && i % 8 === 3 ? 1614600060.75 + i : null,
    duration: itype === 'session' && i % 8 === 3 ? '60.5' : null,
  } as TahoeInstanceRecord;
}

export function edgeRow(i: number): TahoeEdgeRecord {
  const relations = ['cref', 'ref', 'mal_ref', 'ben_ref', 'session_event', 'raw_ref'] as const;
  return {
    tenant: 'demo-public',
    parent_hash: sha(`parent ${i >> 2}`),
    relation: relations[i % relations.length] as (typeof relations)[number],
    child_hash: sha(`child ${i}`),
    event_ts: i % 3 === 0 ? null : 1614600000 + i / 8,
  };
}

export interface Part {
  partNo: number;
  bytes: Uint8Array;
  rowCount: number;
}

/** Writes the rows through a part writer and returns every part it handed over, with the end() summary. */
export async function writeParts<T extends TableSpec | TableName>(
  table: T,
  rows: Iterable<RowFor<T>>,
  options: Omit<PartWriterOptions, 'onPart'>,
): Promise<{ parts: Part[]; summary: { parts: number; rows: number } }> {
  const parts: Part[] = [];
  const writer = createPartWriter(table, {
    ...options,
    onPart: (partNo, bytes, rowCount) => {
      parts.push({ partNo, bytes, rowCount });
    },
  });
  for (const row of rows) await writer.add(row);
  const summary = await writer.end();
  return { parts, summary };
}

export function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Rows as hyparquet reads them, with INT64 as numbers and timestamps as exact ISO text (…123456Z). */
export async function readHyparquet(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const rows = await parquetReadObjects({
    file: arrayBufferOf(bytes),
    parsers: { timestampFromMicroseconds: (micros: bigint) => microsToIso(micros) },
  });
  return rows.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
  );
}

export function footer(bytes: Uint8Array): FileMetaData {
  return parquetMetadata(arrayBufferOf(bytes));
}

/** Every page header of every column chunk, read from the bytes (not from the footer's own account of them). */
export function pageHeaders(bytes: Uint8Array): { column: string; header: PageHeader }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { column: string; header: PageHeader }[] = [];
  for (const group of footer(bytes).row_groups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (!meta) throw new Error('column chunk without metadata');
      const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      const reader = { view, offset: start };
      while (reader.offset < end) {
        const header = parquetHeader(reader);
        out.push({ column: meta.path_in_schema.join('.'), header });
        reader.offset += header.compressed_page_size;
      }
      if (reader.offset !== end) throw new Error(`pages of ${meta.path_in_schema} overrun their chunk`);
    }
  }
  return out;
}

const CTX: RowContext = {
  tenant: 'demo-public',
  objectSha256: sha('cowrie object'),
  recordNo: 0,
  objectKey: 'raw/tenant=demo-public/typetag=cowrie/dt=2021-03-01/hour=12/01JN0000000000000000000000.raw',
  receivedAt: new Date('2021-03-01T12:00:05.000Z'),
  timezone: 'America/New_York',
  orgid: ORG,
};
const COWRIE = [
  '{"eventid":"cowrie.session.connect","session":"s1","sensor":"n1","src_ip":"203.0.113.9","src_port":4711,' +
    '"dst_ip":"192.0.2.1","dst_port":22,"protocol":"ssh","timestamp":"2021-03-01T12:00:00.000Z"}',
  '{"eventid":"cowrie.login.failed","username":"root","password":"x","session":"s1","sensor":"n1",' +
    '"src_ip":"203.0.113.9","timestamp":"2021-03-01T12:00:00.500Z"}',
  '{"eventid":"cowrie.session.closed","session":"s1","sensor":"n1","src_ip":"203.0.113.9","duration":12.5,' +
    '"timestamp":"2021-03-01T12:00:13.000Z"}',
  'not json at all \u00e9',
];

/** The rows the real TAHOE core builds for a small Cowrie session (connect, failed login, close, a bad line). */
export function pipelineRows() {
  const results = COWRIE.map((line, i) =>
    toRows(parsemain('cowrie', ORG, CTX.timezone, line, { receivedAt: 1614600005 }), { ...CTX, recordNo: i }),
  );
  return {
    tahoe_raw: results.flatMap((r) => (r.raw ? [r.raw] : [])),
    tahoe_instance: results.flatMap((r) => r.instances),
    tahoe_edge: results.flatMap((r) => r.edges),
  };
}
