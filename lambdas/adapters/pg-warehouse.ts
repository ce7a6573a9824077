/**
 * The Warehouse port on a PostgreSQL server (DESIGN.md §3.8 "a server via WAREHOUSE_URL"), with node-postgres and
 * pg-copy-streams: Parquet rows are decoded a row group at a time and streamed in through `COPY … FROM STDIN`,
 * so memory does not grow with the batch. Everything else (transaction, lock, merge SQL) is the shared
 * PostgresWarehouse.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ConfigError, TransientError } from '../shared/errors';
import {
  type PgBackend,
  type PgQueryResult,
  type PgSession,
  PostgresWarehouse,
  type PostgresWarehouseOptions,
} from '../warehouse/postgres-warehouse';

export interface PgWarehouseOptions extends PostgresWarehouseOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  /** Schema that holds the warehouse (search_path); created if missing. @default the user's default */
  readonly schema?: string;
  /** @default 4 */
  readonly poolSize?: number;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
const TIMESTAMP_OID = 1114;
const DATE_OID = 1082;

/**
 * Values as an analyst expects them: TIMESTAMP (without time zone) is UTC in this warehouse (hours of
 * agg_event_hourly, GETDATE()), and a DATE is a calendar day; node-postgres would read both in the process's local
 * time zone.
 */
function typeParser(oid: number, format?: string): (text: string) => unknown {
  if (oid === TIMESTAMP_OID) return (text: string) => new Date(`${text.replace(' ', 'T')}Z`);
  if (oid === DATE_OID) return (text: string) => text;
  return pg.types.getTypeParser(oid, format as 'text');
}

class PgPoolBackend implements PgBackend {
  private schemaReady: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string | undefined,
  ) {}

  /** Creates the schema on first use (tests use one per run). Two processes may race: the loser's error is moot. */
  private ensureSchema(client: pg.PoolClient): Promise<void> {
    if (!this.schema) return Promise.resolve();
    this.schemaReady ??= client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`).then(
      () => undefined,
      (err: { code?: string }) => {
        if (err.code !== '23505' && err.code !== '42P06') {
          this.schemaReady = undefined;
          throw err;
        }
      },
    );
    return this.schemaReady;
  }

  async withSession<T>(fn: (session: PgSession) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw new TransientError(`cannot connect to the warehouse: ${(err as Error).message}`, { cause: err });
    }
    try {
      await this.ensureSchema(client);
    } catch (err) {
      client.release();
      throw err;
    }
    let broken: Error | undefined;
    try {
      return await fn({
        async query(text, params) {
          const r = await client.query({
            text,
            values: params ? [...params] : [],
            types: { getTypeParser: typeParser },
          });
          // A multi-statement text (no parameters) answers with one result per statement: keep the last.
          const last = (Array.isArray(r) ? r[r.length - 1] : r) as pg.QueryResult;
          return {
            rows: last?.rows ?? [],
            fields: (last?.fields ?? []).map((f) => f.name),
            rowCount: last?.rowCount ?? 0,
          } satisfies PgQueryResult;
        },
        async copyText(table, columns, chunks) {
          const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
          await pipeline(Readable.from(chunks), stream);
          return stream.rowCount;
        },
      });
    } catch (err) {
      // A connection that failed mid-COPY may be out of step with the server: do not hand it out again.
      if ((err as { code?: unknown })?.code === undefined) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export class PgWarehouse extends PostgresWarehouse {
  private constructor(
    backend: PgBackend,
    options: PostgresWarehouseOptions,
    readonly pool: pg.Pool,
  ) {
    super(backend, options);
  }

  /** Connects (lazily: the first query opens the pool's first connection). */
  static create(options: PgWarehouseOptions): PgWarehouse {
    if (options.schema !== undefined && !SCHEMA.test(options.schema)) {
      throw new ConfigError(`invalid warehouse schema name ${JSON.stringify(options.schema)}`);
    }
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ConfigError('the warehouse URL is not a URL (expected postgres://user:password@host:port/db)');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError(`the warehouse URL must be postgres://…, not ${url.protocol}//…`);
    }
    const schema = options.schema;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      // Every connection works in the warehouse's schema, set at connection start-up (no extra round trip).
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    // An idle client that loses its connection emits 'error' on the pool; without a listener it would crash the process.
    pool.on('error', () => undefined);
    return new PgWarehouse(new PgPoolBackend(pool, schema), options, pool);
  }
}
