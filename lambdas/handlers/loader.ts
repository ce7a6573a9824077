/**
 * The loader Lambda (DESIGN.md §3.8): started by the EventBridge Scheduler schedule, one run at a time (reserved
 * concurrency 1), it runs the loader core (`runLoader`) against Redshift Serverless through the Data API.
 *
 * A run that fails throws: the invocation counts as an error (the LoaderErrors alarm), nothing of a failed load stays
 * (each load is one transaction), and the next tick of the schedule starts over. Lambda does not retry it.
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
import { RedshiftWarehouse, S3ParquetFooters } from '../adapters/redshift-warehouse';
import { makeS3Client, S3ObjectStore } from '../adapters/s3-object-store';
import { envField, loadEnv } from '../shared/env';
import { MetricName, makeObservability, type Observability } from '../shared/observability';
import { type LoaderDeps, type LoaderReport, runLoader } from '../warehouse/loader';
import type { Warehouse } from '../warehouse/port';

/**
 * The function's environment. Bucket and table names and the WAREHOUSE_* variables are set by the grant helpers
 * that give access (lib/stacks/storage-stack.ts, lib/constructs/warehouse-redshift.ts); the infra test keeps them
 * in step.
 */
export const loaderEnvSchema = z.object({
  CURATED_BUCKET: envField.name(),
  MANIFESTS_BUCKET: envField.name(),
  LEDGER_TABLE: envField.name(),
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
});
export type LoaderEnv = z.output<typeof loaderEnvSchema>;

/** The schedule sends `{ "source": "schedule" }`; an operator may invoke the function with `{}`. Nothing else is read. */
const eventSchema = z.object({ source: z.string().max(64).optional() }).loose();

/** Time left for reporting when the warehouse waits are cut off (at most a fifth of the invocation). */
const DEADLINE_MARGIN_MS = 30_000;

export interface LoaderHandlerDeps {
  /** The core's dependencies but the warehouse, which is built per invocation's deadline by `warehouse`. */
  readonly core: Omit<LoaderDeps, 'warehouse'>;
  /** The warehouse, whose waits end at `deadline()` (ms since the epoch). */
  readonly warehouse: (deadline: () => number) => Warehouse;
  readonly observability: Observability;
  /** @default runLoader (injectable so that unit tests can drive the handler with a stand-in) */
  readonly run?: (deps: LoaderDeps) => Promise<LoaderReport>;
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
    core: {
      store: new S3ObjectStore(s3),
      ledger: new DynamoLedger(DynamoDBDocumentClient.from(dynamo), { tableName: env.LEDGER_TABLE }),
      buckets: { curated: env.CURATED_BUCKET, manifests: env.MANIFESTS_BUCKET },
      clock: () => new Date(),
      limits: { maxFilesPerLoad: env.MAX_FILES_PER_LOAD },
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

/** Builds the handler over deps built once; see the module comment. */
export function makeLoaderHandler(d: LoaderHandlerDeps): (event: unknown, context: Context) => Promise<LoaderSummary> {
  const { logger, metrics } = d.observability;
  const run = d.run ?? runLoader;
  // The warehouse is built once; its waits end at the current invocation's deadline.
  let deadline = Number.POSITIVE_INFINITY;
  const warehouse = d.warehouse(() => deadline);

  return async (event, context) => {
    logger.addContext(context);
    const parsed = eventSchema.safeParse(event ?? {});
    logger.info('loader run starting', { source: parsed.success ? (parsed.data.source ?? 'manual') : 'unknown' });
    const remaining = context.getRemainingTimeInMillis();
    const started = d.core.clock().getTime();
    deadline = Date.now() + remaining - Math.min(DEADLINE_MARGIN_MS, remaining / 5);
    try {
      const report = await run({
        ...d.core,
        warehouse,
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
      });
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
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

// Built once per container, at cold start: a missing or malformed variable fails the init phase, not a run.
const observability = makeObservability('loader');
export const handler = makeLoaderHandler(makeLoaderDeps(loadEnv(loaderEnvSchema, process.env), observability));
