/**
 * The loader core with both PostgreSQL adapters, on a real PostgreSQL 15 server and on embedded PGlite, over
 * Parquet written by the real process core: exactly-once under repetition, concurrency and crashes; isolation of
 * corrupt files; the merge rules; oversize values; row-level security; the analyst views.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { ZERO_COUNTS } from '../../../lambdas/ledger/model';
import { TABLES, type TableName } from '../../../lambdas/schema/tables';
import { tahoeKey } from '../../../lambdas/shared/s3-keys';
import { warehouseColumns } from '../../../lambdas/warehouse/ddl';
import { runLoader } from '../../../lambdas/warehouse/loader';
import type { Warehouse } from '../../../lambdas/warehouse/port';
import {
  BACKENDS,
  copyOf,
  count,
  expectedTables,
  expectTablesEqual,
  instance,
  load,
  loaderDeps,
  parquetKeys,
  parquetRows,
  processedFixture,
  removeDir,
  requireServer,
  sha,
  type TestWarehouse,
  testWarehouse,
  writeParquet,
} from './helpers';

let fixture: Promise<string> | undefined;
/** The processed folder, built once for the file (each test loads a copy of it). */
function processed(): Promise<string> {
  fixture ??= processedFixture();
  return fixture;
}

describe.each(BACKENDS)('warehouse loading on %s', (backend) => {
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
  });

  afterEach(async () => {
    await w.dispose();
    removeDir(dir);
  });

  // Only the embedded warehouse: a server's autovacuum analyses by itself, later.
  (backend === 'pglite' ? it : it.skip)(
    'leaves the loaded tables with planner statistics on PGlite, which has no autovacuum',
    async () => {
      // reltuples is -1 until a table is first analysed (PostgreSQL 14 and later).
      const stats = () =>
        w.admin(
          "SELECT relname, reltuples FROM pg_class WHERE relname IN ('tahoe_raw', 'tahoe_instance', 'tahoe_edge') ORDER BY relname",
        );
      const result = await load(dir, warehouse);
      expect(result.filesLoaded).toBeGreaterThan(0);
      const expected = await expectedTables(dir);
      const after = await stats();
      expect(after.map((r) => r.relname)).toEqual(['tahoe_edge', 'tahoe_instance', 'tahoe_raw']);
      for (const r of after)
        expect(Number(r.reltuples)).toBe(expected[String(r.relname) as keyof typeof expected].length);
    },
  );

  it('loads every row of the processed files exactly once, and a second run adds nothing', async () => {
    const files = parquetKeys(dir);
    const expected = await expectedTables(dir);
    const first = await load(dir, warehouse);
    expect(first.filesLoaded).toBe(files.length);
    expect(first.filesRejected).toEqual([]);
    expect(first.rowsInserted).toEqual({
      tahoe_raw: expected.tahoe_raw.length,
      tahoe_instance: expected.tahoe_instance.length,
      tahoe_edge: expected.tahoe_edge.length,
    });
    await expectTablesEqual(w, expected);

    // load_log: one LOADED row per file, with the file's own row count.
    const log = await w.admin('SELECT file_key, status, row_count FROM load_log ORDER BY file_key');
    expect(log.map((r) => r.file_key)).toEqual(files);
    for (const r of log) {
      expect(r.status).toBe('LOADED');
      expect(Number(r.row_count)).toBe((await parquetRows(dir, String(r.file_key))).length);
    }

    const second = await load(dir, warehouse);
    expect(second).toMatchObject({ filesLoaded: 0, filesRejected: [], loads: [], objectsMarkedLoaded: 0 });
    await expectTablesEqual(w, expected);
    expect(await count(w, 'SELECT COUNT(*) FROM load_log')).toBe(files.length);

    // Every raw object is LOADED in the ledger, by the first run's load.
    const items = await LocalLedger.atPath(join(dir, 'ledger')).listByTenant('acme');
    expect(items.items.length).toBe(2);
    for (const item of items.items) {
      expect(item.status).toBe('LOADED');
      expect(first.loads.map((l) => l.loadId)).toContain(item.loadId);
    }
  });

  it('two loaders started at the same time load each file exactly once', async () => {
    const files = parquetKeys(dir);
    const other = await w.open();
    const [a, b] = await Promise.all([load(dir, warehouse), load(dir, other)]);
    expect(a.filesLoaded + b.filesLoaded).toBe(files.length);
    expect(a.filesRejected.length + b.filesRejected.length).toBe(0);
    await expectTablesEqual(w, await expectedTables(dir));
    expect(await count(w, 'SELECT COUNT(*) FROM load_log')).toBe(files.length);
    expect(await count(w, 'SELECT COUNT(*) FROM ingest_file')).toBe(3);
  });

  it.each(['afterCopy', 'beforeCommit'] as const)(
    'a crash inside the transaction (%s) leaves nothing behind, and the next run loads everything',
    async (point) => {
      const crashing = await w.open({
        [point]: () => {
          throw new Error(`injected crash (${point})`);
        },
      });
      await expect(load(dir, crashing)).rejects.toThrow(`injected crash (${point})`);
      for (const table of [
        'tahoe_raw',
        'tahoe_instance',
        'tahoe_edge',
        'load_log',
        'agg_event_hourly',
        'ingest_file',
      ]) {
        expect({ table, rows: await count(w, `SELECT COUNT(*) FROM ${table}`) }).toEqual({ table, rows: 0 });
      }
      const ledger = LocalLedger.atPath(join(dir, 'ledger'));
      for (const item of (await ledger.listByTenant('acme')).items) expect(item.status).toBe('PROCESSED');

      const report = await load(dir, warehouse);
      expect(report.filesLoaded).toBe(parquetKeys(dir).length);
      await expectTablesEqual(w, await expectedTables(dir));
    },
  );

  it('isolates corrupt Parquet files: they are rejected alone, the others load, and they are not retried', async () => {
    const good = parquetKeys(dir);
    const expected = await expectedTables(dir);
    const edgeKey = parquetKeys(dir, 'tahoe_edge')[0] as string;
    const whole = readFileSync(join(dir, 'curated', edgeKey));
    const truncated = tahoeKey({ table: 'tahoe_edge', tenant: 'acme', dt: '2026-11-02', rawSha256: sha(), part: 0 });
    const garbage = tahoeKey({ table: 'tahoe_raw', tenant: 'beta', dt: '2026-11-03', rawSha256: sha(), part: 0 });
    writeFileSync(join(dir, 'curated', truncated), whole.subarray(0, Math.floor(whole.length / 2)));
    writeFileSync(join(dir, 'curated', garbage), randomBytes(4096));

    const report = await load(dir, warehouse);
    expect(report.filesRejected.map((f) => f.key).sort()).toEqual([garbage, truncated].sort());
    expect(report.filesLoaded).toBe(good.length);
    await expectTablesEqual(w, expected);
    const rejected = await w.admin(
      "SELECT file_key, row_count, error_message FROM load_log WHERE status = 'REJECTED' ORDER BY file_key",
    );
    expect(rejected.map((r) => r.file_key)).toEqual([garbage, truncated].sort());
    for (const r of rejected) {
      expect(Number(r.row_count)).toBe(0);
      expect(String(r.error_message)).toContain(String(r.file_key));
    }

    const again = await load(dir, warehouse);
    expect(again).toMatchObject({ filesLoaded: 0, filesRejected: [], loads: [] });
  });

  it('a recent run loads today’s files only; a full run then loads the older day’s, each once', async () => {
    // The fixture: acme's uploads on 2026-11-02, beta's on 2026-11-03, "today".
    const today = parquetKeys(dir).filter((k) => k.includes('/dt=2026-11-03/'));
    expect(today.length).toBeGreaterThan(0);
    const listing = { tenants: async () => ['acme', 'beta'], recentDays: 0 };
    const deps = { ...loaderDeps(dir, warehouse, () => new Date('2026-11-03T10:00:00Z')), listing };

    const recent = await runLoader(deps);
    expect(recent).toMatchObject({ listing: 'recent', prefixesListed: 6, filesListed: today.length });
    expect(recent.filesLoaded).toBe(today.length);
    const logged = await w.admin('SELECT file_key FROM load_log ORDER BY file_key');
    expect(logged.map((r) => r.file_key)).toEqual(today);
    await expectTablesEqual(w, await expectedTables(dir, today));

    const full = await runLoader(deps, { full: true });
    expect(full.filesLoaded).toBe(parquetKeys(dir).length - today.length);
    expect((await runLoader(deps)).filesLoaded).toBe(0);
    await expectTablesEqual(w, await expectedTables(dir));
    expect(await count(w, 'SELECT COUNT(*) FROM load_log')).toBe(parquetKeys(dir).length);
  });

  it('merges rows of one natural key by the rules, within a batch and with stored rows', async () => {
    const session = 'a'.repeat(64);
    const event = 'b'.repeat(64);
    const connect = instance('acme', session, {
      itype: 'session',
      sub_type: 'cowrie_session',
      data: '{"sessionid":["s1"]}',
      start_time: 100.5,
    });
    const close = instance('acme', session, {
      itype: 'session',
      sub_type: 'cowrie_session',
      data: '{"sessionid":["s1"]}',
      end_time: 200.25,
      duration: '99.75',
    });
    const unknownEvent = instance('acme', event, {
      itype: 'event',
      sub_type: 'login',
      data: '{"x":1}',
      orgid: 'c'.repeat(64),
      event_ts: 1_793_500_000.5,
      category: 'unknown',
    });
    const maliciousEvent = { ...unknownEvent, category: 'malicious' as const };
    const key = (t: 'tahoe_instance' | 'tahoe_edge', rawSha256: string) =>
      tahoeKey({ table: t, tenant: 'acme', dt: '2026-11-05', rawSha256, part: 0 });
    const edgeNoTime = {
      tenant: 'acme',
      parent_hash: session,
      relation: 'session_event',
      child_hash: event,
      event_ts: null,
    };
    const edgeTime = { ...edgeNoTime, event_ts: 1_793_500_000.5 };

    // The first half in one run; the second half, which meets the stored rows, in the next.
    const [sha1, sha2, sha3] = [sha(), sha(), sha()];
    await writeParquet(dir, 'tahoe_instance', key('tahoe_instance', sha1), [connect, unknownEvent]);
    await writeParquet(dir, 'tahoe_edge', key('tahoe_edge', sha1), [edgeNoTime]);
    await load(dir, warehouse);
    await writeParquet(dir, 'tahoe_instance', key('tahoe_instance', sha2), [close]);
    await writeParquet(dir, 'tahoe_instance', key('tahoe_instance', sha3), [
      maliciousEvent,
      { ...close, end_time: 150 },
    ]);
    await writeParquet(dir, 'tahoe_edge', key('tahoe_edge', sha2), [edgeTime]);
    const second = await load(dir, warehouse);
    expect(second.rowsInserted.tahoe_instance).toBe(0);

    const rows = await w.admin(
      'SELECT _hash, start_time, end_time, duration, category FROM tahoe_instance WHERE _hash IN ($1, $2) ORDER BY _hash',
      [session, event],
    );
    expect(rows).toEqual([
      { _hash: session, start_time: 100.5, end_time: 200.25, duration: '99.75', category: null },
      { _hash: event, start_time: null, end_time: null, duration: null, category: 'malicious' },
    ]);
    const edge = await w.admin('SELECT event_ts FROM tahoe_edge WHERE parent_hash = $1', [session]);
    expect(edge).toEqual([{ event_ts: 1_793_500_000.5 }]);
    // The whole warehouse is still what the oracle computes from every file.
    await expectTablesEqual(w, await expectedTables(dir));
  });

  it('keeps a value too big for the warehouse out of it, flagged, without failing the load', async () => {
    const big = `{"data":"${'x'.repeat(70_000)}"}`;
    const rawSha = sha();
    const rawRow = (record_no: number, data: string) => ({
      tenant: 'acme',
      object_sha256: rawSha,
      record_no,
      _hash: String(record_no).repeat(64).slice(0, 64),
      sub_type: 'email',
      timezone: 'UTC',
      received_at: '2026-11-05T10:00:00.123456Z',
      object_key: 'raw/tenant=acme/typetag=email/dt=2026-11-05/hour=10/01M6DV7580DH9N9943B9HDRDS9.raw',
      data,
    });
    await writeParquet(
      dir,
      'tahoe_raw',
      tahoeKey({ table: 'tahoe_raw', tenant: 'acme', dt: '2026-11-05', rawSha256: rawSha, part: 0 }),
      [rawRow(0, big), rawRow(1, '{"data":"small"}')],
    );
    await writeParquet(
      dir,
      'tahoe_instance',
      tahoeKey({ table: 'tahoe_instance', tenant: 'acme', dt: '2026-11-05', rawSha256: rawSha, part: 0 }),
      [instance('acme', 'd'.repeat(64), { sub_type: 'body', data: JSON.stringify('y'.repeat(66_000)) })],
    );
    const report = await load(dir, warehouse);
    expect(report.filesRejected).toEqual([]);
    expect(report.oversizeRows).toBe(2);
    const raws = await w.admin('SELECT record_no, data, oversize FROM tahoe_raw WHERE object_sha256 = $1 ORDER BY 1', [
      rawSha,
    ]);
    expect(raws.map((r) => ({ ...r, record_no: Number(r.record_no) }))).toEqual([
      { record_no: 0, data: null, oversize: true },
      { record_no: 1, data: '{"data":"small"}', oversize: false },
    ]);
    expect(await w.admin('SELECT data, oversize FROM tahoe_instance WHERE _hash = $1', ['d'.repeat(64)])).toEqual([
      { data: null, oversize: true },
    ]);
  });

  it('lets an analyst see only the tenants their role is mapped to', async () => {
    await load(dir, warehouse);
    const suffix = randomBytes(4).toString('hex');
    const analyst = `analyst_${suffix}`;
    const stranger = `stranger_${suffix}`;
    await w.createRole(analyst);
    await w.createRole(stranger);
    const schema = String((await w.admin('SELECT current_schema() AS s'))[0]?.s);
    for (const role of [analyst, stranger]) {
      await w.admin(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
      await w.admin(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    }
    await w.admin('INSERT INTO analyst_tenant (role_name, tenant) VALUES ($1, $2)', [analyst, 'acme']);

    const acmeRaws = await count(w, "SELECT COUNT(*) FROM tahoe_raw WHERE tenant = 'acme'");
    expect(acmeRaws).toBeGreaterThan(0);
    const seen = async (role: string, sql: string) => (await w.asRole(role, sql)).map((r) => String(r.tenant)).sort();
    expect(Number((await w.asRole(analyst, 'SELECT COUNT(*) AS n FROM tahoe_raw'))[0]?.n)).toBe(acmeRaws);
    for (const source of ['tahoe_raw', 'tahoe_instance', 'tahoe_edge', 'load_log', 'ingest_file', 'agg_event_hourly']) {
      expect({ source, tenants: await seen(analyst, `SELECT DISTINCT tenant FROM ${source}`) }).toEqual({
        source,
        tenants: ['acme'],
      });
      expect({ source, tenants: await seen(stranger, `SELECT DISTINCT tenant FROM ${source}`) }).toEqual({
        source,
        tenants: [],
      });
    }
    // Views filter as the analyst too (they are security_invoker), not as their owner.
    for (const view of [
      'v_event_hourly',
      'v_top_attacker_ip_daily',
      'v_event_attribute',
      'v_warehouse_freshness',
      'v_ingest_audit',
    ]) {
      expect({ view, tenants: await seen(analyst, `SELECT DISTINCT tenant FROM ${view}`) }).toEqual({
        view,
        tenants: ['acme'],
      });
    }
    expect(await w.asRole(stranger, 'SELECT * FROM analyst_tenant')).toEqual([]);
    expect(await w.asRole(analyst, 'SELECT role_name, tenant FROM analyst_tenant')).toEqual([
      { role_name: analyst, tenant: 'acme' },
    ]);
  });

  it('has target tables whose columns are the schema source’s, as created by the migrations', async () => {
    await warehouse.applyMigrations(new Date('2026-11-22T10:30:00Z'));
    for (const table of Object.keys(TABLES) as TableName[]) {
      const cols = await w.admin(
        `SELECT column_name, is_nullable FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
        [table],
      );
      expect(cols.map((c) => [c.column_name, c.is_nullable === 'NO'])).toEqual(
        warehouseColumns(TABLES[table]).map((c) => [c.name, c.notNull]),
      );
    }
  });

  it('finishes on the next run what a crash between the commit and the ledger write left undone', async () => {
    const deps = loaderDeps(dir, warehouse);
    let fail = true;
    const ledger = Object.create(deps.ledger) as typeof deps.ledger;
    ledger.markLoaded = (refs, loadId, now) => {
      if (fail) {
        fail = false;
        return Promise.reject(new Error('injected crash before the ledger write'));
      }
      return deps.ledger.markLoaded(refs, loadId, now);
    };
    await expect(runLoader({ ...deps, ledger })).rejects.toThrow('injected crash before the ledger write');
    const recorded = await w.admin('SELECT status, ledger_marked, load_id FROM ingest_file');
    expect(recorded.map((r) => [r.status, r.ledger_marked])).toEqual([
      ['LOADED', false],
      ['LOADED', false],
      ['LOADED', false],
    ]);
    for (const item of (await deps.ledger.listByTenant('acme')).items) expect(item.status).toBe('PROCESSED');

    const next = await runLoader({ ...deps, ledger });
    expect([next.filesLoaded, next.objectsMarkedLoaded]).toEqual([0, 3]);
    const loadId = recorded[0]?.load_id;
    for (const tenant of ['acme', 'beta']) {
      for (const item of (await deps.ledger.listByTenant(tenant)).items) {
        expect([item.status, item.loadId]).toEqual(['LOADED', loadId]);
      }
    }
    expect(await count(w, 'SELECT COUNT(*) FROM ingest_file WHERE NOT ledger_marked')).toBe(0);
  });

  it('marks an object LOADED once it finishes processing, when its files were loaded while it was still running', async () => {
    const deps = loaderDeps(dir, warehouse);
    const rawSha = sha();
    const ref = {
      bucket: 'raw',
      key: 'raw/tenant=acme/typetag=cowrie/dt=2026-11-06/hour=10/01JD3K8Z6Q2V9X4T7B5N1M0C8R.raw',
      versionId: 'null',
    };
    const at = new Date('2026-11-06T10:00:00Z');
    await deps.ledger.begin(ref, {
      owner: 'worker-1',
      now: at,
      leaseMs: 60_000,
      meta: { tenant: 'acme', typetag: 'cowrie', size: 10, receivedAt: at, sha256: rawSha },
    });
    const key = tahoeKey({ table: 'tahoe_raw', tenant: 'acme', dt: '2026-11-06', rawSha256: rawSha, part: 0 });
    await writeParquet(dir, 'tahoe_raw', key, [
      {
        tenant: 'acme',
        object_sha256: rawSha,
        record_no: 0,
        _hash: 'f'.repeat(64),
        sub_type: 'cowrie',
        timezone: 'UTC',
        received_at: '2026-11-06T10:00:00.000000Z',
        object_key: ref.key,
        data: '{"data":"x"}',
      },
    ]);
    await runLoader(deps);
    expect(await w.admin('SELECT status FROM ingest_file WHERE object_key = $1', [ref.key])).toEqual([
      { status: 'PROCESSING' },
    ]);

    await deps.ledger.complete(
      ref,
      'worker-1',
      {
        outcome: 'SUCCESS',
        sha256: rawSha,
        counts: { ...ZERO_COUNTS, recordsIn: 1, raws: 1, successInvalid: 1 },
        outputs: { curated: [key] },
      },
      new Date('2026-11-06T10:01:00Z'),
    );
    const next = await runLoader(deps);
    expect(next.objectsMarkedLoaded).toBe(1);
    expect((await deps.ledger.get(ref))?.status).toBe('LOADED');
    expect(await w.admin('SELECT status, ledger_marked FROM ingest_file WHERE object_key = $1', [ref.key])).toEqual([
      { status: 'LOADED', ledger_marked: true },
    ]);
  });

  it('records the run in the manifests: one per attempt with every file, and one per table', async () => {
    const report = await runLoader(loaderDeps(dir, warehouse));
    const [attempt] = report.loads;
    expect(report.loads.length).toBe(1);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifests', attempt?.manifestKey ?? ''), 'utf8'));
    expect(manifest.entries.map((e: { url: string }) => e.url).sort()).toEqual(
      parquetKeys(dir).map((k) => `s3://curated/${k}`),
    );
    const edges = JSON.parse(
      readFileSync(join(dir, 'manifests', `manifests/${attempt?.loadId}.tahoe_edge.manifest`), 'utf8'),
    );
    expect(edges.entries.length).toBe(parquetKeys(dir, 'tahoe_edge').length);
  });
});
