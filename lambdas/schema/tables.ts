/**
 * The one schema source of the TAHOE tables (DESIGN.md §3.7). Everything that names or orders their columns is
 * derived from here: the TypeScript row types (RowOf), the Parquet schema (lambdas/parquet/parquet-schema.ts), and
 * the column lists and natural keys that the warehouse DDL, COPY and MERGE use.
 *
 * Column order is a contract: Redshift `COPY … FORMAT AS PARQUET` maps file columns to table columns by position
 * (the file and the table must have the same number of columns, in the same order), so the Parquet files and the
 * DDL must both be generated from this list.
 */
import { TAHOE_TABLES, type TahoeTable } from '../shared/s3-keys';

export const LOGICAL_TYPES = ['string', 'int32', 'int64', 'double', 'timestamp', 'boolean'] as const;
/**
 * - `string`: UTF-8 text (Parquet STRING, warehouse VARCHAR).
 * - `int32` / `int64`: signed integers; both are JavaScript numbers, so int64 values are limited to ±(2^53 − 1).
 * - `double`: IEEE 754 binary64.
 * - `timestamp`: an instant with microsecond precision, UTC. Rows carry it as ISO 8601 text (`…Z`), as the row
 *   builders produce it; the Parquet writer stores it as TIMESTAMP(MICROS, isAdjustedToUTC).
 * - `boolean`.
 */
export type LogicalType = (typeof LOGICAL_TYPES)[number];

export interface ColumnSpec {
  /** A lower-case SQL identifier, the same in Parquet, TypeScript and the warehouse. */
  readonly name: string;
  readonly type: LogicalType;
  readonly nullable: boolean;
  /** `string` columns only: the closed set of values (an enumeration); the row type narrows to their union. */
  readonly values?: readonly string[];
  /** `string` columns only: the text is JSON, kept byte for byte as written; views expose it parsed where valid. */
  readonly json?: boolean;
  /** What the column holds, for the warehouse's column comments. */
  readonly doc: string;
}

export interface TableSpec<
  Name extends string = string,
  Columns extends readonly ColumnSpec[] = readonly ColumnSpec[],
  Key extends readonly string[] = readonly string[],
> {
  readonly name: Name;
  readonly columns: Columns;
  /** The natural key: what MERGE matches on (DESIGN.md §3.8). */
  readonly key: Key;
}

/** The TypeScript type of a non-null value of each logical type. */
export interface LogicalTypeValues {
  string: string;
  int32: number;
  int64: number;
  double: number;
  timestamp: string;
  boolean: boolean;
}

type ValueOf<C extends ColumnSpec> = C extends { readonly values: readonly (infer V extends string)[] }
  ? V
  : LogicalTypeValues[C['type']];

/** The row type of a table: one readonly property per column, `| null` where the column is nullable. */
export type RowOf<T extends TableSpec> = {
  readonly [C in T['columns'][number] as C['name']]: C['nullable'] extends true ? ValueOf<C> | null : ValueOf<C>;
};

/** Safe as an unquoted identifier in PostgreSQL and Redshift, and as a Parquet/TypeScript name. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a table definition once, at module load: a mistake here would otherwise surface as a failed COPY or a
 * MERGE on the wrong columns. `const` type parameters keep the literal names and types, which RowOf needs.
 */
export function defineTable<
  const Name extends string,
  const Columns extends readonly ColumnSpec[],
  const Key extends readonly Columns[number]['name'][],
>(name: Name, columns: Columns, key: Key): TableSpec<Name, Columns, Key> {
  const fail = (why: string): never => {
    throw new TypeError(`table ${name}: ${why}`);
  };
  if (!IDENTIFIER.test(name)) fail('name is not a lower-case identifier');
  if (columns.length === 0) fail('no columns');
  const seen = new Set<string>();
  for (const c of columns) {
    if (!IDENTIFIER.test(c.name)) fail(`column ${JSON.stringify(c.name)} is not a lower-case identifier`);
    if (seen.has(c.name)) fail(`column ${c.name} appears twice`);
    seen.add(c.name);
    if (!(LOGICAL_TYPES as readonly string[]).includes(c.type)) fail(`column ${c.name} has unknown type ${c.type}`);
    if ((c.values !== undefined || c.json) && c.type !== 'string') fail(`column ${c.name}: values/json need string`);
    if (c.values !== undefined && (c.values.length === 0 || new Set(c.values).size !== c.values.length)) {
      fail(`column ${c.name}: values must be non-empty and distinct`);
    }
  }
  if (key.length === 0) fail('empty natural key');
  if (new Set(key).size !== key.length) fail('natural key repeats a column');
  for (const k of key) {
    const c = columns.find((x) => x.name === k);
    if (!c) fail(`key column ${k} is not a column`);
    else if (c.nullable) fail(`key column ${k} is nullable`);
  }
  return Object.freeze({ name, columns: Object.freeze(columns), key: Object.freeze(key) });
}

const HASH = 'SHA-256 (64 lower-case hex) of the canonical TAHOE content, reference-identical';

