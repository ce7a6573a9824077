/**
 * The retention core over real local parts (folder object store, folder ledger, tenants file) and the real output
 * of `cyberactive process`. The warehouse here is a stand-in that records what it is asked and what S3 held at
 * that moment, so that the orchestration (order, requests, candidates, failures) is checked on its own; the same
 * flows against PostgreSQL are in test/integ/warehouse/retention.test.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { FileTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import type { ObjectStore } from '../../../lambdas/adapters/object-store';
import { InvalidIdentifierError } from '../../../lambdas/shared/ids';
import { parsePurgeRecordKey } from '../../../lambdas/shared/s3-keys';
import type { RemovalRequest, RemovalResult, Warehouse } from '../../../lambdas/warehouse/port';
import { ageOff, countByRole, type PurgeDeps, type PurgeRecord, purge } from '../../../lambdas/warehouse/retention';
import {
  buildFixture,
  byName,
  copyDir,
  type FixtureObject,
  hashesIn,
  keysOf,
  NOW,
  objectsIn,
  removeDir,
  settings,
  writeTenantsFile,
} from './retention-fixture';

const BUCKETS = { raw: 'raw', curated: 'curated', quarantine: 'quarantine', manifests: 'manifests' };
const ZERO: RemovalResult = {
  deleted: { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 },
  aggregateRowsDeleted: 0,
  loadLogRowsDeleted: 0,
  ingestFilesPurged: 0,
};

interface Call {
  readonly request: RemovalRequest;
  readonly options: { readonly id: string; readonly now: Date; readonly dryRun?: boolean };
  /** The folder's objects when the call came. */
  readonly objects: readonly string[];
}

/** The warehouse port as far as retention uses it, recording each call; `fail` makes removeRows throw. */
class RecordingWarehouse implements Warehouse {
  readonly calls: Call[] = [];
  migrations = 0;
  fail: ((request: RemovalRequest) => Error | undefined) | undefined;

  constructor(
    private readonly dir: string,
    private readonly tenants: readonly string[] = [],
  ) {}

  async applyMigrations(): Promise<string[]> {
    this.migrations += 1;
    return [];
  }
  async removeRows(request: RemovalRequest, options: Call['options']): Promise<RemovalResult> {
    this.calls.push({ request, options, objects: objectsIn(this.dir) });
    const err = this.fail?.(request);
    if (err) throw err;
    return { ...ZERO, deleted: { tahoe_raw: 5, tahoe_instance: 3, tahoe_edge: 8 }, loadLogRowsDeleted: 2 };
  }
  async tenantsWithRows(): Promise<string[]> {
    return [...this.tenants];
  }
  loadedKeys(): never {
    throw new Error('not used by retention');
  }
  load(): never {
    throw new Error('not used by retention');
  }
  pendingObjects(): never {
    throw new Error('not used by retention');
  }
  confirmLedgerMarks(): never {
    throw new Error('not used by retention');
  }
  query(): never {
    throw new Error('not used by retention');
  }
  async close(): Promise<void> {}
}

/** The folder store, with deletes of chosen keys failing as S3 would refuse them. */
class FailingDeletes implements ObjectStore {
  constructor(
    private readonly inner: FsObjectStore,
    private readonly refuse: (bucket: string, key: string) => boolean,
  ) {}
  get: ObjectStore['get'] = (...a) => this.inner.get(...a);
  head: ObjectStore['head'] = (...a) => this.inner.head(...a);
  putIfAbsent: ObjectStore['putIfAbsent'] = (...a) => this.inner.putIfAbsent(...a);
  list: ObjectStore['list'] = (...a) => this.inner.list(...a);
  async delete(bucket: string, key: string, options?: { readonly versionId?: string }): Promise<void> {
    if (this.refuse(bucket, key)) throw new Error(`AccessDenied: DeleteObject s3://${bucket}/${key}`);
    return this.inner.delete(bucket, key, options);
  }
}

let fixture: { dir: string; objects: FixtureObject[] };
let dir: string;

beforeAll(async () => {
  fixture = await buildFixture();
}, 60_000);
afterAll(() => removeDir(fixture.dir));
beforeEach(() => {
  dir = copyDir(fixture.dir);
});
afterEach(() => removeDir(dir));

