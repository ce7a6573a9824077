/**
 * The loader handler's three requests (load, age-off, purge), driven through its exported factory with local parts
 * for every port: the folder object store (S3's stand-in), the folder ledger, a tenants file, and embedded
 * PostgreSQL as the warehouse, over the real output of `cyberactive process`. What is checked is what the Lambda
 * adds to the cores: which event means what, what is refused, what is returned, and when the invocation fails.
 */
import './loader-env';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { FileTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import type { ObjectStore } from '../../../lambdas/adapters/object-store';
import { PgliteWarehouse } from '../../../lambdas/adapters/pglite-warehouse';
import {
  AgeOffFailedError,
  type AgeOffSummary,
  InvalidLoaderEventError,
  type LoaderHandlerDeps,
  type LoaderSummary,
  makeLoaderHandler,
  PurgeIncompleteError,
  type PurgeSummary,
  parseLoaderEvent,
} from '../../../lambdas/handlers/loader';
import { makeObservability } from '../../../lambdas/shared/observability';
import type { Warehouse } from '../../../lambdas/warehouse/port';
import { requireVmModules } from '../../integ/warehouse/helpers';
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
} from '../warehouse/retention-fixture';

const SHA = 'a'.repeat(64);

describe('parseLoaderEvent', () => {
  test.each([
    [{ source: 'schedule' }, { action: 'load', source: 'schedule', listing: 'recent' }],
    [
      { source: 'schedule', listing: 'full' },
      { action: 'load', source: 'schedule', listing: 'full' },
    ],
    [{}, { action: 'load', source: 'manual', listing: 'recent' }],
    [null, { action: 'load', source: 'manual', listing: 'recent' }],
    [{ action: 'load' }, { action: 'load', source: 'manual', listing: 'recent' }],
    [
      { action: 'load', listing: 'full' },
      { action: 'load', source: 'manual', listing: 'full' },
    ],
    [{ action: 'age-off' }, { action: 'age-off', dryRun: false }],
    [
      { action: 'age-off', dryRun: true },
      { action: 'age-off', dryRun: true },
    ],
    [
      { action: 'purge', tenant: 'acme' },
      { action: 'purge', tenant: 'acme', dryRun: false },
    ],
    [
      { action: 'purge', tenant: 'acme', sha256: SHA, dryRun: true },
      { action: 'purge', tenant: 'acme', sha256: SHA, dryRun: true },
    ],
  ])('%j is %j', (event, request) => {
    expect(parseLoaderEvent(event)).toEqual(request);
  });

  test.each([
    [{ action: 'purge' }, 'tenant'],
    [{ action: 'purge', tenant: 'ACME' }, 'tenant: must be a tenant id'],
    [{ action: 'purge', tenant: 'acme', sha256: 'ABC' }, 'sha256: must be 64 lower-case hex digits'],
    [{ action: 'purge', tenant: 'acme', sha: SHA }, 'sha'],
    [{ action: 'purge', tenant: 'acme', dryRun: 'yes' }, 'dryRun'],
    [{ action: 'age-off', tenant: 'acme' }, 'tenant'],
    [{ action: 'drop-everything' }, 'action'],
    [{ source: 'schedule', listing: 'all' }, 'listing: must be "recent" or "full"'],
    [{ listing: true }, 'listing: must be "recent" or "full"'],
    [{ action: 'load', listing: 'Full' }, 'listing: must be "recent" or "full"'],
  ])('%j is refused, naming %s', (event, problem) => {
    expect(() => parseLoaderEvent(event)).toThrow(InvalidLoaderEventError);
    expect(() => parseLoaderEvent(event)).toThrow(problem);
  });
});

