/**
 * Parquet → COPY text: every value reaches PostgreSQL with its exact meaning (escapes, NULLs, int64, doubles,
 * microsecond timestamps), and a file that is not the table's is refused before a row is read.
 */
import { createPartWriter } from '../../../lambdas/parquet/part-writer';
import type { TableName } from '../../../lambdas/schema/tables';
import {
  bufferSource,
  microsToTimestampText,
  ParquetFileError,
  parquetCopyText,
} from '../../../lambdas/warehouse/parquet-copy';

async function parquet(table: TableName, rows: readonly Record<string, unknown>[]): Promise<Uint8Array> {
  let out: Uint8Array | undefined;
  const w = createPartWriter(table, {
    rowsPerPart: 1000,
    onPart: (_n, bytes) => {
      out = bytes;
    },
  });
  for (const r of rows) await w.add(r as never);
  await w.end();
  return out as Uint8Array;
}

async function copyText(bytes: Uint8Array, table: TableName): Promise<string> {
  let text = '';
  for await (const chunk of parquetCopyText(bufferSource(bytes), table)) text += chunk.toString('utf8');
  return text;
}

describe('microsToTimestampText', () => {
  it('writes every microsecond, in UTC, before and after the epoch', () => {
    expect(microsToTimestampText(1_588_526_335_876_611n)).toBe('2020-05-03 17:18:55.876611+00');
    expect(microsToTimestampText(0n)).toBe('1970-01-01 00:00:00.000000+00');
    expect(microsToTimestampText(-1n)).toBe('1969-12-31 23:59:59.999999+00');
  });
});

describe('parquetCopyText', () => {
  it('escapes what COPY text treats specially and keeps everything else byte for byte', async () => {
    const data = '{"m":"tab\\there","q":"\\"","u":"\\u00e9"}';
    const bytes = await parquet('tahoe_raw', [
      {
        tenant: 'acme',
        object_sha256: 'a'.repeat(64),
        record_no: 2 ** 53 - 1,
        _hash: 'b'.repeat(64),
        sub_type: 'cowrie',
        timezone: 'America/New_York',
        received_at: '2020-05-03T17:18:55.876611Z',
        object_key: 'raw/key with\ttab\nand newline\\',
        data,
      },
    ]);
    expect(await copyText(bytes, 'tahoe_raw')).toBe(
      `${[
        'acme',
        'a'.repeat(64),
        '9007199254740991',
        'b'.repeat(64),
        'cowrie',
        'America/New_York',
        '2020-05-03 17:18:55.876611+00',
        'raw/key with\\ttab\\nand newline\\\\',
        data.replace(/\\/g, '\\\\'),
      ].join('\t')}\n`,
    );
  });

  it('writes NULL as \\N and doubles in their shortest exact form, NaN and infinities included', async () => {
    const edge = (event_ts: number | null) => ({
      tenant: 'acme',
      parent_hash: 'c'.repeat(64),
      relation: 'ref',
      child_hash: 'd'.repeat(64),
      event_ts,
    });
    const bytes = await parquet('tahoe_edge', [
      edge(null),
      edge(0.1 + 0.2),
      edge(Number.NaN),
      edge(-Infinity),
      edge(-0),
    ]);
    const cells = (await copyText(bytes, 'tahoe_edge'))
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t')[4]);
    expect(cells).toEqual(['\\N', '0.30000000000000004', 'NaN', '-Infinity', '0']);
  });

  it('refuses a file whose columns are another table’s, or that is not Parquet', async () => {
    const edges = await parquet('tahoe_edge', [
      { tenant: 'acme', parent_hash: 'c'.repeat(64), relation: 'ref', child_hash: 'd'.repeat(64), event_ts: null },
    ]);
    await expect(copyText(edges, 'tahoe_raw')).rejects.toThrow(ParquetFileError);
    await expect(copyText(edges, 'tahoe_raw')).rejects.toThrow(/not tahoe_raw's/);
    await expect(copyText(new Uint8Array(100), 'tahoe_edge')).rejects.toThrow(ParquetFileError);
    await expect(copyText(edges.subarray(0, edges.length - 20), 'tahoe_edge')).rejects.toThrow(ParquetFileError);
  });
});
