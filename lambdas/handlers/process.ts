/**
 * The process Lambda (DESIGN.md §1): SQS `raw-events` → for each S3 object a message names, the process core
 * (`processObject`) → a partial batch response.
 *
 * How each message is settled (DESIGN.md §5; the rules live in lambdas/process/s3-events.ts):
 * - every object processed, quarantined, or already done (a duplicate) → acknowledged;
 * - an object the core refuses for good (PermanentError, e.g. a key that is not a raw key) → logged, acknowledged;
 * - a malformed body → logged with the offending fields (never the body), counted, acknowledged: it can never
 *   succeed, and retrying it would only fill the dead-letter queue;
 * - the S3 `s3:TestEvent` → acknowledged;
 * - an object another worker holds (`busy`), a TransientError, a ConfigError (logged at error level) or an
 *   unexpected error → the message is reported as a batch item failure, SQS delivers it again after the visibility
 *   timeout, and after `maxReceiveCount` deliveries it moves to the DLQ, from which it is redriven after a fix.
 * A message naming several objects is retried as a whole; the objects already done are duplicates the second time.
 *
 * Metrics (namespace Cyberactive, no tenant dimension): ObjectsProcessed (finished PROCESSED), ObjectsFailed
 * (finished QUARANTINED, refused, failed attempts, malformed messages), RecordsParsed (rows of `tahoe_raw`),
 * RecordsQuarantined, ProcessingLagSeconds (from the S3 event time to the end of processing).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { DynamoLedger } from '../adapters/dynamo-ledger';
import { DynamoTenantDirectory } from '../adapters/dynamo-tenant-directory';
import { EventBridgePublisher } from '../adapters/eventbridge-publisher';
import { KmsKeyUnwrapper } from '../adapters/kms-key-unwrapper';
import { makeS3Client, S3ObjectStore } from '../adapters/s3-object-store';
import { DEFAULT_MAX_ATTEMPTS } from '../ledger/model';
import type { ProcessDeps, ProcessOutcome } from '../process/ports';
import { processObject } from '../process/process-object';
import {
  MalformedNotificationError,
  type ObjectCreated,
  type ProcessCore,
  parseS3Notification,
  processCreatedObjects,
  type RecordResult,
  retryErrorOf,
} from '../process/s3-events';
import { envField, loadEnv } from '../shared/env';
import { TYPETAG } from '../shared/ids';
import { MetricName, makeObservability, type Observability, redact } from '../shared/observability';
import { parseRawKey } from '../shared/s3-keys';

const kmsArn = envField.arn('kms');
const typetag = z.string().regex(TYPETAG, 'must be a typetag');

/**
 * The function's environment. Resource names are set by the storage stack's grant helpers, the rest from the stage
 * configuration (lib/stacks/processing-stack.ts PROCESS_ENV); the infra test keeps the two in step.
 */
export const processEnvSchema = z.object({
  RAW_BUCKET: envField.name(),
  CURATED_BUCKET: envField.name(),
  QUARANTINE_BUCKET: envField.name(),
  LEDGER_TABLE: envField.name(),
  TENANTS_TABLE: envField.name(),
  EVENT_BUS_NAME: envField.name(),
  /** One or more KMS key ARNs (comma-separated): the envelope allow-list, e.g. the current and the previous key. */
  ENVELOPE_KEY_ARN: envField.list().pipe(z.array(kmsArn).min(1, 'must name at least one KMS key ARN')),
  ALLOWED_TYPETAGS: envField.list().pipe(z.array(typetag).min(1, 'must list at least one typetag')),
  ROWS_PER_PART: envField.positiveInt(100_000),
  MAX_RECORD_BYTES: envField.positiveInt(1024 * 1024),
  // Bounded as the ledger bounds them (lambdas/ledger/invariants.ts), so that a bad value fails the init phase and
  // not every `begin` of every batch.
  MAX_ATTEMPTS: envField.positiveInt(DEFAULT_MAX_ATTEMPTS).refine((n) => n <= 100, 'must be at most 100'),
  LEASE_MS: envField.positiveInt(120_000).refine((n) => n <= 2 * 60 * 60 * 1000, 'must be at most 7200000 (2 hours)'),
});
export type ProcessEnv = z.output<typeof processEnvSchema>;

