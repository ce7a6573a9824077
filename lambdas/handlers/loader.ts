/**
 * The loader Lambda (DESIGN.md §3.8): started by the EventBridge Scheduler schedule, one run at a time (reserved
 * concurrency 1), it runs the loader core (`runLoader`) against Redshift Serverless through the Data API.
 *
 * Which files a load considers: the 5-minute schedule's event lists only the last LOAD_RECENT_DAYS days of each tenant
 * in the tenant directory (`listing` absent or `"recent"`); the daily full-load schedule sends `"listing": "full"`,
 * which lists every key under tahoe/ and catches what a recent run cannot see (late files of older days, tenants no
 * longer in the directory). load_log decides what is loaded either way (lambdas/warehouse/loader.ts).
 *
 * A run that fails throws: the invocation counts as an error (the LoaderErrors alarm), nothing of a failed load stays
 * (each load is one transaction), and the next tick of the schedule starts over. Lambda does not retry it.
 *
 * The same function carries out retention (lambdas/warehouse/retention.ts), so that reserved concurrency 1 serialises
 * it with the loads: `{"action": "age-off"}` (a daily schedule) removes rows older than each tenant's retention, and
 * `{"action": "purge", "tenant": "…", "sha256"?: "…", "dryRun"?: true}` (an operator's `aws lambda invoke`) purges one
 * raw object or a tenant from S3 and the warehouse and writes the purge record. Either throws when it could not do
 * all of it (a tenant's age-off failed, an object could not be deleted): the error alarm tells an operator, and the
 * same request can be sent again.
 *
 * Metrics (namespace Cyberactive, dimension service=loader): RowsLoaded (rows new to the warehouse), LoadFailures
 * (files rejected, plus one for a failed run), WarehouseFreshnessSeconds (after a successful run, how long ago the
 * run started: everything ready by then is loaded). A run that fails reports no freshness: the alarm treats silence
 * as staleness.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { DynamoLedger } from '../adapters/dynamo-ledger';
import { DynamoTenantDirectory } from '../adapters/dynamo-tenant-directory';
import { RedshiftWarehouse, S3ParquetFooters } from '../adapters/redshift-warehouse';
import { makeS3Client, S3ObjectStore } from '../adapters/s3-object-store';
import { envField, loadEnv } from '../shared/env';
import { ConfigError } from '../shared/errors';
import { SHA256_HEX, TENANT_ID } from '../shared/ids';
import { MetricName, makeObservability, type Observability } from '../shared/observability';
import {
  type LoaderDeps,
  type LoaderReport,
  type LoaderRunOptions,
  MAX_RECENT_DAYS,
  runLoader,
} from '../warehouse/loader';
import type { Warehouse } from '../warehouse/port';
import {
  type AgeOffReport,
  ageOff,
  type PurgeReport,
  purge,
  type RetentionBuckets,
  type TenantSettingsSource,
} from '../warehouse/retention';

/**
 * The function's environment. Bucket and table names and the WAREHOUSE_* variables are set by the grant helpers
 * that give access (lib/stacks/storage-stack.ts, lib/constructs/warehouse-redshift.ts); the infra test keeps them
 * in step.
 */
export const loaderEnvSchema = z.object({
  CURATED_BUCKET: envField.name(),
  MANIFESTS_BUCKET: envField.name(),
  LEDGER_TABLE: envField.name(),
  /** Purge deletes raw objects and quarantine files; age-off reads each tenant's retention. */
  RAW_BUCKET: envField.name(),
  QUARANTINE_BUCKET: envField.name(),
  TENANTS_TABLE: envField.name(),
  WAREHOUSE_WORKGROUP: envField.name(),
  WAREHOUSE_DATABASE: envField.name(),
  /** Name or ARN of the admin secret; absent: IAM authentication as the function's role. */
  WAREHOUSE_SECRET: envField.name().optional(),
  /** Where sql/ (migrations and views) is: the layer the stack attaches puts it under /opt. */
  WAREHOUSE_SQL_DIR: envField.name().default('/opt'),
  /**
   * Files per load transaction. A load is one Data API batch (at most 40 statements, every value a parameter), so
   * batches stay well below the 500 files the core allows by default.
   */
  MAX_FILES_PER_LOAD: envField.positiveInt(100).refine((n) => n <= 1000, 'must be at most 1000'),
  /** Days before today that a scheduled (recent) load lists besides today (lib/config.ts warehouse.loadRecentDays). */
  LOAD_RECENT_DAYS: envField.positiveInt(2).refine((n) => n <= MAX_RECENT_DAYS, `must be at most ${MAX_RECENT_DAYS}`),
});
export type LoaderEnv = z.output<typeof loaderEnvSchema>;

