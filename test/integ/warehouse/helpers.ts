/**
 * Shared parts of the warehouse integration tests: the two PostgreSQL backends (a real PostgreSQL 15 server and
 * embedded PGlite), Parquet produced by the real process core, and an oracle that computes what the warehouse
 * tables must hold from the Parquet files alone (an independent reading of the merge rules in sql.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { PgWarehouse } from '../../../lambdas/adapters/pg-warehouse';
import { PgliteWarehouse } from '../../../lambdas/adapters/pglite-warehouse';
import { cowrieLines } from '../../../lambdas/local/sample-logs';
import { createPartWriter } from '../../../lambdas/parquet/part-writer';
import {
  columnNames,
  naturalKey,
  TABLES,
  type TableName,
  type TahoeInstanceRecord,
} from '../../../lambdas/schema/tables';
import { TAHOE_TABLES, type TahoeTable } from '../../../lambdas/shared/s3-keys';
import { type LoaderDeps, runLoader } from '../../../lambdas/warehouse/loader';
import type { Warehouse } from '../../../lambdas/warehouse/port';
import type { LoadFaults } from '../../../lambdas/warehouse/postgres-warehouse';
import { filesUnder, runCli } from '../../helpers/local';
import { readHyparquet } from '../../unit/parquet/helpers';

export { copyDir as copyOf, filesUnder, removeDir, runCli as cli } from '../../helpers/local';

export const SERVER_URL =
  process.env.WAREHOUSE_TEST_URL ?? 'postgres://cyberactive:cyberactive@127.0.0.1:5432/cyberactive_test';

const HOW_TO_START = `The warehouse server tests need PostgreSQL 15 at ${SERVER_URL} (set WAREHOUSE_TEST_URL to use another).
Start it and create the test role and database, as root:
  pg_ctlcluster 15 main start
  su postgres -c "psql -c \\"CREATE ROLE cyberactive LOGIN PASSWORD 'cyberactive' CREATEROLE\\""
  su postgres -c "psql -c 'CREATE DATABASE cyberactive_test OWNER cyberactive'"`;

/** Fails (never skips) when the server is not there: CI starts it, and a silent skip would hide a broken setup. */
export async function requireServer(): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`PostgreSQL server unreachable (${(err as Error).message}).\n${HOW_TO_START}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * PGlite loads its WebAssembly with dynamic import(), which jest's module sandbox only allows with this flag;
 * without it the worker crashes with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG instead of failing a test.
 */
export function requireVmModules(): void {
  if (!/--experimental-vm-modules/.test(`${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`)) {
    throw new Error('the PGlite tests need jest run with NODE_OPTIONS=--experimental-vm-modules');
  }
}

export type BackendName = 'server' | 'pglite';
export const BACKENDS: readonly BackendName[] = ['server', 'pglite'];

/** A warehouse under test: a fresh schema on the server, or a fresh in-memory PGlite. */
export interface TestWarehouse {
  readonly name: BackendName;
  /** Opens a (further) warehouse on the same database: a second loader, or one with injected faults. */
  open(faults?: LoadFaults): Promise<Warehouse>;
  /** Runs SQL as the owner, outside the port (setup of roles, direct checks). */
  admin(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs one query as `role` (SET LOCAL ROLE in a transaction that is rolled back). */
  asRole(role: string, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Creates a role for the test (dropped by dispose on the server, where roles outlive schemas). */
  createRole(role: string): Promise<void>;
  dispose(): Promise<void>;
}

export async function testWarehouse(name: BackendName, store: FsObjectStore): Promise<TestWarehouse> {
  if (name === 'server') {
    const schema = `wh_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    const opened: Warehouse[] = [];
    const roles: string[] = [];
    const admin = new pg.Pool({
      connectionString: SERVER_URL,
      max: 2,
      options: `-c search_path=${schema}`,
      // As the adapter reads them: DATE as its text, TIMESTAMP (UTC in this warehouse) as a UTC instant.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
          if (oid === 1082) return (text: string) => text;
          if (oid === 1114) return (text: string) => new Date(`${text.replace(' ', 'T')}Z`);
          return pg.types.getTypeParser(oid, format ?? 'text');
        }) as typeof pg.types.getTypeParser,
      },
    });
    return {
      name,
      async open(faults) {
        const w = PgWarehouse.create({ url: SERVER_URL, schema, store, ...(faults ? { faults } : {}) });
        opened.push(w);
        return w;
      },
      async admin(sql, params) {
        return (await admin.query(sql, params)).rows;
      },
      async asRole(role, sql, params) {
        const client = await admin.connect();
        try {
          await client.query('BEGIN');
          await client.query(`SET LOCAL ROLE ${role}`);
          return (await client.query(sql, params)).rows;
        } finally {
          await client.query('ROLLBACK');
          client.release();
        }
      },
      async createRole(role) {
        await admin.query(`CREATE ROLE ${role} NOLOGIN`);
        roles.push(role);
        // PostgreSQL 15 does not make the creator a member (16 does); SET ROLE needs membership.
        await admin.query(`GRANT ${role} TO CURRENT_USER`);
      },
      async dispose() {
        for (const w of opened) await w.close().catch(() => undefined);
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        for (const r of roles) await admin.query(`DROP ROLE IF EXISTS ${r}`);
        await admin.end();
      },
    };
  }
  requireVmModules();
  // One PGlite database per test; every warehouse opened on it shares it (PGlite is one connection: they take turns).
  const base = await PgliteWarehouse.open({ store });
  const db = base.db;
  return {
    name,
    async open(faults) {
      return PgliteWarehouse.wrap(db, { store, ...(faults ? { faults } : {}) });
    },
    async admin(sql, params) {
      return (await db.query<Record<string, unknown>>(sql, params)).rows;
    },
    async asRole(role, sql, params) {
      return db.transaction(async (tx) => {
        await tx.query(`SET LOCAL ROLE ${role}`);
        const rows = (await tx.query<Record<string, unknown>>(sql, params)).rows;
        await tx.rollback();
        return rows;
      });
    },
    async createRole(role) {
      await db.query(`CREATE ROLE ${role} NOLOGIN`);
    },
    async dispose() {
      await base.close();
    },
  };
}