export const TAHOE_RAW = defineTable(
  'tahoe_raw',
  [
    { name: 'tenant', type: 'string', nullable: false, doc: 'Tenant that uploaded the object' },
    { name: 'object_sha256', type: 'string', nullable: false, doc: 'SHA-256 of the stored raw object' },
    { name: 'record_no', type: 'int64', nullable: false, doc: 'Position of the record in its object' },
    { name: '_hash', type: 'string', nullable: false, doc: `${HASH}; repeats when content repeats` },
    { name: 'sub_type', type: 'string', nullable: false, doc: 'Typetag of the record' },
    { name: 'timezone', type: 'string', nullable: false, doc: 'IANA time zone the shipper declared' },
    { name: 'received_at', type: 'timestamp', nullable: false, doc: 'When the upload was received (UTC)' },
    { name: 'object_key', type: 'string', nullable: false, doc: 'S3 key of the raw object' },
    { name: 'data', type: 'string', nullable: false, json: true, doc: 'The record as JSON text (ASCII, exact)' },
  ],
  ['tenant', 'object_sha256', 'record_no'],
);

export const TAHOE_INSTANCE = defineTable(
  'tahoe_instance',
  [
    { name: 'tenant', type: 'string', nullable: false, doc: 'Tenant whose upload produced the instance' },
    { name: '_hash', type: 'string', nullable: false, doc: HASH },
    {
      name: 'itype',
      type: 'string',
      nullable: false,
      values: ['attribute', 'object', 'event', 'session'],
      doc: 'Kind of instance',
    },
    { name: 'sub_type', type: 'string', nullable: false, doc: 'Attribute, object, event or session type' },
    { name: 'data', type: 'string', nullable: false, json: true, doc: 'The instance data as JSON text (exact)' },
    { name: 'orgid', type: 'string', nullable: true, doc: 'Events: organisation hash that is part of the hash' },
    { name: 'event_ts', type: 'double', nullable: true, doc: 'Events: seconds since the epoch (UTC) as hashed' },
    {
      name: 'category',
      type: 'string',
      nullable: true,
      values: ['benign', 'malicious', 'unknown'],
      doc: 'Events: verdict',
    },
    { name: 'start_time', type: 'double', nullable: true, doc: 'Sessions: seconds since the epoch (UTC)' },
    { name: 'end_time', type: 'double', nullable: true, doc: 'Sessions: seconds since the epoch (UTC)' },
    { name: 'duration', type: 'string', nullable: true, json: true, doc: 'Sessions: the duration as JSON text' },
  ],
  ['tenant', '_hash'],
);

export const TAHOE_EDGE = defineTable(
  'tahoe_edge',
  [
    { name: 'tenant', type: 'string', nullable: false, doc: 'Tenant whose upload produced the edge' },
    { name: 'parent_hash', type: 'string', nullable: false, doc: 'Referring instance (or raw, for raw_ref)' },
    {
      name: 'relation',
      type: 'string',
      nullable: false,
      values: ['cref', 'ref', 'mal_ref', 'ben_ref', 'session_event', 'raw_ref'],
      doc: 'Kind of reference',
    },
    { name: 'child_hash', type: 'string', nullable: false, doc: 'Referred instance' },
    { name: 'event_ts', type: 'double', nullable: true, doc: 'Time of the event the edge belongs to, if any' },
  ],
  ['tenant', 'parent_hash', 'relation', 'child_hash'],
);

/** Every TAHOE table, by the name its S3 keys use (lambdas/shared/s3-keys.ts). */
export const TABLES = {
  tahoe_raw: TAHOE_RAW,
  tahoe_instance: TAHOE_INSTANCE,
  tahoe_edge: TAHOE_EDGE,
} as const satisfies { readonly [N in TahoeTable]: TableSpec<N> };

export type Tables = typeof TABLES;
export type TableName = keyof Tables;
export type TahoeRawRecord = RowOf<typeof TAHOE_RAW>;
export type TahoeInstanceRecord = RowOf<typeof TAHOE_INSTANCE>;
export type TahoeEdgeRecord = RowOf<typeof TAHOE_EDGE>;

export function tableSpec<N extends TableName>(name: N): Tables[N] {
  const spec = (TABLES as Record<string, TableSpec>)[name];
  if (!spec || !(TAHOE_TABLES as readonly string[]).includes(name)) {
    throw new TypeError(`unknown table ${JSON.stringify(String(name))}`);
  }
  return spec as Tables[N];
}

/** Column names in table (and file) order, for DDL and for COPY's column list. */
export function columnNames(table: TableSpec): string[] {
  return table.columns.map((c) => c.name);
}

/** The natural key columns, in key order: MERGE's ON clause and the primary key of the DDL. */
export function naturalKey(table: TableSpec): string[] {
  return [...table.key];
}

/** The columns outside the natural key, in table order: what MERGE updates when a key matches. */
export function nonKeyColumns(table: TableSpec): string[] {
  return table.columns.filter((c) => !table.key.includes(c.name)).map((c) => c.name);
}

/**
 * A comma-separated, double-quoted SQL column list (`"tenant", "_hash", …`). Names were checked against a strict
 * identifier grammar in defineTable, so quoting is only a guard against reserved words, never an escape.
 */
export function sqlColumnList(table: TableSpec, columns: readonly string[] = columnNames(table)): string {
  return columns
    .map((name) => {
      if (!table.columns.some((c) => c.name === name)) throw new TypeError(`${table.name} has no column ${name}`);
      return `"${name}"`;
    })
    .join(', ');
}
