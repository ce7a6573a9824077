import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CREATED_BY } from '../../../lambdas/parquet/encode';
import { createPartWriter } from '../../../lambdas/parquet/part-writer';
import {
  defineTable,
  TAHOE_EDGE,
  TAHOE_INSTANCE,
  TAHOE_RAW,
  type TahoeRawRecord,
} from '../../../lambdas/schema/tables';
import { PermanentError } from '../../../lambdas/shared/errors';
import { edgeRow, footer, instanceRow, pageHeaders, rawRow, readHyparquet, writeParts } from './helpers';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('createPartWriter: rolling parts', () => {
  it.each([
    [10, 3, [3, 3, 3, 1]],
    [9, 3, [3, 3, 3]],
    [1, 5, [1]],
    [5, 1, [1, 1, 1, 1, 1]],
  ])('writes %i rows with rowsPerPart %i as ceil(N/k) parts of %j rows, numbered from 0', async (n, k, sizes) => {
    const rows = range(n).map((i) => rawRow(i));
    const { parts, summary } = await writeParts('tahoe_raw', rows, { rowsPerPart: k });
    expect(parts.map((p) => p.rowCount)).toEqual(sizes);
    expect(parts.map((p) => p.partNo)).toEqual(range(sizes.length));
    expect(summary).toEqual({ parts: sizes.length, rows: n });
  });

  it('makes every part a complete file that reads back alone, the parts together giving the rows in order', async () => {
    const rows = range(23).map((i) => instanceRow(i));
    const { parts } = await writeParts('tahoe_instance', rows, { rowsPerPart: 5 });
    const back: Record<string, unknown>[] = [];
    for (const p of parts) {
      const partRows = await readHyparquet(p.bytes);
      expect(partRows).toHaveLength(p.rowCount);
      expect(footer(p.bytes).num_rows).toBe(BigInt(p.rowCount));
      back.push(...partRows);
    }
    expect(back).toEqual(rows);
  });

  it('writes no part at all for zero rows', async () => {
    const { parts, summary } = await writeParts('tahoe_edge', [], { rowsPerPart: 10 });
    expect(parts).toEqual([]);
    expect(summary).toEqual({ parts: 0, rows: 0 });
  });

  it('closes a part early when its buffered values reach maxPartBytes', async () => {
    const big = 'x'.repeat(10_000);
    const rows = range(10).map((i) => rawRow(i, { data: `"${big}"` }));
    const { parts } = await writeParts('tahoe_raw', rows, { rowsPerPart: 100, maxPartBytes: 25_000 });
    expect(parts.map((p) => p.rowCount)).toEqual([3, 3, 3, 1]);
    expect((await Promise.all(parts.map((p) => readHyparquet(p.bytes)))).flat()).toEqual(rows);
  });

  it('waits for onPart before it takes more rows, and refuses an add() that did not wait', async () => {
    let release: () => void = () => {};
    const handedOver: number[] = [];
    const writer = createPartWriter('tahoe_edge', {
      rowsPerPart: 2,
      onPart: (partNo) =>
        new Promise<void>((resolve) => {
          handedOver.push(partNo);
          release = resolve;
        }),
    });
    await writer.add(edgeRow(0));
    const second = writer.add(edgeRow(1));
    await expect(writer.add(edgeRow(2))).rejects.toThrow(/being handed over/);
    expect(handedOver).toEqual([0]);
    release();
    await second;
    await writer.add(edgeRow(2));
    expect(writer.rows).toBe(3);
  });

  it('fails for good when onPart fails, keeping the cause', async () => {
    const boom = new Error('S3 is down');
    const writer = createPartWriter('tahoe_edge', {
      rowsPerPart: 1,
      onPart: () => Promise.reject(boom),
    });
    await expect(writer.add(edgeRow(0))).rejects.toBe(boom);
    await expect(writer.add(edgeRow(1))).rejects.toMatchObject({ cause: boom });
    await expect(writer.end()).rejects.toThrow(/failed/);
  });

  it('refuses rows after end()', async () => {
    const writer = createPartWriter('tahoe_edge', { rowsPerPart: 1, onPart: () => {} });
    await writer.end();
    await expect(writer.add(edgeRow(0))).rejects.toThrow(/after end/);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses rowsPerPart %p', (rowsPerPart) => {
    expect(() => createPartWriter('tahoe_edge', { rowsPerPart, onPart: () => {} })).toThrow(RangeError);
  });
});