/**
 * Processed Parquet from the real process core (`cyberactive process`): two tenants' Cowrie logs, in several parts
 * per table. Built once per test file; each test works on its own copy (the loader writes manifests and the ledger).
 */
export async function processedFixture(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'wh-fixture-'));
  const inputs = [
    { tenant: 'acme', lines: 900, seed: 7, at: '2026-11-02T10:00:00Z' },
    { tenant: 'acme', lines: 400, seed: 8, at: '2026-11-02T12:00:00Z' },
    { tenant: 'beta', lines: 500, seed: 9, at: '2026-11-03T09:00:00Z' },
  ];
  for (const [i, x] of inputs.entries()) {
    const file = join(dir, `input-${i}.jsonl`);
    const start = new Date(Date.parse('2026-11-01T00:00:00Z') + i * 3 * 3600_000);
    writeFileSync(file, `${[...cowrieLines({ lines: x.lines, seed: x.seed, badShare: 0.03, start })].join('\n')}\n`);
    const r = await runCli([
      'process',
      file,
      '--tenant',
      x.tenant,
      '--typetag',
      'cowrie',
      '--out',
      join(dir, 'out'),
      '--received-at',
      x.at,
      '--rows-per-part',
      '1500',
    ]);
    if (r.code !== 0) throw new Error(`process failed: ${r.stderr}`);
  }
  return join(dir, 'out');
}

export function parquetKeys(dir: string, table?: TahoeTable): string[] {
  return filesUnder(join(dir, 'curated'))
    .filter((k) => k.startsWith(table ? `tahoe/${table}/` : 'tahoe/') && k.endsWith('.parquet'))
    .sort();
}

export function loaderDeps(dir: string, warehouse: Warehouse, clock = () => new Date('2026-11-22T10:30:00Z')) {
  return {
    store: new FsObjectStore(dir),
    warehouse,
    ledger: LocalLedger.atPath(join(dir, 'ledger')),
    buckets: { curated: 'curated', manifests: 'manifests' },
    clock,
  } satisfies LoaderDeps;
}