let ids = 0;
function deps(warehouse: Warehouse, store: ObjectStore = new FsObjectStore(dir)): PurgeDeps {
  return {
    store,
    warehouse,
    ledger: LocalLedger.atPath(join(dir, 'ledger')),
    buckets: BUCKETS,
    // Distinct ULIDs in a fixed order, so that records of successive runs do not collide.
    newId: () => `01KAR${String(++ids).padStart(21, '0')}`,
  };
}

function readRecord(key: string): PurgeRecord {
  return JSON.parse(readFileSync(join(dir, 'manifests', key), 'utf8')) as PurgeRecord;
}

const instanceParts = (o: FixtureObject) => o.parts.filter((p) => p.startsWith('tahoe/tahoe_instance/'));

describe('purge of one raw object', () => {
  test('deletes exactly its raw version, Parquet parts and quarantine file, then removes its rows, then records', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const before = objectsIn(dir);
    const warehouse = new RecordingWarehouse(dir);

    const report = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(objectsIn(dir)).toEqual(before.filter((k) => !keysOf(target).includes(k)));
    // Every other object, of acme and of the other tenants, is still there.
    for (const o of fixture.objects.filter((x) => x !== target)) {
      for (const k of keysOf(o)) expect(objectsIn(dir)).toContain(k);
    }
    expect(report.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(keysOf(target));
    expect(report.s3.deleted.find((o) => o.role === 'raw')).toEqual({
      role: 'raw',
      bucket: 'raw',
      key: target.rawKey,
      versionId: 'null',
    });
    expect(countByRole(report.s3.deleted)).toEqual({ raw: 1, curated: target.parts.length, quarantine: 1 });
    expect(report.s3.absent).toEqual([]);
    expect(report.s3.failed).toEqual([]);

    // The warehouse was asked once, after S3 no longer held any of the object's files.
    expect(warehouse.calls).toHaveLength(1);
    const [call] = warehouse.calls;
    for (const k of keysOf(target)) expect(call?.objects).not.toContain(k);
    const expectedHashes = new Set<string>();
    for (const p of instanceParts(target)) {
      for (const h of await hashesIn(join(fixture.dir, 'curated', p))) expectedHashes.add(h);
    }
    expect(call?.request).toEqual({
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: target.sha256,
      candidates: [...expectedHashes].sort(),
    });
    expect(call?.options).toEqual({ id: report.purgeId, now: NOW, dryRun: false });
    expect(report.candidates).toBe(expectedHashes.size);
    expect(warehouse.migrations).toBe(1);

    expect(report.ok).toBe(true);
    expect(report.record).toEqual({ bucket: 'manifests', key: `purges/${report.purgeId}.json` });
    expect(parsePurgeRecordKey(report.record?.key ?? '').purgeId).toBe(report.purgeId);
    const record = readRecord(report.record?.key ?? '');
    expect(record).toEqual({
      purgeId: report.purgeId,
      request: { kind: 'PURGE_OBJECT', tenant: 'acme', sha256: target.sha256 },
      at: NOW.toISOString(),
      dryRun: false,
      ledgerObjects: [
        { bucket: 'raw', key: target.rawKey, versionId: 'null', status: 'PROCESSED', sha256: target.sha256 },
      ],
      s3: report.s3,
      candidates: expectedHashes.size,
      unreadable: [],
      warehouse: {
        status: 'removed',
        result: { ...ZERO, deleted: { tahoe_raw: 5, tahoe_instance: 3, tahoe_edge: 8 }, loadLogRowsDeleted: 2 },
      },
      leftAlone: expect.arrayContaining([expect.stringMatching(/^proofs bucket: .*Object Lock/)]),
    });
  });

  test('also deletes files of the object that the ledger does not name (a crashed attempt’s parts)', async () => {
    const target = byName(fixture.objects, 'beta/one');
    const stray = (target.parts[0] as string).replace(/-\d{5}\.parquet$/, '-00042.parquet');
    const store = new FsObjectStore(dir);
    await store.putIfAbsent('curated', stray, new Uint8Array([1, 2, 3]));
    const report = await purge(deps(new RecordingWarehouse(dir)), { tenant: 'beta', sha256: target.sha256, now: NOW });
    expect(report.s3.deleted.map((o) => o.key)).toContain(stray);
    expect(await store.head('curated', stray)).toBeUndefined();
    // Not tahoe_instance: nothing to read from it.
    expect(report.unreadable).toEqual([]);
  });

  test('a second run finds everything absent, succeeds, and records that it deleted nothing', async () => {
    const target = byName(fixture.objects, 'acme/new');
    const warehouse = new RecordingWarehouse(dir);
    const first = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });
    const after = objectsIn(dir);
    const second = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(objectsIn(dir)).toEqual(after);
    expect(second.ok).toBe(true);
    expect(second.purgeId).not.toBe(first.purgeId);
    expect(second.s3.deleted).toEqual([]);
    // The ledger still names the raw version and the outputs: each is reported absent, not deleted.
    expect(second.s3.absent.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(keysOf(target));
    // The Parquet files are gone, so the warehouse follows the edges alone.
    expect(warehouse.calls[1]?.request).toEqual({ kind: 'PURGE_OBJECT', tenant: 'acme', sha256: target.sha256 });
    expect(readRecord(`purges/${second.purgeId}.json`).s3.deleted).toEqual([]);
    expect(existsSync(join(dir, 'manifests', `purges/${first.purgeId}.json`))).toBe(true);
  });

  test('a dry run lists what would go, asks the warehouse for a dry run, and changes nothing', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const before = objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests']);
    const warehouse = new RecordingWarehouse(dir);
    const dry = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW, dryRun: true });

    expect(objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests'])).toEqual(before);
    expect(dry.dryRun).toBe(true);
    expect(dry.record).toBeUndefined();
    expect(warehouse.migrations).toBe(0);
    expect(warehouse.calls.map((c) => c.options.dryRun)).toEqual([true]);
    expect(dry.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(keysOf(target));

    const real = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(real.s3.deleted).toEqual(dry.s3.deleted);
    expect(warehouse.calls[1]?.request).toEqual(warehouse.calls[0]?.request);
  });

  test('content the tenant never uploaded deletes nothing and still asks the warehouse', async () => {
    const beta = byName(fixture.objects, 'beta/one');
    const before = objectsIn(dir);
    const warehouse = new RecordingWarehouse(dir);
    const report = await purge(deps(warehouse), { tenant: 'acme', sha256: beta.sha256, now: NOW });
    expect(objectsIn(dir)).toEqual(before);
    expect(report.ledgerObjects).toEqual([]);
    expect(report.s3).toEqual({ deleted: [], absent: [], failed: [] });
    expect(warehouse.calls[0]?.request).toEqual({ kind: 'PURGE_OBJECT', tenant: 'acme', sha256: beta.sha256 });
  });
});

