/**
 * Every SQL text of a load, in one place, for the three adapters (PostgreSQL server, PGlite, Redshift Data API):
 * staging tables, the merge of staging into the targets on their natural keys, the refresh of the aggregate, the
 * load_log and ingest_file writes. Identifiers come only from the schema source (checked against a strict grammar
 * in lambdas/schema/tables.ts) and from constants here; values always travel as bind parameters (`$1`, `$2`, …;
 * the Redshift adapter renames them to the Data API's `:name` form with `namedParameters`).
 *
 * The texts are the subset Redshift and PostgreSQL share, except where `Dialect` says otherwise (the lock, and the
 * type of staging columns that hold JSON text).
 *
 * The merge, per table, in three statements:
 * 1. `merge_<table>` (a temp table) = the staged rows grouped by natural key (a batch may hold one key several
 *    times: the same attribute in many files, a session's connect and close records), each non-key column combined
 *    by its MERGE_RULES rule, then combined again with the target row of the same key if there is one. Only keys
 *    that are new, or whose combined row differs from the target's, are kept. MERGE would refuse a source with
 *    repeated keys (PostgreSQL "cannot affect row a second time"; Redshift inserts them twice), hence the grouping.
 * 2. `MERGE INTO <table> USING merge_<table>`: inserts new keys, updates changed rows. Redshift's MERGE needs
 *    both clauses and a table (not a query) as its source, hence the temp table. The PostgreSQL adapters insert
 *    the new keys first, sorted by key (which the primary key's B-tree rewards), and MERGE only the changed rows.
 * 3. The aggregate rows of every (tenant, hour) that step 1 touched are recomputed from the targets.
 */
import { COUNT_FIELDS, type LedgerItem } from '../ledger/model';
import { COUNT_ATTR } from '../ledger/record';
import { columnNames, naturalKey, TABLES, type TableSpec } from '../schema/tables';
import { parseTahoeKey, type TahoeTable } from '../shared/s3-keys';
import { extraColumns, jsonColumns, MAX_WAREHOUSE_TEXT_BYTES, sqlType } from './ddl';
import type { LoadBatch, LoadFile, LoadStatus } from './port';

export type Dialect = 'postgres' | 'redshift';

/** A statement and its bind parameters. */
export interface SqlStatement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/**
 * How rows of one natural key combine, in a batch and with the row already stored:
 * - `keep`: the first stored value stays (content-determined columns: equal for equal keys);
 * - `min` / `max`: the least / greatest non-null value (a session starts at its earliest record and ends at its
 *   latest);
 * - `fill`: the stored value unless it is NULL (an edge's event time, a session's duration once its close record
 *   arrives);
 * - `verdict`: the strongest verdict: malicious over benign over unknown over none.
 */
export type MergeRule = 'keep' | 'min' | 'max' | 'fill' | 'verdict';

export const MERGE_RULES: Readonly<Record<TahoeTable, Readonly<Record<string, MergeRule>>>> = {
  tahoe_raw: {},
  tahoe_instance: { category: 'verdict', start_time: 'min', end_time: 'max', duration: 'fill' },
  tahoe_edge: { event_ts: 'fill' },
};

/** Attribute types that name an attacker's address: distinct_attackers and the top-attacker view count these. */
export const ATTACKER_IP_TYPES = ['ipv4', 'ipv6'] as const;

const VERDICTS = ['unknown', 'benign', 'malicious'] as const;

export function ruleOf(table: TableSpec, column: string): MergeRule {
  return MERGE_RULES[table.name as TahoeTable]?.[column] ?? 'keep';
}

export function stagingTable(table: TahoeTable): string {
  return `stage_${table}`;
}

export function mergeTable(table: TahoeTable): string {
  return `merge_${table}`;
}

function spec(table: TahoeTable): TableSpec {
  return TABLES[table];
}

function literalList(values: readonly string[]): string {
  return values.map((v) => `'${v}'`).join(', ');
}

