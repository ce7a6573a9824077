/**
 * The retention core over real local parts (folder object store, folder ledger, tenants file) and the real output
 * of `cyberactive process`. The warehouse here is a stand-in that records what it is asked and what S3 held at
 * that moment, and keeps a load_log of its own (every Parquet file of the folder starts LOADED), so that the
 * orchestration (order, requests, candidates, failures, re-runs) is checked on its own; the same flows against
 * PostgreSQL are in test/integ/warehouse/retention.test.ts.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { FileTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import type { ObjectStore } from '../../../lambdas/adapters/object-store';
import { InvalidIdentifierError } from '../../../lambdas/shared/ids';
import { parsePurgeRecordKey, parseTahoeKey } from '../../../lambdas/shared/s3-keys';
import type { Manifest } from '../../../lambdas/warehouse/manifest';
import type { LoadStatus, RemovalRequest, RemovalResult, Warehouse } from '../../../lambdas/warehouse/port';
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

/** What the stand-in answers for the rows of any AGE_OFF or PURGE_* request. */
const ROWS: RemovalResult = { ...ZERO, deleted: { tahoe_raw: 5, tahoe_instance: 3, tahoe_edge: 8 } };

/**
 * The warehouse port as far as retention uses it, recording each call; `fail` makes removeRows throw. Its load_log
 * starts with every Parquet file of the folder LOADED (as after a loader run), less `unloaded`; PURGE_* without
 * `keepLoadLog` and FORGET_FILES delete from it as the real ones do, and a dry run leaves it.
 */
class RecordingWarehouse implements Warehouse {
  readonly calls: Call[] = [];
  readonly loadLog = new Map<string, LoadStatus>();
  migrations = 0;
  fail: ((request: RemovalRequest) => Error | undefined) | undefined;
  removalCandidates: 'values' | 'files' = 'values';

  constructor(
    private readonly dir: string,
    private readonly tenants: readonly string[] = [],
    unloaded: readonly string[] = [],
  ) {
    for (const o of objectsIn(dir, ['curated'])) {
      const key = o.slice('curated/'.length);
      if (!unloaded.includes(key)) this.loadLog.set(key, 'LOADED');
    }
  }

