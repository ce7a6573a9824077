/**
 * The loader core (DESIGN.md §3.8): each run takes the TAHOE Parquet files not yet in load_log, writes a manifest,
 * and loads them through the Warehouse port in one transaction per batch; then it tells the ledger which raw
 * objects are now LOADED. The same core runs in the loader Lambda (Redshift Data API), the local runtime and the
 * CLI (PostgreSQL), and in the tests.
 *
 * Exactly once, in short (docs/warehouse.md has the argument in full):
 * - a file is in load_log iff its rows were merged, in the same transaction (or it was REJECTED, with no rows);
 * - a run skips files in load_log, and the warehouse re-checks under its lock, so a repeated or concurrent run
 *   merges nothing twice; MERGE on the natural keys makes even a double merge harmless;
 * - a failed attempt rolls back whole, and the files are picked up again by the next attempt or run.
 *
 * A file that cannot be copied (FileLoadError) is isolated: the batch is retried without it, then the file alone,
 * and if it fails alone it is recorded REJECTED with its error, so it never blocks the others and is never retried
 * forever. Any other failure (connection, throttling) ends the run with the error; what committed stays.
 *
 * What a run considers (docs/warehouse.md, "What a run lists"): without a listing policy, or asked for a full run,
 * every key under `tahoe/`. With one, only the partitions of the last few days, `tahoe/<table>/tenant=<t>/dt=<day>/`
 * for each table, each tenant of the directory and each day from today − recentDays to today (UTC): a run's cost
 * then follows the recent uploads instead of the whole history. Listing only chooses what is looked at; load_log
 * still decides what is loaded, so a file listed by both kinds of run is loaded once. A file a recent run cannot see
 * (a day older than the window, a tenant no longer in the directory) is loaded by the next full run.
 */
import { ulid } from 'ulid';
import type { ObjectStore } from '../adapters/object-store';
import { isFinished, type LedgerItem, type ObjectRef } from '../ledger/model';
import type { Ledger } from '../ledger/port';
import { parseTahoeKey, TAHOE_TABLES, type TahoeTable, tenantPrefixes, utcDay } from '../shared/s3-keys';
import { attemptManifests, manifestBytes, tableManifestKey } from './manifest';
import {
  FileLoadError,
  type IngestObject,
  type LoadBatch,
  type LoadFile,
  type LoadResult,
  type RejectedFile,
  type TableCounts,
  type Warehouse,
} from './port';

export interface LoaderLimits {
  /** Files per load transaction. @default 500 */
  readonly maxFilesPerLoad?: number;
  /** Bytes of Parquet per load transaction. @default 1 GiB */
  readonly maxBytesPerLoad?: number;
  /** Pending ingest_file rows reconciled with the ledger per run. @default 1000 */
  readonly maxPendingObjects?: number;
}

/** Which partitions a run lists when it is not a full run. */
export interface LoaderListing {
  /** The tenants whose recent partitions are listed (the tenant directory's ids), read once per run. */
  readonly tenants: () => Promise<readonly string[]>;
  /** Days before today (UTC) that are listed besides today: 0 lists today only. At most MAX_RECENT_DAYS. */
  readonly recentDays: number;
}

/** Bounds `recentDays`: beyond a month a full run costs about as much, and a typo should not list years. */
export const MAX_RECENT_DAYS = 31;

/** Prefixes listed at once: S3 answers each LIST in tens of milliseconds, and a recent run asks for many. */
const LIST_CONCURRENCY = 8;

export interface LoaderRunOptions {
  /** List every key under `tahoe/` even though `deps.listing` is set (the daily safety net). @default false */
  readonly full?: boolean;
}

export interface LoaderDeps {
  readonly store: ObjectStore;
  readonly warehouse: Warehouse;
  readonly ledger: Ledger;
  readonly buckets: { readonly curated: string; readonly manifests: string };
  readonly clock: () => Date;
  /** A new load id (ULID) per attempt. @default a ULID of the clock's time */
  readonly newLoadId?: () => string;
  readonly limits?: LoaderLimits;
  /** Progress, for logs: one call per committed attempt. */
  readonly onLoad?: (load: LoadAttempt) => void;
  /** Lists recent partitions only (unless a run asks for `full`). @default every key under tahoe/ */
  readonly listing?: LoaderListing;
}

/** One committed transaction of a run. */
export interface LoadAttempt {
  readonly loadId: string;
  readonly manifestKey: string;
  readonly files: readonly string[];
  readonly rejected: readonly RejectedFile[];
  readonly result: LoadResult;
}

