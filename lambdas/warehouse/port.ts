/**
 * THE CONTRACT between the loader core (lambdas/warehouse/loader.ts) and every warehouse adapter: PostgreSQL server
 * (lambdas/adapters/pg-warehouse.ts), embedded PGlite (lambdas/adapters/pglite-warehouse.ts) and Redshift through
 * the Data API. Adapters are written against this file alone; change it only with every adapter's owner.
 *
 * What the core relies on (DESIGN.md §3.8):
 * - `load` is ONE transaction: COPY the batch's files into staging tables, MERGE into the targets on their natural
 *   keys, refresh the affected aggregate rows, insert one `load_log` row per file (loaded and rejected alike). If
 *   anything fails, nothing of the batch stays: the targets, aggregates and load_log are as before the call.
 * - `load` is single-flight and idempotent: concurrent calls are serialised (PostgreSQL: a transaction-level advisory
 *   lock; Redshift: `LOCK load_log`), and a file already in load_log when the lock is taken is skipped (its rows
 *   are not merged again and its load_log row is not written twice). load_log's primary key (key) is the backstop.
 * - A file that cannot be read or copied (corrupt Parquet, wrong columns, a value the column type refuses) makes
 *   `load` throw `FileLoadError`, naming the file when the warehouse says which one. Any other failure (connection
 *   lost, serialisation failure, throttling) is a `TransientError` or the driver's error: the core never rejects a
 *   file for those.
 * - Every SQL text comes from lambdas/warehouse/sql.ts (loading) and lambdas/warehouse/retention-sql.ts (age-off
 *   and purge), so that the three adapters merge and remove alike.
 * - `removeRows` (age-off and purge) runs under the same lock as `load`, in ONE transaction of its own.
 */
import type { LedgerItem, ObjectRef } from '../ledger/model';
import { PermanentError } from '../shared/errors';
import type { TahoeTable } from '../shared/s3-keys';

/** One Parquet file of a batch: a key under `tahoe/` in `LoadBatch.bucket`, and its size (manifest content_length). */
export interface LoadFile {
  readonly key: string;
  readonly table: TahoeTable;
  readonly bytes: number;
}

/** A file given up on: recorded in load_log as REJECTED with its error, in the same transaction as the batch. */
export interface RejectedFile extends LoadFile {
  readonly error: string;
}

export interface LoadBatch {
  /** A ULID, one per load attempt: names the manifests and every load_log row the attempt writes. */
  readonly loadId: string;
  /** The bucket (curated) that holds every file of the batch. */
  readonly bucket: string;
  /** The bucket the manifests were written to. */
  readonly manifestBucket: string;
  /** The attempt's whole manifest (every file, all tables): `manifestKey(loadId)`, for audit. */
  readonly manifestKey: string;
  /**
   * One Redshift manifest per table that has files in the batch (COPY loads one table from one manifest):
   * `tableManifestKey(loadId, table)`. The PostgreSQL adapters read `files` instead.
   */
  readonly tableManifests: Readonly<Partial<Record<TahoeTable, string>>>;
  /** Files to COPY and MERGE, each in exactly one table. May be empty when the batch only records rejections. */
  readonly files: readonly LoadFile[];
  /** Files to record as REJECTED (no rows loaded). */
  readonly rejected: readonly RejectedFile[];
  /**
   * The raw objects the batch's files came from, as the ledger knows them, for `ingest_file` (the ledger as a
   * table). `loaded`: every Parquet file of the object is LOADED once this batch commits; the row is then written
   * as LOADED with this load id and queued for the ledger (see `pendingObjects`).
   */
  readonly objects: readonly IngestObject[];
}

export interface IngestObject {
  readonly item: LedgerItem;
  readonly loaded: boolean;
}

export type LoadStatus = 'LOADED' | 'REJECTED';

/**
 * An ingest_file row the loader must come back to: `LOADED` but not yet confirmed in the ledger (an outbox: the
 * loader crashed between COMMIT and the ledger write), or recorded while the object was still `RECEIVED` /
 * `PROCESSING` (its files were loaded before the process step finished; once it has, the object can be LOADED).
 */