/**
 * What an invocation asks for. Without `action` it is a load, as the load schedules send it (`{"source": "schedule"}`,
 * and `{"source": "schedule", "listing": "full"}` daily) or an operator with `{}`; nothing else of such an event is
 * read, but a `listing` that is not `recent` or `full` is refused (a mistyped full run must not pass for a recent
 * one). With `action`, the event must be exactly one of these shapes: a purge names its tenant and object strictly,
 * and a mistyped field must not turn into a load.
 */
const LISTINGS = ['recent', 'full'] as const;
export type LoadListing = (typeof LISTINGS)[number];
const listingField = z.enum(LISTINGS, { error: 'must be "recent" or "full"' }).optional();
const loadEventSchema = z.object({ source: z.string().max(64).optional() }).loose();
const loadListingSchema = z.object({ listing: listingField }).loose();
const actionEventSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('load'), source: z.string().max(64).optional(), listing: listingField }),
  z.strictObject({ action: z.literal('age-off'), dryRun: z.boolean().optional() }),
  z.strictObject({
    action: z.literal('purge'),
    tenant: z.string().regex(TENANT_ID, 'must be a tenant id: 2-63 of [a-z0-9-], starting with a letter or digit'),
    sha256: z.string().regex(SHA256_HEX, 'must be 64 lower-case hex digits').optional(),
    dryRun: z.boolean().optional(),
  }),
]);

export type LoaderRequest =
  | { readonly action: 'load'; readonly source: string; readonly listing: LoadListing }
  | { readonly action: 'age-off'; readonly dryRun: boolean }
  | { readonly action: 'purge'; readonly tenant: string; readonly sha256?: string; readonly dryRun: boolean };

/** An event with an `action` that is not one of the requests above. */
export class InvalidLoaderEventError extends Error {
  override readonly name = 'InvalidLoaderEventError';
}

function refused(error: z.ZodError): InvalidLoaderEventError {
  const problems = error.issues.map((i) => `${i.path.map(String).join('.') || '(event)'}: ${i.message}`);
  return new InvalidLoaderEventError(`invalid loader event: ${problems.join('; ')}`);
}

export function parseLoaderEvent(event: unknown): LoaderRequest {
  const e = event ?? {};
  if (typeof e !== 'object' || !('action' in e)) {
    const listing = loadListingSchema.safeParse(typeof e === 'object' ? e : {});
    if (!listing.success) throw refused(listing.error);
    const parsed = loadEventSchema.safeParse(e);
    return {
      action: 'load',
      source: parsed.success ? (parsed.data.source ?? 'manual') : 'unknown',
      listing: listing.data.listing ?? 'recent',
    };
  }
  const parsed = actionEventSchema.safeParse(e);
  if (!parsed.success) throw refused(parsed.error);
  const d = parsed.data;
  if (d.action === 'load') return { action: 'load', source: d.source ?? 'manual', listing: d.listing ?? 'recent' };
  if (d.action === 'age-off') return { action: 'age-off', dryRun: d.dryRun ?? false };
  return { action: 'purge', tenant: d.tenant, ...(d.sha256 ? { sha256: d.sha256 } : {}), dryRun: d.dryRun ?? false };
}

