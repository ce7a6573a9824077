/**
 * Age-off and purge end to end, on both PostgreSQL backends (the server and embedded PGlite): real Cowrie logs of
 * three tenants processed by the real process core, loaded by the real loader, then purged or aged off by the
 * retention core through the real warehouse adapters, with the folder object store and the folder ledger.
 */
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { FileTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import type { ObjectStore } from '../../../lambdas/adapters/object-store';
import { naturalKey, TABLES } from '../../../lambdas/schema/tables';
import { TAHOE_TABLES, type TahoeTable } from '../../../lambdas/shared/s3-keys';
import { runLoader } from '../../../lambdas/warehouse/loader';
import type { RemovalRequest, Warehouse } from '../../../lambdas/warehouse/port';
import { ageOff, type PurgeDeps, type PurgeRecord, purge } from '../../../lambdas/warehouse/retention';
import {
  buildFixture,
  byName,
  copyDir,
  type FixtureObject,
  keysOf,
  NOW,
  objectsIn,
  removeDir,
  settings,
  writeTenantsFile,
} from '../../unit/warehouse/retention-fixture';
import {
  BACKENDS,
  count,
  expectedTables,
  loaderDeps,
  type Row,
  requireServer,
  type TestWarehouse,
  testWarehouse,
} from './helpers';

jest.setTimeout(120_000);

const BUCKETS = { raw: 'raw', curated: 'curated', quarantine: 'quarantine', manifests: 'manifests' } as const;

let fixture: { dir: string; objects: FixtureObject[] };

beforeAll(async () => {
  if (BACKENDS.includes('server')) await requireServer();
  fixture = await buildFixture();
});
afterAll(() => removeDir(fixture.dir));

/** Natural keys of a table's rows of one tenant, as text, sorted. */
async function keysInWarehouse(tw: TestWarehouse, table: TahoeTable, tenant: string): Promise<string[]> {
  const cols = naturalKey(TABLES[table]);
  const rows = await tw.admin(`SELECT ${cols.join(', ')} FROM ${table} WHERE tenant = $1`, [tenant]);
  return rows.map((r) => JSON.stringify(cols.map((c) => (c === 'record_no' ? Number(r[c]) : r[c])))).sort();
}

function keysInRows(rows: readonly Row[], table: TahoeTable, tenant: string): string[] {
  const cols = naturalKey(TABLES[table]);
  return rows
    .filter((r) => r.tenant === tenant)
    .map((r) => JSON.stringify(cols.map((c) => (c === 'record_no' ? Number(r[c]) : r[c]))))
    .sort();
}

/** Every row of every table (and the aggregates) of one tenant, as text: for "left exactly as it was". */
async function tenantSnapshot(tw: TestWarehouse, tenant: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of [...TAHOE_TABLES, 'agg_event_hourly', 'ingest_file']) {
    const rows = await tw.admin(`SELECT * FROM ${t} WHERE tenant = $1`, [tenant]);
    out[t] = rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).sort();
  }
  return out;
}

async function rowCounts(tw: TestWarehouse): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [...TAHOE_TABLES, 'agg_event_hourly', 'load_log', 'purge_log']) {
    out[t] = await count(tw, `SELECT count(*) FROM ${t}`);
  }
  return out;
}

/** The folder store, with deletes of chosen keys refused as S3 would refuse them. */
class RefusingDeletes implements ObjectStore {
  constructor(
    private readonly inner: FsObjectStore,
    private readonly refuse: (key: string) => boolean,
  ) {}
  get: ObjectStore['get'] = (...a) => this.inner.get(...a);
  head: ObjectStore['head'] = (...a) => this.inner.head(...a);
  putIfAbsent: ObjectStore['putIfAbsent'] = (...a) => this.inner.putIfAbsent(...a);
  list: ObjectStore['list'] = (...a) => this.inner.list(...a);
  async delete(bucket: string, key: string, options?: { readonly versionId?: string }): Promise<void> {
    if (this.refuse(key)) throw new Error(`AccessDenied: DeleteObject s3://${bucket}/${key}`);
    return this.inner.delete(bucket, key, options);
  }
}

