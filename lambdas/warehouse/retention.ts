/**
 * Retention (DESIGN.md §3.7): age-off and purge, orchestrated over the ports. The same core runs in the loader
 * Lambda (`{"action": "age-off"}`, `{"action": "purge", …}`), in `cyberactive age-off` / `cyberactive purge` and in
 * the tests; it never reads the environment, and the caller gives it the time.
 *
 * Age-off removes warehouse rows only: each tenant's raws received more than its `retentionDays` ago, with what
 * nothing else needs any more (Warehouse.removeRows AGE_OFF). S3 ages off by the buckets' lifecycle rules. A tenant
 * that has rows but no settings in the tenant directory is skipped and reported: rows are never removed without a
 * configured retention.
 *
 * Purge removes one raw object (by SHA-256) or a whole tenant, and everything derived from it, in an order chosen so
 * that a run that stops anywhere (an error, a time-out, a crash) leaves what the next run needs to finish the job:
 * 1. Find: keys from the ledger (raw versions and the outputs it recorded) and from listing the tenant's prefixes
 *    (files the ledger does not know: a crashed attempt's parts, uploads never processed); which of the Parquet
 *    files the warehouse has in load_log; for an object purge, the `_hash` values of its tahoe_instance files (the
 *    candidates for instances no edge leads to: the files are the only place that says which they were). A
 *    warehouse that reads the candidates itself (Redshift) gets a COPY manifest of the object's loaded instance
 *    files instead, written under the purge id.
 * 2. Parquet files the warehouse has no record of are deleted: no rows came from them, and once they are gone no
 *    load can bring rows of the object back after the next step. If one cannot be deleted, the run stops here.
 * 3. The warehouse: removeRows PURGE_OBJECT / PURGE_TENANT with `keepLoadLog`, one transaction under the load lock,
 *    recorded in purge_log under the purge id. The files' load_log rows stay: a file in load_log is never loaded
 *    again, so a load between this step and the next cannot bring the rows back. If this step fails, nothing else
 *    is deleted: the files (and so the candidates) are still there for the re-run.
 * 4. S3: the remaining Parquet files, then the quarantine files, then the raw object versions.
 * 5. Only when every Parquet file of the purge is gone (deleted now or before): removeRows FORGET_FILES, which
 *    deletes their load_log rows (so that the same content, uploaded again, loads again) and records that in
 *    purge_log under an id of its own. While a Parquet file is still there its load_log row must stay, or the
 *    loader would load it again.
 * 6. The purge record: a JSON document (what was asked, every key deleted or found absent or failed, both warehouse
 *    steps) written create-only to the manifests bucket at `purges/<id>.json`.
 * Deleting is at-least-once: a run that stopped half-way is simply run again (absent objects are fine, a repeated
 * removal deletes nothing more), and each run's record tells what that run did. Proofs, loader manifests and ledger
 * items are left: proofs hold hashes only and may be under Object Lock, manifests hold keys only and expire, the
 * ledger is the history of arrivals.
 */
import { buffer } from 'node:stream/consumers';
import { parquetReadObjects } from 'hyparquet';
import { ulid } from 'ulid';
import { NoSuchObjectError, type ObjectStore } from '../adapters/object-store';
import type { LedgerItem, LedgerStatus } from '../ledger/model';
import type { Ledger } from '../ledger/port';
import type { TenantSettings } from '../process/ports';
import { assertSha256, assertTenantId } from '../shared/ids';
import {
  parseQuarantineKey,
  parseTahoeKey,
  purgeRecordKey,
  TAHOE_TABLES,
  type TahoeTable,
  tenantPrefixes,
} from '../shared/s3-keys';
import { attemptManifests, manifestBytes, tableManifestKey } from './manifest';
import type { CandidateFiles, LoadFile, RemovalRequest, RemovalResult, Warehouse } from './port';