/** Everything an invocation needs, built once per container. */
export interface ProcessHandlerDeps {
  /** The core's dependencies but those of one attempt (`owner`, `workDir`). */
  readonly deps: Omit<ProcessDeps, 'owner' | 'workDir'>;
  readonly observability: Observability;
  /** Only objects of this bucket are processed. */
  readonly rawBucket: string;
  /** @default processObject (injectable so that unit tests can drive the handler with a stand-in) */
  readonly core?: ProcessCore;
  /** Parent folder of the per-object work folders. @default os.tmpdir() */
  readonly tmpRoot?: string;
}

/** AWS clients and adapters from the parsed environment; the SDK reads region and credentials from Lambda's own. */
export function makeProcessDeps(env: ProcessEnv, observability: Observability): ProcessHandlerDeps {
  const { tracer } = observability;
  const s3 = tracer.captureAWSv3Client(makeS3Client());
  const kms = tracer.captureAWSv3Client(new KMSClient({}));
  const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
  const doc = DynamoDBDocumentClient.from(dynamo);
  const events = tracer.captureAWSv3Client(new EventBridgeClient({}));
  return {
    observability,
    rawBucket: env.RAW_BUCKET,
    deps: {
      store: new S3ObjectStore(s3),
      ledger: new DynamoLedger(doc, { tableName: env.LEDGER_TABLE }),
      events: new EventBridgePublisher(events, { eventBusName: env.EVENT_BUS_NAME }),
      tenants: new DynamoTenantDirectory(doc, { tableName: env.TENANTS_TABLE }),
      unwrapper: new KmsKeyUnwrapper(kms),
      allowedKeyArns: env.ENVELOPE_KEY_ARN,
      enabledTypetags: new Set(env.ALLOWED_TYPETAGS),
      buckets: { curated: env.CURATED_BUCKET, quarantine: env.QUARANTINE_BUCKET },
      limits: {
        rowsPerPart: env.ROWS_PER_PART,
        maxRecordBytes: env.MAX_RECORD_BYTES,
        maxAttempts: env.MAX_ATTEMPTS,
        leaseMs: env.LEASE_MS,
      },
      clock: () => new Date(),
    },
  };
}

/** Time left for cleaning up and reporting when the deadline signal fires (at most a fifth of the invocation). */
const DEADLINE_MARGIN_MS = 15_000;

/** Log fields naming an object: where it is and, when its key says so, whose it is. Never its content. */
function objectFields(object: ObjectCreated): Record<string, unknown> {
  const { ref } = object.request;
  const fields: Record<string, unknown> = {
    bucket: ref.bucket,
    key: ref.key,
    versionId: ref.versionId,
    sequencer: object.sequencer,
  };
  try {
    const parsed = parseRawKey(ref.key);
    fields.tenant = parsed.tenant;
    fields.typetag = parsed.typetag;
  } catch {
    // Not a raw key: the core refuses it and says why.
  }
  return fields;
}

function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const outcome = (error as { outcome?: unknown }).outcome;
  return { error: { name: error.name, message: error.message, ...(outcome ? { outcome } : {}) } };
}

/** Logs and counts what became of one object. */
function report(obs: Observability, { object, fate }: RecordResult, messageId: string, now: Date): void {
  const { logger, metrics } = obs;
  const fields = redact({ messageId, ...objectFields(object) }) as Record<string, unknown>;
  const lag = () =>
    metrics.addMetric(
      MetricName.ProcessingLagSeconds,
      MetricUnit.Seconds,
      Math.max(0, (now.getTime() - object.request.eventTime.getTime()) / 1000),
    );
  switch (fate.kind) {
    case 'processed':
    case 'quarantined': {
      const item = fate.item;
      const counts = item.counts;
      metrics.addMetric(
        fate.kind === 'processed' ? MetricName.ObjectsProcessed : MetricName.ObjectsFailed,
        MetricUnit.Count,
        1,
      );
      metrics.addMetric(MetricName.RecordsParsed, MetricUnit.Count, counts?.raws ?? 0);
      metrics.addMetric(MetricName.RecordsQuarantined, MetricUnit.Count, counts?.quarantined ?? 0);
      lag();
      const summary = { ...fields, status: item.status, outcome: item.outcome, attempts: item.attempts, counts };
      if (fate.kind === 'processed') logger.info('object processed', summary);
      else logger.warn('object quarantined', { ...summary, reason: item.reason });
      return;
    }
    case 'duplicate':
      logger.info('duplicate notification: object already processed', fields);
      return;
    case 'busy':
      logger.info('object held by another worker: message retried later', {
        ...fields,
        leaseExpiresAt: fate.error.leaseExpiresAt.toISOString(),
      });
      return;
    case 'permanent':
      metrics.addMetric(MetricName.ObjectsFailed, MetricUnit.Count, 1);
      logger.warn('object refused: message acknowledged', { ...fields, ...errorFields(fate.error) });
      return;
    case 'transient':
      metrics.addMetric(MetricName.ObjectsFailed, MetricUnit.Count, 1);
      logger.warn('object failed transiently: message retried', { ...fields, ...errorFields(fate.error) });
      return;
    case 'config':
      metrics.addMetric(MetricName.ObjectsFailed, MetricUnit.Count, 1);
      logger.error('deployment problem: message retried, then dead-lettered for a redrive after the fix', {
        ...fields,
        ...errorFields(fate.error),
      });
      return;
    case 'unexpected':
      metrics.addMetric(MetricName.ObjectsFailed, MetricUnit.Count, 1);
      logger.error('unexpected error: message retried, then dead-lettered', {
        ...fields,
        ...errorFields(fate.error),
        stack: fate.error instanceof Error ? fate.error.stack : undefined,
      });
      return;
  }
}

