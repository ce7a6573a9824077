import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { monotonicFactory } from 'ulid';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import type { PgliteWarehouse } from '../../../lambdas/adapters/pglite-warehouse';
import { parseTahoeKey, tahoeKey } from '../../../lambdas/shared/s3-keys';
import type { RemovalRequest, RemovalResult, Warehouse } from '../../../lambdas/warehouse/port';
import { removeRowsInTransaction } from '../../../lambdas/warehouse/postgres-retention';
import type { PgSession } from '../../../lambdas/warehouse/postgres-warehouse';
import { copyColumns, createStagingSql } from '../../../lambdas/warehouse/sql';
import {
  BACKENDS,
  type BackendName,
  cli,
  copyOf,
  count,
  expectedTables,
  expectTablesEqual,
  instance,
  load,
  parquetKeys,
  parquetRows,
  processedFixture,
  type Row,
  removeDir,
  requireServer,
  SERVER_URL,
  sha,
  type TestWarehouse,
  testWarehouse,
  writeParquet,
} from './helpers';

let fixture: Promise<string> | undefined;
function processed(): Promise<string> {
  fixture ??= processedFixture();
  return fixture;
}

const NOW = new Date('2026-11-23T08:00:00Z');
/** Ids in the order they are made, as purge_log's order by id needs. */
const ulid = monotonicFactory();
const GRAPH_TABLES = ['tahoe_raw', 'tahoe_instance', 'tahoe_edge', 'agg_event_hourly'] as const;
const ALL_TABLES = [...GRAPH_TABLES, 'load_log', 'ingest_file', 'purge_log'] as const;

interface RawObject {
  readonly tenant: string;
  readonly sha256: string;
  readonly keys: string[];
}

/** The raw objects of the processed folder, as the Parquet keys name them, in key order. */
function rawObjects(dir: string): RawObject[] {
  const out = new Map<string, RawObject>();
  for (const key of parquetKeys(dir)) {
    const k = parseTahoeKey(key);
    const id = `${k.tenant}/${k.rawSha256}`;
    const o = out.get(id) ?? { tenant: k.tenant, sha256: k.rawSha256, keys: [] };
    o.keys.push(key);
    out.set(id, o);
  }
  return [...out.values()];
}

/** The fixture's objects: acme's first (received 10:00) and second (12:00) upload, and beta's. */
async function objectsByUpload(dir: string): Promise<{ first: RawObject; second: RawObject; beta: RawObject }> {
  const objects = rawObjects(dir);
  const received = async (o: RawObject) => {
    const key = o.keys.find((k) => k.startsWith('tahoe/tahoe_raw/')) as string;
    return String((await parquetRows(dir, key))[0]?.received_at);
  };
  const acme = objects.filter((o) => o.tenant === 'acme');
  const times = await Promise.all(acme.map(received));
  const order = acme.map((o, i) => ({ o, t: times[i] as string })).sort((a, b) => a.t.localeCompare(b.t));
  const beta = objects.find((o) => o.tenant === 'beta');
  if (order.length !== 2 || !beta) throw new Error('the fixture should hold two acme objects and one beta object');
  return { first: order[0]?.o as RawObject, second: order[1]?.o as RawObject, beta };
}

/** The instance hashes of an object's own Parquet files (the candidates a purge of it passes). */
async function instanceHashes(dir: string, o: RawObject): Promise<string[]> {
  const out = new Set<string>();
  for (const key of o.keys.filter((k) => k.startsWith('tahoe/tahoe_instance/'))) {
    for (const r of await parquetRows(dir, key)) out.add(String(r._hash));
  }
  return [...out];
}

/** Every row of a table, each as PostgreSQL's exact JSON text of it, sorted: equal snapshots are equal tables. */
async function tableText(w: TestWarehouse, table: string, where = ''): Promise<string[]> {
  const rows = await w.admin(`SELECT row_to_json(x)::text AS j FROM ${table} x ${where}`);
  return rows.map((r) => String(r.j)).sort();
}

async function snapshot(w: TestWarehouse, tables: readonly string[] = GRAPH_TABLES, where = '') {
  const out: Record<string, string[]> = {};
  for (const t of tables) out[t] = await tableText(w, t, where);
  return out;
}

async function rowCounts(w: TestWarehouse): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of GRAPH_TABLES) out[t] = await count(w, `SELECT COUNT(*) FROM ${t}`);
  return out;
}