const DAY_MS = 86_400_000;
/** S3 requests in flight at once during a purge. */
const DEFAULT_CONCURRENCY = 16;
/** Ledger page size when listing a tenant's objects (the ledger's maximum). */
const LEDGER_PAGE = 1000;

/** What the purge leaves, and why; written into every record so that a reader of the record need not guess. */
export const LEFT_ALONE: readonly string[] = [
  'proofs bucket: evidence bundles hold hashes only (no log content) and may be under Object Lock',
  'manifests bucket: loader manifests hold keys only and expire by the bucket lifecycle',
  'ledger items: the record of what arrived and when (their output keys now name deleted objects)',
];

/** The tenants' settings, all at once (DynamoDB: one paginated Scan; locally tenants.json). */
export interface TenantSettingsSource {
  list(): Promise<readonly TenantSettings[]>;
}

export interface RetentionBuckets {
  readonly raw: string;
  readonly curated: string;
  readonly quarantine: string;
  /** Where purge records go (`purges/<id>.json`). */
  readonly manifests: string;
}

export interface AgeOffDeps {
  readonly warehouse: Warehouse;
  readonly tenants: TenantSettingsSource;
  /** A new removal id (ULID) per tenant. @default a ULID of `now` */
  readonly newId?: () => string;
}

export interface PurgeDeps {
  readonly store: ObjectStore;
  readonly warehouse: Warehouse;
  readonly ledger: Ledger;
  readonly buckets: RetentionBuckets;
  /** The purge id (ULID): names the record and the purge_log row. @default a ULID of `now` */
  readonly newId?: () => string;
  /** S3 requests in flight at once. @default 16 */
  readonly concurrency?: number;
}

export type RetentionDeps = AgeOffDeps & PurgeDeps;

// ---------------------------------------------------------------------------------------------------------------
// Age-off

export interface AgeOffOptions {
  /** Only these tenants (each must have rows and settings); default every tenant with rows. */
  readonly tenants?: readonly string[] | undefined;
  readonly now: Date;
  /** Count what would go and change nothing (migrations are not applied either). */
  readonly dryRun?: boolean | undefined;
}

export interface AgeOffTenant {
  readonly tenant: string;
  readonly retentionDays: number;
  /** Raws received before this instant were removed. */
  readonly before: string;
  readonly removalId: string;
  /** Absent when the removal failed (see `error`). */
  readonly result?: RemovalResult;
  readonly error?: string;
}

