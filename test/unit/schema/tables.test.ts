import { parquetSchema } from '../../../lambdas/parquet/parquet-schema';
import { createPartWriter } from '../../../lambdas/parquet/part-writer';
import {
  type ColumnSpec,
  columnNames,
  defineTable,
  naturalKey,
  nonKeyColumns,
  sqlColumnList,
  TABLES,
  TAHOE_EDGE,
  TAHOE_INSTANCE,
  TAHOE_RAW,
  tableSpec,
} from '../../../lambdas/schema/tables';
import { TAHOE_TABLES } from '../../../lambdas/shared/s3-keys';
import { pipelineRows } from '../parquet/helpers';

describe('the TAHOE table schema', () => {
  it('has one spec per table name the S3 keys use', () => {
    expect(Object.keys(TABLES).sort()).toEqual([...TAHOE_TABLES].sort());
    for (const name of TAHOE_TABLES) expect(tableSpec(name).name).toBe(name);
    expect(() => tableSpec('tahoe_nope' as never)).toThrow(/unknown table/);
  });

  it('keys the tables as DESIGN.md §3.7 says', () => {
    expect(naturalKey(TAHOE_RAW)).toEqual(['tenant', 'object_sha256', 'record_no']);
    expect(naturalKey(TAHOE_INSTANCE)).toEqual(['tenant', '_hash']);
    expect(naturalKey(TAHOE_EDGE)).toEqual(columnNames(TAHOE_EDGE).filter((c) => c !== 'event_ts'));
    expect(nonKeyColumns(TAHOE_EDGE)).toEqual(['event_ts']);
  });

  it('gives DDL and COPY the columns in file order, quoted', () => {
    expect(sqlColumnList(TAHOE_EDGE)).toBe('"tenant", "parent_hash", "relation", "child_hash", "event_ts"');
    expect(sqlColumnList(TAHOE_INSTANCE, naturalKey(TAHOE_INSTANCE))).toBe('"tenant", "_hash"');
    expect(() => sqlColumnList(TAHOE_EDGE, ['tenant; drop table x'])).toThrow(/has no column/);
  });

  // The compile-time counterpart of this test is row-types.ts (checked by tsc).
  it('agrees at run time with the rows the pipeline builds, the Parquet footer, and the SQL column list', async () => {
    const rows = pipelineRows();
    for (const name of TAHOE_TABLES) {
      const spec = tableSpec(name);
      const columns = columnNames(spec);
      const built = rows[name] as readonly object[];
      expect(built.length).toBeGreaterThan(0);
      // Every row the pipeline builds has exactly the schema's columns…
      for (const row of built) expect(Object.keys(row).sort()).toEqual([...columns].sort());
      // …and its values have the schema's types: the writer checks each one and would reject the row.
      const writer = createPartWriter(spec, { rowsPerPart: 1000, onPart: () => {} });
      for (const row of built) await writer.add(row as never);
      expect(await writer.end()).toEqual({ parts: 1, rows: built.length });
      // The Parquet schema has them in the same order as the SQL column list.
      expect(
        parquetSchema(spec)
          .slice(1)
          .map((e) => e.name),
      ).toEqual(columns);
      expect(sqlColumnList(spec)).toBe(columns.map((c) => `"${c}"`).join(', '));
    }
    // The sample covers the nullable columns with and without values.
    const sessions = rows.tahoe_instance.filter((i) => i.itype === 'session');
    expect(sessions.some((s) => s.duration !== null)).toBe(true);
    expect(rows.tahoe_instance.some((i) => i.orgid === null)).toBe(true);
  });
});

describe('defineTable', () => {
  const col = (name: string, over: Partial<ColumnSpec> = {}): ColumnSpec => ({
    name,
    type: 'string',
    nullable: false,
    doc: name,
    ...over,
  });

  it.each([
    ['a repeated column', [col('a'), col('a')], ['a'], /column a appears twice/],
    ['a nullable key column', [col('a', { nullable: true })], ['a'], /key column a is nullable/],
    ['a key that is not a column', [col('a')], ['b'], /key column b is not a column/],
    ['a name that is not an identifier', [col('A-b')], ['A-b'], /not a lower-case identifier/],
    ['values on a non-string column', [col('a', { type: 'int32', values: ['1'] })], ['a'], /need string/],
    ['repeated enumeration values', [col('a', { values: ['x', 'x'] })], ['a'], /distinct/],
    ['an empty key', [col('a')], [], /empty natural key/],
  ])('refuses %s', (_, columns, key, message) => {
    expect(() => defineTable('t', columns, key as never)).toThrow(message);
  });

  it('freezes what it returns', () => {
    const t = defineTable('t', [col('a')], ['a']);
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.columns)).toBe(true);
  });
});