/** The table contents of a fresh warehouse loaded with the processed files of every object but `without`. */
async function loadedWithout(
  backend: BackendName,
  source: string,
  without: readonly RawObject[],
): Promise<Record<string, string[]>> {
  const dir = copyOf(source);
  const fresh = await testWarehouse(backend, new FsObjectStore(dir));
  try {
    for (const o of without) for (const k of o.keys) rmSync(join(dir, 'curated', k));
    await load(dir, await fresh.open());
    return await snapshot(fresh);
  } finally {
    await fresh.dispose();
    removeDir(dir);
  }
}

function remove(warehouse: Warehouse, request: RemovalRequest, dryRun = false): Promise<RemovalResult> {
  return warehouse.removeRows(request, { id: ulid(NOW.getTime()), now: NOW, dryRun });
}

async function rowsOf(dir: string, o: RawObject, table: string): Promise<Row[]> {
  const keys = o.keys.filter((k) => k.startsWith(`tahoe/${table}/`));
  return (await Promise.all(keys.map((k) => parquetRows(dir, k)))).flat();
}

/**
 * A synthetic object without raws: an event of an hour and type `first` has, naming as malicious an attribute of its
 * own and one the first upload's events also name. No raw reaches its instances: only candidates do.
 */
async function writeUnlinkedObject(dir: string, first: RawObject) {
  const instances = await rowsOf(dir, first, 'tahoe_instance');
  const byHash = new Map(instances.map((r) => [String(r._hash), r]));
  const mal = (await rowsOf(dir, first, 'tahoe_edge')).find(
    (e) => e.relation === 'mal_ref' && byHash.get(String(e.child_hash))?.sub_type === 'ipv4',
  ) as Row;
  const hostEvent = byHash.get(String(mal.parent_hash)) as Row;
  const shared = String(mal.child_hash);
  const event = instance('acme', sha(), {
    itype: 'event',
    sub_type: String(hostEvent.sub_type),
    data: '{"synthetic":true}',
    orgid: String(hostEvent.orgid),
    event_ts: Number(hostEvent.event_ts),
    category: 'malicious',
  });
  const own = instance('acme', sha(), {});
  const object = sha();
  const key = (t: 'tahoe_instance' | 'tahoe_edge') =>
    tahoeKey({ table: t, tenant: 'acme', dt: '2026-11-05', rawSha256: object, part: 0 });
  await writeParquet(dir, 'tahoe_instance', key('tahoe_instance'), [event, own]);
  const edge = (child: string) => ({
    tenant: 'acme',
    parent_hash: event._hash,
    relation: 'mal_ref',
    child_hash: child,
    event_ts: event.event_ts,
  });
  await writeParquet(dir, 'tahoe_edge', key('tahoe_edge'), [edge(own._hash), edge(shared)]);
  return { object, event, own, shared, instanceKey: key('tahoe_instance') };
}

/** A PostgreSQL session on the test warehouse's database, outside the adapters (to run other dialects' texts). */
async function rawSession(w: TestWarehouse): Promise<{ session: PgSession; close(): Promise<void> }> {
  const copyText = async (): Promise<number> => {
    throw new Error('not used');
  };
  if (w.name === 'pglite') {
    const { db } = (await w.open()) as PgliteWarehouse;
    return {
      session: {
        async query(text, params) {
          const r = await db.query<Record<string, unknown>>(text, params ? [...params] : []);
          return { rows: r.rows, fields: r.fields.map((f) => f.name), rowCount: r.affectedRows ?? r.rows.length };
        },
        copyText,
      },
      close: async () => undefined,
    };
  }
  const schema = String((await w.admin('SELECT current_schema() AS s'))[0]?.s);
  const client = new pg.Client({ connectionString: SERVER_URL, options: `-c search_path=${schema}` });
  await client.connect();
  return {
    session: {
      async query(text, params) {
        const r = await client.query(text, params ? [...params] : []);
        return { rows: r.rows, fields: r.fields.map((f) => f.name), rowCount: r.rowCount ?? 0 };
      },
      copyText,
    },
    close: () => client.end(),
  };
}

const ZERO: RemovalResult = {
  deleted: { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 },
  aggregateRowsDeleted: 0,
  loadLogRowsDeleted: 0,
  ingestFilesPurged: 0,
};