export interface LoaderReport {
  readonly migrationsApplied: readonly string[];
  /** `full`: every key under tahoe/ was listed; `recent`: the recent partitions of the directory's tenants. */
  readonly listing: 'full' | 'recent';
  /** Prefixes listed: 1 for a full run, tables × tenants × (recentDays + 1) for a recent one. */
  readonly prefixesListed: number;
  /** Parquet files listed (with a valid key). */
  readonly filesListed: number;
  /** Listed keys that are not TAHOE Parquet keys: ignored. */
  readonly ignoredKeys: readonly string[];
  readonly filesLoaded: number;
  readonly filesRejected: readonly RejectedFile[];
  /** Files another run had loaded meanwhile (skipped under the lock). */
  readonly filesSkipped: number;
  /** Rows read from the loaded files, per table. */
  readonly rowsCopied: TableCounts;
  /** Rows new to the warehouse, per table (copied − inserted were already there). */
  readonly rowsInserted: TableCounts;
  readonly oversizeRows: number;
  readonly loads: readonly LoadAttempt[];
  /** Raw objects moved to LOADED in the ledger by this run. */
  readonly objectsMarkedLoaded: number;
  /** Objects the ledger refused to mark (unknown, not finished, loaded by another load). */
  readonly ledgerRefusals: readonly { readonly ref: ObjectRef; readonly reason: string }[];
}

const DEFAULTS = { maxFilesPerLoad: 500, maxBytesPerLoad: 1024 ** 3, maxPendingObjects: 1000 } as const;

function zero(): Record<TahoeTable, number> {
  return { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 };
}

function refId(ref: ObjectRef): string {
  return JSON.stringify([ref.bucket, ref.key, ref.versionId]);
}

