/**
 * The Warehouse port (./port.ts) on PostgreSQL, shared by the server adapter (lambdas/adapters/pg-warehouse.ts,
 * node-postgres) and the embedded one (lambdas/adapters/pglite-warehouse.ts, PGlite). They differ only in how a
 * session is obtained and how COPY text reaches the server; the transaction, the SQL (./sql.ts) and the error
 * classification are here, once.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AsyncBuffer } from 'hyparquet';
import { NoSuchObjectError, type ObjectStore } from '../adapters/object-store';
import type { ObjectRef } from '../ledger/model';
import { ConfigError, PermanentError, TransientError } from '../shared/errors';
import { TAHOE_TABLES, type TahoeTable } from '../shared/s3-keys';
import { loadMigrations, loadViews, VIEWS_VERSION } from './migrations';
import { bufferSource, fileSource, ParquetFileError, parquetCopyText } from './parquet-copy';
import {
  FileLoadError,
  type LoadBatch,
  type LoadFile,
  type LoadResult,
  type LoadStatus,
  type PendingObject,
  type QueryResult,
  type RemovalRequest,
  type RemovalResult,
  type TableCounts,
  type Warehouse,
} from './port';
import { removeRowsInTransaction, tenantsWithRows } from './postgres-retention';
import {
  AGG_HOURS,
  afterCreateViewSql,
  confirmLedgerMarkSql,
  copyColumns,
  countMergeSql,
  countOversizeSql,
  createAffectedHoursSql,
  createMergeSourceSql,
  createStagingSql,
  deleteAffectedAggregatesSql,
  dropNewRowsSql,
  dropTempSql,
  insertAffectedAggregatesSql,
  insertLoadLogSql,
  insertNewRowsSql,
  type LoadLogRow,
  loadLogRow,
  lockStatement,
  mergeSql,
  mergeTable,
  pendingObjectsSql,
  recordMigrationSql,
  type SqlStatement,
  selectLoadLogSql,
  selectMigrationsSql,
  stagingTable,
  updateMigrationSql,
  upsertIngestFileSql,
} from './sql';

export interface PgQueryResult {
  readonly rows: Record<string, unknown>[];
  readonly fields: readonly string[];
  readonly rowCount: number;
}

/** One connection, used by one caller at a time. */
export interface PgSession {
  query(text: string, params?: readonly unknown[]): Promise<PgQueryResult>;
  /** COPY text rows (see parquet-copy.ts) into `table (columns)`; resolves to the number of rows copied. */
  copyText(table: string, columns: readonly string[], chunks: AsyncIterable<Buffer>): Promise<number>;
}