describe('createPartWriter: row checks', () => {
  const cases: [string, Partial<Record<keyof TahoeRawRecord, unknown>>, RegExp][] = [
    ['a number where a string belongs', { sub_type: 42 }, /tahoe_raw\.sub_type: expected a string, got 42/],
    ['null in a column that is not nullable', { tenant: null }, /tahoe_raw\.tenant: expected a string, got null/],
    ['a missing column', { object_key: undefined }, /tahoe_raw\.object_key: expected a string, got missing/],
    ['a fractional record number', { record_no: 1.5 }, /record_no: expected a safe integer/],
    ['a record number beyond 2^53', { record_no: 2 ** 53 }, /record_no: expected a safe integer/],
    ['a lone high surrogate', { sub_type: 'cowrie\uD800' }, /sub_type: string holds a lone surrogate/],
    ['a lone low surrogate', { timezone: '\uDC00UTC' }, /timezone: string holds a lone surrogate/],
    ['a timestamp with an offset', { received_at: '2021-03-01T13:00:05+01:00' }, /received_at: not an ISO 8601 UTC/],
    ['a day that does not exist', { received_at: '2021-02-30T12:00:00Z' }, /received_at: not an ISO 8601 UTC/],
    ['a Date object', { received_at: new Date(0) }, /received_at: expected an ISO 8601 UTC string, got object/],
  ];

  it.each(cases)('rejects %s as BAD_DATA naming the column, and keeps the other rows', async (_, change, message) => {
    const parts: Uint8Array[] = [];
    const writer = createPartWriter('tahoe_raw', { rowsPerPart: 10, onPart: (_n, bytes) => void parts.push(bytes) });
    await writer.add(rawRow(0));
    const bad = { ...rawRow(1), ...change } as unknown as TahoeRawRecord;
    const error = await writer.add(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ outcome: 'BAD_DATA', message: expect.stringMatching(message) });
    await writer.add(rawRow(2));
    expect(await writer.end()).toEqual({ parts: 1, rows: 2 });
    expect(await readHyparquet(parts[0] as Uint8Array)).toEqual([rawRow(0), rawRow(2)]);
  });

  it('rejects a value outside an enumerated column', async () => {
    const writer = createPartWriter('tahoe_edge', { rowsPerPart: 10, onPart: () => {} });
    const bad = { ...edgeRow(0), relation: 'parent' } as unknown as ReturnType<typeof edgeRow>;
    await expect(writer.add(bad)).rejects.toThrow(/tahoe_edge\.relation: "parent" is not an allowed value/);
  });

  it('keeps JSON escapes of lone surrogates in data as the ASCII text they are', async () => {
    const row = rawRow(0, { data: '{"s":"\\ud800","t":"\\udfff\\ud83d\\ude00"}' });
    const { parts } = await writeParts('tahoe_raw', [row], { rowsPerPart: 10 });
    expect(await readHyparquet((parts[0] as { bytes: Uint8Array }).bytes)).toEqual([row]);
  });
});