export interface PendingObject {
  readonly ref: ObjectRef;
  readonly status: string;
  readonly loadId: string | undefined;
}

/** Rows per table, as COPY read them from the batch's files (before MERGE dropped those already present). */
export type TableCounts = Readonly<Record<TahoeTable, number>>;

export interface LoadResult {
  /** Rows read from the files (COPY's counts). */
  readonly copied: TableCounts;
  /** Rows the MERGE inserted (new natural keys); copied − inserted were already there (repeats). */
  readonly inserted: TableCounts;
  /** Rows whose JSON text was too big for the warehouse: kept whole in Parquet, stored NULL and flagged. */
  readonly oversize: number;
  /** Files of the batch that another run had loaded or rejected meanwhile: skipped, nothing written for them. */
  readonly skipped: readonly string[];
  /** Rows copied per file key (only files this call loaded). */
  readonly rowsByFile: Readonly<Record<string, number>>;
}

export interface QueryResult {
  readonly columns: readonly string[];
  /** Values as the driver gives them: strings, numbers, booleans, Dates, null; BIGINT/NUMERIC as strings. */
  readonly rows: readonly Readonly<Record<string, unknown>>[];
}

/**
 * The object's own tahoe_instance Parquet files, for a warehouse that reads a purge's candidates itself
 * (`Warehouse.removalCandidates` 'files'): a Redshift COPY manifest of them, written by the purge core with the
 * loader's manifest builders under the purge id (`tableManifestKey(purgeId, 'tahoe_instance')`). Every file is one
 * the warehouse has LOADED (so COPY reads it as a load did) and was there when the purge read it.
 */
export interface CandidateFiles {
  /** The bucket (curated) that holds the files. */
  readonly bucket: string;
  /** The bucket the manifest was written to. */
  readonly manifestBucket: string;
  readonly manifestKey: string;
  /** What the manifest lists: `tahoe/tahoe_instance/tenant=T/dt=…/<sha256>-NNNNN.parquet` of the request's object. */
  readonly files: readonly LoadFile[];
}

/**
 * What `removeRows` removes (retention, DESIGN.md §3.7):
 * - `AGE_OFF`: the tenant's raws received before `before` (tahoe_raw.received_at < before);
 * - `PURGE_OBJECT`: the tenant's raws of the raw object with this SHA-256 (tahoe_raw.object_sha256);
 * - `PURGE_TENANT`: every row of the tenant, in every table that has a tenant column;
 * - `FORGET_FILES`: only the load_log rows of the tenant's files (of the object with `sha256`, or all of them), so
 *   that the same content, uploaded again, loads again. No other table changes.
 * For AGE_OFF and PURGE_OBJECT, instances and edges go when nothing that remains needs them. The candidates are
 * what the removed raws reach through `tahoe_edge` (raw_ref from the raw's `_hash`, then every relation, to any
 * depth), plus the given candidates and what they reach (PURGE_OBJECT: the instance hashes of the object's own
 * Parquet files, which also covers instances a filter left unlinked to its raw). The given candidates are
 * `candidates` and, where the warehouse reads them itself, the `_hash` column of `candidateFiles`. A candidate that
 * a raw links to directly (a session, an event: raw_ref) stays only while a remaining raw of the tenant still links
 * to it; any other candidate stays while something that stays refers to it. So removing objects leaves what loading
 * the remaining objects alone would have produced, except that a session shared with a remaining object keeps the
 * start and end times merged from every record it saw. An edge goes with its parent or its child. The
 * agg_event_hourly rows of every hour a removed event (or a removed mal_ref edge) touched are recomputed from what
 * remains.
 *
 * PURGE_* also delete the purged files' load_log rows, unless `keepLoadLog`: the purge core keeps them while the
 * Parquet files may still be in S3 (a file in load_log is never loaded again, so a load in between cannot bring the
 * rows back), and forgets them with FORGET_FILES once every file is gone.
 */