// ---------------------------------------------------------------------------------------------------------------
// Single flight

/**
 * First statement of every load and migration transaction: serialises loaders. PostgreSQL: a transaction-level
 * advisory lock (released at COMMIT or ROLLBACK, so a crashed loader never leaves it held), keyed by the schema so
 * that two warehouses in one database do not wait for each other. Redshift: an exclusive table lock on load_log.
 */
export const LOCK_CLASS = 0x63796261; // 'cyba'

export function lockStatement(dialect: Dialect): string {
  return dialect === 'postgres'
    ? `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(current_schema()))`
    : 'LOCK load_log';
}

// ---------------------------------------------------------------------------------------------------------------
// Staging

/**
 * A staging table has exactly the file's columns, in file order (Redshift's COPY from Parquet maps by position).
 * JSON columns are unbounded TEXT on PostgreSQL, so that a value too big for the target is still read, measured
 * and flagged instead of failing the COPY. On Redshift (no TEXT beyond 65535 bytes) they are VARCHAR(65535).
 */
export function createStagingSql(table: TahoeTable, dialect: Dialect): string {
  const s = spec(table);
  const cols = s.columns.map((c) => {
    const type = c.json && dialect === 'postgres' ? 'TEXT' : sqlType(c);
    return `${c.name} ${type}${c.nullable ? '' : ' NOT NULL'}`;
  });
  return `CREATE TEMP TABLE ${stagingTable(table)} (${cols.join(', ')})`;
}

/** COPY's column list for a staging table (file order). */
export function copyColumns(table: TahoeTable): string[] {
  return columnNames(spec(table));
}