/** A real warehouse whose first removeRows throws (the connection drops), as the purge's warehouse step may. */
function failingFirstRemoval(inner: Warehouse): Warehouse & { readonly asked: RemovalRequest[] } {
  const asked: RemovalRequest[] = [];
  return {
    asked,
    applyMigrations: (now) => inner.applyMigrations(now),
    loadedKeys: (keys) => inner.loadedKeys(keys),
    load: (batch, now) => inner.load(batch, now),
    pendingObjects: (limit) => inner.pendingObjects(limit),
    confirmLedgerMarks: (refs) => inner.confirmLedgerMarks(refs),
    removeRows: async (request, options) => {
      asked.push(request);
      if (asked.length === 1) throw new Error('Connection terminated unexpectedly');
      return inner.removeRows(request, options);
    },
    tenantsWithRows: () => inner.tenantsWithRows(),
    query: (sql, params) => inner.query(sql, params),
    close: () => inner.close(),
  };
}

/**
 * What a purge leaves, for comparing two warehouses: every table's rows (ids and times of load attempts aside,
 * which differ between two loader runs), which files load_log knows, and the objects in the data buckets.
 */
async function endState(tw: TestWarehouse, dir: string) {
  const text = (rows: Row[]) =>
    rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).sort();
  const out: Record<string, string[]> = {};
  for (const t of [...TAHOE_TABLES, 'agg_event_hourly']) out[t] = text(await tw.admin(`SELECT * FROM ${t}`));
  out.load_log = text(await tw.admin('SELECT file_key, status, row_count FROM load_log'));
  out.ingest_file = text(await tw.admin('SELECT object_key, sha256, status FROM ingest_file'));
  out.purge_log = text(
    await tw.admin('SELECT kind, tenant, sha256, raws, instances, edges, load_log_rows FROM purge_log'),
  );
  out.objects = objectsIn(dir);
  return out;
}