/** A purge that could not do all of it; the record (if written) lists what is left. Send the same request again. */
export class PurgeIncompleteError extends Error {
  override readonly name = 'PurgeIncompleteError';
}

/** Some tenant's age-off failed; the others were done. The next daily run tries again. */
export class AgeOffFailedError extends Error {
  override readonly name = 'AgeOffFailedError';
}

/** Time left for reporting when the warehouse waits are cut off (at most a fifth of the invocation). */
const DEADLINE_MARGIN_MS = 30_000;

export interface LoaderHandlerDeps {
  /** The core's dependencies but the warehouse, which is built per invocation's deadline by `warehouse`. */
  readonly core: Omit<LoaderDeps, 'warehouse'>;
  /** The warehouse, whose waits end at `deadline()` (ms since the epoch). */
  readonly warehouse: (deadline: () => number) => Warehouse;
  readonly observability: Observability;
  /** @default runLoader (injectable so that unit tests can drive the handler with a stand-in) */
  readonly run?: (deps: LoaderDeps, options?: LoaderRunOptions) => Promise<LoaderReport>;
  /** Days before today that a recent load lists besides today; the tenants are `retention.tenants`. */
  readonly recentDays: number;
  /** What retention needs beyond the core's store, ledger and buckets. */
  readonly retention: {
    readonly tenants: TenantSettingsSource;
    readonly buckets: Pick<RetentionBuckets, 'raw' | 'quarantine'>;
  };
}

/** AWS clients and adapters from the parsed environment; the SDK reads region and credentials from Lambda's own. */
export function makeLoaderDeps(env: LoaderEnv, observability: Observability): LoaderHandlerDeps {
  const { tracer } = observability;
  const s3 = tracer.captureAWSv3Client(makeS3Client());
  const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
  const redshift = tracer.captureAWSv3Client(new RedshiftDataClient({}));
  const footers = new S3ParquetFooters(s3);
  return {
    observability,
    recentDays: env.LOAD_RECENT_DAYS,
    core: {
      store: new S3ObjectStore(s3),
      ledger: new DynamoLedger(DynamoDBDocumentClient.from(dynamo), { tableName: env.LEDGER_TABLE }),
      buckets: { curated: env.CURATED_BUCKET, manifests: env.MANIFESTS_BUCKET },
      clock: () => new Date(),
      limits: { maxFilesPerLoad: env.MAX_FILES_PER_LOAD },
    },
    retention: {
      tenants: new DynamoTenantDirectory(DynamoDBDocumentClient.from(dynamo), { tableName: env.TENANTS_TABLE }),
      buckets: { raw: env.RAW_BUCKET, quarantine: env.QUARANTINE_BUCKET },
    },
    warehouse: (deadline) =>
      new RedshiftWarehouse(redshift, {
        workgroupName: env.WAREHOUSE_WORKGROUP,
        database: env.WAREHOUSE_DATABASE,
        ...(env.WAREHOUSE_SECRET ? { secret: env.WAREHOUSE_SECRET } : {}),
        footers,
        sqlDir: env.WAREHOUSE_SQL_DIR,
        deadline,
      }),
  };
}

function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** What a run did, for the log and the invocation's result (no row data, no object contents). */
export interface LoaderSummary {
  readonly migrationsApplied: readonly string[];
  readonly listing: LoaderReport['listing'];
  readonly prefixesListed: number;
  readonly filesListed: number;
  readonly filesLoaded: number;
  readonly filesRejected: number;
  readonly filesSkipped: number;
  readonly rowsCopied: number;
  readonly rowsInserted: number;
  readonly oversizeRows: number;
  readonly loads: number;
  readonly objectsMarkedLoaded: number;
  readonly ledgerRefusals: number;
}