function lambdaContext(remainingMs = 900_000): Context {
  return {
    awsRequestId: 'req-1',
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'cyberactive-dev-loader',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:cyberactive-dev-loader',
    memoryLimitInMB: '512',
    logGroupName: '/aws/lambda/cyberactive-dev-loader',
    logStreamName: '2026/11/22/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The folder store, with deletes in one bucket refused as S3 refuses them without permission. */
function refusingDeletes(inner: FsObjectStore, bucket: string): ObjectStore {
  return {
    get: (...a) => inner.get(...a),
    head: (...a) => inner.head(...a),
    putIfAbsent: (...a) => inner.putIfAbsent(...a),
    list: (...a) => inner.list(...a),
    delete: async (b, k, o) => {
      if (b === bucket) throw new Error(`AccessDenied: DeleteObject s3://${b}/${k}`);
      return inner.delete(b, k, o);
    },
  };
}

describe('the loader handler', () => {
  let fixture: { dir: string; objects: FixtureObject[] };
  let dir: string;
  let pglite: PgliteWarehouse;
  const logs: { level: string; message: string; extra: unknown[] }[] = [];

  beforeAll(async () => {
    requireVmModules();
    fixture = await buildFixture();
  });
  afterAll(() => removeDir(fixture.dir));
  beforeEach(async () => {
    dir = copyDir(fixture.dir);
    writeTenantsFile(join(dir, 'tenants.json'), [settings('acme', 30), settings('beta', 400)]);
    pglite = await PgliteWarehouse.open({ store: new FsObjectStore(dir) });
    logs.length = 0;
  });
  afterEach(async () => {
    await pglite.close();
    removeDir(dir);
  });

  function handler(options: { store?: ObjectStore; warehouse?: Warehouse } = {}) {
    const observability = makeObservability('loader', { enabled: false, logLevel: 'SILENT' });
    for (const level of ['info', 'warn', 'error'] as const) {
      jest.spyOn(observability.logger, level).mockImplementation((message: unknown, ...extra: unknown[]) => {
        logs.push({ level, message: String(message), extra });
      });
    }
    jest.spyOn(observability.metrics, 'publishStoredMetrics').mockImplementation(() => observability.metrics);
    const deps: LoaderHandlerDeps = {
      observability,
      recentDays: 2,
      core: {
        store: options.store ?? new FsObjectStore(dir),
        ledger: LocalLedger.atPath(join(dir, 'ledger')),
        buckets: { curated: 'curated', manifests: 'manifests' },
        clock: () => NOW,
      },
      warehouse: () => options.warehouse ?? pglite,
      retention: {
        tenants: new FileTenantDirectory(join(dir, 'tenants.json')),
        buckets: { raw: 'raw', quarantine: 'quarantine' },
      },
    };
    return makeLoaderHandler(deps);
  }

  /** Everything loaded, by a full run (the recent ones do not see the fixture's older days). */
  async function loaded() {
    const h = handler();
    const summary = (await h({ source: 'schedule', listing: 'full' }, lambdaContext())) as LoaderSummary;
    expect(summary.filesRejected).toBe(0);
    expect(summary.rowsInserted).toBeGreaterThan(0);
    return h;
  }

  const rawsOf = async (where: string, params: unknown[] = []) =>
    Number((await pglite.query(`SELECT count(*) AS n FROM tahoe_raw WHERE ${where}`, params)).rows[0]?.n);

  test('the full-load schedule’s event lists everything and loads every file', async () => {
    await loaded();
    expect(await rawsOf('true')).toBe(800);
    expect(logs.map((l) => l.message)).toContain('loader run finished');
  });

  test('the load schedule’s event lists only the recent days of the directory’s tenants; a full run loads the rest', async () => {
    const h = handler();
    // NOW is 2026-11-22: of the fixture, only acme/new (2026-11-20) is within two days; gamma is not in tenants.json.
    const recent = (await h({ source: 'schedule' }, lambdaContext())) as LoaderSummary;
    expect(recent).toMatchObject({ listing: 'recent', prefixesListed: 3 * 2 * 3, filesRejected: 0 });
    expect(recent.filesLoaded).toBe(byName(fixture.objects, 'acme/new').parts.length);
    expect(await rawsOf('true')).toBe(200);
    expect(await rawsOf('object_sha256 = $1', [byName(fixture.objects, 'acme/new').sha256])).toBe(200);

    const full = (await h({ source: 'schedule', listing: 'full' }, lambdaContext())) as LoaderSummary;
    expect(full).toMatchObject({ listing: 'full', prefixesListed: 1 });
    expect(full.filesLoaded).toBe(
      fixture.objects.filter((o) => o.name !== 'acme/new').reduce((n, o) => n + o.parts.length, 0),
    );
    expect(await rawsOf('true')).toBe(800);
    expect(await rawsOf("tenant = 'gamma'")).toBe(100);
  });

  test('a recent run lists every partition when the tenant directory holds a malformed item, and logs why', async () => {
    const file = join(dir, 'tenants.json');
    const tenants = JSON.parse(readFileSync(file, 'utf8')) as { tenants: Record<string, Record<string, unknown>> };
    tenants.tenants.beta = { ...tenants.tenants.beta, retention_days: 'forever' };
    writeFileSync(file, JSON.stringify(tenants));
    const h = handler();
    const run = (await h({ source: 'schedule' }, lambdaContext())) as LoaderSummary;
    // Listed like a full run, so everything loads, gamma (not in the directory) included.
    expect(run).toMatchObject({ listing: 'full', prefixesListed: 1, filesRejected: 0 });
    expect(await rawsOf('true')).toBe(800);
    const why = logs.find((l) => l.message === 'tenant directory unreadable: this run lists every partition');
    expect(why?.level).toBe('error');
    expect(JSON.stringify(why?.extra)).toContain('beta');
  });

  test('a tenant added to the directory is listed by the next recent run', async () => {
    const h = handler();
    await h({}, lambdaContext());
    writeTenantsFile(join(dir, 'tenants.json'), [settings('acme', 30), settings('beta', 400), settings('gamma', 30)]);
    const next = (await h({}, lambdaContext())) as LoaderSummary;
    expect(next).toMatchObject({ listing: 'recent', prefixesListed: 3 * 3 * 3, filesLoaded: 0 });
  });

  test('{"action":"age-off"} removes each tenant’s old rows by its retention and returns the report', async () => {
    const h = await loaded();
    const result = (await h({ action: 'age-off' }, lambdaContext())) as AgeOffSummary;
    expect(result.action).toBe('age-off');
    expect(result.tenants.map((t) => [t.tenant, t.result?.deleted.tahoe_raw])).toEqual([
      ['acme', 300],
      ['beta', 0],
    ]);
    expect(result.skipped.map((s) => s.tenant)).toEqual(['gamma']);
    expect(await rawsOf("tenant = 'acme'")).toBe(200);
    expect(await rawsOf("tenant = 'gamma'")).toBe(100);
  });

  test('{"action":"purge", tenant, sha256} purges the object and returns counts and the record’s place', async () => {
    const h = await loaded();
    const target = byName(fixture.objects, 'acme/new');
    const result = (await h(
      { action: 'purge', tenant: 'acme', sha256: target.sha256 },
      lambdaContext(),
    )) as PurgeSummary;
    expect(result).toEqual({
      action: 'purge',
      purgeId: expect.stringMatching(/^[0-9A-Z]{26}$/),
      request: { kind: 'PURGE_OBJECT', tenant: 'acme', sha256: target.sha256 },
      dryRun: false,
      record: { bucket: 'manifests', key: `purges/${result.purgeId}.json` },
      s3: { deleted: keysOf(target).length, absent: 0, failed: 0 },
      // The rows first (the files' load_log rows kept while the files exist), then, the files gone, the load_log rows.
      warehouse: {
        status: 'removed',
        result: expect.objectContaining({ loadLogRowsDeleted: 0, ingestFilesPurged: 1 }),
      },
      loadLog: {
        status: 'forgotten',
        removalId: expect.stringMatching(/^[0-9A-Z]{26}$/),
        loadLogRowsDeleted: target.parts.length,
      },
      ok: true,
    });
    expect(existsSync(join(dir, 'manifests', result.record?.key ?? ''))).toBe(true);
    for (const k of keysOf(target)) expect(objectsIn(dir)).not.toContain(k);
    expect(await rawsOf('object_sha256 = $1', [target.sha256])).toBe(0);
  });

  test('a dry-run purge of a tenant changes nothing', async () => {
    const h = await loaded();
    const before = objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests']);
    const result = (await h({ action: 'purge', tenant: 'beta', dryRun: true }, lambdaContext())) as PurgeSummary;
    expect(result).toMatchObject({
      dryRun: true,
      ok: true,
      s3: { deleted: keysOf(byName(fixture.objects, 'beta/one')).length },
    });
    expect(result.record).toBeUndefined();
    expect(objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests'])).toEqual(before);
    expect(await rawsOf("tenant = 'beta'")).toBe(200);
  });

  test('a malformed request fails the invocation and touches nothing', async () => {
    const h = await loaded();
    const before = objectsIn(dir);
    await expect(h({ action: 'purge', tenant: 'acme/../beta' }, lambdaContext())).rejects.toThrow(
      InvalidLoaderEventError,
    );
    await expect(h({ action: 'purge', tenant: 'acme', everything: true }, lambdaContext())).rejects.toThrow(
      /unrecognized key/i,
    );
    expect(objectsIn(dir)).toEqual(before);
    expect(await rawsOf('true')).toBe(800);
    expect(logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'loader event refused',
      'loader event refused',
    ]);
  });

  test('a purge that could not delete everything fails the invocation, naming its record', async () => {
    await loaded();
    const target = byName(fixture.objects, 'acme/old');
    const h = handler({ store: refusingDeletes(new FsObjectStore(dir), 'raw') });
    await expect(h({ action: 'purge', tenant: 'acme', sha256: target.sha256 }, lambdaContext())).rejects.toThrow(
      /^purge [0-9A-Z]{26} incomplete: 1 object\(s\) not deleted, warehouse removed, load_log forgotten \(record s3:\/\/manifests\/purges\/[0-9A-Z]{26}\.json\)/,
    );
    await expect(h({ action: 'purge', tenant: 'acme', sha256: target.sha256 }, lambdaContext())).rejects.toBeInstanceOf(
      PurgeIncompleteError,
    );
    // Everything else went; sending the request again once deletes are allowed finishes it.
    expect(objectsIn(dir).filter((k) => keysOf(target).includes(k))).toEqual([`raw/${target.rawKey}`]);
    const again = (await handler()(
      { action: 'purge', tenant: 'acme', sha256: target.sha256 },
      lambdaContext(),
    )) as PurgeSummary;
    expect(again.s3).toEqual({ deleted: 1, absent: keysOf(target).length - 1, failed: 0 });
  });

  test('an age-off that failed for a tenant fails the invocation after doing the others', async () => {
    await loaded();
    const failing: Warehouse = Object.create(pglite, {
      removeRows: {
        value: (request: Parameters<Warehouse['removeRows']>[0], options: Parameters<Warehouse['removeRows']>[1]) =>
          request.tenant === 'acme'
            ? Promise.reject(new Error('canceling statement due to lock timeout'))
            : pglite.removeRows(request, options),
      },
    });
    const h = handler({ warehouse: failing });
    await expect(h({ action: 'age-off' }, lambdaContext())).rejects.toThrow(
      new AgeOffFailedError('age-off failed for 1 of 2 tenant(s)'),
    );
    expect(logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(['tenant age-off failed']);
    expect(await rawsOf("tenant = 'acme'")).toBe(500);
  });
});