export interface PgBackend {
  /** Runs `fn` on a connection of its own (the caller issues BEGIN/COMMIT). */
  withSession<T>(fn: (session: PgSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Test hooks: failures injected at chosen points of a load, to prove that a failed run changes nothing. */
export interface LoadFaults {
  /** Called inside the transaction after every file was copied into staging, before any MERGE. */
  afterCopy?(batch: LoadBatch): void | Promise<void>;
  /** Called inside the transaction just before COMMIT. */
  beforeCommit?(batch: LoadBatch): void | Promise<void>;
}

export interface PostgresWarehouseOptions {
  /** Where the Parquet files of a batch are read from (the curated bucket is `batch.bucket`). */
  readonly store: ObjectStore;
  /** sql/ folder (migrations and views). @default the repository's */
  readonly sqlDir?: string;
  /** Files up to this size are read into memory; larger ones are spooled to a temporary file. @default 16 MiB */
  readonly inMemoryBytes?: number;
  readonly faults?: LoadFaults;
  /** work_mem of a load transaction, in MB (PostgreSQL's default of 4 MB makes it sort on disk). @default 128 */
  readonly workMemMb?: number;
  /** Receives the duration of each step of a load (benchmarks, diagnostics). */
  readonly trace?: (step: string, ms: number) => void;
  /**
   * ANALYZE the tables a load added rows to, after it commits. A server's autovacuum daemon does this by itself
   * (a while later); embedded PGlite has no background workers, so without it the planner takes freshly loaded
   * tables for empty and the analyst views run for seconds instead of milliseconds. @default false
   */
  readonly analyzeAfterLoad?: boolean;
}

/** SQLSTATE classes that mean "this data cannot go in": data exceptions, integrity violations. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** SQLSTATEs worth retrying: serialization failure, deadlock, connection problems, server shutting down. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') {
    return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|Connection terminated/i.test(String((err as Error)?.message));
  }
  return code === '40001' || code === '40P01' || code.startsWith('08') || code === '57P01' || code === '53300';
}

function zeroCounts(): Record<TahoeTable, number> {
  return { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 };
}

function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(v as string);
}

export class PostgresWarehouse implements Warehouse {
  private readonly inMemoryBytes: number;
  private readonly workMemMb: number;

  constructor(
    private readonly backend: PgBackend,
    private readonly options: PostgresWarehouseOptions,
  ) {
    this.inMemoryBytes = options.inMemoryBytes ?? 16 * 1024 * 1024;
    this.workMemMb = options.workMemMb ?? 128;
    if (!Number.isSafeInteger(this.workMemMb) || this.workMemMb < 1) {
      throw new ConfigError(`workMemMb must be a positive integer, not ${options.workMemMb}`);
    }
  }

  /**
   * Runs `fn` in a transaction that holds the load lock; rolls back on any failure, and also on success with
   * `rollback` (a dry run).
   */
  private async transaction<T>(fn: (s: PgSession) => Promise<T>, options: { rollback?: boolean } = {}): Promise<T> {
    return this.backend.withSession(async (s) => {
      await s.query('BEGIN');
      try {
        await s.query(lockStatement('postgres'));
        const result = await fn(s);
        await s.query(options.rollback ? 'ROLLBACK' : 'COMMIT');
        return result;
      } catch (err) {
        await s.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  private async run(s: PgSession, statements: readonly SqlStatement[]): Promise<void> {
    for (const st of statements) await s.query(st.text, st.params);
  }

  async applyMigrations(now: Date): Promise<string[]> {
    const migrations = loadMigrations('postgres', this.options.sqlDir);
    const views = loadViews('postgres', this.options.sqlDir);
    const applied: string[] = [];
    const bootstrap = migrations[0];
    for (const m of migrations) {
      const done = await this.transaction(async (s) => {
        // 0000 creates schema_migrations IF NOT EXISTS: run it every time, under the lock, before reading it.
        for (const st of bootstrap?.statements ?? []) await s.query(st);
        const known = new Map(
          (await s.query(selectMigrationsSql())).rows.map((r) => [String(r.version), String(r.checksum)]),
        );
        const checksum = known.get(m.version);
        if (checksum !== undefined) {
          if (checksum !== m.checksum) {
            throw new ConfigError(`migration ${m.file} was changed after it was applied; add a new migration instead`);
          }
          return false;
        }
        if (m !== bootstrap) for (const st of m.statements) await s.query(st);
        const rec = recordMigrationSql(m.version, m.name, m.checksum, now);
        await s.query(rec.text, rec.params);
        return true;
      });
      if (done) applied.push(m.version);
    }
    await this.transaction(async (s) => {
      const row = (await s.query(selectMigrationsSql())).rows.find((r) => r.version === VIEWS_VERSION);
      if (row && row.checksum === views.checksum) return;
      // Views depend on one another: drop them all (last first), then create them in order.
      for (const v of [...views.views].reverse()) await s.query(`DROP VIEW IF EXISTS ${v.name}`);
      for (const v of views.views) {
        for (const st of v.statements) await s.query(st);
        for (const st of afterCreateViewSql(v.name, 'postgres')) await s.query(st);
      }
      const names = views.views.map((v) => v.name).join(',');
      const st = row
        ? updateMigrationSql(VIEWS_VERSION, names, views.checksum, now)
        : recordMigrationSql(VIEWS_VERSION, names, views.checksum, now);
      await s.query(st.text, st.params);
      applied.push(VIEWS_VERSION);
    });
    return applied;
  }

  private async statuses(s: PgSession, keys: readonly string[]): Promise<Map<string, LoadStatus>> {
    const out = new Map<string, LoadStatus>();
    for (const st of selectLoadLogSql(keys)) {
      for (const r of (await s.query(st.text, st.params)).rows) out.set(String(r.file_key), r.status as LoadStatus);
    }
    return out;
  }

  async loadedKeys(keys: readonly string[]): Promise<Map<string, LoadStatus>> {
    if (keys.length === 0) return new Map();
    return this.backend.withSession((s) => this.statuses(s, keys));
  }

  /** Streams one file into its staging table; a problem with the file becomes a FileLoadError naming it. */
  private async copyFile(s: PgSession, bucket: string, file: LoadFile): Promise<number> {
    let spool: string | undefined;
    let source: (AsyncBuffer & { close?(): Promise<void> }) | undefined;
    try {
      const object = await this.options.store.get(bucket, file.key);
      if (object.size <= this.inMemoryBytes) {
        const chunks: Buffer[] = [];
        for await (const c of object.body) chunks.push(c as Buffer);
        source = bufferSource(Buffer.concat(chunks));
      } else {
        spool = await mkdtemp(join(tmpdir(), 'cyberactive-load-'));
        const path = join(spool, 'part.parquet');
        await pipeline(object.body, createWriteStream(path));
        source = await fileSource(path);
      }
      return await s.copyText(stagingTable(file.table), copyColumns(file.table), parquetCopyText(source, file.table));
    } catch (err) {
      if (err instanceof ParquetFileError || err instanceof NoSuchObjectError || isDataError(err)) {
        throw new FileLoadError(file.key, `${file.key}: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    } finally {
      await source?.close?.();
      if (spool) await rm(spool, { recursive: true, force: true });
    }
  }

  async load(batch: LoadBatch, now: Date): Promise<LoadResult> {
    let result: LoadResult;
    try {
      result = await this.transaction((s) => this.loadInTransaction(s, batch, now));
    } catch (err) {
      if (err instanceof PermanentError || err instanceof ConfigError) throw err;
      if (isTransient(err)) throw new TransientError(`warehouse: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    if (this.options.analyzeAfterLoad) await this.analyze(result);
    return result;
  }

  /**
   * Statistics for the tables that gained rows (after COMMIT: the load's outcome does not depend on it). Also
   * agg_event_hourly, load_log and ingest_file, which every such load changes. A failure here fails nothing.
   */
  private async analyze(result: LoadResult): Promise<void> {
    const tables: string[] = TAHOE_TABLES.filter((t) => result.inserted[t] > 0);
    if (tables.length === 0) return;
    tables.push('agg_event_hourly', 'load_log', 'ingest_file');
    await this.backend.withSession((s) => s.query(`ANALYZE ${tables.join(', ')}`)).catch(() => undefined);
  }

  private async loadInTransaction(session: PgSession, batch: LoadBatch, now: Date): Promise<LoadResult> {
    const trace = this.options.trace;
    const s: PgSession = trace
      ? {
          async query(text, params) {
            const t0 = performance.now();
            const r = await session.query(text, params);
            trace(text.slice(0, 60), performance.now() - t0);
            return r;
          },
          async copyText(table, columns, chunks) {
            const t0 = performance.now();
            const r = await session.copyText(table, columns, chunks);
            trace(`COPY ${table}`, performance.now() - t0);
            return r;
          },
        }
      : session;
    const keys = [...batch.files.map((f) => f.key), ...batch.rejected.map((f) => f.key)];
    // Under the lock: what another run recorded meanwhile is skipped, so nothing is merged or logged twice.
    const already = keys.length > 0 ? await this.statuses(s, keys) : new Map<string, LoadStatus>();
    const files = batch.files.filter((f) => !already.has(f.key));
    const rejected = batch.rejected.filter((f) => !already.has(f.key));
    const copied = zeroCounts();
    const inserted = zeroCounts();
    const rowsByFile: Record<string, number> = {};
    let oversize = 0;

    const tables = TAHOE_TABLES.filter((t) => files.some((f) => f.table === t));
    // Grouping and sorting a batch's rows in memory instead of in temporary files (4 MB by default).
    await s.query(`SET LOCAL work_mem = '${this.workMemMb}MB'`);
    for (const t of tables) await s.query(createStagingSql(t, 'postgres'));
    for (const f of files) {
      const rows = await this.copyFile(s, batch.bucket, f);
      rowsByFile[f.key] = rows;
      copied[f.table] += rows;
    }
    await this.options.faults?.afterCopy?.(batch);

    for (const t of tables) {
      // Temp tables get no statistics from autovacuum; without them the planner guesses the join badly.
      await s.query(`ANALYZE ${stagingTable(t)}`);
      await s.query(createMergeSourceSql(t));
      const counts = (await s.query(countMergeSql(t))).rows[0];
      inserted[t] = toNumber(counts?.new_rows ?? 0);
      const over = countOversizeSql(t);
      if (over) oversize += toNumber((await s.query(over)).rows[0]?.n);
      if (inserted[t] > 0) await s.query(insertNewRowsSql(t));
      if (toNumber(counts?.changed_rows ?? 0) > 0) {
        await s.query(dropNewRowsSql(t));
        await s.query(mergeSql(t));
      }
    }
    const hours = createAffectedHoursSql(tables);
    if (hours) {
      await s.query(hours);
      await s.query(deleteAffectedAggregatesSql());
      await s.query(insertAffectedAggregatesSql());
      await s.query(dropTempSql(AGG_HOURS));
    }

    const logRows: LoadLogRow[] = [
      ...files.map((f) => loadLogRow(batch, f, now, 'LOADED', rowsByFile[f.key] ?? 0, null)),
      ...rejected.map((f) => loadLogRow(batch, f, now, 'REJECTED', 0, f.error)),
    ];
    await this.run(s, insertLoadLogSql(logRows));
    // When every file was skipped, the run that loaded them wrote these rows; rewriting them would only blur which
    // load did it.
    const allSkipped = keys.length > 0 && files.length + rejected.length === 0;
    if (!allSkipped) {
      await this.run(
        s,
        upsertIngestFileSql(batch.objects.map((o) => ({ item: o.item, loaded: o.loaded, loadId: batch.loadId, now }))),
      );
    }
    for (const t of tables) {
      await s.query(dropTempSql(mergeTable(t)));
      await s.query(dropTempSql(stagingTable(t)));
    }
    await this.options.faults?.beforeCommit?.(batch);
    return {
      copied: copied as TableCounts,
      inserted: inserted as TableCounts,
      oversize,
      skipped: keys.filter((k) => already.has(k)),
      rowsByFile,
    };
  }

  async removeRows(
    request: RemovalRequest,
    options: { readonly id: string; readonly now: Date; readonly dryRun?: boolean },
  ): Promise<RemovalResult> {
    try {
      // Under the load lock, so that a removal and a load never interleave; a dry run rolls back.
      return await this.transaction((s) => removeRowsInTransaction(s, request, options), {
        rollback: options.dryRun === true,
      });
    } catch (err) {
      if (isTransient(err)) throw new TransientError(`warehouse: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }

  async tenantsWithRows(): Promise<string[]> {
    return this.backend.withSession((s) => tenantsWithRows(s));
  }

  async pendingObjects(limit: number): Promise<PendingObject[]> {
    const st = pendingObjectsSql(limit);
    const { rows } = await this.backend.withSession((s) => s.query(st.text, st.params));
    return rows.map((r) => ({
      ref: { bucket: String(r.bucket), key: String(r.object_key), versionId: String(r.version_id) },
      status: String(r.status),
      loadId: r.load_id == null ? undefined : String(r.load_id),
    }));
  }

  async confirmLedgerMarks(refs: readonly ObjectRef[]): Promise<void> {
    if (refs.length === 0) return;
    await this.backend.withSession(async (s) => {
      await s.query('BEGIN');
      try {
        for (const r of refs) {
          const st = confirmLedgerMarkSql(r.bucket, r.key, r.versionId);
          await s.query(st.text, st.params);
        }
        await s.query('COMMIT');
      } catch (err) {
        await s.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<QueryResult> {
    const r = await this.backend.withSession((s) => s.query(sql, params));
    return { columns: r.fields, rows: r.rows };
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}