export function summarise(report: LoaderReport): LoaderSummary {
  return {
    migrationsApplied: report.migrationsApplied,
    listing: report.listing,
    prefixesListed: report.prefixesListed,
    filesListed: report.filesListed,
    filesLoaded: report.filesLoaded,
    filesRejected: report.filesRejected.length,
    filesSkipped: report.filesSkipped,
    rowsCopied: sum(report.rowsCopied),
    rowsInserted: sum(report.rowsInserted),
    oversizeRows: report.oversizeRows,
    loads: report.loads.length,
    objectsMarkedLoaded: report.objectsMarkedLoaded,
    ledgerRefusals: report.ledgerRefusals.length,
  };
}

function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  return { error: { name: error.name, message: error.message } };
}

/** What an age-off invocation returns (the report is small: one entry per tenant). */
export type AgeOffSummary = { readonly action: 'age-off' } & AgeOffReport;

/** What a purge invocation returns: counts and where the record is (the record itself lists every key). */
export interface PurgeSummary {
  readonly action: 'purge';
  readonly purgeId: string;
  readonly request: PurgeReport['request'];
  readonly dryRun: boolean;
  readonly record?: PurgeReport['record'];
  readonly s3: { readonly deleted: number; readonly absent: number; readonly failed: number };
  readonly warehouse: PurgeReport['warehouse'];
  readonly loadLog: PurgeReport['loadLog'];
  readonly ok: boolean;
}

export type LoaderResult = LoaderSummary | AgeOffSummary | PurgeSummary;

export function summarisePurge(r: PurgeReport): PurgeSummary {
  return {
    action: 'purge',
    purgeId: r.purgeId,
    request: r.request,
    dryRun: r.dryRun,
    ...(r.record ? { record: r.record } : {}),
    s3: { deleted: r.s3.deleted.length, absent: r.s3.absent.length, failed: r.s3.failed.length },
    warehouse: r.warehouse,
    loadLog: r.loadLog,
    ok: r.ok,
  };
}

