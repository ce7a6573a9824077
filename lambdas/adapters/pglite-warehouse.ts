/**
 * The Warehouse port on embedded PostgreSQL (PGlite): the local default (DESIGN.md §3.8, §4), a real PostgreSQL
 * compiled to WebAssembly, running in this process with its data folder on disk. Same transaction and merge SQL as
 * the server adapter (PostgresWarehouse); only the COPY path differs.
 *
 * COPY: PGlite has no STDIN stream, but reads `COPY … FROM '/dev/blob'` from a Blob handed to the query. Each file's
 * COPY text (decoded one row group at a time, parquet-copy.ts) is gathered into one Blob and copied in one
 * statement. Measured against multi-row INSERTs and json_to_recordset on PGlite, this was the fastest path (see
 * docs/warehouse.md); the Blob holds one file's text at a time, bounded by the part size of the process step.
 *
 * PGlite is a single connection: sessions are serialised by a mutex, so a load's BEGIN … COMMIT never interleaves
 * with another caller's statements. One process owns a data folder at a time (PGlite does not share it).
 */
import { mkdir } from 'node:fs/promises';
import { PGlite, types } from '@electric-sql/pglite';
import {
  type PgBackend,
  type PgQueryResult,
  type PgSession,
  PostgresWarehouse,
  type PostgresWarehouseOptions,
} from '../warehouse/postgres-warehouse';

export interface PgliteWarehouseOptions extends PostgresWarehouseOptions {
  /** The data folder (e.g. `<runtime data folder>/warehouse`); omitted: in memory, for tests. */
  readonly dataDir?: string;
}

/**
 * The end of the queue of sessions per database, shared by every PgliteWarehouse on it (PGlite's own lock serves
 * single queries, not a BEGIN … COMMIT sequence of them).
 */
const tails = new WeakMap<PGlite, Promise<unknown>>();

class PgliteBackend implements PgBackend {
  constructor(
    readonly db: PGlite,
    private readonly ownsDb: boolean,
  ) {}

  withSession<T>(fn: (session: PgSession) => Promise<T>): Promise<T> {
    const db = this.db;
    const session: PgSession = {
      async query(text, params) {
        const r = await db.query<Record<string, unknown>>(text, params ? [...params] : []);
        return {
          rows: r.rows,
          fields: r.fields.map((f) => f.name),
          rowCount: r.affectedRows ?? r.rows.length,
        } satisfies PgQueryResult;
      },
      async copyText(table, columns, chunks) {
        const parts: Buffer[] = [];
        for await (const c of chunks) parts.push(c);
        const r = await db.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], {
          blob: new Blob(parts),
        });
        return r.affectedRows ?? 0;
      },
    };
    const run = (tails.get(db) ?? Promise.resolve()).then(() => fn(session));
    // The next session waits for this one to end, successfully or not.
    tails.set(
      db,
      run.catch(() => undefined),
    );
    return run;
  }

  close(): Promise<void> {
    return this.ownsDb ? this.db.close() : Promise.resolve();
  }
}

export class PgliteWarehouse extends PostgresWarehouse {
  private constructor(
    backend: PgBackend,
    options: PostgresWarehouseOptions,
    readonly db: PGlite,
  ) {
    // PGlite runs no autovacuum: statistics come from the adapter after each load (see analyzeAfterLoad).
    super(backend, { analyzeAfterLoad: true, ...options });
  }

  static async open(options: PgliteWarehouseOptions): Promise<PgliteWarehouse> {
    if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
    const db = await PGlite.create({
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      // TIMESTAMP (without time zone) holds UTC in this warehouse and a DATE is a calendar day: read them as the
      // server adapter does.
      parsers: {
        [types.TIMESTAMP]: (text: string) => new Date(`${text.replace(' ', 'T')}Z`),
        [types.DATE]: (text: string) => text,
      },
    });
    return new PgliteWarehouse(new PgliteBackend(db, true), options, db);
  }

  /**
   * A further warehouse on an open database (e.g. a second loader, or one with test faults). It shares the
   * session queue with every other on `db`, and leaves closing `db` to its opener.
   */
  static wrap(db: PGlite, options: PostgresWarehouseOptions): PgliteWarehouse {
    return new PgliteWarehouse(new PgliteBackend(db, false), options, db);
  }
}