export function dropTempSql(name: string): string {
  return `DROP TABLE IF EXISTS ${name}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Merge

function verdictRank(expr: string): string {
  return `CASE ${expr} ${VERDICTS.map((v, i) => `WHEN '${v}' THEN ${i + 1}`).join(' ')} ELSE 0 END`;
}

function verdictOfRank(expr: string): string {
  return `CASE ${expr} ${VERDICTS.map((v, i) => `WHEN ${i + 1} THEN '${v}'`).join(' ')} END`;
}

/** The staged rows grouped by natural key, each non-key column combined by its rule. */
function groupedStaging(table: TahoeTable): string {
  const s = spec(table);
  const key = naturalKey(s);
  const cols = [...key];
  for (const c of s.columns) {
    if (key.includes(c.name)) continue;
    switch (ruleOf(s, c.name)) {
      case 'max':
        cols.push(`MAX(${c.name}) AS ${c.name}`);
        break;
      case 'verdict':
        cols.push(`MAX(${verdictRank(c.name)}) AS ${c.name}`);
        break;
      default:
        cols.push(`MIN(${c.name}) AS ${c.name}`);
    }
  }
  return `SELECT ${cols.join(', ')} FROM ${stagingTable(table)} GROUP BY ${key.join(', ')}`;
}

/** A JSON value as stored: NULL when too big for the warehouse (then `oversize` is set). */
function capped(expr: string): string {
  return `CASE WHEN OCTET_LENGTH(${expr}) > ${MAX_WAREHOUSE_TEXT_BYTES} THEN NULL ELSE ${expr} END`;
}

function tooBig(expr: string): string {
  return `OCTET_LENGTH(${expr}) > ${MAX_WAREHOUSE_TEXT_BYTES}`;
}

/**
 * The value of a column after merging grouped staging row `s` into target row `t` (all of `t` is NULL when the key
 * is new, which every rule reduces to "take s").
 */
function combined(table: TableSpec, column: string, json: boolean): string {
  const sv = json ? capped(`s.${column}`) : `s.${column}`;
  const tv = `t.${column}`;
  const isNew = `t.${table.key[0]} IS NULL`;
  switch (ruleOf(table, column)) {
    case 'keep':
      return `CASE WHEN ${isNew} THEN ${sv} ELSE ${tv} END`;
    case 'fill':
      return `CASE WHEN ${tv} IS NULL THEN ${sv} ELSE ${tv} END`;
    case 'min':
      return `CASE WHEN ${tv} IS NULL OR s.${column} < ${tv} THEN s.${column} ELSE ${tv} END`;
    case 'max':
      return `CASE WHEN ${tv} IS NULL OR s.${column} > ${tv} THEN s.${column} ELSE ${tv} END`;
    case 'verdict':
      return `CASE WHEN ${verdictRank(tv)} >= s.${column} THEN ${tv} ELSE ${verdictOfRank(`s.${column}`)} END`;
  }
}

/** Columns whose merged value can differ from the stored one (every rule but keep, and the oversize flag). */
function mutableColumns(table: TableSpec): string[] {
  const out = table.columns.filter((c) => ruleOf(table, c.name) !== 'keep').map((c) => c.name);
  if (extraColumns(table).length > 0) out.push('oversize');
  return out;
}

/** Every column of the target table, in DDL order. */
function targetColumns(table: TableSpec): string[] {
  return [...columnNames(table), ...extraColumns(table).map((c) => c.name)];
}

/** Step 1: the rows to merge, in temp table merge_<table>, with `is_new` = 1 for keys the target lacks. */
export function createMergeSourceSql(table: TahoeTable): string {
  const s = spec(table);
  const key = naturalKey(s);
  const json = new Set(jsonColumns(s));
  for (const c of json) {
    const rule = ruleOf(s, c);
    if (rule !== 'keep' && rule !== 'fill') throw new TypeError(`${table}.${c}: JSON columns merge by keep or fill`);
  }
  const select: string[] = key.map((k) => `s.${k} AS ${k}`);
  for (const c of s.columns) {
    if (!key.includes(c.name)) select.push(`${combined(s, c.name, json.has(c.name))} AS ${c.name}`);
  }
  if (extraColumns(s).length > 0) {
    // A new row is oversize when any of its JSON values is too big; a stored row stays flagged, and becomes so when
    // a value it was missing (fill) arrives too big.
    const newOversize = [...json].map((c) => tooBig(`s.${c}`)).join(' OR ');
    const filled = [...json]
      .filter((c) => ruleOf(s, c) === 'fill')
      .map((c) => `(t.${c} IS NULL AND ${tooBig(`s.${c}`)})`);
    const storedOversize = ['t.oversize', ...filled].join(' OR ');
    select.push(
      `CASE WHEN t.${key[0]} IS NULL THEN (CASE WHEN ${newOversize} THEN TRUE ELSE FALSE END)` +
        ` ELSE (CASE WHEN ${storedOversize} THEN TRUE ELSE FALSE END) END AS oversize`,
    );
  }
  const mutable = mutableColumns(s);
  for (const c of mutable) select.push(`t.${c} AS old_${c}`);
  select.push(`CASE WHEN t.${key[0]} IS NULL THEN 1 ELSE 0 END AS is_new`);
  const on = key.map((k) => `t.${k} = s.${k}`).join(' AND ');
  // NULL-safe "differs" in the shared subset (Redshift has no IS DISTINCT FROM).
  const changed = mutable.map((c) => `m.${c} <> m.old_${c} OR (m.${c} IS NULL) <> (m.old_${c} IS NULL)`);
  const keepCols = [...targetColumns(s), 'is_new'].map((c) => `m.${c}`).join(', ');
  return (
    `CREATE TEMP TABLE ${mergeTable(table)} AS SELECT ${keepCols} FROM (` +
    `SELECT ${select.join(', ')} FROM (${groupedStaging(table)}) s LEFT JOIN ${table} t ON ${on}` +
    `) m WHERE m.is_new = 1${changed.length > 0 ? ` OR ${changed.join(' OR ')}` : ''}`
  );
}

/** How many rows the merge will insert (keys new to the target). */
export function countNewRowsSql(table: TahoeTable): string {
  return `SELECT COUNT(*) AS n FROM ${mergeTable(table)} WHERE is_new = 1`;
}

/** How many rows of the merge source are new keys (`new_rows`), and how many change a stored row (`changed_rows`). */
export function countMergeSql(table: TahoeTable): string {
  return `SELECT SUM(is_new) AS new_rows, COUNT(*) - SUM(is_new) AS changed_rows FROM ${mergeTable(table)}`;
}

/** How many rows of the merge source are oversize and new (each such row is counted once, when it arrives). */
export function countOversizeSql(table: TahoeTable): string | undefined {
  if (extraColumns(spec(table)).length === 0) return undefined;
  return `SELECT COUNT(*) AS n FROM ${mergeTable(table)} WHERE is_new = 1 AND oversize`;
}

/**
 * The natural-key order as a cheap sort key (PostgreSQL only): the leading text columns of the key joined into one
 * text with CHR(1) between them and compared byte by byte (COLLATE "C"), then the other key columns. No key value
 * holds CHR(1) (tenant names, hex hashes, relation names), so this is the key's order column by column, byte-wise,
 * which is the primary key's order under C and C.UTF-8 and, for hex hashes, under any locale (elsewhere only the
 * order among tenants may differ, which costs nothing). Sorting a batch's 0.6 M new edges by the columns one by
 * one takes 1.7 s, by this key 0.9 s (the data of test/bench/warehouse.bench.ts): PostgreSQL abbreviates only the
 * first sort key, and the tenant, the same on nearly every row, gives it nothing to tell rows apart by, while the
 * joined key does; and with the database's collation a locale (PostgreSQL 15 treats even C.UTF-8 as one) every
 * comparison goes through strcoll and abbreviation is off.
 */
function insertOrder(s: TableSpec): string {
  const key = naturalKey(s);
  const text = new Set(s.columns.filter((c) => c.type === 'string').map((c) => c.name));
  let lead = 0;
  while (lead < key.length && text.has(key[lead] as string)) lead++;
  if (lead < 2) return key.join(', ');
  return [`(${key.slice(0, lead).join(' || CHR(1) || ')}) COLLATE "C"`, ...key.slice(lead)].join(', ');
}

/**
 * Step 2a (PostgreSQL only): the new keys, inserted sorted by the natural key (see insertOrder). Sorted, the
 * primary key's B-tree fills page after page instead of touching a random leaf per row (measured: twice as fast on
 * PostgreSQL, test/bench/warehouse.bench.ts). Under the load lock no other writer can add these keys in between,
 * so this is the NOT MATCHED branch of the MERGE below, done in bulk.
 */
export function insertNewRowsSql(table: TahoeTable): string {
  const s = spec(table);
  const cols = targetColumns(s).join(', ');
  return `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${mergeTable(table)} WHERE is_new = 1 ORDER BY ${insertOrder(s)}`;
}

/** Step 2b, only when stored rows change: the merge source keeps just them. */
export function dropNewRowsSql(table: TahoeTable): string {
  return `DELETE FROM ${mergeTable(table)} WHERE is_new = 1`;
}

/**
 * Step 2c: MERGE into the target on the natural key. On its own it inserts the new keys and updates the changed
 * rows (the Redshift adapter runs it so, where sort order is the table's sort key's business); the PostgreSQL
 * adapters first insert the new keys sorted (2a) and drop them from the source (2b), so that it only updates.
 */
export function mergeSql(table: TahoeTable): string {
  const s = spec(table);
  const key = naturalKey(s);
  const cols = targetColumns(s);
  const nonKey = cols.filter((c) => !key.includes(c));
  // Redshift's MERGE names the target by its table name (no alias) and wants both clauses; PostgreSQL accepts the
  // same form.
  const on = key.map((k) => `${table}.${k} = s.${k}`).join(' AND ');
  return (
    `MERGE INTO ${table} USING ${mergeTable(table)} s ON ${on}` +
    ` WHEN MATCHED THEN UPDATE SET ${nonKey.map((c) => `${c} = s.${c}`).join(', ')}` +
    ` WHEN NOT MATCHED THEN INSERT (${cols.join(', ')}) VALUES (${cols.map((c) => `s.${c}`).join(', ')})`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Aggregate

export const AGG_HOURS = 'agg_hours';

const EPOCH_PLUS = (seconds: string) => `TIMESTAMP 'epoch' + ${seconds} * INTERVAL '1 second'`;

/**
 * The (tenant, hour) pairs a load touched: hours of new or changed events, and hours of events that gained a
 * mal_ref edge (edges may arrive in a later load than their event). `tables`: the tables the batch merged.
 */
export function createAffectedHoursSql(tables: readonly TahoeTable[]): string | undefined {
  const parts: string[] = [];
  if (tables.includes('tahoe_instance')) {
    parts.push(
      `SELECT tenant, event_ts FROM ${mergeTable('tahoe_instance')} WHERE itype = 'event' AND event_ts IS NOT NULL`,
    );
  }
  if (tables.includes('tahoe_edge')) {
    parts.push(
      `SELECT tenant, event_ts FROM ${mergeTable('tahoe_edge')} WHERE relation = 'mal_ref' AND event_ts IS NOT NULL`,
    );
  }
  if (parts.length === 0) return undefined;
  return (
    `CREATE TEMP TABLE ${AGG_HOURS} AS SELECT DISTINCT x.tenant, FLOOR(x.event_ts / 3600) * 3600 AS hour_epoch` +
    ` FROM (${parts.join(' UNION ALL ')}) x`
  );
}

/** Step 3a: forget the aggregate rows of the touched hours. */
export function deleteAffectedAggregatesSql(): string {
  return (
    `DELETE FROM agg_event_hourly USING ${AGG_HOURS} k` +
    ` WHERE agg_event_hourly.tenant = k.tenant AND agg_event_hourly.hour = ${EPOCH_PLUS('k.hour_epoch')}`
  );
}

/**
 * Step 3b: recompute them from the targets. Events are read by a range on event_ts per hour (an index on
 * PostgreSQL, the sort key on Redshift), not by an expression on it, so that only the touched hours are read.
 */
export function insertAffectedAggregatesSql(): string {
  return (
    'INSERT INTO agg_event_hourly (tenant, sub_type, hour, events, distinct_attackers)' +
    ` SELECT e.tenant, e.sub_type, ${EPOCH_PLUS('k.hour_epoch')}, COUNT(DISTINCT e._hash), COUNT(DISTINCT a._hash)` +
    ` FROM ${AGG_HOURS} k` +
    ` JOIN tahoe_instance e ON e.tenant = k.tenant AND e.itype = 'event'` +
    ' AND e.event_ts >= k.hour_epoch AND e.event_ts < k.hour_epoch + 3600' +
    " LEFT JOIN tahoe_edge m ON m.tenant = e.tenant AND m.parent_hash = e._hash AND m.relation = 'mal_ref'" +
    " LEFT JOIN tahoe_instance a ON a.tenant = m.tenant AND a._hash = m.child_hash AND a.itype = 'attribute'" +
    ` AND a.sub_type IN (${literalList(ATTACKER_IP_TYPES)})` +
    ' GROUP BY e.tenant, e.sub_type, k.hour_epoch'
  );
}

// ---------------------------------------------------------------------------------------------------------------
// load_log

export const LOAD_LOG_COLUMNS = [
  'file_key',
  'load_id',
  'table_name',
  'tenant',
  'raw_sha256',
  'bytes',
  'row_count',
  'status',
  'error_message',
  'manifest_key',
  'loaded_at',
] as const;

export interface LoadLogRow {
  readonly fileKey: string;
  readonly loadId: string;
  readonly table: TahoeTable;
  readonly tenant: string;
  readonly rawSha256: string;
  readonly bytes: number;
  readonly rowCount: number;
  readonly status: 'LOADED' | 'REJECTED';
  readonly error: string | null;
  readonly manifestKey: string;
  readonly loadedAt: Date;
}

/** The load_log row recording what became of one file of a load (both warehouses write the same rows). */
export function loadLogRow(
  batch: LoadBatch,
  f: LoadFile,
  now: Date,
  status: LoadStatus,
  rowCount: number,
  error: string | null,
): LoadLogRow {
  const k = parseTahoeKey(f.key);
  return {
    fileKey: f.key,
    loadId: batch.loadId,
    table: f.table,
    tenant: k.tenant,
    rawSha256: k.rawSha256,
    bytes: f.bytes,
    rowCount,
    status,
    error,
    manifestKey: batch.manifestKey,
    loadedAt: now,
  };
}

/** Longest error message kept (the column's length). */
export const MAX_ERROR_CHARS = 4000;

/** Rows per multi-row INSERT: well under PostgreSQL's 65,535 bind parameters and the Data API's limits. */
export const ROWS_PER_INSERT = 200;

function valuesClause(rows: number, width: number, offset = 0): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < width; c++) cells.push(`$${offset + r * width + c + 1}`);
    tuples.push(`(${cells.join(', ')})`);
  }
  return tuples.join(', ');
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function insertLoadLogSql(rows: readonly LoadLogRow[]): SqlStatement[] {
  return chunks(rows, ROWS_PER_INSERT).map((chunk) => ({
    text: `INSERT INTO load_log (${LOAD_LOG_COLUMNS.join(', ')}) VALUES ${valuesClause(chunk.length, LOAD_LOG_COLUMNS.length)}`,
    params: chunk.flatMap((r) => [
      r.fileKey,
      r.loadId,
      r.table,
      r.tenant,
      r.rawSha256,
      r.bytes,
      r.rowCount,
      r.status,
      r.error === null ? null : r.error.slice(0, MAX_ERROR_CHARS),
      r.manifestKey,
      r.loadedAt,
    ]),
  }));
}

/** Which of the keys have a load_log row, and its status (IN lists of ROWS_PER_INSERT keys). */
export function selectLoadLogSql(keys: readonly string[]): SqlStatement[] {
  return chunks(keys, ROWS_PER_INSERT * 5).map((chunk) => ({
    text: `SELECT file_key, status FROM load_log WHERE file_key IN (${chunk.map((_, i) => `$${i + 1}`).join(', ')})`,
    params: chunk,
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// ingest_file

const COUNT_COLUMNS = COUNT_FIELDS.map((f) => COUNT_ATTR[f]);

export const INGEST_FILE_COLUMNS = [
  'bucket',
  'object_key',
  'version_id',
  'tenant',
  'typetag',
  'sha256',
  'size',
  'status',
  'outcome',
  'reason',
  'attempts',
  'received_at',
  'finished_at',
  ...COUNT_COLUMNS,
  'parquet_files',
  'quarantine_key',
  'load_id',
  'loaded_at',
  'ledger_marked',
  'proof_batch',
  'notarised_at',
  'recorded_at',
] as const;

export interface IngestFileRow {
  readonly item: LedgerItem;
  /** The warehouse now holds every Parquet file of the object: recorded as LOADED by `loadId`. */
  readonly loaded: boolean;
  readonly loadId: string;
  readonly now: Date;
}

function ingestValues(r: IngestFileRow): unknown[] {
  const { item } = r;
  const loadedByUs = r.loaded && item.status !== 'LOADED';
  const status = r.loaded ? 'LOADED' : item.status;
  const counts = COUNT_FIELDS.map((f) => (item.counts ? item.counts[f] : null));
  return [
    item.ref.bucket,
    item.ref.key,
    item.ref.versionId,
    item.tenant,
    item.typetag,
    item.sha256 ?? null,
    item.size,
    status,
    item.outcome ?? null,
    item.reason === undefined ? null : item.reason.slice(0, MAX_ERROR_CHARS),
    item.attempts,
    item.receivedAt,
    item.finishedAt ?? null,
    ...counts,
    item.outputs?.curated.length ?? 0,
    item.outputs?.quarantine ?? null,
    loadedByUs ? r.loadId : (item.loadId ?? null),
    loadedByUs ? r.now : (item.loadedAt ?? null),
    // The ledger already says LOADED: nothing to tell it. Otherwise the loader tells it after the commit.
    item.status === 'LOADED',
    item.proofBatch ?? null,
    item.notarisedAt ?? null,
    r.now,
  ];
}

export const STAGE_INGEST_FILE = 'stage_ingest_file';

/**
 * ingest_file rows are replaced whole (delete, then insert), through a staging table, in the load's transaction:
 * the shared subset has no upsert, and an object's row reflects the ledger as of its latest load.
 */
export function upsertIngestFileSql(rows: readonly IngestFileRow[]): SqlStatement[] {
  if (rows.length === 0) return [];
  const cols = INGEST_FILE_COLUMNS.join(', ');
  const out: SqlStatement[] = [
    { text: `CREATE TEMP TABLE ${STAGE_INGEST_FILE} AS SELECT ${cols} FROM ingest_file WHERE 1 = 0`, params: [] },
  ];
  for (const chunk of chunks(rows, ROWS_PER_INSERT)) {
    out.push({
      text: `INSERT INTO ${STAGE_INGEST_FILE} (${cols}) VALUES ${valuesClause(chunk.length, INGEST_FILE_COLUMNS.length)}`,
      params: chunk.flatMap(ingestValues),
    });
  }
  out.push(
    {
      text:
        `DELETE FROM ingest_file USING ${STAGE_INGEST_FILE} s WHERE ingest_file.bucket = s.bucket` +
        ' AND ingest_file.object_key = s.object_key AND ingest_file.version_id = s.version_id',
      params: [],
    },
    { text: `INSERT INTO ingest_file (${cols}) SELECT ${cols} FROM ${STAGE_INGEST_FILE}`, params: [] },
    { text: dropTempSql(STAGE_INGEST_FILE), params: [] },
  );
  return out;
}

/** Objects the loader must still see to: LOADED but not yet told to the ledger, or not finished when recorded. */
export function pendingObjectsSql(limit: number): SqlStatement {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer: ${limit}`);
  return {
    text:
      'SELECT bucket, object_key, version_id, status, load_id FROM ingest_file' +
      " WHERE (status = 'LOADED' AND NOT ledger_marked) OR status IN ('RECEIVED', 'PROCESSING')" +
      ' ORDER BY recorded_at LIMIT $1',
    params: [limit],
  };
}