export interface AgeOffReport {
  readonly at: string;
  readonly dryRun: boolean;
  readonly migrationsApplied: readonly string[];
  readonly tenants: readonly AgeOffTenant[];
  /** Tenants left as they are: rows but no settings, or asked for but without rows. */
  readonly skipped: readonly { readonly tenant: string; readonly reason: string }[];
  /** Tenants whose removal failed; the others were still done. */
  readonly failed: number;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function idMaker(newId: (() => string) | undefined, now: Date): () => string {
  return newId ?? (() => ulid(now.getTime()));
}

/**
 * Removes, for each tenant with rows, the rows older than its retention. One transaction per tenant: a tenant that
 * fails is reported and the others still go; the caller fails the run when `failed > 0`.
 */
export async function ageOff(deps: AgeOffDeps, options: AgeOffOptions): Promise<AgeOffReport> {
  const { now } = options;
  if (Number.isNaN(now.getTime())) throw new RangeError('age-off needs a valid time');
  const dryRun = options.dryRun ?? false;
  const wanted = options.tenants?.map((t) => assertTenantId(t));
  const newId = idMaker(deps.newId, now);
  const migrationsApplied = dryRun ? [] : await deps.warehouse.applyMigrations(now);
  const settings = new Map((await deps.tenants.list()).map((s) => [s.tenant, s]));
  const withRows = [...new Set(await deps.warehouse.tenantsWithRows())].sort();
  const skipped: { tenant: string; reason: string }[] = [];
  if (wanted) {
    const present = new Set(withRows);
    for (const t of new Set(wanted)) {
      if (!present.has(t)) skipped.push({ tenant: t, reason: 'no rows in the warehouse' });
    }
  }
  const tenants: AgeOffTenant[] = [];
  for (const tenant of withRows) {
    if (wanted && !wanted.includes(tenant)) continue;
    const s = settings.get(tenant);
    if (!s) {
      skipped.push({ tenant, reason: 'not in the tenant directory: no retention configured, nothing removed' });
      continue;
    }
    const before = new Date(now.getTime() - s.retentionDays * DAY_MS);
    const removalId = newId();
    const base = { tenant, retentionDays: s.retentionDays, before: before.toISOString(), removalId };
    try {
      const result = await deps.warehouse.removeRows(
        { kind: 'AGE_OFF', tenant, before },
        { id: removalId, now, dryRun },
      );
      tenants.push({ ...base, result });
    } catch (err) {
      tenants.push({ ...base, error: errorText(err) });
    }
  }
  return {
    at: now.toISOString(),
    dryRun,
    migrationsApplied,
    tenants,
    skipped,
    failed: tenants.filter((t) => t.error !== undefined).length,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Purge

export type ObjectRole = 'raw' | 'curated' | 'quarantine';

/** One S3 object (or object version) of a purge. */
export interface PurgedObject {
  readonly role: ObjectRole;
  readonly bucket: string;
  readonly key: string;
  /** The version deleted (raw objects in a versioned bucket); absent where the bucket has no versions. */
  readonly versionId?: string;
}

export interface PurgeOptions {
  readonly tenant: string;
  /** One raw object's content; without it, the whole tenant. */
  readonly sha256?: string | undefined;
  readonly now: Date;
  /** List what would go (S3 keys, warehouse counts) and change nothing; no record is written. */
  readonly dryRun?: boolean | undefined;
}

/** Step 3: the rows (purge_log id: the purge id). */
export type PurgeWarehouseOutcome =
  | { readonly status: 'removed'; readonly result: RemovalResult }
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'failed'; readonly error: string };

/** Step 5: the purged files' load_log rows (FORGET_FILES, recorded in purge_log under `removalId`). */
export type PurgeLoadLogOutcome =
  | { readonly status: 'forgotten'; readonly removalId: string; readonly loadLogRowsDeleted: number }
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'failed'; readonly removalId: string; readonly error: string };

/** The purge record as written to `purges/<id>.json` (and returned, with where it went). */
export interface PurgeRecord {
  readonly purgeId: string;
  readonly request: {
    readonly kind: 'PURGE_OBJECT' | 'PURGE_TENANT';
    readonly tenant: string;
    readonly sha256?: string;
  };
  readonly at: string;
  readonly dryRun: boolean;
  /** The raw objects the ledger knows for the request. */
  readonly ledgerObjects: readonly {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string;
    readonly status: LedgerStatus;
    readonly sha256?: string;
  }[];
  readonly s3: {
    /** Deleted by this run (dry run: would be deleted). */
    readonly deleted: readonly PurgedObject[];
    /** Not there any more (an earlier run, the lifecycle, or never written): nothing to do. */
    readonly absent: readonly PurgedObject[];
    /** Could not be deleted (or checked); the run fails and should be repeated. */
    readonly failed: readonly (PurgedObject & { readonly reason: string })[];
  };
  /** PURGE_OBJECT: distinct instance hashes read from the object's tahoe_instance files. */
  readonly candidates: number;
  /**
   * The COPY manifest of the object's loaded tahoe_instance files, for a warehouse that reads the candidates itself
   * (Redshift); absent otherwise, or when there were none.
   */
  readonly candidateManifest?: { readonly bucket: string; readonly key: string; readonly files: number };
  /** Parquet files whose hashes could not be read (they were still deleted). */
  readonly unreadable: readonly { readonly key: string; readonly reason: string }[];
  /** The rows (step 3). */
  readonly warehouse: PurgeWarehouseOutcome;
  /** The files' load_log rows (step 5). */
  readonly loadLog: PurgeLoadLogOutcome;
  readonly leftAlone: readonly string[];
}

export interface PurgeReport extends PurgeRecord {
  /** Where the record was written; absent for a dry run. */
  readonly record?: { readonly bucket: string; readonly key: string };
  readonly migrationsApplied: readonly string[];
  /** Every S3 object deleted or absent, the rows removed and the load_log rows forgotten. */
  readonly ok: boolean;
}

function targetId(t: { bucket: string; key: string; versionId?: string | undefined }): string {
  return JSON.stringify([t.bucket, t.key, t.versionId ?? null]);
}

async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

function byKey<T extends PurgedObject>(a: T, b: T): number {
  const x = `${a.bucket}\n${a.key}\n${a.versionId ?? ''}`;
  const y = `${b.bucket}\n${b.key}\n${b.versionId ?? ''}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

class PurgeRun {
  private readonly targets = new Map<string, PurgedObject>();
  private readonly rawKeysFromLedger = new Set<string>();
  private readonly deleted: PurgedObject[] = [];
  private readonly absent: PurgedObject[] = [];
  private readonly failed: (PurgedObject & { reason: string })[] = [];
  private readonly unreadable: { key: string; reason: string }[] = [];
  private readonly tenant: string;
  private readonly sha256: string | undefined;
  private readonly dryRun: boolean;

  constructor(
    private readonly d: PurgeDeps,
    private readonly options: PurgeOptions,
  ) {
    this.tenant = assertTenantId(options.tenant);
    this.sha256 = options.sha256 === undefined ? undefined : assertSha256(options.sha256);
    this.dryRun = options.dryRun ?? false;
    if (Number.isNaN(options.now.getTime())) throw new RangeError('purge needs a valid time');
  }

  async run(): Promise<PurgeReport> {
    const { now } = this.options;
    const newId = idMaker(this.d.newId, now);
    const purgeId = newId();
    // The warehouse is asked first whether it is there at all: an unreachable warehouse stops the purge before
    // anything is deleted.
    const migrationsApplied = this.dryRun ? [] : await this.d.warehouse.applyMigrations(now);

    // 1. Find.
    const items = await this.ledgerItems();
    for (const item of items) this.addFromLedger(item);
    await this.addFromListings();
    const parquet = this.ofRole('curated');
    const recorded = await this.d.warehouse.loadedKeys(parquet.map((t) => t.key));
    const instanceFiles = this.sha256 === undefined ? [] : await this.readInstanceFiles();
    const candidates = [...new Set(instanceFiles.flatMap((f) => f.hashes))].sort();
    const byFiles = this.d.warehouse.removalCandidates === 'files';
    // COPY reads what a load read before: only files the warehouse LOADED (a REJECTED one would fail the COPY again)
    // and that are there now (a manifest entry is mandatory).
    const loadedInstances = instanceFiles
      .filter((f) => recorded.get(f.key) === 'LOADED')
      .map((f): LoadFile => ({ key: f.key, table: 'tahoe_instance', bytes: f.bytes }));
    const candidateFiles =
      byFiles && loadedInstances.length > 0 ? await this.writeManifest(purgeId, loadedInstances) : undefined;

    // 2. Parquet files the warehouse has not recorded go before the warehouse step.
    const limit = this.d.concurrency ?? DEFAULT_CONCURRENCY;
    await eachLimit(
      parquet.filter((t) => !recorded.has(t.key)),
      limit,
      (t) => this.remove(t),
    );

    let warehouse: PurgeWarehouseOutcome;
    let loadLog: PurgeLoadLogOutcome;
    const unrecordedStuck = this.failedParquet();
    if (unrecordedStuck > 0) {
      warehouse = {
        status: 'skipped',
        reason: `${unrecordedStuck} Parquet file(s) not yet loaded could not be deleted: a load after the warehouse step would bring their rows back`,
      };
      loadLog = { status: 'skipped', reason: 'the rows were not removed' };
    } else {
      // 3. The rows; the files' load_log rows stay.
      const request: RemovalRequest =
        this.sha256 === undefined
          ? { kind: 'PURGE_TENANT', tenant: this.tenant, keepLoadLog: true }
          : {
              kind: 'PURGE_OBJECT',
              tenant: this.tenant,
              sha256: this.sha256,
              ...(!byFiles && candidates.length > 0 ? { candidates } : {}),
              ...(candidateFiles ? { candidateFiles } : {}),
              keepLoadLog: true,
            };
      warehouse = await this.removeRows(request, purgeId);
      if (warehouse.status !== 'removed') {
        loadLog = {
          status: 'skipped',
          reason: 'the rows were not removed: every file stays for the next run, which reads the candidates again',
        };
      } else {
        // 4. S3.
        for (const role of ['curated', 'quarantine', 'raw'] as const) {
          const todo = role === 'curated' ? parquet.filter((t) => recorded.has(t.key)) : this.ofRole(role);
          await eachLimit(todo, limit, (t) => this.remove(t));
        }
        // 5. Forget the files, once none of them is left to be loaded again.
        const stuck = this.failedParquet();
        loadLog =
          stuck > 0
            ? {
                status: 'skipped',
                reason: `${stuck} Parquet file(s) could not be deleted: their load_log rows stay until a run deletes them (otherwise the loader would load them again)`,
              }
            : await this.forget(newId());
      }
    }

    // 6. The record.
    const record: PurgeRecord = {
      purgeId,
      request: {
        kind: this.sha256 === undefined ? 'PURGE_TENANT' : 'PURGE_OBJECT',
        tenant: this.tenant,
        ...(this.sha256 === undefined ? {} : { sha256: this.sha256 }),
      },
      at: now.toISOString(),
      dryRun: this.dryRun,
      ledgerObjects: items.map((i) => ({
        bucket: i.ref.bucket,
        key: i.ref.key,
        versionId: i.ref.versionId,
        status: i.status,
        ...(i.sha256 === undefined ? {} : { sha256: i.sha256 }),
      })),
      s3: {
        deleted: this.deleted.sort(byKey),
        absent: this.absent.sort(byKey),
        failed: this.failed.sort(byKey),
      },
      candidates: candidates.length,
      ...(candidateFiles
        ? {
            candidateManifest: {
              bucket: candidateFiles.manifestBucket,
              key: candidateFiles.manifestKey,
              files: candidateFiles.files.length,
            },
          }
        : {}),
      unreadable: this.unreadable,
      warehouse,
      loadLog,
      leftAlone: LEFT_ALONE,
    };
    let where: PurgeReport['record'];
    if (!this.dryRun) {
      const key = purgeRecordKey(purgeId);
      const put = await this.d.store.putIfAbsent(
        this.d.buckets.manifests,
        key,
        new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`),
        { contentType: 'application/json' },
      );
      if (put === 'exists') throw new Error(`a purge record ${key} already exists: purge ids must be unique`);
      where = { bucket: this.d.buckets.manifests, key };
    }
    return {
      ...record,
      ...(where ? { record: where } : {}),
      migrationsApplied,
      ok: this.failed.length === 0 && warehouse.status === 'removed' && loadLog.status === 'forgotten',
    };
  }

  private ofRole(role: ObjectRole): PurgedObject[] {
    return [...this.targets.values()].filter((t) => t.role === role);
  }

  private failedParquet(): number {
    return this.failed.filter((f) => f.role === 'curated').length;
  }

  /**
   * The COPY manifest of the candidate files, with the loader's builders and the purge id as the attempt id:
   * `manifests/<id>.tahoe_instance.manifest` (and the whole-attempt manifest beside it, as a load writes). Written
   * for a dry run too: a COPY reads only from S3, and the dry run's counts are the real run's.
   */
  private async writeManifest(purgeId: string, files: readonly LoadFile[]): Promise<CandidateFiles> {
    const { curated, manifests } = this.d.buckets;
    for (const m of attemptManifests(purgeId, curated, files)) {
      const put = await this.d.store.putIfAbsent(manifests, m.key, manifestBytes(m.manifest), {
        contentType: 'application/json',
      });
      if (put === 'exists') throw new Error(`a manifest ${m.key} already exists: purge ids must be unique`);
    }
    return {
      bucket: curated,
      manifestBucket: manifests,
      manifestKey: tableManifestKey(purgeId, 'tahoe_instance'),
      files,
    };
  }

  private async ledgerItems(): Promise<LedgerItem[]> {
    if (this.sha256 !== undefined) return this.d.ledger.findBySha256(this.tenant, this.sha256);
    const items: LedgerItem[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.d.ledger.listByTenant(this.tenant, {
        limit: LEDGER_PAGE,
        ...(cursor ? { cursor } : {}),
      });
      items.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    return items;
  }

  private add(t: PurgedObject): void {
    const id = targetId(t);
    if (!this.targets.has(id)) this.targets.set(id, t);
  }

  private addFromLedger(item: LedgerItem): void {
    const { bucket, key, versionId } = item.ref;
    this.add({ role: 'raw', bucket, key, versionId });
    this.rawKeysFromLedger.add(JSON.stringify([bucket, key]));
    const { curated, quarantine } = this.d.buckets;
    for (const k of item.outputs?.curated ?? []) this.add({ role: 'curated', bucket: curated, key: k });
    const q = item.outputs?.quarantine;
    if (q) this.add({ role: 'quarantine', bucket: quarantine, key: q });
  }

  /** Whether a listed key belongs to the request: every key under the tenant's prefixes, or the object's own. */
  private ofRequest(role: 'curated' | 'quarantine', key: string): boolean {
    if (this.sha256 === undefined) return true;
    try {
      const sha = role === 'curated' ? parseTahoeKey(key).rawSha256 : parseQuarantineKey(key).rawSha256;
      return sha === this.sha256;
    } catch {
      return false;
    }
  }

  private async addFromListings(): Promise<void> {
    const p = tenantPrefixes(this.tenant);
    const { raw, curated, quarantine } = this.d.buckets;
    for (const table of TAHOE_TABLES) {
      for await (const o of this.d.store.list(curated, p.tahoe[table])) {
        if (this.ofRequest('curated', o.key)) this.add({ role: 'curated', bucket: curated, key: o.key });
      }
    }
    for await (const o of this.d.store.list(quarantine, p.quarantine)) {
      if (this.ofRequest('quarantine', o.key)) {
        this.add({ role: 'quarantine', bucket: quarantine, key: o.key });
      }
    }
    // Raw keys do not hold the content's hash: an object purge knows its raw objects from the ledger alone.
    if (this.sha256 !== undefined) return;
    for await (const o of this.d.store.list(raw, p.raw)) {
      // A key the ledger names is deleted at the version the ledger recorded; raw keys are create-only, so a key
      // has one version.
      if (this.rawKeysFromLedger.has(JSON.stringify([raw, o.key]))) continue;
      this.add({ role: 'raw', bucket: raw, key: o.key });
    }
  }

  /** The object's tahoe_instance files that are there, each with its size and the `_hash` values it holds. */
  private async readInstanceFiles(): Promise<{ key: string; bytes: number; hashes: string[] }[]> {
    const out: { key: string; bytes: number; hashes: string[] }[] = [];
    for (const t of this.ofRole('curated')) {
      let table: TahoeTable;
      try {
        table = parseTahoeKey(t.key).table;
      } catch {
        continue;
      }
      if (table !== 'tahoe_instance') continue;
      let bytes: Buffer;
      try {
        bytes = await buffer((await this.d.store.get(t.bucket, t.key)).body);
      } catch (err) {
        // Gone already (an earlier run): its hashes went with it; the warehouse still follows the edges.
        if (err instanceof NoSuchObjectError) continue;
        this.unreadable.push({ key: t.key, reason: errorText(err) });
        continue;
      }
      const hashes = new Set<string>();
      try {
        const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        for (const row of await parquetReadObjects({ file, columns: ['_hash'] })) {
          const h = (row as { _hash?: unknown })._hash;
          if (typeof h === 'string') hashes.add(h);
        }
      } catch (err) {
        this.unreadable.push({ key: t.key, reason: errorText(err) });
      }
      out.push({ key: t.key, bytes: bytes.byteLength, hashes: [...hashes] });
    }
    return out;
  }

  /** HEAD first, so that the record tells deleted from already absent, and a listed raw key's version is known. */
  private async remove(t: PurgedObject): Promise<void> {
    const base: PurgedObject = {
      role: t.role,
      bucket: t.bucket,
      key: t.key,
      ...(t.versionId === undefined ? {} : { versionId: t.versionId }),
    };
    try {
      const info = await this.d.store.head(
        t.bucket,
        t.key,
        t.versionId === undefined ? {} : { versionId: t.versionId },
      );
      if (!info) {
        this.absent.push(base);
        return;
      }
      // A listed raw object is deleted at its current version: deleting the key alone would only stack a delete
      // marker on a versioned bucket and keep the data as a noncurrent version.
      const versionId = t.versionId ?? (t.role === 'raw' ? info.versionId : undefined);
      const done: PurgedObject = { ...base, ...(versionId === undefined ? {} : { versionId }) };
      if (!this.dryRun) await this.d.store.delete(t.bucket, t.key, versionId === undefined ? {} : { versionId });
      this.deleted.push(done);
    } catch (err) {
      this.failed.push({ ...base, reason: errorText(err) });
    }
  }

  private async removeRows(request: RemovalRequest, id: string): Promise<PurgeWarehouseOutcome> {
    try {
      const result = await this.d.warehouse.removeRows(request, { id, now: this.options.now, dryRun: this.dryRun });
      return { status: 'removed', result };
    } catch (err) {
      return { status: 'failed', error: errorText(err) };
    }
  }

  private async forget(removalId: string): Promise<PurgeLoadLogOutcome> {
    const request: RemovalRequest = {
      kind: 'FORGET_FILES',
      tenant: this.tenant,
      ...(this.sha256 === undefined ? {} : { sha256: this.sha256 }),
    };
    try {
      const r = await this.d.warehouse.removeRows(request, {
        id: removalId,
        now: this.options.now,
        dryRun: this.dryRun,
      });
      return { status: 'forgotten', removalId, loadLogRowsDeleted: r.loadLogRowsDeleted };
    } catch (err) {
      return { status: 'failed', removalId, error: errorText(err) };
    }
  }
}

/**
 * Purges one raw object (`sha256`) or a whole tenant from S3 and the warehouse and records it; see the module
 * comment for the order. Throws before anything is deleted on an invalid tenant id or hash, when the warehouse
 * cannot be reached, or when the candidate manifest cannot be written; afterwards problems are recorded in the
 * report (`ok: false`), not thrown.
 */
export async function purge(deps: PurgeDeps, options: PurgeOptions): Promise<PurgeReport> {
  return new PurgeRun(deps, options).run();
}

/** Objects per role, for summaries. */
export function countByRole(objects: readonly PurgedObject[]): Record<ObjectRole, number> {
  const out: Record<ObjectRole, number> = { raw: 0, curated: 0, quarantine: 0 };
  for (const o of objects) out[o.role] += 1;
  return out;
}