export type RemovalRequest =
  | { readonly kind: 'AGE_OFF'; readonly tenant: string; readonly before: Date }
  | {
      readonly kind: 'PURGE_OBJECT';
      readonly tenant: string;
      readonly sha256: string;
      readonly candidates?: readonly string[] | undefined;
      /** Only for a warehouse whose `removalCandidates` is 'files'; the others ignore it. */
      readonly candidateFiles?: CandidateFiles | undefined;
      readonly keepLoadLog?: boolean | undefined;
    }
  | { readonly kind: 'PURGE_TENANT'; readonly tenant: string; readonly keepLoadLog?: boolean | undefined }
  | { readonly kind: 'FORGET_FILES'; readonly tenant: string; readonly sha256?: string | undefined };

export interface RemovalResult {
  /** Rows deleted per table. */
  readonly deleted: TableCounts;
  /** agg_event_hourly rows deleted (recomputed rows are inserted again and not counted). */
  readonly aggregateRowsDeleted: number;
  /**
   * PURGE_* without `keepLoadLog`, and FORGET_FILES: load_log rows of the purged files deleted (so that a later
   * upload of the same content loads again). AGE_OFF, and PURGE_* with `keepLoadLog`: 0 (age-off keeps the files'
   * rows: they are still loaded history, and their Parquet files stay in S3 until the lifecycle expires them).
   */
  readonly loadLogRowsDeleted: number;
  /** PURGE_*: ingest_file rows set to status PURGED; 0 otherwise. */
  readonly ingestFilesPurged: number;
}

export interface Warehouse {
  /**
   * How the warehouse takes a PURGE_OBJECT's given candidates. 'values' (the default): `candidates`, bound as
   * parameters (the PostgreSQL adapters run statement after statement, so any number fits). 'files': from
   * `candidateFiles`, which the warehouse reads itself (Redshift: one Data API batch holds at most 40 statements
   * of bounded size, while a large object's files hold hundreds of thousands of instance hashes); `candidates`
   * then only adds to them.
   */
  readonly removalCandidates?: 'values' | 'files';

  /**
   * Applies the migrations of sql/migrations not yet in schema_migrations (each in its own transaction, under the
   * same lock as `load`), then (re)creates the analyst views. Returns the versions it applied. Idempotent.
   */
  applyMigrations(now: Date): Promise<string[]>;

  /** The load_log status of those of `keys` that have a row (LOADED or REJECTED); absent keys are not loaded. */
  loadedKeys(keys: readonly string[]): Promise<Map<string, LoadStatus>>;

  /** Loads a batch in one transaction; see the file comment. `now` is load_log's loaded_at. */
  load(batch: LoadBatch, now: Date): Promise<LoadResult>;

  /** The PendingObject rows, at most `limit`, oldest first. */
  pendingObjects(limit: number): Promise<PendingObject[]>;

  /** Records that the ledger now says LOADED for these objects: they leave `pendingObjects`. */
  confirmLedgerMarks(refs: readonly ObjectRef[]): Promise<void>;

  /**
   * Removes rows (see RemovalRequest) in ONE transaction holding the load lock, and records the removal in
   * purge_log (`id`: a ULID naming it; `now`: its time; `kind`: the request's) in the same transaction. With
   * `dryRun`, computes the same counts and rolls back. Idempotent: repeating a removal deletes nothing more and
   * records another row.
   */
  removeRows(
    request: RemovalRequest,
    options: { readonly id: string; readonly now: Date; readonly dryRun?: boolean },
  ): Promise<RemovalResult>;

  /** Tenants that have rows in tahoe_raw (age-off visits each). */
  tenantsWithRows(): Promise<string[]>;

  /** Runs an analyst's query with bind parameters ($1, $2, …). For the CLI and tests, never for user-built SQL. */
  query(sql: string, params?: readonly unknown[]): Promise<QueryResult>;

  /** Releases connections. */
  close(): Promise<void>;
}

/**
 * A file of the batch could not be copied: it is corrupt, not Parquet, has other columns, or holds a value the
 * column refuses. `fileKey` is the file when the warehouse named it (the PostgreSQL adapters always do; Redshift's
 * STL_LOAD_ERRORS usually does); without it the core bisects the batch to find the file. A PermanentError: the
 * same file fails the same way every time, so the core gives up on it (REJECTED) instead of retrying forever.
 */
export class FileLoadError extends PermanentError {
  constructor(
    readonly fileKey: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('BAD_DATA', message, options);
  }
}