export function confirmLedgerMarkSql(bucket: string, key: string, versionId: string): SqlStatement {
  return {
    text: 'UPDATE ingest_file SET ledger_marked = TRUE WHERE bucket = $1 AND object_key = $2 AND version_id = $3',
    params: [bucket, key, versionId],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Migrations

export function selectMigrationsSql(): string {
  return 'SELECT version, name, checksum FROM schema_migrations';
}

export function recordMigrationSql(version: string, name: string, checksum: string, at: Date): SqlStatement {
  return {
    text: 'INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)',
    params: [version, name, checksum, at],
  };
}

export function updateMigrationSql(version: string, name: string, checksum: string, at: Date): SqlStatement {
  return {
    text: 'UPDATE schema_migrations SET name = $2, checksum = $3, applied_at = $4 WHERE version = $1',
    params: [version, name, checksum, at],
  };
}

/** PostgreSQL only: views filter rows as the querying analyst, under their row-level security policies. */
export function afterCreateViewSql(view: string, dialect: Dialect): string[] {
  return dialect === 'postgres' ? [`ALTER VIEW ${view} SET (security_invoker = true)`] : [];
}

/** `$1`…`$n` → `:p1`…`:pn`, for the Redshift Data API (which binds by name). Quoted text is left alone. */
export function namedParameters(text: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === '$' && /\d/.test(text[i + 1] ?? '')) {
      out += ':p';
      continue;
    }
    out += ch;
  }
  return out;
}
