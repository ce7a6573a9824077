/**
 * The loader core's decisions, against an in-memory warehouse that behaves as the port says (one transaction per
 * load; FileLoadError for a file it cannot copy): batching, isolation of bad files, and what a failure leaves.
 * The real adapters are exercised in test/integ/warehouse.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalLedger, MemoryLedgerStore } from '../../../lambdas/adapters/local-ledger';
import type { ListedObject, ObjectStore } from '../../../lambdas/adapters/object-store';
import type { ObjectRef } from '../../../lambdas/ledger/model';
import { TransientError } from '../../../lambdas/shared/errors';
import { tahoeKey } from '../../../lambdas/shared/s3-keys';
import {
  type LoaderListing,
  type LoaderRunOptions,
  planBatches,
  recentPrefixes,
  runLoader,
} from '../../../lambdas/warehouse/loader';
import {
  FileLoadError,
  type LoadBatch,
  type LoadFile,
  type LoadResult,
  type LoadStatus,
  type PendingObject,
  type QueryResult,
  type RemovalResult,
  type Warehouse,
} from '../../../lambdas/warehouse/port';

/** Commits a batch whole or not at all; files in `bad` fail their COPY (named or not, as configured). */
class MemoryWarehouse implements Warehouse {
  readonly log = new Map<string, LoadStatus>();
  readonly attempts: { files: number[]; rejected: number[]; ok: boolean }[] = [];
  failAfter: number | undefined;

  constructor(
    private readonly bad: ReadonlySet<string>,
    private readonly namesTheFile: boolean,
  ) {}

  async applyMigrations(): Promise<string[]> {
    return [];
  }

  async loadedKeys(keys: readonly string[]): Promise<Map<string, LoadStatus>> {
    return new Map(keys.filter((k) => this.log.has(k)).map((k) => [k, this.log.get(k) as LoadStatus]));
  }

  async load(batch: LoadBatch): Promise<LoadResult> {
    const attempt = {
      files: batch.files.map((f) => short(f.key)),
      rejected: batch.rejected.map((f) => short(f.key)),
      ok: false,
    };
    this.attempts.push(attempt);
    if (this.failAfter !== undefined && this.attempts.length > this.failAfter) {
      throw new TransientError('connection reset');
    }
    const broken = batch.files.find((f) => this.bad.has(f.key));
    if (broken) throw new FileLoadError(this.namesTheFile ? broken.key : undefined, `${broken.key}: corrupt`);
    for (const f of batch.files) this.log.set(f.key, 'LOADED');
    for (const f of batch.rejected) this.log.set(f.key, 'REJECTED');
    attempt.ok = true;
    const zero = { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 };
    return { copied: zero, inserted: zero, oversize: 0, skipped: [], rowsByFile: {} };
  }

  async pendingObjects(): Promise<PendingObject[]> {
    return [];
  }

  async confirmLedgerMarks(_refs: readonly ObjectRef[]): Promise<void> {}

  async query(): Promise<QueryResult> {
    return { columns: [], rows: [] };
  }

  // The loader core never removes rows: these tests fail loudly if it starts to.
  async removeRows(): Promise<RemovalResult> {
    throw new Error('the loader must not remove rows');
  }

  async tenantsWithRows(): Promise<string[]> {
    throw new Error('the loader must not list tenants');
  }

  async close(): Promise<void> {}
}

const SHA = 'e'.repeat(64);
const key = (part: number) => tahoeKey({ table: 'tahoe_edge', tenant: 'acme', dt: '2026-11-02', rawSha256: SHA, part });
const short = (k: string) => Number(/-(\d{5})\.parquet$/.exec(k)?.[1]);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loader-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function files(n: number): void {
  for (let i = 0; i < n; i++) {
    const path = join(dir, 'curated', key(i));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, 'PAR1');
  }
}

function run(warehouse: Warehouse, maxFilesPerLoad = 500) {
  let n = 0;
  return runLoader({
    store: new FsObjectStore(dir),
    warehouse,
    ledger: new LocalLedger(new MemoryLedgerStore()),
    buckets: { curated: 'curated', manifests: 'manifests' },
    clock: () => new Date('2026-11-22T10:30:00Z'),
    newLoadId: () => `01JD3K8Z6Q2V9X4T7B5N1M0C${String(n++).padStart(2, '0').replace(/0/g, 'A')}`,
    limits: { maxFilesPerLoad },
  });
}