describe('encoded parts', () => {
  it('are byte-identical for the same rows, whichever writer instance writes them', async () => {
    const rows = range(50).map((i) => instanceRow(i));
    const a = await writeParts('tahoe_instance', rows, { rowsPerPart: 20 });
    const b = await writeParts('tahoe_instance', rows, { rowsPerPart: 20 });
    expect(a.parts.length).toBe(3);
    for (let i = 0; i < a.parts.length; i++) {
      expect(Buffer.from((b.parts[i] as { bytes: Uint8Array }).bytes)).toEqual(
        Buffer.from((a.parts[i] as { bytes: Uint8Array }).bytes),
      );
    }
  });

  it('do not depend on what was encoded before them in the same process', async () => {
    const rows = range(300).map((i) => rawRow(i));
    const first = await writeParts('tahoe_raw', rows, { rowsPerPart: 300 });
    await writeParts('tahoe_instance', range(2000).map(instanceRow), { rowsPerPart: 700 });
    await writeParts(
      'tahoe_raw',
      range(300).map((i) => rawRow(i * 7 + 1, { data: `"${'z'.repeat(i * 13)}"` })),
      {
        rowsPerPart: 100,
      },
    );
    const again = await writeParts('tahoe_raw', rows, { rowsPerPart: 300 });
    expect(Buffer.from((again.parts[0] as { bytes: Uint8Array }).bytes)).toEqual(
      Buffer.from((first.parts[0] as { bytes: Uint8Array }).bytes),
    );
  });

  it('change when a single value changes (the comparison above can fail)', async () => {
    const rows = range(5).map((i) => rawRow(i));
    const a = await writeParts('tahoe_raw', rows, { rowsPerPart: 10 });
    const b = await writeParts('tahoe_raw', [...rows.slice(0, 4), rawRow(4, { timezone: 'UTC' })], {
      rowsPerPart: 10,
    });
    expect(Buffer.from((a.parts[0] as { bytes: Uint8Array }).bytes)).not.toEqual(
      Buffer.from((b.parts[0] as { bytes: Uint8Array }).bytes),
    );
  });

  it('carry only data page v1 and dictionary pages, SNAPPY-compressed, with v1 page headers', async () => {
    const rows = range(3000).map((i) => instanceRow(i));
    const { parts } = await writeParts('tahoe_instance', rows, { rowsPerPart: 3000 });
    const bytes = (parts[0] as { bytes: Uint8Array }).bytes;
    const headers = pageHeaders(bytes);
    const types = new Set(headers.map((h) => h.header.type));
    expect([...types].sort()).toEqual(['DATA_PAGE', 'DICTIONARY_PAGE']);
    for (const { header } of headers) {
      if (header.type === 'DATA_PAGE') {
        expect(header.data_page_header).toMatchObject({
          encoding: expect.stringMatching(/^(PLAIN|PLAIN_DICTIONARY)$/),
          definition_level_encoding: 'RLE',
          repetition_level_encoding: 'RLE',
        });
        expect(header.data_page_header_v2).toBeUndefined();
      } else {
        expect(header.dictionary_page_header?.encoding).toBe('PLAIN_DICTIONARY');
      }
    }
    // Low-cardinality columns are dictionary-encoded, unique hashes are not.
    const encodingOf = (column: string) =>
      headers.find((h) => h.column === column && h.header.type === 'DATA_PAGE')?.header.data_page_header?.encoding;
    expect(encodingOf('tenant')).toBe('PLAIN_DICTIONARY');
    expect(encodingOf('_hash')).toBe('PLAIN');
    const meta = footer(bytes);
    for (const chunk of meta.row_groups.flatMap((g) => g.columns)) {
      expect(chunk.meta_data?.codec).toBe('SNAPPY');
      const dataPages = chunk.meta_data?.encoding_stats?.find((s) => s.page_type === 'DATA_PAGE');
      expect(dataPages?.count).toBe(
        headers.filter((h) => h.column === chunk.meta_data?.path_in_schema[0] && h.header.type === 'DATA_PAGE').length,
      );
    }
  });

  it('split a large column into several data pages of about 1 MiB', async () => {
    const rows = range(40).map((i) => rawRow(i, { data: `"${String(i).padStart(100_000, '.')}"` }));
    const { parts } = await writeParts('tahoe_raw', rows, { rowsPerPart: 100 });
    const bytes = (parts[0] as { bytes: Uint8Array }).bytes;
    const dataPages = pageHeaders(bytes).filter((h) => h.column === 'data' && h.header.type === 'DATA_PAGE');
    expect(dataPages.length).toBe(4);
    expect(dataPages.map((p) => p.header.data_page_header?.num_values)).toEqual([11, 11, 11, 7]);
    expect(await readHyparquet(bytes)).toEqual(rows);
  });

  it('name the encoder versions actually installed, which the bytes depend on', () => {
    for (const name of ['hyparquet-writer']) {
      const { version } = JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(CREATED_BY).toContain(`${name} ${version}`);
    }
  });

  it('describe the table in the footer: names, order, types, nullability, and no wall-clock metadata', async () => {
    const { parts } = await writeParts('tahoe_raw', [rawRow(0)], { rowsPerPart: 1 });
    const meta = footer((parts[0] as { bytes: Uint8Array }).bytes);
    expect(meta.created_by).toBe(CREATED_BY);
    expect(meta.key_value_metadata).toEqual([{ key: 'cyberactive.table', value: 'tahoe_raw' }]);
    const [root, ...leaves] = meta.schema;
    expect(root).toMatchObject({ name: 'tahoe_raw', num_children: TAHOE_RAW.columns.length });
    expect(leaves.map((l) => l.name)).toEqual(TAHOE_RAW.columns.map((c) => c.name));
    const byName = Object.fromEntries(leaves.map((l) => [l.name, l]));
    expect(byName.received_at).toMatchObject({
      type: 'INT64',
      repetition_type: 'REQUIRED',
      converted_type: 'TIMESTAMP_MICROS',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
    });
    expect(byName.data).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } });
    expect(byName.record_no).toMatchObject({ type: 'INT64', repetition_type: 'REQUIRED' });
    const instance = footer(
      (await writeParts('tahoe_instance', [instanceRow(2)], { rowsPerPart: 1 })).parts[0]?.bytes as Uint8Array,
    );
    const optional = instance.schema.filter((l) => l.repetition_type === 'OPTIONAL').map((l) => l.name);
    expect(optional).toEqual(TAHOE_INSTANCE.columns.filter((c) => c.nullable).map((c) => c.name));
    expect(instance.schema.find((l) => l.name === 'event_ts')).toMatchObject({ type: 'DOUBLE' });
  });

  it('carry null counts and numeric bounds in the column statistics', async () => {
    const rows = range(12).map((i) => edgeRow(i));
    const { parts } = await writeParts('tahoe_edge', rows, { rowsPerPart: 100 });
    const chunk = footer((parts[0] as { bytes: Uint8Array }).bytes).row_groups[0]?.columns.find(
      (c) => c.meta_data?.path_in_schema[0] === 'event_ts',
    );
    const present = rows.map((r) => r.event_ts).filter((t): t is number => t !== null);
    expect(chunk?.meta_data?.statistics).toMatchObject({
      null_count: BigInt(rows.length - present.length),
      min_value: Math.min(...present),
      max_value: Math.max(...present),
    });
  });

  it('round-trip int32, boolean, -0 and non-finite doubles of any table spec', async () => {
    const probe = defineTable(
      'probe',
      [
        { name: 'id', type: 'int32', nullable: false, doc: 'id' },
        { name: 'flag', type: 'boolean', nullable: true, doc: 'flag' },
        { name: 'x', type: 'double', nullable: false, doc: 'x' },
        { name: 'at', type: 'timestamp', nullable: true, doc: 'at' },
      ],
      ['id'],
    );
    const xs = [-0, 0, Number.NaN, Number.POSITIVE_INFINITY, -1.5, -0];
    const rows = xs.map((x, i) => ({
      id: i === 0 ? -(2 ** 31) : i === 1 ? 2 ** 31 - 1 : i,
      flag: i % 3 === 0 ? null : i % 3 === 1,
      x,
      at: i % 2 ? '1969-12-31T23:59:59.999999Z' : null,
    }));
    const { parts } = await writeParts(probe, rows, { rowsPerPart: 100 });
    const back = await readHyparquet((parts[0] as { bytes: Uint8Array }).bytes);
    expect(back.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(back.map((r) => r.flag)).toEqual(rows.map((r) => r.flag));
    expect(back.map((r) => r.at)).toEqual(rows.map((r) => (r.at ? '1969-12-31T23:59:59.999999Z' : null)));
    const backX = back.map((r) => r.x as number);
    expect(xs.every((x, i) => Object.is(backX[i], x))).toBe(true);
    await expect(
      createPartWriter(probe, { rowsPerPart: 1, onPart: () => {} }).add({ id: 2 ** 31, flag: null, x: 1, at: null }),
    ).rejects.toThrow(/probe\.id: expected a 32-bit integer/);
  });

  it('keep every TAHOE table readable, including all-null and all-dictionary columns', async () => {
    for (const [table, make] of [
      [TAHOE_EDGE, edgeRow],
      [TAHOE_INSTANCE, instanceRow],
      [TAHOE_RAW, rawRow],
    ] as const) {
      const rows = range(4).map((i) => make(i === 0 ? 0 : 4 * i));
      const { parts } = await writeParts(table.name, rows as never[], { rowsPerPart: 10 });
      expect(await readHyparquet((parts[0] as { bytes: Uint8Array }).bytes)).toEqual(rows);
    }
  });
});
