/**
 * Age-off and purge end to end, on both PostgreSQL backends (the server and embedded PGlite): real Cowrie logs of
 * three tenants processed by the real process core, loaded by the real loader, then purged or aged off by the
 * retention core through the real warehouse adapters, with the folder object store and the folder ledger.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { FileTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import { naturalKey, TABLES } from '../../../lambdas/schema/tables';
import { TAHOE_TABLES, type TahoeTable } from '../../../lambdas/shared/s3-keys';
import { runLoader } from '../../../lambdas/warehouse/loader';
import type { Warehouse } from '../../../lambdas/warehouse/port';
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

    // The files' load_log rows went (the same content loads again if uploaded again); the ledger row is PURGED.
    const curated = target.parts;
    expect(await count(tw, 'SELECT count(*) FROM load_log WHERE file_key = ANY($1)', [curated])).toBe(0);
    expect(report.warehouse.status === 'removed' && report.warehouse.result.loadLogRowsDeleted).toBe(curated.length);
    const ingest = await tw.admin('SELECT status FROM ingest_file WHERE sha256 = $1', [target.sha256]);
    expect(ingest.map((r) => r.status)).toEqual(['PURGED']);
    const log = await tw.admin('SELECT kind, tenant, sha256, raws FROM purge_log WHERE id = $1', [report.purgeId]);
    expect(log.map((r) => ({ ...r, raws: Number(r.raws) }))).toEqual([
      { kind: 'PURGE_OBJECT', tenant: 'acme', sha256: target.sha256, raws: 300 },
    ]);

    const record = JSON.parse(readFileSync(join(dir, 'manifests', report.record?.key ?? ''), 'utf8')) as PurgeRecord;
    expect(record.purgeId).toBe(report.purgeId);
    expect(record.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(keysOf(target));
    expect(record.warehouse).toEqual(report.warehouse);

    // A loader run afterwards finds nothing to load: the rows do not come back.
    const after = await rowCounts(tw);
    const again = await runLoader(loaderDeps(dir, warehouse));
    expect(again.filesLoaded).toBe(0);
    expect(await rowCounts(tw)).toEqual(after);
  });

  test('a repeated purge deletes nothing more, succeeds, and is recorded again', async () => {
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
    expect(await rowCounts(tw)).toEqual({ ...counts, purge_log: (counts.purge_log ?? 0) + 1 });
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