describe('runLoader', () => {
  it('retries the batch without a file the warehouse names, then the file alone, then rejects it', async () => {
    files(3);
    const w = new MemoryWarehouse(new Set([key(1)]), true);
    const report = await run(w);
    expect(w.attempts).toEqual([
      { files: [0, 1, 2], rejected: [], ok: false },
      { files: [0, 2], rejected: [], ok: true },
      { files: [1], rejected: [], ok: false },
      { files: [], rejected: [1], ok: true },
    ]);
    expect(report.filesLoaded).toBe(2);
    expect(report.filesRejected.map((f) => [f.key, f.error])).toEqual([[key(1), `${key(1)}: corrupt`]]);
    expect(w.log.get(key(1))).toBe('REJECTED');
  });

  it('bisects a failing batch when the warehouse cannot say which file is bad', async () => {
    files(4);
    const w = new MemoryWarehouse(new Set([key(2)]), false);
    const report = await run(w);
    expect(w.attempts).toEqual([
      { files: [0, 1, 2, 3], rejected: [], ok: false },
      { files: [0, 1], rejected: [], ok: true },
      { files: [2, 3], rejected: [], ok: false },
      { files: [2], rejected: [], ok: false },
      { files: [], rejected: [2], ok: true },
      { files: [3], rejected: [], ok: true },
    ]);
    expect([report.filesLoaded, report.filesRejected.length]).toEqual([3, 1]);
  });

  it('never retries a rejected file on the next run', async () => {
    files(2);
    const w = new MemoryWarehouse(new Set([key(0)]), true);
    await run(w);
    const before = w.attempts.length;
    const again = await run(w);
    expect(w.attempts.length).toBe(before);
    expect([again.filesLoaded, again.filesRejected.length, again.loads.length]).toEqual([0, 0, 0]);
  });

  it('ends the run on a failure that is not the file’s, keeping the batches that committed, rejecting nothing', async () => {
    files(5);
    const w = new MemoryWarehouse(new Set(), true);
    w.failAfter = 2;
    await expect(run(w, 2)).rejects.toThrow(TransientError);
    expect([...w.log.keys()].map(short).sort()).toEqual([0, 1, 2, 3]);
    expect([...w.log.values()].every((s) => s === 'LOADED')).toBe(true);
    w.failAfter = undefined;
    const next = await run(w, 2);
    expect(next.filesLoaded).toBe(1);
  });
});

