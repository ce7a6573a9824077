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
 * - Every SQL text comes from lambdas/warehouse/sql.ts, so that the three adapters merge alike.
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

export interface Warehouse {
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
