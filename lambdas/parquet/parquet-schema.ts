/**
 * The Parquet schema of a table, derived from lambdas/schema/tables.ts (never written by hand).
 *
 * Both annotations are written where the type has them: the legacy ConvertedType (UTF8, TIMESTAMP_MICROS) for
 * readers that predate LogicalType, and the LogicalType (STRING, TIMESTAMP(MICROS, isAdjustedToUTC=true)) for the
 * rest. The two agree by definition: the format spec maps TIMESTAMP_MICROS to TIMESTAMP(isAdjustedToUTC=true,
 * MICROS), which DuckDB reads as TIMESTAMP WITH TIME ZONE and Redshift loads into TIMESTAMPTZ.
 * Enumerations stay plain STRING (not the ENUM annotation), which every reader maps to text.
 */
import type { SchemaElement } from 'hyparquet';
import type { ColumnSpec, LogicalType, TableSpec } from '../schema/tables';

type LeafElement = Omit<SchemaElement, 'name' | 'repetition_type'>;

const LEAF: Readonly<Record<LogicalType, LeafElement>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  int32: { type: 'INT32' },
  int64: { type: 'INT64' },
  double: { type: 'DOUBLE' },
  timestamp: {
    type: 'INT64',
    converted_type: 'TIMESTAMP_MICROS',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
  },
  boolean: { type: 'BOOLEAN' },
};

export function parquetColumn(column: ColumnSpec): SchemaElement {
  const leaf = LEAF[column.type];
  return {
    name: column.name,
    repetition_type: column.nullable ? 'OPTIONAL' : 'REQUIRED',
    ...leaf,
    ...(leaf.logical_type ? { logical_type: { ...leaf.logical_type } } : {}),
  };
}

/** The flat schema list of a Parquet footer: the root (named after the table), then one leaf per column. */
export function parquetSchema(table: TableSpec): SchemaElement[] {
  return [{ name: table.name, num_children: table.columns.length }, ...table.columns.map(parquetColumn)];
}