describe.each(BACKENDS)('retention on %s', (backend) => {
  let dir: string;
  let tw: TestWarehouse;
  let warehouse: Warehouse;
  let n = 0;

  beforeEach(async () => {
    dir = copyDir(fixture.dir);
    const store = new FsObjectStore(dir);
    tw = await testWarehouse(backend, store);
    warehouse = await tw.open();
    const loaded = await runLoader(loaderDeps(dir, warehouse));
    expect(loaded.filesRejected).toEqual([]);
  });
  afterEach(async () => {
    await tw.dispose();
    removeDir(dir);
  });

  const deps = (): PurgeDeps => ({
    store: new FsObjectStore(dir),
    warehouse,
    ledger: LocalLedger.atPath(join(dir, 'ledger')),
    buckets: BUCKETS,
    newId: () => `01KAS${String(++n).padStart(21, '0')}`,
  });

  test('purging one object removes its files and exactly its rows; other objects and tenants stay', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const objectsBefore = objectsIn(dir);
    const beta = await tenantSnapshot(tw, 'beta');
    const gamma = await tenantSnapshot(tw, 'gamma');

    const report = await purge(deps(), { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(report.ok).toBe(true);
    expect(objectsIn(dir)).toEqual(objectsBefore.filter((k) => !keysOf(target).includes(k)));
    expect(await count(tw, 'SELECT count(*) FROM tahoe_raw WHERE object_sha256 = $1', [target.sha256])).toBe(0);
    // What stays of acme is what the remaining Parquet files of acme hold, key for key.
    const remaining = await expectedTables(dir);
    for (const t of TAHOE_TABLES) {
      expect({ table: t, keys: await keysInWarehouse(tw, t, 'acme') }).toEqual({
        table: t,
        keys: keysInRows(remaining[t], t, 'acme'),
      });
    }
    expect(await tenantSnapshot(tw, 'beta')).toEqual(beta);
    expect(await tenantSnapshot(tw, 'gamma')).toEqual(gamma);
    expect(report.warehouse).toMatchObject({ status: 'removed', result: { deleted: { tahoe_raw: 300 } } });

    // The files' load_log rows went (the same content loads again if uploaded again), in a step of their own
    // after the files; the ledger row is PURGED.
    const curated = target.parts;
    expect(await count(tw, 'SELECT count(*) FROM load_log WHERE file_key = ANY($1)', [curated])).toBe(0);
    expect(report.warehouse.status === 'removed' && report.warehouse.result.loadLogRowsDeleted).toBe(0);
    expect(report.loadLog).toEqual({
      status: 'forgotten',
      removalId: expect.stringMatching(/^[0-9A-Z]{26}$/),
      loadLogRowsDeleted: curated.length,
    });
    const ingest = await tw.admin('SELECT status FROM ingest_file WHERE sha256 = $1', [target.sha256]);
    expect(ingest.map((r) => r.status)).toEqual(['PURGED']);
    const forgetId = report.loadLog.status === 'forgotten' ? report.loadLog.removalId : '';
    const log = await tw.admin(
      'SELECT id, kind, tenant, sha256, raws, load_log_rows FROM purge_log WHERE id IN ($1, $2) ORDER BY id',
      [report.purgeId, forgetId],
    );
    expect(log.map((r) => ({ ...r, raws: Number(r.raws), load_log_rows: Number(r.load_log_rows) }))).toEqual([
      { id: report.purgeId, kind: 'PURGE_OBJECT', tenant: 'acme', sha256: target.sha256, raws: 300, load_log_rows: 0 },
      {
        id: forgetId,
        kind: 'FORGET_FILES',
        tenant: 'acme',
        sha256: target.sha256,
        raws: 0,
        load_log_rows: curated.length,
      },
    ]);

    const record = JSON.parse(readFileSync(join(dir, 'manifests', report.record?.key ?? ''), 'utf8')) as PurgeRecord;
    expect(record.purgeId).toBe(report.purgeId);
    expect(record.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(keysOf(target));
    expect(record.warehouse).toEqual(report.warehouse);
    expect(record.loadLog).toEqual(report.loadLog);

    // A loader run afterwards finds nothing to load: the rows do not come back.
    const after = await rowCounts(tw);
    const again = await runLoader(loaderDeps(dir, warehouse));
    expect(again.filesLoaded).toBe(0);
    expect(await rowCounts(tw)).toEqual(after);
  });

  test('a repeated purge deletes nothing more, succeeds, and is recorded again (both steps)', async () => {
    const target = byName(fixture.objects, 'acme/new');
    const first = await purge(deps(), { tenant: 'acme', sha256: target.sha256, now: NOW });
    const counts = await rowCounts(tw);
    const second = await purge(deps(), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(first.ok && second.ok).toBe(true);
    expect(second.s3.deleted).toEqual([]);
    expect(second.warehouse).toEqual({
      status: 'removed',
      result: {
        deleted: { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 },
        aggregateRowsDeleted: 0,
        loadLogRowsDeleted: 0,
        ingestFilesPurged: 0,
      },
    });
    expect(second.loadLog).toMatchObject({ status: 'forgotten', loadLogRowsDeleted: 0 });
    expect(await rowCounts(tw)).toEqual({ ...counts, purge_log: (counts.purge_log ?? 0) + 2 });
  });

  test('a dry run reports what the real run then does, and changes nothing', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const objects = objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests']);
    const counts = await rowCounts(tw);
    const acme = await tenantSnapshot(tw, 'acme');

    const dry = await purge(deps(), { tenant: 'acme', sha256: target.sha256, now: NOW, dryRun: true });

    expect(objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests'])).toEqual(objects);
    expect(await rowCounts(tw)).toEqual(counts);
    expect(await tenantSnapshot(tw, 'acme')).toEqual(acme);
    const real = await purge(deps(), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(real.s3.deleted).toEqual(dry.s3.deleted);
    expect(real.warehouse).toEqual(dry.warehouse);
    expect(dry.loadLog).toMatchObject({ status: 'forgotten', loadLogRowsDeleted: target.parts.length });
    expect({ ...real.loadLog, removalId: '' }).toEqual({ ...dry.loadLog, removalId: '' });
  });

  test('a purge whose warehouse step failed deleted nothing, and its re-run ends exactly as a purge that never failed', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const failing = failingFirstRemoval(warehouse);
    const objects = objectsIn(dir);
    const loadLog = await tw.admin('SELECT file_key FROM load_log ORDER BY file_key');

    const first = await purge({ ...deps(), warehouse: failing }, { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(first.ok).toBe(false);
    expect(first.warehouse).toEqual({ status: 'failed', error: 'Connection terminated unexpectedly' });
    expect(first.loadLog.status).toBe('skipped');
    // Every file is still there (so are the candidates they hold), and so is every load_log row.
    expect(objectsIn(dir)).toEqual(objects);
    expect(await tw.admin('SELECT file_key FROM load_log ORDER BY file_key')).toEqual(loadLog);
    expect(await count(tw, 'SELECT count(*) FROM tahoe_raw WHERE object_sha256 = $1', [target.sha256])).toBe(300);
    // A loader run in between changes nothing.
    expect((await runLoader(loaderDeps(dir, warehouse))).filesLoaded).toBe(0);

    const again = await purge({ ...deps(), warehouse: failing }, { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(again.ok).toBe(true);
    expect(failing.asked.map((r) => r.kind)).toEqual(['PURGE_OBJECT', 'PURGE_OBJECT', 'FORGET_FILES']);
    expect(failing.asked[1]).toEqual(failing.asked[0]);

    // The same purge, never failing, on a warehouse of its own loaded from the same files.
    const refDir = copyDir(fixture.dir);
    const ref = await testWarehouse(backend, new FsObjectStore(refDir));
    try {
      const refWarehouse = await ref.open();
      expect((await runLoader(loaderDeps(refDir, refWarehouse))).filesRejected).toEqual([]);
      const once = await purge(
        {
          ...deps(),
          store: new FsObjectStore(refDir),
          warehouse: refWarehouse,
          ledger: LocalLedger.atPath(join(refDir, 'ledger')),
        },
        { tenant: 'acme', sha256: target.sha256, now: NOW },
      );
      expect(once.ok).toBe(true);
      const want = await endState(ref, refDir);
      const got = await endState(tw, dir);
      // The failed run recorded nothing in purge_log (its transaction rolled back): the logs are equal too.
      expect(got).toEqual(want);
      expect(again.warehouse).toEqual(once.warehouse);
    } finally {
      await ref.dispose();
      removeDir(refDir);
    }
  });

  test('a Parquet file that could not be deleted keeps its load_log row, so no load takes it again; the re-run finishes', async () => {
    const target = byName(fixture.objects, 'acme/new');
    const stuck = target.parts[0] as string;
    const store = new RefusingDeletes(new FsObjectStore(dir), (k) => k === stuck);

    const first = await purge({ ...deps(), store }, { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(first.ok).toBe(false);
    expect(first.s3.failed.map((f) => f.key)).toEqual([stuck]);
    expect(first.warehouse).toMatchObject({ status: 'removed', result: { deleted: { tahoe_raw: 200 } } });
    expect(first.loadLog).toEqual({ status: 'skipped', reason: expect.stringContaining('1 Parquet file(s)') });
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual([`curated/${stuck}`]);
    // Every file of the object is still in load_log, the one left in S3 included.
    expect(await count(tw, 'SELECT count(*) FROM load_log WHERE file_key = ANY($1)', [target.parts])).toBe(
      target.parts.length,
    );
    // A loader run in between does not load the file left behind: the rows stay gone.
    const between = await rowCounts(tw);
    const loaded = await runLoader(loaderDeps(dir, warehouse));
    expect(loaded.filesLoaded).toBe(0);
    expect(await rowCounts(tw)).toEqual(between);
    expect(await count(tw, 'SELECT count(*) FROM tahoe_raw WHERE object_sha256 = $1', [target.sha256])).toBe(0);

    const again = await purge(deps(), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(again.ok).toBe(true);
    expect(again.s3.deleted.map((o) => o.key)).toEqual([stuck]);
    expect(again.loadLog).toMatchObject({ status: 'forgotten', loadLogRowsDeleted: target.parts.length });
    expect(await count(tw, 'SELECT count(*) FROM load_log WHERE raw_sha256 = $1', [target.sha256])).toBe(0);
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual([]);
    const remaining = await expectedTables(dir);
    for (const t of TAHOE_TABLES) {
      expect({ table: t, keys: await keysInWarehouse(tw, t, 'acme') }).toEqual({
        table: t,
        keys: keysInRows(remaining[t], t, 'acme'),
      });
    }
  });

  test('after a purge, the same content uploaded again loads again', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const full = await expectedTables(dir);
    const report = await purge(deps(), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(report.ok).toBe(true);
    // The same content on the same day gives the same keys: put the object's Parquet files back.
    for (const p of target.parts) {
      const to = join(dir, 'curated', p);
      mkdirSync(dirname(to), { recursive: true });
      cpSync(join(fixture.dir, 'curated', p), to);
    }
    const again = await runLoader(loaderDeps(dir, warehouse));
    expect(again.filesLoaded).toBe(target.parts.length);
    expect(again.filesRejected).toEqual([]);
    expect(await count(tw, 'SELECT count(*) FROM tahoe_raw WHERE object_sha256 = $1', [target.sha256])).toBe(300);
    for (const t of TAHOE_TABLES) {
      expect({ table: t, keys: await keysInWarehouse(tw, t, 'acme') }).toEqual({
        table: t,
        keys: keysInRows(full[t], t, 'acme'),
      });
    }
  });

  test('purging a tenant removes all its objects and rows, and leaves the other tenants exactly as they were', async () => {
    const beta = await tenantSnapshot(tw, 'beta');
    const objectsBefore = objectsIn(dir);
    const report = await purge(deps(), { tenant: 'acme', now: NOW });

    expect(report.ok).toBe(true);
    expect(objectsIn(dir)).toEqual(objectsBefore.filter((k) => !k.includes('/tenant=acme/')));
    for (const t of [...TAHOE_TABLES, 'agg_event_hourly']) {
      expect({ t, n: await count(tw, `SELECT count(*) FROM ${t} WHERE tenant = 'acme'`) }).toEqual({ t, n: 0 });
    }
    expect(await count(tw, "SELECT count(*) FROM load_log WHERE file_key LIKE '%/tenant=acme/%'")).toBe(0);
    expect(await tenantSnapshot(tw, 'beta')).toEqual(beta);
    expect(await count(tw, "SELECT count(*) FROM purge_log WHERE kind = 'PURGE_TENANT'")).toBe(1);
    expect(await count(tw, "SELECT count(*) FROM purge_log WHERE kind = 'FORGET_FILES' AND sha256 IS NULL")).toBe(1);
  });

  test('age-off removes each tenant’s rows older than its own retention and skips a tenant without settings', async () => {
    const path = join(dir, 'tenants.json');
    writeTenantsFile(path, [settings('acme', 30), settings('beta', 400)]);
    const old = byName(fixture.objects, 'acme/old');
    const gammaRows = await count(tw, "SELECT count(*) FROM tahoe_raw WHERE tenant = 'gamma'");
    const beta = await tenantSnapshot(tw, 'beta');
    const objects = objectsIn(dir);
    const loadLog = await count(tw, 'SELECT count(*) FROM load_log');

    const report = await ageOff({ warehouse, tenants: new FileTenantDirectory(path) }, { now: NOW });

    expect(report.failed).toBe(0);
    expect(report.skipped).toEqual([{ tenant: 'gamma', reason: expect.stringContaining('no retention') }]);
    expect(report.tenants.map((t) => [t.tenant, t.before, t.result?.deleted.tahoe_raw])).toEqual([
      ['acme', '2026-10-23T10:30:00.000Z', 300],
      ['beta', '2025-10-18T10:30:00.000Z', 0],
    ]);
    // acme/old (received 2026-10-01) is gone, acme/new (2026-11-20) stays whole.
    expect(await count(tw, 'SELECT count(*) FROM tahoe_raw WHERE object_sha256 = $1', [old.sha256])).toBe(0);
    expect(await count(tw, "SELECT count(*) FROM tahoe_raw WHERE tenant = 'acme'")).toBe(200);
    expect(await count(tw, "SELECT count(*) FROM tahoe_raw WHERE tenant = 'gamma'")).toBe(gammaRows);
    expect(await tenantSnapshot(tw, 'beta')).toEqual(beta);
    // Only rows: the files stay (S3's lifecycle ages them off), and so does their load history.
    expect(objectsIn(dir)).toEqual(objects);
    expect(await count(tw, 'SELECT count(*) FROM load_log')).toBe(loadLog);
    expect(await count(tw, "SELECT count(*) FROM purge_log WHERE kind = 'AGE_OFF'")).toBe(2);

    // The same age-off again removes nothing more.
    const again = await ageOff({ warehouse, tenants: new FileTenantDirectory(path) }, { now: NOW });
    expect(again.tenants.map((t) => t.result?.deleted)).toEqual([
      { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 },
      { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 },
    ]);
  });
});