/** What the tables lost, from their row counts before and after. */
function lost(before: Record<string, number>, after: Record<string, number>) {
  return {
    tahoe_raw: (before.tahoe_raw ?? 0) - (after.tahoe_raw ?? 0),
    tahoe_instance: (before.tahoe_instance ?? 0) - (after.tahoe_instance ?? 0),
    tahoe_edge: (before.tahoe_edge ?? 0) - (after.tahoe_edge ?? 0),
    agg_event_hourly: (before.agg_event_hourly ?? 0) - (after.agg_event_hourly ?? 0),
  };
}

function asLost(r: RemovalResult) {
  return { ...r.deleted, agg_event_hourly: r.aggregateRowsDeleted };
}

describe.each(BACKENDS)('warehouse removal on %s', (backend) => {
  let dir: string;
  let w: TestWarehouse;
  let warehouse: Warehouse;

  beforeAll(async () => {
    if (backend === 'server') await requireServer();
    await processed();
  });

  beforeEach(async () => {
    dir = copyOf(await processed());
    w = await testWarehouse(backend, new FsObjectStore(dir));
    warehouse = await w.open();
    await load(dir, warehouse);
  });

  afterEach(async () => {
    await w.dispose();
    removeDir(dir);
  });

  it('purging one object leaves exactly what loading the other objects alone gives', async () => {
    const { second } = await objectsByUpload(dir);
    const before = await rowCounts(w);
    const r = await remove(warehouse, {
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: second.sha256,
      candidates: await instanceHashes(dir, second),
    });
    expect(await snapshot(w)).toEqual(await loadedWithout(backend, dir, [second]));
    // The TAHOE tables also equal what the remaining Parquet files say, merged by the rules.
    const remaining = parquetKeys(dir).filter((k) => !second.keys.includes(k));
    await expectTablesEqual(w, await expectedTables(dir, remaining));
    expect(asLost(r)).toEqual(lost(before, await rowCounts(w)));
    expect(r.deleted.tahoe_raw).toBe(
      (
        await Promise.all(second.keys.filter((k) => k.startsWith('tahoe/tahoe_raw/')).map((k) => parquetRows(dir, k)))
      ).flat().length,
    );
    expect(r.deleted.tahoe_instance).toBeGreaterThan(0);
    expect(r.loadLogRowsDeleted).toBe(second.keys.length);
    expect(r.ingestFilesPurged).toBe(1);
  });

  it('ages off the raws received before a date, leaving what loading the later objects alone gives', async () => {
    const { first } = await objectsByUpload(dir);
    const before = await rowCounts(w);
    const logBefore = await snapshot(w, ['load_log', 'ingest_file']);
    const r = await remove(warehouse, {
      kind: 'AGE_OFF',
      tenant: 'acme',
      before: new Date('2026-11-02T11:00:00Z'),
    });
    expect(await snapshot(w)).toEqual(await loadedWithout(backend, dir, [first]));
    expect(asLost(r)).toEqual(lost(before, await rowCounts(w)));
    expect(r.deleted.tahoe_raw).toBeGreaterThan(0);
    // Age-off keeps the history of what was loaded: the files stay loaded and are not loaded again.
    expect(r.loadLogRowsDeleted).toBe(0);
    expect(r.ingestFilesPurged).toBe(0);
    expect(await snapshot(w, ['load_log', 'ingest_file'])).toEqual(logBefore);
    expect((await load(dir, warehouse)).filesLoaded).toBe(0);
  });

  it('keeps what a record uploaded again in another object still derives, and its raw_ref edges', async () => {
    const { first } = await objectsByUpload(dir);
    // A third acme object repeating the first 60 records of the first upload: the same raw hashes, events and
    // sessions, received later.
    const input = join(await processed(), '..', 'input-0.jsonl');
    const repeat = join(dir, 'repeat.jsonl');
    writeFileSync(repeat, `${readFileSync(input, 'utf8').split('\n').slice(0, 60).join('\n')}\n`);
    const r0 = await cli(['process', repeat, '--tenant', 'acme', '--typetag', 'cowrie', '--out', dir]);
    expect(r0.code).toBe(0);
    await load(dir, warehouse);
    const known = new Set(rawObjects(await processed()).map((o) => o.sha256));
    const third = rawObjects(dir).find((o) => !known.has(o.sha256));
    expect(third?.tenant).toBe('acme');
    const sharedRaws = await count(
      w,
      'SELECT COUNT(DISTINCT a._hash) FROM tahoe_raw a JOIN tahoe_raw b ON a.tenant = b.tenant AND a._hash = b._hash' +
        ' WHERE a.object_sha256 = $1 AND b.object_sha256 = $2',
      [first.sha256, third?.sha256],
    );
    expect(sharedRaws).toBeGreaterThan(0);

    await remove(warehouse, {
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: first.sha256,
      candidates: await instanceHashes(dir, first),
    });
    const got = await snapshot(w);
    const want = await loadedWithout(backend, dir, [first]);
    for (const t of ['tahoe_raw', 'tahoe_edge', 'agg_event_hourly'])
      expect({ t, rows: got[t] }).toEqual({ t, rows: want[t] });
    // Sessions both objects derived keep the times merged from both (a removal does not re-merge what remains): the
    // start no later and the end no earlier than the repeated records alone give. Every other column is equal.
    const parsed = (tables: Record<string, string[]>) => (tables.tahoe_instance ?? []).map((j) => JSON.parse(j) as Row);
    const strip = (r: Row) => JSON.stringify({ ...r, start_time: null, end_time: null, duration: null });
    const gotRows = parsed(got);
    const wantRows = parsed(want);
    expect(gotRows.map(strip).sort()).toEqual(wantRows.map(strip).sort());
    const id = (r: Row) => `${r.tenant}/${r._hash}`;
    const wantById = new Map(wantRows.map((r) => [id(r), r]));
    for (const r of gotRows.filter((x) => x.itype === 'session')) {
      const ref = wantById.get(id(r)) as Row;
      if (ref.start_time != null) expect(r.start_time as number).toBeLessThanOrEqual(ref.start_time as number);
      if (ref.end_time != null) expect(r.end_time as number).toBeGreaterThanOrEqual(ref.end_time as number);
    }
    for (const r of gotRows.filter((x) => x.itype !== 'session')) {
      expect(JSON.stringify(r)).toBe(JSON.stringify(wantById.get(id(r))));
    }
  });

  it('removes instances no raw links to only when they are candidates, and keeps a candidate that stays referred to', async () => {
    const { first } = await objectsByUpload(dir);
    const reference = await snapshot(w);
    const { object, event, own, shared } = await writeUnlinkedObject(dir, first);
    await load(dir, warehouse);
    expect(await snapshot(w, ['agg_event_hourly'])).not.toEqual({ agg_event_hourly: reference.agg_event_hourly });

    // Without candidates nothing reaches them: only the object's load_log rows go.
    const blind = await remove(warehouse, { kind: 'PURGE_OBJECT', tenant: 'acme', sha256: object });
    expect(blind).toEqual({ ...ZERO, loadLogRowsDeleted: 2 });
    expect(
      await count(w, 'SELECT COUNT(*) FROM tahoe_instance WHERE _hash IN ($1, $2)', [event._hash, own._hash]),
    ).toBe(2);

    const r = await remove(warehouse, {
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: object,
      candidates: [event._hash, own._hash, shared],
    });
    expect(r).toEqual({ ...ZERO, deleted: { tahoe_raw: 0, tahoe_instance: 2, tahoe_edge: 2 } });
    // The hour still has the first upload's events: its row is recomputed, not gone.
    expect(await snapshot(w)).toEqual(reference);
  });

  it('purging a tenant removes its rows everywhere and leaves other tenants’ rows untouched byte for byte', async () => {
    const beta = "WHERE tenant = 'beta'";
    const others = await snapshot(w, ALL_TABLES, beta);
    const acme = async (t: string) => count(w, `SELECT COUNT(*) FROM ${t} WHERE tenant = 'acme'`);
    const before = {
      raw: await acme('tahoe_raw'),
      instance: await acme('tahoe_instance'),
      edge: await acme('tahoe_edge'),
      agg: await acme('agg_event_hourly'),
      log: await acme('load_log'),
      files: await acme('ingest_file'),
    };
    expect(Object.values(before).every((n) => n > 0)).toBe(true);
    const r = await remove(warehouse, { kind: 'PURGE_TENANT', tenant: 'acme' });
    expect(r).toEqual({
      deleted: { tahoe_raw: before.raw, tahoe_instance: before.instance, tahoe_edge: before.edge },
      aggregateRowsDeleted: before.agg,
      loadLogRowsDeleted: before.log,
      ingestFilesPurged: before.files,
    });
    for (const t of ['tahoe_raw', 'tahoe_instance', 'tahoe_edge', 'agg_event_hourly', 'load_log']) {
      expect({ t, n: await acme(t) }).toEqual({ t, n: 0 });
    }
    const statuses = await w.admin("SELECT DISTINCT status FROM ingest_file WHERE tenant = 'acme'");
    expect(statuses).toEqual([{ status: 'PURGED' }]);
    expect(await snapshot(w, ALL_TABLES, beta)).toEqual(others);
    expect(await warehouse.tenantsWithRows()).toEqual(['beta']);
  });

  it.each(['AGE_OFF', 'PURGE_OBJECT', 'PURGE_TENANT', 'FORGET_FILES'] as const)(
    'a dry run of %s changes nothing and reports the counts of the real run',
    async (kind) => {
      const { first } = await objectsByUpload(dir);
      const request: RemovalRequest =
        kind === 'AGE_OFF'
          ? { kind, tenant: 'acme', before: new Date('2026-11-02T11:00:00Z') }
          : kind === 'PURGE_OBJECT'
            ? { kind, tenant: 'acme', sha256: first.sha256, candidates: await instanceHashes(dir, first) }
            : kind === 'FORGET_FILES'
              ? { kind, tenant: 'acme', sha256: first.sha256 }
              : { kind, tenant: 'acme' };
      const before = await snapshot(w, ALL_TABLES);
      const dry = await remove(warehouse, request, true);
      expect(await snapshot(w, ALL_TABLES)).toEqual(before);
      expect(dry).not.toEqual(ZERO);
      expect(await remove(warehouse, request)).toEqual(dry);
    },
  );

  it('a repeated removal deletes nothing more, and each run is recorded in purge_log', async () => {
    const { second } = await objectsByUpload(dir);
    const purge: RemovalRequest = {
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: second.sha256,
      candidates: await instanceHashes(dir, second),
    };
    const ageOff: RemovalRequest = { kind: 'AGE_OFF', tenant: 'acme', before: new Date('2026-11-02T11:00:00Z') };
    const ids = [ulid(), ulid(), ulid(), ulid(), ulid()] as const;
    const results: RemovalResult[] = [];
    results.push(await warehouse.removeRows(purge, { id: ids[0], now: NOW }));
    const afterFirst = await snapshot(w, [...GRAPH_TABLES, 'load_log', 'ingest_file']);
    results.push(await warehouse.removeRows(purge, { id: ids[1], now: NOW }));
    expect(results[1]).toEqual(ZERO);
    expect(await snapshot(w, [...GRAPH_TABLES, 'load_log', 'ingest_file'])).toEqual(afterFirst);
    results.push(await warehouse.removeRows(ageOff, { id: ids[2], now: NOW }));
    expect(results[2]?.deleted.tahoe_raw).toBeGreaterThan(0);
    results.push(await warehouse.removeRows(ageOff, { id: ids[3], now: NOW }));
    expect(results[3]).toEqual(ZERO);
    // A dry run is never recorded.
    await warehouse.removeRows(ageOff, { id: ids[4], now: NOW, dryRun: true });

    const log = await w.admin(
      "SELECT id, kind, tenant, sha256, to_char(before_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS before_ts," +
        ' raws, instances, edges, aggregate_rows, load_log_rows, ingest_files, recorded_at FROM purge_log ORDER BY id',
    );
    const row = (id: string, request: RemovalRequest, r: RemovalResult) => ({
      id,
      kind: request.kind,
      tenant: 'acme',
      sha256: request.kind === 'PURGE_OBJECT' ? request.sha256 : null,
      before_ts: request.kind === 'AGE_OFF' ? '2026-11-02T11:00:00' : null,
      raws: r.deleted.tahoe_raw,
      instances: r.deleted.tahoe_instance,
      edges: r.deleted.tahoe_edge,
      aggregate_rows: r.aggregateRowsDeleted,
      load_log_rows: r.loadLogRowsDeleted,
      ingest_files: r.ingestFilesPurged,
      recorded_at: NOW,
    });
    // BIGINT arrives as text from the server and as a number from PGlite.
    const counts = ['raws', 'instances', 'edges', 'aggregate_rows', 'load_log_rows', 'ingest_files'];
    const logged = log.map((x) => ({ ...x, ...Object.fromEntries(counts.map((c) => [c, Number(x[c])])) }));
    expect(logged).toEqual(
      [purge, purge, ageOff, ageOff].map((q, i) => row(ids[i] as string, q, results[i] as RemovalResult)),
    );
  });

  it('forgets the purged files in load_log, so that loading them again loads them again', async () => {
    const { second } = await objectsByUpload(dir);
    const r = await remove(warehouse, { kind: 'PURGE_OBJECT', tenant: 'acme', sha256: second.sha256 });
    expect(r.loadLogRowsDeleted).toBe(second.keys.length);
    expect(await count(w, 'SELECT COUNT(*) FROM load_log WHERE raw_sha256 = $1', [second.sha256])).toBe(0);
    expect(
      (await w.admin('SELECT status FROM ingest_file WHERE sha256 = $1', [second.sha256])).map((x) => x.status),
    ).toEqual(['PURGED']);
    const again = await load(dir, warehouse);
    expect(again.filesLoaded).toBe(second.keys.length);
    await expectTablesEqual(w, await expectedTables(dir));
  });

  it('a purge that keeps load_log, then FORGET_FILES, ends as one purge that forgets, and nothing loads in between', async () => {
    const { second } = await objectsByUpload(dir);
    const candidates = await instanceHashes(dir, second);
    const logBefore = await snapshot(w, ['load_log']);

    const rows = await remove(warehouse, {
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: second.sha256,
      candidates,
      keepLoadLog: true,
    });
    expect(rows.deleted.tahoe_raw).toBeGreaterThan(0);
    expect(rows.loadLogRowsDeleted).toBe(0);
    expect(rows.ingestFilesPurged).toBe(1);
    expect(await snapshot(w, ['load_log'])).toEqual(logBefore);
    // The files are still in S3 and in load_log: a load takes none of them, so the rows stay gone.
    expect((await load(dir, warehouse)).filesLoaded).toBe(0);
    const without = await loadedWithout(backend, dir, [second]);
    expect(await snapshot(w)).toEqual(without);

    const forget = await remove(warehouse, { kind: 'FORGET_FILES', tenant: 'acme', sha256: second.sha256 });
    expect(forget).toEqual({ ...ZERO, loadLogRowsDeleted: second.keys.length });
    expect(await count(w, 'SELECT COUNT(*) FROM load_log WHERE raw_sha256 = $1', [second.sha256])).toBe(0);
    // Only that object's rows: every other file is still in load_log, and no other table changed.
    expect(await count(w, 'SELECT COUNT(*) FROM load_log')).toBe(
      (logBefore.load_log ?? []).length - second.keys.length,
    );
    expect(await snapshot(w)).toEqual(without);
    const log = await w.admin(
      "SELECT kind, sha256, raws, load_log_rows, ingest_files FROM purge_log WHERE kind = 'FORGET_FILES'",
    );
    expect(
      log.map((r) => ({
        ...r,
        raws: Number(r.raws),
        load_log_rows: Number(r.load_log_rows),
        ingest_files: Number(r.ingest_files),
      })),
    ).toEqual([
      { kind: 'FORGET_FILES', sha256: second.sha256, raws: 0, load_log_rows: second.keys.length, ingest_files: 0 },
    ]);
    // Forgotten: loading the files again loads them again.
    expect((await load(dir, warehouse)).filesLoaded).toBe(second.keys.length);
    await expectTablesEqual(w, await expectedTables(dir));
  });

  it('FORGET_FILES of a tenant forgets every file of the tenant and no other tenant’s', async () => {
    const beta = await snapshot(w, ['load_log'], "WHERE tenant = 'beta'");
    const acme = await count(w, "SELECT COUNT(*) FROM load_log WHERE tenant = 'acme'");
    expect(acme).toBeGreaterThan(0);
    const r = await remove(warehouse, { kind: 'FORGET_FILES', tenant: 'acme' });
    expect(r).toEqual({ ...ZERO, loadLogRowsDeleted: acme });
    expect(await count(w, "SELECT COUNT(*) FROM load_log WHERE tenant = 'acme'")).toBe(0);
    expect(await snapshot(w, ['load_log'], "WHERE tenant = 'beta'")).toEqual(beta);
  });

  it('serialises a removal with a load that is under way: the removal waits, both complete', async () => {
    const { second } = await objectsByUpload(dir);
    const purge: RemovalRequest = {
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: second.sha256,
      candidates: await instanceHashes(dir, second),
    };
    // Forget the second object, then hold a load of it inside its transaction while the removal is asked for.
    await remove(warehouse, purge);
    let copied!: () => void;
    const inside = new Promise<void>((resolve) => {
      copied = resolve;
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const loader = await w.open({
      afterCopy: async () => {
        copied();
        await held;
      },
    });
    const loading = load(dir, loader);
    await inside;
    let removed = false;
    const removing = remove(await w.open(), purge).then((r) => {
      removed = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(removed).toBe(false);
    release();
    const [l, r] = await Promise.all([loading, removing]);
    expect(l.filesLoaded).toBe(second.keys.length);
    // The removal ran after the load committed: it found the files just loaded and removed them again.
    expect(r.deleted.tahoe_raw).toBeGreaterThan(0);
    expect(r.loadLogRowsDeleted).toBe(second.keys.length);
    expect(await snapshot(w)).toEqual(await loadedWithout(backend, dir, [second]));
  });

  it('removes the same rows when Redshift takes the candidates from the object’s files as with the values', async () => {
    const { first } = await objectsByUpload(dir);
    // An object whose instances only its own files name (no raw reaches them): the candidates decide everything.
    const { object, instanceKey } = await writeUnlinkedObject(dir, first);
    await load(dir, warehouse);
    const hashes = (await parquetRows(dir, instanceKey)).map((r) => String(r._hash));
    const base = { kind: 'PURGE_OBJECT', tenant: 'acme', sha256: object, keepLoadLog: true } as const;
    const { session, close } = await rawSession(w);
    const cols = copyColumns('tahoe_instance').join(', ');
    // What Redshift's COPY of the object's instance files leaves in the staging table: the files' rows, as loaded.
    const copyCandidates = [
      { text: createStagingSql('tahoe_instance', 'redshift'), params: [] },
      {
        text: `INSERT INTO stage_tahoe_instance (${cols}) SELECT ${cols} FROM tahoe_instance WHERE tenant = $1 AND _hash = ANY($2)`,
        params: ['acme', hashes],
      },
    ];
    let redshift: { result: RemovalResult; tables: Record<string, string[]> };
    try {
      await session.query('BEGIN');
      const result = await removeRowsInTransaction(session, base, {
        id: ulid(),
        now: NOW,
        dialect: 'redshift',
        copyCandidates,
      });
      const tables: Record<string, string[]> = {};
      for (const t of ALL_TABLES.filter((x) => x !== 'purge_log')) {
        tables[t] = (await session.query(`SELECT row_to_json(x)::text AS j FROM ${t} x`)).rows
          .map((x) => String(x.j))
          .sort();
      }
      redshift = { result, tables };
    } finally {
      await session.query('ROLLBACK');
      await close();
    }
    // Without candidates nothing would go; with them, the object's two instances and their two edges.
    expect(redshift.result).toEqual({ ...ZERO, deleted: { tahoe_raw: 0, tahoe_instance: 2, tahoe_edge: 2 } });
    const result = await remove(warehouse, { ...base, candidates: hashes });
    expect(result).toEqual(redshift.result);
    expect(
      await snapshot(
        w,
        ALL_TABLES.filter((x) => x !== 'purge_log'),
      ),
    ).toEqual(redshift.tables);
  });

  it('removes the same rows with the texts Redshift is sent as with PostgreSQL’s', async () => {
    const { second } = await objectsByUpload(dir);
    const request: RemovalRequest = {
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: second.sha256,
      candidates: await instanceHashes(dir, second),
    };
    const { session, close } = await rawSession(w);
    let redshift: { result: RemovalResult; tables: Record<string, string[]> };
    try {
      await session.query('BEGIN');
      const result = await removeRowsInTransaction(session, request, { id: ulid(), now: NOW, dialect: 'redshift' });
      const tables: Record<string, string[]> = {};
      for (const t of ALL_TABLES.filter((x) => x !== 'purge_log')) {
        tables[t] = (await session.query(`SELECT row_to_json(x)::text AS j FROM ${t} x`)).rows
          .map((x) => String(x.j))
          .sort();
      }
      redshift = { result, tables };
    } finally {
      await session.query('ROLLBACK');
      await close();
    }
    const result = await remove(warehouse, request);
    expect(result).toEqual(redshift.result);
    expect(
      await snapshot(
        w,
        ALL_TABLES.filter((x) => x !== 'purge_log'),
      ),
    ).toEqual(redshift.tables);
  });
});