  async applyMigrations(): Promise<string[]> {
    this.migrations += 1;
    return [];
  }
  async removeRows(request: RemovalRequest, options: Call['options']): Promise<RemovalResult> {
    this.calls.push({ request, options, objects: objectsIn(this.dir) });
    const err = this.fail?.(request);
    if (err) throw err;
    const forgets = request.kind === 'FORGET_FILES' || (request.kind !== 'AGE_OFF' && request.keepLoadLog !== true);
    let forgotten = 0;
    if (forgets) {
      const sha = request.kind === 'PURGE_TENANT' ? undefined : request.sha256;
      for (const key of [...this.loadLog.keys()]) {
        const k = parseTahoeKey(key);
        if (k.tenant !== request.tenant || (sha !== undefined && k.rawSha256 !== sha)) continue;
        forgotten += 1;
        if (!options.dryRun) this.loadLog.delete(key);
      }
    }
    if (request.kind === 'FORGET_FILES') return { ...ZERO, loadLogRowsDeleted: forgotten };
    return { ...ROWS, loadLogRowsDeleted: forgotten };
  }
  async tenantsWithRows(): Promise<string[]> {
    return [...this.tenants];
  }
  async loadedKeys(keys: readonly string[]): Promise<Map<string, LoadStatus>> {
    const out = new Map<string, LoadStatus>();
    for (const k of keys) {
      const status = this.loadLog.get(k);
      if (status) out.set(k, status);
    }
    return out;
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

/** Keys of `objects` (as `bucket/key`) that belong to the fixture object. */
const own = (objects: readonly string[] | undefined, o: FixtureObject) =>
  (objects ?? []).filter((k) => keysOf(o).includes(k));

async function hashesOfParts(parts: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of parts) for (const h of await hashesIn(join(fixture.dir, 'curated', p))) out.add(h);
  return [...out].sort();
}

describe('purge of one raw object', () => {
  test('removes its rows while its files are there, then deletes them, then forgets its load_log rows, then records', async () => {
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

    // Asked twice: the rows while every file of the object was still in S3 (load_log kept), then the load_log rows
    // once none was left.
    expect(warehouse.calls).toHaveLength(2);
    const [rows, forget] = warehouse.calls;
    expect(own(rows?.objects, target)).toEqual(keysOf(target));
    expect(own(forget?.objects, target)).toEqual([]);
    const expectedHashes = await hashesOfParts(instanceParts(target));
    expect(rows?.request).toEqual({
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: target.sha256,
      candidates: expectedHashes,
      keepLoadLog: true,
    });
    expect(rows?.options).toEqual({ id: report.purgeId, now: NOW, dryRun: false });
    expect(forget?.request).toEqual({ kind: 'FORGET_FILES', tenant: 'acme', sha256: target.sha256 });
    expect(forget?.options).toEqual({ id: expect.stringMatching(/^[0-9A-Z]{26}$/), now: NOW, dryRun: false });
    expect(forget?.options.id).not.toBe(report.purgeId);
    expect(report.candidates).toBe(expectedHashes.length);
    expect(warehouse.migrations).toBe(1);
    // The object's files are no longer in load_log; the other objects' still are.
    expect([...warehouse.loadLog.keys()].filter((k) => target.parts.includes(k))).toEqual([]);
    expect(warehouse.loadLog.size).toBe(objectsIn(dir, ['curated']).length);

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
      candidates: expectedHashes.length,
      unreadable: [],
      warehouse: { status: 'removed', result: ROWS },
      loadLog: { status: 'forgotten', removalId: forget?.options.id, loadLogRowsDeleted: target.parts.length },
      leftAlone: expect.arrayContaining([expect.stringMatching(/^proofs bucket: .*Object Lock/)]),
    });
    // A warehouse that takes the candidates as values gets no manifest.
    expect(objectsIn(dir, ['manifests']).filter((k) => !k.startsWith('manifests/purges/'))).toEqual([]);
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

  test('deletes the Parquet files the warehouse has not loaded before the warehouse step, the others after it', async () => {
    const target = byName(fixture.objects, 'acme/new');
    // The loader has not come to two of the object's files yet (one of them an instance file).
    const unloaded = [
      instanceParts(target)[0] as string,
      target.parts.find((p) => p.includes('/tahoe_raw/')) as string,
    ];
    const warehouse = new RecordingWarehouse(dir, [], unloaded);

    const report = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(report.ok).toBe(true);
    const [rows] = warehouse.calls;
    // When the rows went, the unloaded files were already gone (no load can bring rows of the object back), and
    // every loaded one was still there.
    expect(own(rows?.objects, target)).toEqual(
      keysOf(target).filter((k) => !unloaded.map((u) => `curated/${u}`).includes(k)),
    );
    // Their hashes are candidates too: a load may have taken the file in the moment before it was deleted.
    expect(rows?.request).toMatchObject({ candidates: await hashesOfParts(instanceParts(target)) });
    expect(report.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(keysOf(target));
  });

  test('a warehouse that reads the candidates itself gets a COPY manifest of the loaded instance files, not the values', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const [first, ...loaded] = instanceParts(target);
    expect(loaded.length).toBeGreaterThan(0);
    // One instance file was REJECTED by the loader: a COPY of it would fail again, so the manifest leaves it out.
    const warehouse = new RecordingWarehouse(dir);
    warehouse.loadLog.set(first as string, 'REJECTED');
    warehouse.removalCandidates = 'files';

    const report = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(report.ok).toBe(true);
    const manifestKey = `manifests/${report.purgeId}.tahoe_instance.manifest`;
    const request = warehouse.calls[0]?.request;
    expect(request).toEqual({
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: target.sha256,
      candidateFiles: {
        bucket: 'curated',
        manifestBucket: 'manifests',
        manifestKey,
        files: loaded.map((key) => ({
          key,
          table: 'tahoe_instance',
          bytes: statSync(join(fixture.dir, 'curated', key)).size,
        })),
      },
      keepLoadLog: true,
    });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifests', manifestKey), 'utf8')) as Manifest;
    expect(manifest.entries).toEqual(
      loaded.map((key) => ({
        url: `s3://curated/${key}`,
        mandatory: true,
        meta: { content_length: statSync(join(fixture.dir, 'curated', key)).size },
      })),
    );
    // Written with the loader's builders: the attempt's whole manifest is beside it.
    expect(existsSync(join(dir, 'manifests', `manifests/${report.purgeId}.manifest`))).toBe(true);
    expect(report.candidateManifest).toEqual({ bucket: 'manifests', key: manifestKey, files: loaded.length });
    // The record still counts every hash the core read itself.
    expect(report.candidates).toBe((await hashesOfParts(instanceParts(target))).length);
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
    expect(warehouse.calls[2]?.request).toEqual({
      kind: 'PURGE_OBJECT',
      tenant: 'acme',
      sha256: target.sha256,
      keepLoadLog: true,
    });
    expect(second.loadLog).toEqual({ status: 'forgotten', removalId: expect.any(String), loadLogRowsDeleted: 0 });
    expect(readRecord(`purges/${second.purgeId}.json`).s3.deleted).toEqual([]);
    expect(existsSync(join(dir, 'manifests', `purges/${first.purgeId}.json`))).toBe(true);
  });

  test('a dry run lists what would go, asks the warehouse for dry runs, and changes nothing', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const before = objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests']);
    const warehouse = new RecordingWarehouse(dir);
    const loadLog = new Map(warehouse.loadLog);
    const dry = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW, dryRun: true });

    expect(objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests'])).toEqual(before);
    expect(warehouse.loadLog).toEqual(loadLog);
    expect(dry.dryRun).toBe(true);
    expect(dry.record).toBeUndefined();
    expect(warehouse.migrations).toBe(0);
    expect(warehouse.calls.map((c) => [c.request.kind, c.options.dryRun])).toEqual([
      ['PURGE_OBJECT', true],
      ['FORGET_FILES', true],
    ]);
    expect(dry.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(keysOf(target));
    expect(dry.loadLog).toMatchObject({ status: 'forgotten', loadLogRowsDeleted: target.parts.length });

    const real = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(real.s3.deleted).toEqual(dry.s3.deleted);
    expect(warehouse.calls[2]?.request).toEqual(warehouse.calls[0]?.request);
    expect(warehouse.calls[3]?.request).toEqual(warehouse.calls[1]?.request);
    expect(real.warehouse).toEqual(dry.warehouse);
    expect({ ...real.loadLog, removalId: '' }).toEqual({ ...dry.loadLog, removalId: '' });
  });

  test('a dry run on a warehouse that reads the candidates itself writes only the candidate manifests', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const data = objectsIn(dir, ['raw', 'curated', 'quarantine']);
    const manifests = objectsIn(dir, ['manifests']);
    const warehouse = new RecordingWarehouse(dir);
    warehouse.removalCandidates = 'files';
    const dry = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW, dryRun: true });
    expect(objectsIn(dir, ['raw', 'curated', 'quarantine'])).toEqual(data);
    expect(objectsIn(dir, ['manifests'])).toEqual(
      [
        ...manifests,
        `manifests/manifests/${dry.purgeId}.manifest`,
        `manifests/manifests/${dry.purgeId}.tahoe_instance.manifest`,
      ].sort(),
    );
    expect(dry.record).toBeUndefined();
  });

  test('content the tenant never uploaded deletes nothing and still asks the warehouse', async () => {
    const beta = byName(fixture.objects, 'beta/one');
    const before = objectsIn(dir);
    const warehouse = new RecordingWarehouse(dir);
    const report = await purge(deps(warehouse), { tenant: 'acme', sha256: beta.sha256, now: NOW });
    expect(objectsIn(dir)).toEqual(before);
    expect(report.ledgerObjects).toEqual([]);
    expect(report.s3).toEqual({ deleted: [], absent: [], failed: [] });
    expect(warehouse.calls.map((c) => c.request)).toEqual([
      { kind: 'PURGE_OBJECT', tenant: 'acme', sha256: beta.sha256, keepLoadLog: true },
      { kind: 'FORGET_FILES', tenant: 'acme', sha256: beta.sha256 },
    ]);
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
    // The stray part was never loaded: it goes before the warehouse step.
    const warehouse = new RecordingWarehouse(dir, [], [strayPart]);

    const report = await purge(deps(warehouse), { tenant: 'acme', now: NOW });

    expect(objectsIn(dir)).toEqual(before.filter((k) => !gone.includes(k)));
    expect(objectsIn(dir).filter((k) => k.includes('tenant=acme'))).toEqual([]);
    for (const o of fixture.objects.filter((x) => x.tenant !== 'acme')) {
      for (const k of keysOf(o)) expect(objectsIn(dir)).toContain(k);
    }
    expect(report.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(gone.sort());
    expect(report.ledgerObjects.map((o) => o.key).sort()).toEqual(acme.map((o) => o.rawKey).sort());
    expect(warehouse.calls.map((c) => c.request)).toEqual([
      { kind: 'PURGE_TENANT', tenant: 'acme', keepLoadLog: true },
      { kind: 'FORGET_FILES', tenant: 'acme' },
    ]);
    const [rows, forget] = warehouse.calls;
    expect(rows?.objects).not.toContain(`curated/${strayPart}`);
    for (const o of acme) expect(own(rows?.objects, o)).toEqual(keysOf(o));
    expect(forget?.objects.filter((k) => k.includes('tenant=acme'))).toEqual([]);
    expect([...warehouse.loadLog.keys()].filter((k) => k.includes('/tenant=acme/'))).toEqual([]);
    expect([...warehouse.loadLog.keys()].filter((k) => k.includes('/tenant=beta/')).length).toBeGreaterThan(0);
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

  test('a Parquet file that cannot be deleted does not stop the others, keeps the load_log rows, and the re-run forgets them', async () => {
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
    // The rows went while the files were there; the load_log rows stay, so that no load takes the stuck file again.
    expect(warehouse.calls.map((c) => c.request.kind)).toEqual(['PURGE_OBJECT']);
    expect(report.warehouse.status).toBe('removed');
    expect(report.loadLog).toEqual({ status: 'skipped', reason: expect.stringContaining('1 Parquet file(s)') });
    for (const p of target.parts) expect(warehouse.loadLog.get(p)).toBe('LOADED');
    // The record tells the truth about this run.
    const record = readRecord(report.record?.key ?? '');
    expect(record.s3.failed).toHaveLength(1);
    expect(record.s3.deleted).toHaveLength(keysOf(target).length - 1);
    expect(record.loadLog.status).toBe('skipped');

    // Once S3 lets go, the same purge finishes the job.
    const again = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(again.ok).toBe(true);
    expect(again.s3.deleted.map((o) => o.key)).toEqual([stuck]);
    expect(warehouse.calls.map((c) => c.request.kind)).toEqual(['PURGE_OBJECT', 'PURGE_OBJECT', 'FORGET_FILES']);
    expect(again.loadLog).toMatchObject({ status: 'forgotten', loadLogRowsDeleted: target.parts.length });
    expect(target.parts.filter((p) => warehouse.loadLog.has(p))).toEqual([]);
  });

  test('a Parquet file not yet loaded that cannot be deleted stops the purge before the warehouse step', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const pending = target.parts[0] as string;
    const warehouse = new RecordingWarehouse(dir, [], [pending]);
    const store = new FailingDeletes(new FsObjectStore(dir), (_b, k) => k === pending);

    const report = await purge(deps(warehouse, store), { tenant: 'acme', sha256: target.sha256, now: NOW });

    expect(report.ok).toBe(false);
    expect(warehouse.calls).toEqual([]);
    expect(report.warehouse).toEqual({ status: 'skipped', reason: expect.stringContaining('not yet loaded') });
    expect(report.loadLog.status).toBe('skipped');
    // Nothing else was deleted: the files that were loaded still say which instances were the object's.
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual(keysOf(target));

    const again = await purge(deps(warehouse), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(again.ok).toBe(true);
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual([]);
  });

  test('a raw object that cannot be deleted is recorded, and the rows and load_log rows still go', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const warehouse = new RecordingWarehouse(dir);
    const store = new FailingDeletes(new FsObjectStore(dir), (b) => b === 'raw');
    const report = await purge(deps(warehouse, store), { tenant: 'acme', sha256: target.sha256, now: NOW });
    expect(report.ok).toBe(false);
    expect(report.s3.failed.map((f) => f.role)).toEqual(['raw']);
    expect(report.warehouse.status).toBe('removed');
    expect(report.loadLog.status).toBe('forgotten');
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual([`raw/${target.rawKey}`]);
  });

  test('a failed warehouse step deletes nothing and is recorded; the re-run reads the candidates again and finishes', async () => {
    const target = byName(fixture.objects, 'beta/one');
    const warehouse = new RecordingWarehouse(dir);
    const loadLog = new Map(warehouse.loadLog);
    warehouse.fail = () => new Error('connection terminated unexpectedly');
    const before = objectsIn(dir);
    const report = await purge(deps(warehouse), { tenant: 'beta', sha256: target.sha256, now: NOW });
    expect(report.ok).toBe(false);
    expect(report.warehouse).toEqual({ status: 'failed', error: 'connection terminated unexpectedly' });
    expect(report.loadLog.status).toBe('skipped');
    expect(readRecord(report.record?.key ?? '').warehouse).toEqual(report.warehouse);
    expect(report.s3.deleted).toEqual([]);
    expect(objectsIn(dir)).toEqual(before);
    expect(warehouse.loadLog).toEqual(loadLog);

    warehouse.fail = undefined;
    const again = await purge(deps(warehouse), { tenant: 'beta', sha256: target.sha256, now: NOW });
    expect(again.ok).toBe(true);
    expect(again.s3.deleted).toHaveLength(keysOf(target).length);
    // The same request as the failed one, candidates included.
    expect(warehouse.calls.map((c) => c.request.kind)).toEqual(['PURGE_OBJECT', 'PURGE_OBJECT', 'FORGET_FILES']);
    expect(warehouse.calls[1]?.request).toEqual(warehouse.calls[0]?.request);
    expect(warehouse.calls[0]?.request).toMatchObject({ candidates: expect.any(Array) });
    expect(again.candidates).toBeGreaterThan(0);
  });

  test('a failure to forget the load_log rows is recorded, and the re-run forgets them', async () => {
    const target = byName(fixture.objects, 'beta/one');
    const warehouse = new RecordingWarehouse(dir);
    warehouse.fail = (r) => (r.kind === 'FORGET_FILES' ? new Error('lock timeout') : undefined);
    const report = await purge(deps(warehouse), { tenant: 'beta', sha256: target.sha256, now: NOW });
    expect(report.ok).toBe(false);
    expect(report.warehouse.status).toBe('removed');
    expect(report.loadLog).toEqual({ status: 'failed', removalId: expect.any(String), error: 'lock timeout' });
    expect(report.s3.deleted).toHaveLength(keysOf(target).length);
    for (const p of target.parts) expect(warehouse.loadLog.get(p)).toBe('LOADED');

    warehouse.fail = undefined;
    const again = await purge(deps(warehouse), { tenant: 'beta', sha256: target.sha256, now: NOW });
    expect(again.ok).toBe(true);
    expect(again.loadLog).toMatchObject({ status: 'forgotten', loadLogRowsDeleted: target.parts.length });
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