/** Builds the handler over deps built once; see the module comment. */
export function makeLoaderHandler(d: LoaderHandlerDeps): (event: unknown, context: Context) => Promise<LoaderResult> {
  const { logger, metrics } = d.observability;
  const run = d.run ?? runLoader;
  // The warehouse is built once; its waits end at the current invocation's deadline.
  let deadline = Number.POSITIVE_INFINITY;
  const warehouse = d.warehouse(() => deadline);

  /**
   * The tenants a recent run lists the partitions of (the Scan age-off makes, once per run). A directory that cannot
   * be read as a whole (a malformed item is a ConfigError naming it) must not stop loading for every tenant: the run
   * then lists everything, as the daily full run does — correct, only costlier — and says so in an error log.
   */
  const tenantsOrFull = async (mode: LoadListing): Promise<readonly string[] | 'full'> => {
    if (mode === 'full') return 'full';
    try {
      return (await d.retention.tenants.list()).map((t) => t.tenant);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      logger.error('tenant directory unreadable: this run lists every partition', errorFields(err));
      return 'full';
    }
  };

  const load = async (source: string, mode: LoadListing): Promise<LoaderSummary> => {
    logger.info('loader run starting', { source, listing: mode });
    const started = d.core.clock().getTime();
    try {
      const tenants = await tenantsOrFull(mode);
      const report = await run(
        {
          ...d.core,
          warehouse,
          listing: { tenants: async () => (tenants === 'full' ? [] : tenants), recentDays: d.recentDays },
          onLoad: (load) =>
            logger.info('load committed', {
              loadId: load.loadId,
              manifestKey: load.manifestKey,
              files: load.files.length,
              rejected: load.rejected.length,
              skipped: load.result.skipped.length,
              rowsCopied: sum(load.result.copied),
              rowsInserted: sum(load.result.inserted),
            }),
        },
        { full: tenants === 'full' },
      );
      const summary = summarise(report);
      metrics.addMetric(MetricName.RowsLoaded, MetricUnit.Count, summary.rowsInserted);
      metrics.addMetric(MetricName.LoadFailures, MetricUnit.Count, summary.filesRejected);
      metrics.addMetric(
        MetricName.WarehouseFreshnessSeconds,
        MetricUnit.Seconds,
        Math.max(0, (d.core.clock().getTime() - started) / 1000),
      );
      // The reason is the warehouse's error text, which may quote a value of the file: only its start is logged.
      for (const f of report.filesRejected) {
        logger.warn('file rejected', { key: f.key, table: f.table, reason: f.error.slice(0, 300) });
      }
      for (const r of report.ledgerRefusals) logger.warn('ledger refused LOADED', { ref: r.ref, reason: r.reason });
      logger.info('loader run finished', { ...summary });
      return summary;
    } catch (err) {
      metrics.addMetric(MetricName.LoadFailures, MetricUnit.Count, 1);
      logger.error('loader run failed; what committed stays, the next run resumes', errorFields(err));
      throw err;
    }
  };

  const runAgeOff = async (dryRun: boolean): Promise<AgeOffSummary> => {
    logger.info('age-off starting', { dryRun });
    const report = await ageOff({ warehouse, tenants: d.retention.tenants }, { now: d.core.clock(), dryRun });
    for (const t of report.tenants) {
      if (t.result) logger.info('tenant aged off', { tenant: t.tenant, before: t.before, ...t.result });
      else logger.error('tenant age-off failed', { tenant: t.tenant, before: t.before, error: t.error });
    }
    for (const x of report.skipped) logger.warn('tenant skipped by age-off', x);
    if (report.failed > 0) {
      throw new AgeOffFailedError(`age-off failed for ${report.failed} of ${report.tenants.length} tenant(s)`);
    }
    logger.info('age-off finished', { tenants: report.tenants.length, skipped: report.skipped.length, dryRun });
    return { action: 'age-off', ...report };
  };

  const runPurge = async (request: Extract<LoaderRequest, { action: 'purge' }>): Promise<PurgeSummary> => {
    const { tenant, sha256, dryRun } = request;
    logger.info('purge starting', { tenant, sha256, dryRun });
    const report = await purge(
      {
        store: d.core.store,
        ledger: d.core.ledger,
        warehouse,
        buckets: { ...d.retention.buckets, curated: d.core.buckets.curated, manifests: d.core.buckets.manifests },
      },
      { tenant, sha256, now: d.core.clock(), dryRun },
    );
    const summary = summarisePurge(report);
    // Keys are logged (they name the tenant and the content's hash, never content); the record has them all.
    for (const f of report.s3.failed.slice(0, 50)) logger.error('purge could not delete', { ...f });
    logger.info('purge finished', { ...summary });
    if (!report.ok) {
      const where = report.record ? ` (record s3://${report.record.bucket}/${report.record.key})` : '';
      throw new PurgeIncompleteError(
        `purge ${report.purgeId} incomplete: ${summary.s3.failed} object(s) not deleted, warehouse ${report.warehouse.status}, load_log ${report.loadLog.status}${where}; send the same request again`,
      );
    }
    return summary;
  };

  return async (event, context) => {
    logger.addContext(context);
    const remaining = context.getRemainingTimeInMillis();
    deadline = Date.now() + remaining - Math.min(DEADLINE_MARGIN_MS, remaining / 5);
    try {
      let request: LoaderRequest;
      try {
        request = parseLoaderEvent(event);
      } catch (err) {
        logger.error('loader event refused', errorFields(err));
        throw err;
      }
      if (request.action === 'load') return await load(request.source, request.listing);
      try {
        return request.action === 'age-off' ? await runAgeOff(request.dryRun) : await runPurge(request);
      } catch (err) {
        if (!(err instanceof PurgeIncompleteError || err instanceof AgeOffFailedError)) {
          logger.error(`${request.action} failed`, errorFields(err));
        }
        throw err;
      }
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

// Built once per container, at cold start: a missing or malformed variable fails the init phase, not a run.
const observability = makeObservability('loader');
export const handler = makeLoaderHandler(makeLoaderDeps(loadEnv(loaderEnvSchema, process.env), observability));
