/**
 * Warehouse column types of the TAHOE tables, derived from the one schema source (lambdas/schema/tables.ts), and
 * the CREATE TABLE text of sql/migrations/0001_tahoe_tables.sql. The migration file holds this function's output
 * (migrations are immutable once applied, so they are files, not generated at run time); the drift test
 * (test/unit/warehouse/ddl-drift.test.ts) fails when the file and the schema source disagree.
 *
 * Types are the subset Redshift and PostgreSQL share: VARCHAR(n), BIGINT, INTEGER, DOUBLE PRECISION, BOOLEAN,
 * TIMESTAMPTZ. VARCHAR lengths count bytes on Redshift and characters on PostgreSQL; every value we store is ASCII
 * (hashes, identifiers, keys, JSON written with ensure_ascii), so the two agree.
 */
import { type ColumnSpec, type LogicalType, TABLES, type TableSpec } from '../schema/tables';
import type { TahoeTable } from '../shared/s3-keys';

/**
 * The longest VARCHAR Redshift has (bytes), and so the longest JSON text the warehouse keeps. A longer value is kept
 * whole in Parquet; in the warehouse its column is NULL and the row's `oversize` flag is set (DESIGN.md §3.7), so
 * that a large record never fails a load.
 */
export const MAX_WAREHOUSE_TEXT_BYTES = 65535;

/** Lengths of the VARCHAR columns: what each value can be at most (see lambdas/shared/ids.ts and s3-keys.ts). */
const VARCHAR_LENGTH: Readonly<Record<string, number>> = {
  tenant: 63,
  object_sha256: 64,
  _hash: 64,
  parent_hash: 64,
  child_hash: 64,
  orgid: 64,
  sub_type: 256,
  timezone: 64,
  object_key: 1024,
  itype: 16,
  category: 16,
  relation: 16,
};

const SQL_TYPE: Readonly<Record<Exclude<LogicalType, 'string'>, string>> = {
  int32: 'INTEGER',
  int64: 'BIGINT',
  double: 'DOUBLE PRECISION',
  timestamp: 'TIMESTAMPTZ',
  boolean: 'BOOLEAN',
};

/**
 * Columns the warehouse adds after the schema's own (never in Parquet: COPY goes into staging tables, which have
 * exactly the file's columns).
 */
export interface ExtraColumn {
  readonly name: string;
  readonly sqlType: string;
  readonly notNull: boolean;
  readonly defaultSql?: string;
  readonly doc: string;
}

const OVERSIZE: ExtraColumn = {
  name: 'oversize',
  sqlType: 'BOOLEAN',
  notNull: true,
  defaultSql: 'FALSE',
  doc: 'A JSON value of the row was too big for the warehouse: it is NULL here and whole in the Parquet file',
};

/** A table with JSON columns gets the `oversize` flag; others have nothing to flag. */
export function extraColumns(table: TableSpec): readonly ExtraColumn[] {
  return table.columns.some((c) => c.json) ? [OVERSIZE] : [];
}

/** The JSON columns of a table: the ones that may be too big for the warehouse. */
export function jsonColumns(table: TableSpec): string[] {
  return table.columns.filter((c) => c.json).map((c) => c.name);
}

/** A column of a warehouse table, as DDL states it. */
export interface WarehouseColumn {
  readonly name: string;
  readonly sqlType: string;
  readonly notNull: boolean;
}

/** The SQL type of a schema column in the warehouse. */
export function sqlType(column: ColumnSpec): string {
  if (column.type !== 'string') return SQL_TYPE[column.type];
  if (column.json) return `VARCHAR(${MAX_WAREHOUSE_TEXT_BYTES})`;
  const length = VARCHAR_LENGTH[column.name];
  if (length === undefined) throw new TypeError(`no warehouse length for string column ${column.name}`);
  return `VARCHAR(${length})`;
}

/**
 * JSON columns are nullable in the warehouse even when the schema says NOT NULL: NULL there means "too big, see
 * `oversize`". Every other column keeps the schema's nullability.
 */
export function warehouseNotNull(column: ColumnSpec): boolean {
  return !column.nullable && !column.json;
}

/** Every column of a target table, in order: the schema's, then extraColumns(). */
export function warehouseColumns(table: TableSpec): WarehouseColumn[] {
  return [
    ...table.columns.map((c) => ({ name: c.name, sqlType: sqlType(c), notNull: warehouseNotNull(c) })),
    ...extraColumns(table).map((c) => ({ name: c.name, sqlType: c.sqlType, notNull: c.notNull })),
  ];
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The CREATE TABLE statement of a TAHOE table, with its primary key (the natural key) and column comments. */
export function renderCreateTable(table: TableSpec): string {
  const lines = table.columns.map((c) => `  ${c.name} ${sqlType(c)}${warehouseNotNull(c) ? ' NOT NULL' : ''},`);
  for (const c of extraColumns(table)) {
    lines.push(
      `  ${c.name} ${c.sqlType}${c.notNull ? ' NOT NULL' : ''}${c.defaultSql ? ` DEFAULT ${c.defaultSql}` : ''},`,
    );
  }
  lines.push(`  PRIMARY KEY (${table.key.join(', ')})`);
  const comments = [
    ...table.columns.map((c) => `COMMENT ON COLUMN ${table.name}.${c.name} IS ${sqlString(c.doc)};`),
    ...extraColumns(table).map((c) => `COMMENT ON COLUMN ${table.name}.${c.name} IS ${sqlString(c.doc)};`),
  ];
  return [`CREATE TABLE ${table.name} (`, ...lines, ');', ...comments].join('\n');
}

/** The body of sql/migrations/0001_tahoe_tables.sql (after its header comment). */
export function renderTahoeTables(): string {
  return (Object.keys(TABLES) as TahoeTable[]).map((name) => renderCreateTable(TABLES[name])).join('\n\n');
}