/** Splits files (in key order) into batches bounded in count and bytes; a file bigger than the bound goes alone. */
export function planBatches(files: readonly LoadFile[], maxFiles: number, maxBytes: number): LoadFile[][] {
  const batches: LoadFile[][] = [];
  let current: LoadFile[] = [];
  let bytes = 0;
  for (const f of [...files].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    if (current.length > 0 && (current.length >= maxFiles || bytes + f.bytes > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The prefixes a recent run lists: for each table, tenant and day from `now` − recentDays to `now` (UTC days),
 * `tahoe/<table>/tenant=<t>/dt=<day>/`. The trailing `/` keeps tenant `ab` from matching tenant `ab-c`'s keys.
 * Throws on a recentDays out of range or a tenant id that is not one (the directory only holds valid ids).
 */
export function recentPrefixes(tenants: readonly string[], now: Date, recentDays: number): string[] {
  if (!Number.isInteger(recentDays) || recentDays < 0 || recentDays > MAX_RECENT_DAYS) {
    throw new RangeError(`recentDays must be an integer from 0 to ${MAX_RECENT_DAYS}, got ${recentDays}`);
  }
  // UTC days have 24 hours each, so stepping back by 24 h lands on each previous day.
  const days = Array.from({ length: recentDays + 1 }, (_, i) => utcDay(new Date(now.getTime() - i * 86_400_000)));
  const prefixes: string[] = [];
  for (const tenant of [...new Set(tenants)].sort()) {
    const byTable = tenantPrefixes(tenant).tahoe;
    for (const table of TAHOE_TABLES) for (const day of days) prefixes.push(`${byTable[table]}dt=${day}/`);
  }
  return prefixes;
}

class LoaderRun {
  private readonly limits: Required<LoaderLimits>;
  private readonly newLoadId: () => string;
  private readonly copied = zero();
  private readonly inserted = zero();
  private oversize = 0;
  private loaded = 0;
  private skipped = 0;
  private marked = 0;
  private readonly rejected: RejectedFile[] = [];
  private readonly loads: LoadAttempt[] = [];
  private readonly refusals: { ref: ObjectRef; reason: string }[] = [];

  constructor(
    private readonly d: LoaderDeps,
    private readonly options: LoaderRunOptions,
  ) {
    this.limits = { ...DEFAULTS, ...d.limits } as Required<LoaderLimits>;
    this.newLoadId = d.newLoadId ?? (() => ulid(d.clock().getTime()));
  }

  async run(): Promise<LoaderReport> {
    const { warehouse } = this.d;
    const migrationsApplied = await warehouse.applyMigrations(this.d.clock());
    // First finish what a previous run left: objects loaded but not told to the ledger, objects loaded early.
    await this.reconcile();

    const { listing } = this.d;
    const full = listing === undefined || this.options.full === true;
    const prefixes = full ? ['tahoe/'] : recentPrefixes(await listing.tenants(), this.d.clock(), listing.recentDays);
    const { listed, ignoredKeys } = await this.list(prefixes);
    const done = await warehouse.loadedKeys(listed.map((f) => f.key));
    const todo = listed.filter((f) => !done.has(f.key));
    for (const batch of planBatches(todo, this.limits.maxFilesPerLoad, this.limits.maxBytesPerLoad)) {
      await this.loadIsolating(batch);
    }
    return {
      migrationsApplied,
      listing: full ? 'full' : 'recent',
      prefixesListed: prefixes.length,
      filesListed: listed.length,
      ignoredKeys,
      filesLoaded: this.loaded,
      filesRejected: this.rejected,
      filesSkipped: this.skipped,
      rowsCopied: this.copied,
      rowsInserted: this.inserted,
      oversizeRows: this.oversize,
      loads: this.loads,
      objectsMarkedLoaded: this.marked,
      ledgerRefusals: this.refusals,
    };
  }

  /** The TAHOE Parquet files under the prefixes (several listed at once), and the keys that are not such files. */
  private async list(prefixes: readonly string[]): Promise<{ listed: LoadFile[]; ignoredKeys: string[] }> {
    const listed: LoadFile[] = [];
    const ignoredKeys: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < prefixes.length) {
        const prefix = prefixes[next++] as string;
        for await (const o of this.d.store.list(this.d.buckets.curated, prefix)) {
          try {
            listed.push({ key: o.key, table: parseTahoeKey(o.key).table, bytes: o.size });
          } catch {
            ignoredKeys.push(o.key);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, prefixes.length) }, worker));
    return { listed, ignoredKeys: ignoredKeys.sort() };
  }

  /**
   * Loads the files; on a FileLoadError, the batch without the named file (or each half, when the warehouse did
   * not name one), then the file alone; a file that fails alone is recorded REJECTED.
   */
  private async loadIsolating(files: readonly LoadFile[]): Promise<void> {
    if (files.length === 0) return;
    try {
      await this.attempt(files, []);
      return;
    } catch (err) {
      if (!(err instanceof FileLoadError)) throw err;
      const [only] = files;
      if (files.length === 1 && only) {
        await this.attempt([], [{ ...only, error: err.message }]);
        return;
      }
      const bad = err.fileKey === undefined ? undefined : files.find((f) => f.key === err.fileKey);
      if (bad) {
        await this.loadIsolating(files.filter((f) => f !== bad));
        await this.loadIsolating([bad]);
      } else {
        const mid = Math.ceil(files.length / 2);
        await this.loadIsolating(files.slice(0, mid));
        await this.loadIsolating(files.slice(mid));
      }
    }
  }

  /** The ledger items of the raw objects the files came from, and whether each is whole once `files` commit. */
  private async objectsOf(files: readonly LoadFile[], rejected: readonly LoadFile[]): Promise<IngestObject[]> {
    const shas = new Map<string, { tenant: string; sha: string }>();
    for (const f of [...files, ...rejected]) {
      const k = parseTahoeKey(f.key);
      shas.set(`${k.tenant}/${k.rawSha256}`, { tenant: k.tenant, sha: k.rawSha256 });
    }
    const items: LedgerItem[] = [];
    const seen = new Set<string>();
    for (const { tenant, sha } of shas.values()) {
      for (const item of await this.d.ledger.findBySha256(tenant, sha)) {
        if (!seen.has(refId(item.ref))) {
          seen.add(refId(item.ref));
          items.push(item);
        }
      }
    }
    return this.withCompleteness(
      items,
      files.map((f) => f.key),
    );
  }

  /** `loaded`: the object finished processing and every one of its Parquet files is LOADED once `batchKeys` are. */
  private async withCompleteness(items: readonly LedgerItem[], batchKeys: readonly string[]): Promise<IngestObject[]> {
    const outputs = items.flatMap((i) => i.outputs?.curated ?? []);
    const statuses = await this.d.warehouse.loadedKeys(outputs);
    const inBatch = new Set(batchKeys);
    return items.map((item) => {
      const curated = item.outputs?.curated ?? [];
      const loaded =
        isFinished(item.status) &&
        item.status !== 'QUARANTINED' &&
        curated.length > 0 &&
        curated.every((k) => inBatch.has(k) || statuses.get(k) === 'LOADED');
      return { item, loaded };
    });
  }

  /** One transaction: manifests first (they record the attempt even if it fails), then the warehouse load. */
  private async attempt(files: readonly LoadFile[], rejected: readonly RejectedFile[]): Promise<void> {
    const loadId = this.newLoadId();
    const { curated, manifests } = this.d.buckets;
    const written = attemptManifests(loadId, curated, files);
    for (const m of written) {
      await this.d.store.putIfAbsent(manifests, m.key, manifestBytes(m.manifest), {
        contentType: 'application/json',
      });
    }
    const tableManifests: Partial<Record<TahoeTable, string>> = {};
    for (const t of TAHOE_TABLES) if (files.some((f) => f.table === t)) tableManifests[t] = tableManifestKey(loadId, t);
    const objects = await this.objectsOf(files, rejected);
    const batch: LoadBatch = {
      loadId,
      bucket: curated,
      manifestBucket: manifests,
      manifestKey: (written[0] as { key: string }).key,
      tableManifests,
      files,
      rejected,
      objects,
    };
    const now = this.d.clock();
    const result = await this.d.warehouse.load(batch, now);
    const skipped = new Set(result.skipped);
    for (const t of TAHOE_TABLES) {
      this.copied[t] += result.copied[t];
      this.inserted[t] += result.inserted[t];
    }
    this.oversize += result.oversize;
    this.loaded += files.filter((f) => !skipped.has(f.key)).length;
    this.rejected.push(...rejected.filter((f) => !skipped.has(f.key)));
    this.skipped += result.skipped.length;
    const attempt: LoadAttempt = {
      loadId,
      manifestKey: batch.manifestKey,
      files: files.map((f) => f.key),
      rejected,
      result,
    };
    this.loads.push(attempt);
    this.d.onLoad?.(attempt);
    // Everything was skipped: another run loaded these files, and it tells the ledger.
    if (result.skipped.length === files.length + rejected.length) return;
    await this.markLoaded(
      objects.filter((o) => o.loaded && o.item.status !== 'LOADED').map((o) => o.item.ref),
      loadId,
    );
  }

  /** Tells the ledger, then records in the warehouse that it was told (so a crash in between is redone). */
  private async markLoaded(refs: readonly ObjectRef[], loadId: string): Promise<void> {
    if (refs.length === 0) return;
    const r = await this.d.ledger.markLoaded(refs, loadId, this.d.clock());
    this.marked += r.marked.length;
    const confirmed = [...r.marked, ...r.alreadyLoaded];
    for (const x of r.refused) {
      // Already LOADED by an earlier load (a late file of the object): the ledger says LOADED, which is the point.
      if (x.status === 'LOADED') confirmed.push(x.ref);
      else this.refusals.push({ ref: x.ref, reason: x.reason });
    }
    await this.d.warehouse.confirmLedgerMarks(confirmed);
  }

  private async reconcile(): Promise<void> {
    const pending = await this.d.warehouse.pendingObjects(this.limits.maxPendingObjects);
    const byLoad = new Map<string, ObjectRef[]>();
    const unfinished: LedgerItem[] = [];
    for (const p of pending) {
      if (p.status === 'LOADED' && p.loadId) {
        byLoad.set(p.loadId, [...(byLoad.get(p.loadId) ?? []), p.ref]);
        continue;
      }
      const item = await this.d.ledger.get(p.ref);
      if (item && item.status !== p.status) unfinished.push(item);
    }
    for (const [loadId, refs] of byLoad) await this.markLoaded(refs, loadId);
    if (unfinished.length === 0) return;
    // Objects whose files were all loaded while they were still being processed: record them as they are now.
    const objects = await this.withCompleteness(unfinished, []);
    const loadId = this.newLoadId();
    const written = attemptManifests(loadId, this.d.buckets.curated, []);
    for (const m of written) {
      await this.d.store.putIfAbsent(this.d.buckets.manifests, m.key, manifestBytes(m.manifest), {
        contentType: 'application/json',
      });
    }
    await this.d.warehouse.load(
      {
        loadId,
        bucket: this.d.buckets.curated,
        manifestBucket: this.d.buckets.manifests,
        manifestKey: (written[0] as { key: string }).key,
        tableManifests: {},
        files: [],
        rejected: [],
        objects,
      },
      this.d.clock(),
    );
    await this.markLoaded(
      objects.filter((o) => o.loaded && o.item.status !== 'LOADED').map((o) => o.item.ref),
      loadId,
    );
  }
}

/**
 * One loader run: migrations, reconciliation with the ledger, then every unloaded Parquet file it lists (all of
 * tahoe/, or the recent partitions when `deps.listing` is set and `options.full` is not), in batches.
 */
export function runLoader(deps: LoaderDeps, options: LoaderRunOptions = {}): Promise<LoaderReport> {
  return new LoaderRun(deps, options).run();
}