/** Builds the SQS handler over deps built once; see the module comment for how messages are settled. */
export function makeProcessHandler(
  d: ProcessHandlerDeps,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const core = d.core ?? processObject;
  const tmpRoot = d.tmpRoot ?? tmpdir();
  const { logger, metrics } = d.observability;

  /** One attempt at one object: a fresh work folder (removed after: /tmp outlives invocations) and its owner id. */
  async function runObject(object: ObjectCreated, owner: string, signal: AbortSignal): Promise<ProcessOutcome> {
    const workDir = await mkdtemp(join(tmpRoot, 'process-'));
    try {
      return await core({ ...object.request, signal }, { ...d.deps, owner, workDir });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  async function handleMessage(record: SQSRecord, context: Context, signal: AbortSignal): Promise<void> {
    const messageId = record.messageId;
    let notification: ReturnType<typeof parseS3Notification>;
    try {
      notification = parseS3Notification(record.body, { bucket: d.rawBucket });
    } catch (err) {
      if (!(err instanceof MalformedNotificationError)) throw err;
      // Poison: it can never be processed. The body itself is not logged (it may hold anything).
      metrics.addMetric(MetricName.ObjectsFailed, MetricUnit.Count, 1);
      logger.error('malformed message acknowledged', {
        messageId,
        receiveCount: record.attributes?.ApproximateReceiveCount,
        issues: err.issues.slice(0, 10),
      });
      return;
    }
    if (notification.kind === 'test') {
      logger.info('S3 test event acknowledged', { messageId });
      return;
    }
    for (const ignored of notification.ignored) {
      // Not ours to process (another bucket or event type): a notification configured wider than the stack's.
      logger.warn('S3 event record ignored', { messageId, ...ignored });
    }
    const owner = `${context.awsRequestId}:${messageId}`;
    const results = await processCreatedObjects(notification.created, (object) => runObject(object, owner, signal));
    const now = d.deps.clock();
    for (const result of results) report(d.observability, result, messageId, now);
    const retry = retryErrorOf(results);
    if (retry) throw retry;
  }

  return async (event, context) => {
    logger.addContext(context);
    // A processor per invocation: it holds the state of the batch being processed.
    const processor = new BatchProcessor(EventType.SQS);
    // Stop work shortly before Lambda would kill the invocation: the core then discards what it staged and throws a
    // TransientError, so the object becomes a batch item failure, instead of a time-out failing the whole batch.
    const deadline = new AbortController();
    const remaining = context.getRemainingTimeInMillis();
    const timer = setTimeout(
      () => deadline.abort(new Error('the invocation is about to time out')),
      Math.max(0, remaining - Math.min(DEADLINE_MARGIN_MS, remaining / 5)),
    );
    try {
      return await processPartialResponse(
        event,
        (record: SQSRecord) => handleMessage(record, context, deadline.signal),
        processor,
        {
          context,
          // Objects can be large: one at a time bounds memory and /tmp (batches are small anyway).
          processInParallel: false,
          // With a batch of one, a busy object would otherwise fail the whole invocation (and the error alarm).
          throwOnFullBatchFailure: false,
        },
      );
    } finally {
      clearTimeout(timer);
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

// Built once per container, at cold start: a missing or malformed variable fails the init phase, not a batch.
const observability = makeObservability('process');
export const handler = makeProcessHandler(makeProcessDeps(loadEnv(processEnvSchema, process.env), observability));