export function load(dir: string, warehouse: Warehouse) {
  return runLoader(loaderDeps(dir, warehouse));
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle

export type Row = Record<string, unknown>;

const VERDICT_RANK: Record<string, number> = { unknown: 1, benign: 2, malicious: 3 };

/** What a table must hold after loading these files: rows grouped by natural key and combined by the rules. */
export function expectedRows(rowsByFile: readonly Row[][], table: TahoeTable): Row[] {
  const spec = TABLES[table];
  const key = naturalKey(spec);
  const merged = new Map<string, Row>();
  for (const rows of rowsByFile) {
    for (const r of rows) {
      const k = JSON.stringify(key.map((c) => r[c]));
      const have = merged.get(k);
      if (!have) {
        merged.set(k, { ...r });
        continue;
      }
      if (table === 'tahoe_instance') {
        if ((VERDICT_RANK[String(r.category)] ?? 0) > (VERDICT_RANK[String(have.category)] ?? 0)) {
          have.category = r.category;
        }
        if (
          r.start_time != null &&
          (have.start_time == null || (r.start_time as number) < (have.start_time as number))
        ) {
          have.start_time = r.start_time;
        }
        if (r.end_time != null && (have.end_time == null || (r.end_time as number) > (have.end_time as number))) {
          have.end_time = r.end_time;
        }
        if (have.duration == null) have.duration = r.duration;
      }
      if (table === 'tahoe_edge' && have.event_ts == null) have.event_ts = r.event_ts;
    }
  }
  return [...merged.values()];
}

export async function parquetRows(dir: string, key: string): Promise<Row[]> {
  return readHyparquet(readFileSync(join(dir, 'curated', key)));
}

export async function expectedTables(dir: string, keys?: readonly string[]): Promise<Record<TahoeTable, Row[]>> {
  const out = {} as Record<TahoeTable, Row[]>;
  for (const t of TAHOE_TABLES) {
    const files = parquetKeys(dir, t).filter((k) => !keys || keys.includes(`${k}`));
    out[t] = expectedRows(await Promise.all(files.map((k) => parquetRows(dir, k))), t);
  }
  return out;
}

/** One canonical text per row, for exact comparison of a table with the oracle. */
export function canonical(table: TahoeTable, row: Row): string {
  return JSON.stringify(
    columnNames(TABLES[table]).map((c) => {
      const v = row[c];
      if (v === null || v === undefined) return null;
      if (c === 'record_no') return Number(v);
      return v;
    }),
  );
}

/** The table as stored, timestamps as exact microsecond ISO text (as the oracle reads them from Parquet). */
export async function actualRows(w: TestWarehouse, table: TahoeTable): Promise<Row[]> {
  const cols = columnNames(TABLES[table]).map((c) =>
    c === 'received_at' ? `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${c}` : c,
  );
  return w.admin(`SELECT ${cols.join(', ')} FROM ${table}`);
}

export async function expectTablesEqual(w: TestWarehouse, expected: Record<TahoeTable, Row[]>): Promise<void> {
  for (const t of TAHOE_TABLES) {
    const actual = (await actualRows(w, t)).map((r) => canonical(t, r)).sort();
    const want = expected[t].map((r) => canonical(t, r)).sort();
    expect({ table: t, rows: actual.length }).toEqual({ table: t, rows: want.length });
    expect(actual).toEqual(want);
  }
}

export async function count(w: TestWarehouse, sql: string, params?: unknown[]): Promise<number> {
  const rows = await w.admin(sql, params);
  return Number(Object.values(rows[0] ?? {})[0]);
}

/** A random SHA-256 in hex: a raw object or instance hash no fixture uses. */
export const sha = (): string => randomBytes(32).toString('hex');

/** Writes `rows` as the Parquet file `key` of the folder store's curated bucket, as the process step would. */
export async function writeParquet(dir: string, table: TableName, key: string, rows: readonly Row[]): Promise<void> {
  const writer = createPartWriter(table, {
    rowsPerPart: 1000,
    onPart: (_n, bytes) => {
      const path = join(dir, 'curated', key);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, bytes);
    },
  });
  for (const r of rows) await writer.add(r as never);
  await writer.end();
}

/** An instance row: an ipv4 attribute unless `over` says otherwise. */
export function instance(tenant: string, hash: string, over: Partial<TahoeInstanceRecord>): TahoeInstanceRecord {
  return {
    tenant,
    _hash: hash,
    itype: 'attribute',
    sub_type: 'ipv4',
    data: '"192.0.2.99"',
    orgid: null,
    event_ts: null,
    category: null,
    start_time: null,
    end_time: null,
    duration: null,
    ...over,
  };
}