describe('purge of a tenant', () => {
  test('deletes everything under the tenant’s prefixes, ledger-known or not, and nothing of other tenants', async () => {
    const store = new FsObjectStore(dir);
    // Objects the ledger does not know: an upload never processed, a stray part, a stray quarantine file.
    const strayRaw = 'raw/tenant=acme/typetag=cowrie/dt=2026-11-21/hour=08/01KAQZZZZZZZZZZZZZZZZZZZZZ.raw';
    const strayPart = `tahoe/tahoe_edge/tenant=acme/dt=2026-11-21/${'e'.repeat(64)}-00000.parquet`;
    const strayQuarantine = `quarantine/tenant=acme/dt=2026-11-21/${'e'.repeat(64)}.jsonl.gz`;
    await store.putIfAbsent('raw', strayRaw, new Uint8Array([1]));
    await store.putIfAbsent('curated', strayPart, new Uint8Array([2]));
    await store.putIfAbsent('quarantine', strayQuarantine, new Uint8Array([3]));
    const before = objectsIn(dir);
    const acme = fixture.objects.filter((o) => o.tenant === 'acme');
    const gone = [...acme.flatMap(keysOf), `raw/${strayRaw}`, `curated/${strayPart}`, `quarantine/${strayQuarantine}`];
    const warehouse = new RecordingWarehouse(dir);

    const report = await purge(deps(warehouse), { tenant: 'acme', now: NOW });

    expect(objectsIn(dir)).toEqual(before.filter((k) => !gone.includes(k)));
    expect(objectsIn(dir).filter((k) => k.includes('tenant=acme'))).toEqual([]);
    for (const o of fixture.objects.filter((x) => x.tenant !== 'acme')) {
      for (const k of keysOf(o)) expect(objectsIn(dir)).toContain(k);
    }
    expect(report.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(gone.sort());
    expect(report.ledgerObjects.map((o) => o.key).sort()).toEqual(acme.map((o) => o.rawKey).sort());
    expect(warehouse.calls.map((c) => c.request)).toEqual([{ kind: 'PURGE_TENANT', tenant: 'acme' }]);
    expect(report.candidates).toBe(0);
    expect(report.ok).toBe(true);
    expect(readRecord(report.record?.key ?? '').request).toEqual({ kind: 'PURGE_TENANT', tenant: 'acme' });
  });
});

describe('purge failures', () => {
  test('refuses an invalid tenant id or hash before touching anything', async () => {
    const warehouse = new RecordingWarehouse(dir);
    const before = objectsIn(dir);
    await expect(purge(deps(warehouse), { tenant: 'Acme/../beta', now: NOW })).rejects.toThrow(InvalidIdentifierError);
    await expect(purge(deps(warehouse), { tenant: 'acme', sha256: 'ABC', now: NOW })).rejects.toThrow(
      /invalid sha256 "ABC"/,
    );
    expect(objectsIn(dir)).toEqual(before);
    expect(warehouse.migrations).toBe(0);
    expect(warehouse.calls).toEqual([]);
  });

  test('a Parquet file that cannot be deleted does not stop the others, and the warehouse is left for the re-run', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const stuck = target.parts[1] as string;
    const warehouse = new RecordingWarehouse(dir);
    const store = new FailingDeletes(new FsObjectStore(dir), (_b, k) => k === stuck);

    const report = await purge(deps(warehouse, store), { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(report.ok).toBe(false);
    expect(report.s3.failed).toEqual([
      { role: 'curated', bucket: 'curated', key: stuck, reason: `AccessDenied: DeleteObject s3://curated/${stuck}` },
    ]);
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual([`curated/${stuck}`]);
    expect(warehouse.calls).toEqual([]);
    expect(report.warehouse).toEqual({ status: 'skipped', reason: expect.stringContaining('1 Parquet file(s)') });
    // The record tells the truth about this run.
    const record = readRecord(report.record?.key ?? '');
    expect(record.s3.failed).toHaveLength(1);
    expect(record.s3.deleted).toHaveLength(keysOf(target).length - 1);

    // Once S3 lets go, the same purge finishes the job.
    const again = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(again.ok).toBe(true);
    expect(again.s3.deleted.map((o) => o.key)).toEqual([stuck]);
    expect(warehouse.calls).toHaveLength(1);
  });

  test('a raw object that cannot be deleted is recorded, and the rows still go', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const warehouse = new RecordingWarehouse(dir);
    const store = new FailingDeletes(new FsObjectStore(dir), (b) => b === 'raw');
    const report = await purge(deps(warehouse, store), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(report.ok).toBe(false);
    expect(report.s3.failed.map((f) => f.role)).toEqual(['raw']);
    expect(report.warehouse.status).toBe('removed');
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual([`raw/${target.rawKey}`]);
  });

  test('a warehouse failure after the S3 side is recorded, not lost', async () => {
    const target = byName(fixture.objects, 'beta/one');
    const warehouse = new RecordingWarehouse(dir);
    warehouse.fail = () => new Error('connection terminated unexpectedly');
    const report = await purge(deps(warehouse), { tenant: 'beta', sha256: target.sha256, now: NOW });
    expect(report.ok).toBe(false);
    expect(report.warehouse).toEqual({ status: 'failed', error: 'connection terminated unexpectedly' });
    expect(readRecord(report.record?.key ?? '').warehouse).toEqual(report.warehouse);
    expect(report.s3.deleted).toHaveLength(keysOf(target).length);
  });

  test('an unreadable tahoe_instance file is reported and still deleted', async () => {
    const target = byName(fixture.objects, 'acme/new');
    const part = instanceParts(target)[0] as string;
    writeFileSync(join(dir, 'curated', part), 'not parquet');
    const report = await purge(deps(new RecordingWarehouse(dir)), {
      tenant: 'acme',
      sha256: target.sha256,
      now: NOW,
    });
    expect(report.unreadable).toEqual([{ key: part, reason: expect.any(String) }]);
    expect(report.s3.deleted.map((o) => o.key)).toContain(part);
    expect(report.ok).toBe(true);
  });
});

describe('age-off', () => {
  const tenantsAt = (list: ReturnType<typeof settings>[]) => {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'tenants.json');
    writeTenantsFile(path, list);
    return new FileTenantDirectory(path);
  };

  test('removes, per tenant, what is older than its own retention, and skips tenants without settings', async () => {
    const warehouse = new RecordingWarehouse(dir, ['beta', 'acme', 'gamma']);
    const tenants = tenantsAt([settings('acme', 30), settings('beta', 400)]);
    let n = 0;
    const report = await ageOff(
      { warehouse, tenants, newId: () => `01KAR${String(++n).padStart(21, '0')}` },
      { now: NOW },
    );

    expect(warehouse.calls.map((c) => c.request)).toEqual([
      { kind: 'AGE_OFF', tenant: 'acme', before: new Date('2026-10-23T10:30:00Z') },
      { kind: 'AGE_OFF', tenant: 'beta', before: new Date('2025-10-18T10:30:00Z') },
    ]);
    expect(warehouse.calls.map((c) => c.options)).toEqual([
      { id: '01KAR000000000000000000001', now: NOW, dryRun: false },
      { id: '01KAR000000000000000000002', now: NOW, dryRun: false },
    ]);
    expect(report).toEqual({
      at: NOW.toISOString(),
      dryRun: false,
      migrationsApplied: [],
      tenants: [
        {
          tenant: 'acme',
          retentionDays: 30,
          before: '2026-10-23T10:30:00.000Z',
          removalId: '01KAR000000000000000000001',
          result: expect.objectContaining({ deleted: { tahoe_raw: 5, tahoe_instance: 3, tahoe_edge: 8 } }),
        },
        expect.objectContaining({ tenant: 'beta', retentionDays: 400, before: '2025-10-18T10:30:00.000Z' }),
      ],
      skipped: [{ tenant: 'gamma', reason: expect.stringContaining('no retention configured') }],
      failed: 0,
    });
    expect(warehouse.migrations).toBe(1);
  });

  test('only the tenants asked for; one tenant’s failure does not stop the next', async () => {
    const warehouse = new RecordingWarehouse(dir, ['acme', 'beta', 'gamma']);
    warehouse.fail = (r) => (r.tenant === 'acme' ? new Error('lock timeout') : undefined);
    const tenants = tenantsAt([settings('acme', 30), settings('beta', 400), settings('gamma', 10)]);
    const report = await ageOff({ warehouse, tenants }, { now: NOW, tenants: ['acme', 'beta', 'delta'] });
    expect(warehouse.calls.map((c) => c.request.tenant)).toEqual(['acme', 'beta']);
    expect(report.failed).toBe(1);
    expect(report.tenants.map((t) => [t.tenant, t.error])).toEqual([
      ['acme', 'lock timeout'],
      ['beta', undefined],
    ]);
    expect(report.skipped).toEqual([{ tenant: 'delta', reason: 'no rows in the warehouse' }]);
  });

  test('a dry run asks for counts only and applies no migration', async () => {
    const warehouse = new RecordingWarehouse(dir, ['acme']);
    const report = await ageOff({ warehouse, tenants: tenantsAt([settings('acme', 30)]) }, { now: NOW, dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(warehouse.migrations).toBe(0);
    expect(warehouse.calls.map((c) => c.options.dryRun)).toEqual([true]);
  });

  test('refuses an invalid tenant id in the list', async () => {
    const warehouse = new RecordingWarehouse(dir, ['acme']);
    await expect(ageOff({ warehouse, tenants: tenantsAt([]) }, { now: NOW, tenants: ['ACME'] })).rejects.toThrow(
      InvalidIdentifierError,
    );
    expect(warehouse.calls).toEqual([]);
  });
});