describe('planBatches', () => {
  const f = (k: string, bytes: number): LoadFile => ({ key: k, table: 'tahoe_raw', bytes });

  it('bounds batches by file count and by bytes, in key order, and lets a huge file go alone', () => {
    const list = [f('d', 10), f('a', 10), f('c', 100), f('b', 10), f('e', 10)];
    expect(planBatches(list, 2, 1000).map((b) => b.map((x) => x.key))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(planBatches(list, 10, 30).map((b) => b.map((x) => x.key))).toEqual([['a', 'b'], ['c'], ['d', 'e']]);
    expect(planBatches([], 10, 30)).toEqual([]);
  });
});

/** The folder store, recording the prefix of every listing asked of it. */
class CountingStore extends FsObjectStore {
  readonly listed: string[] = [];

  override list(bucket: string, prefix: string): AsyncIterable<ListedObject> {
    this.listed.push(prefix);
    return super.list(bucket, prefix);
  }
}

describe('what a run lists', () => {
  const edge = (tenant: string, dt: string, part = 0) =>
    tahoeKey({ table: 'tahoe_edge', tenant, dt, rawSha256: SHA, part });
  const instance = (tenant: string, dt: string, part = 9) =>
    tahoeKey({ table: 'tahoe_instance', tenant, dt, rawSha256: 'f'.repeat(64), part });

  function put(...keys: string[]): void {
    for (const k of keys) {
      const path = join(dir, 'curated', k);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, 'PAR1');
    }
  }

  let n = 0;
  function runWith(
    warehouse: Warehouse,
    options: { listing?: LoaderListing; run?: LoaderRunOptions; now?: string; store?: ObjectStore } = {},
  ) {
    return runLoader(
      {
        store: options.store ?? new FsObjectStore(dir),
        warehouse,
        ledger: new LocalLedger(new MemoryLedgerStore()),
        buckets: { curated: 'curated', manifests: 'manifests' },
        clock: () => new Date(options.now ?? '2026-11-22T10:30:00Z'),
        newLoadId: () => `01JD3K8Z6Q2V9X4T7B5N1M${String(n++).padStart(4, '0').replace(/0/g, 'A')}`,
        ...(options.listing ? { listing: options.listing } : {}),
      },
      options.run,
    );
  }
  const directory = (...tenants: string[]): LoaderListing => ({ tenants: async () => tenants, recentDays: 2 });
  /** Every key the warehouse committed, once per commit that carried it. */
  const committed = (w: MemoryWarehouse, keys: readonly string[]) =>
    keys.map((k) => w.attempts.filter((a) => a.ok && a.files.includes(short(k))).length);

  it('a recent run lists each table’s partition of each directory tenant for today and the days before, no more', async () => {
    const store = new CountingStore(dir);
    const w = new MemoryWarehouse(new Set(), true);
    const report = await runWith(w, { store, listing: directory('beta', 'acme', 'beta') });
    const expected: string[] = [];
    for (const tenant of ['acme', 'beta']) {
      for (const table of ['tahoe_raw', 'tahoe_instance', 'tahoe_edge']) {
        for (const dt of ['2026-11-22', '2026-11-21', '2026-11-20'])
          expected.push(`tahoe/${table}/tenant=${tenant}/dt=${dt}/`);
      }
    }
    expect([...store.listed].sort()).toEqual(expected.sort());
    expect(report).toMatchObject({ listing: 'recent', prefixesListed: 18, filesListed: 0, filesLoaded: 0 });
  });

  it('a recent run loads the recent days’ files and leaves an older day’s file alone; a full run then loads it', async () => {
    const recent = [edge('acme', '2026-11-22', 0), edge('acme', '2026-11-20', 1), instance('beta', '2026-11-21')];
    const old = edge('acme', '2026-11-19', 2);
    put(...recent, old);
    const w = new MemoryWarehouse(new Set(), true);

    const first = await runWith(w, { listing: directory('acme', 'beta') });
    expect(first).toMatchObject({ listing: 'recent', filesListed: 3, filesLoaded: 3 });
    expect([...w.log.keys()].sort()).toEqual([...recent].sort());

    const store = new CountingStore(dir);
    const full = await runWith(w, { store, listing: directory('acme', 'beta'), run: { full: true } });
    expect(store.listed).toEqual(['tahoe/']);
    expect(full).toMatchObject({ listing: 'full', prefixesListed: 1, filesListed: 4, filesLoaded: 1 });
    expect(w.log.get(old)).toBe('LOADED');
  });

  it('loads every file exactly once across recent and full runs in any order', async () => {
    const keys = [edge('acme', '2026-11-22', 0), edge('acme', '2026-11-10', 1), instance('acme', '2026-11-21')];
    put(...keys);
    const w = new MemoryWarehouse(new Set(), true);
    await runWith(w, { listing: directory('acme') });
    await runWith(w, { listing: directory('acme'), run: { full: true } });
    // A late file of today, then of an old day, between runs.
    const late = edge('acme', '2026-11-22', 3);
    const lateOld = edge('acme', '2026-10-01', 4);
    put(late, lateOld);
    const again = await runWith(w, { listing: directory('acme') });
    expect(again.filesLoaded).toBe(1);
    await runWith(w);
    await runWith(w, { listing: directory('acme') });
    await runWith(w, { listing: directory('acme'), run: { full: true } });
    expect(committed(w, [...keys, late, lateOld])).toEqual([1, 1, 1, 1, 1]);
    expect(w.log.size).toBe(5);
  });

  it('loads a tenant missing from the directory only in a full run, and never another tenant by a shared prefix', async () => {
    const gone = edge('gone', '2026-11-22', 0);
    const lookalike = edge('acme-two', '2026-11-22', 1);
    const own = edge('acme', '2026-11-22', 2);
    put(gone, lookalike, own);
    const w = new MemoryWarehouse(new Set(), true);
    const recent = await runWith(w, { listing: directory('acme') });
    expect(recent.filesLoaded).toBe(1);
    expect([...w.log.keys()]).toEqual([own]);
    const full = await runWith(w, { listing: directory('acme'), run: { full: true } });
    expect(full.filesLoaded).toBe(2);
    expect([...w.log.keys()].sort()).toEqual([gone, lookalike, own].sort());
  });

  it('lists every key under tahoe/ when it has no listing policy', async () => {
    put(edge('acme', '2020-01-01'));
    const store = new CountingStore(dir);
    const w = new MemoryWarehouse(new Set(), true);
    const report = await runWith(w, { store });
    expect(store.listed).toEqual(['tahoe/']);
    expect(report).toMatchObject({ listing: 'full', prefixesListed: 1, filesLoaded: 1 });
  });

  it('takes the days in UTC from the injected clock, across midnight and a month’s end', async () => {
    const w = new MemoryWarehouse(new Set(), true);
    const days = async (now: string, recentDays: number) => {
      const store = new CountingStore(dir);
      await runWith(w, { store, now, listing: { tenants: async () => ['acme'], recentDays } });
      return [...new Set(store.listed.map((p) => /dt=([^/]+)\//.exec(p)?.[1]))].sort();
    };
    expect(await days('2026-03-01T00:10:00Z', 1)).toEqual(['2026-02-28', '2026-03-01']);
    // 01:30 in UTC+2 is still the previous day in UTC.
    expect(await days('2026-03-01T01:30:00+02:00', 1)).toEqual(['2026-02-27', '2026-02-28']);
    expect(await days('2026-01-01T23:59:59Z', 0)).toEqual(['2026-01-01']);
    expect(await days('2027-01-01T00:00:00Z', 2)).toEqual(['2026-12-30', '2026-12-31', '2027-01-01']);
  });

  it('refuses a recentDays out of range before loading anything', async () => {
    put(edge('acme', '2026-11-22'));
    const w = new MemoryWarehouse(new Set(), true);
    for (const recentDays of [-1, 1.5, 32]) {
      await expect(runWith(w, { listing: { tenants: async () => ['acme'], recentDays } })).rejects.toThrow(RangeError);
    }
    expect(w.attempts).toEqual([]);
    expect(() => recentPrefixes(['acme'], new Date('2026-11-22T00:00:00Z'), 31)).not.toThrow();
  });
});
