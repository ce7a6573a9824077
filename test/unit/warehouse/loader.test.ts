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
import type { ObjectRef } from '../../../lambdas/ledger/model';
import { TransientError } from '../../../lambdas/shared/errors';
import { tahoeKey } from '../../../lambdas/shared/s3-keys';
import { planBatches, runLoader } from '../../../lambdas/warehouse/loader';
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
