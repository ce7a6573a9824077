/**
 * S3 event notifications as they arrive in the body of an SQS message (DESIGN.md §1: S3 → SQS raw-events →
 * process), parsed at the edge into the core's `ProcessRequest`s, and what a message's fate is once the core has
 * run over each of its objects. The Lambda handler and the local processing loop share this, so both read the
 * same JSON the same way and settle a message by the same rules; they differ only in how they retry.
 *
 * Shapes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
 * - `{"Records":[{eventSource:"aws:s3", eventName:"ObjectCreated:Put", eventTime, s3:{bucket:{name}, object:{key,
 *   size, eTag, versionId?, sequencer}}}]}`: keys are URL-encoded as in HTML forms; `versionId` is absent for
 *   objects of a bucket that never had versioning, and the ledger calls that version `null`, as S3 does.
 * - `{"Service":"Amazon S3","Event":"s3:TestEvent",…}`: sent once when the notification is configured. Nothing to
 *   do but acknowledge it.
 * EventBridge-wrapped S3 events (`detail-type: Object Created`) are not routed to this queue; such a body is
 * malformed here like any other.
 */
import { z } from 'zod';
import type { LedgerItem, ObjectRef } from '../ledger/model';
import { ConfigError, PermanentError, TransientError } from '../shared/errors';
import { decodeS3EventKey } from '../shared/s3-keys';
import type { ProcessDeps, ProcessOutcome, ProcessRequest } from './ports';

/** The process core's signature (lambdas/process/process-object.ts), as its consumers call it. */
export type ProcessCore = (request: ProcessRequest, deps: ProcessDeps) => Promise<ProcessOutcome>;

/** The version id S3 (and the ledger) use for an object stored without versioning. */
export const NULL_VERSION_ID = 'null';

const s3TestEventSchema = z.object({
  Service: z.literal('Amazon S3'),
  Event: z.literal('s3:TestEvent'),
  Bucket: z.string().optional(),
  Time: z.string().optional(),
});

const s3EventRecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string().min(1),
  eventTime: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z
        .string()
        .min(1)
        .transform((key, ctx) => {
          try {
            return decodeS3EventKey(key);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
            return z.NEVER;
          }
        }),
      // Absent on some event types (and on s3rver's copies); the core reads the object for its real size anyway.
      size: z.number().int().nonnegative().optional(),
      versionId: z.string().min(1).optional(),
      // S3 orders the events of one key by this hex string; it is kept for the logs.
      sequencer: z.string().regex(/^[0-9A-Fa-f]+$/, 'must be hexadecimal'),
    }),
  }),
});

const s3EventSchema = z.object({ Records: z.array(s3EventRecordSchema).min(1) });

/** One created object named by a notification. */
export interface ObjectCreated {
  readonly request: ProcessRequest & { readonly size?: number | undefined; readonly eventTime: Date };
  readonly eventName: string;
  readonly sequencer: string;
}

export type S3Notification =
  /** The notification set-up's test message. */
  | { readonly kind: 'test' }
  /**
   * `created`: ObjectCreated:* records, in message order. `ignored`: records of other event types (a notification
   * configured wider than ours), or of a bucket other than the expected one.
   */
  | {
      readonly kind: 'records';
      readonly created: readonly ObjectCreated[];
      readonly ignored: readonly { readonly eventName: string; readonly bucket: string; readonly why: string }[];
    };

/**
 * A message body that is neither an S3 event nor a test event: it can never be processed, so it is poison
 * (acknowledged or dead-lettered, never retried). `issues` name the offending fields, never their values, so the
 * error can be logged without echoing whatever the body held.
 */
export class MalformedNotificationError extends PermanentError {
  constructor(readonly issues: readonly string[]) {
    super('BAD_DATA', `not an S3 event notification: ${issues.slice(0, 5).join('; ')}`);
  }
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
}

export interface ParseOptions {
  /** Objects of other buckets are ignored (listed in `ignored`): this consumer only processes this bucket. */
  readonly bucket?: string | undefined;
}

/** Parses an SQS message body holding an S3 notification. Throws `MalformedNotificationError`. */
export function parseS3Notification(body: string, options: ParseOptions = {}): S3Notification {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedNotificationError(['(body): not JSON']);
  }
  if (typeof json === 'object' && json !== null && 'Event' in json && !('Records' in json)) {
    const test = s3TestEventSchema.safeParse(json);
    if (test.success) return { kind: 'test' };
    throw new MalformedNotificationError(issuesOf(test.error));
  }
  const parsed = s3EventSchema.safeParse(json);
  if (!parsed.success) throw new MalformedNotificationError(issuesOf(parsed.error));
  const created: ObjectCreated[] = [];
  const ignored: { eventName: string; bucket: string; why: string }[] = [];
  for (const r of parsed.data.Records) {
    const bucket = r.s3.bucket.name;
    if (!r.eventName.startsWith('ObjectCreated:')) {
      ignored.push({ eventName: r.eventName, bucket, why: 'not an ObjectCreated event' });
      continue;
    }
    if (options.bucket !== undefined && bucket !== options.bucket) {
      ignored.push({ eventName: r.eventName, bucket, why: 'not the raw bucket' });
      continue;
    }
    const ref: ObjectRef = { bucket, key: r.s3.object.key, versionId: r.s3.object.versionId ?? NULL_VERSION_ID };
    created.push({
      request: { ref, size: r.s3.object.size, eventTime: r.eventTime },
      eventName: r.eventName,
      sequencer: r.s3.object.sequencer,
    });
  }
  return { kind: 'records', created, ignored };
}

/** Another worker holds a live lease on the object: the message is retried later (SQS: after its visibility timeout). */
export class ObjectBusyError extends TransientError {
  constructor(
    readonly ref: ObjectRef,
    readonly leaseExpiresAt: Date,
  ) {
    super(`object is being processed by another worker until ${leaseExpiresAt.toISOString()}`);
  }
}

/**
 * What became of one object of a message, as the consumer reports it:
 * - `processed` / `quarantined` / `duplicate`: done; the message may go.
 * - `permanent`: the core refused the object for good (e.g. not a raw key): logged, the message may go.
 * - `busy`, `transient`, `config`, `unexpected`: the message must come back. `config` means the deployment is wrong
 *   (it will dead-letter and be redriven after the fix); `unexpected` is an error outside the three classes (a bug),
 *   retried so that it ends in the dead-letter queue rather than vanishing.
 */
export type RecordFate =
  | { readonly kind: 'processed' | 'quarantined' | 'duplicate'; readonly item: LedgerItem }
  | { readonly kind: 'busy'; readonly error: ObjectBusyError }
  | { readonly kind: 'permanent'; readonly error: PermanentError }
  | { readonly kind: 'transient'; readonly error: TransientError }
  | { readonly kind: 'config'; readonly error: ConfigError }
  | { readonly kind: 'unexpected'; readonly error: unknown };

export interface RecordResult {
  readonly object: ObjectCreated;
  readonly fate: RecordFate;
}

/** Whether a fate requires the message to be delivered again. */
export function needsRetry(fate: RecordFate): boolean {
  return fate.kind === 'busy' || fate.kind === 'transient' || fate.kind === 'config' || fate.kind === 'unexpected';
}

/** Sorts a core's answer or error into a fate. */
export function fateOf(object: ObjectCreated, result: { outcome: ProcessOutcome } | { error: unknown }): RecordFate {
  if ('outcome' in result) {
    const outcome = result.outcome;
    if (outcome.status === 'busy') {
      return { kind: 'busy', error: new ObjectBusyError(object.request.ref, outcome.leaseExpiresAt) };
    }
    return { kind: outcome.status, item: outcome.item };
  }
  const error = result.error;
  if (error instanceof ObjectBusyError) return { kind: 'busy', error };
  if (error instanceof PermanentError) return { kind: 'permanent', error };
  if (error instanceof TransientError) return { kind: 'transient', error };
  if (error instanceof ConfigError) return { kind: 'config', error };
  return { kind: 'unexpected', error };
}

/**
 * Runs the core over each created object of a message, one after the other (objects can be large; running them
 * side by side would multiply memory and /tmp use), and reports each fate. It never throws: one object's failure
 * does not keep the others from being processed, and a redelivered message finds those done as duplicates.
 */
export async function processCreatedObjects(
  created: readonly ObjectCreated[],
  run: (object: ObjectCreated, index: number) => Promise<ProcessOutcome>,
): Promise<RecordResult[]> {
  const results: RecordResult[] = [];
  for (const [index, object] of created.entries()) {
    let fate: RecordFate;
    try {
      fate = fateOf(object, { outcome: await run(object, index) });
    } catch (error) {
      fate = fateOf(object, { error });
    }
    results.push({ object, fate });
  }
  return results;
}

/**
 * The error a message fails with when some of its objects must be retried: the most serious one (a deployment
 * problem before an unexpected error before a transient one before a busy object), so that logs and the batch
 * report name what needs attention.
 */
export function retryErrorOf(results: readonly RecordResult[]): Error | undefined {
  const rank = { config: 4, unexpected: 3, transient: 2, busy: 1 } as const;
  let worst: { rank: number; error: unknown } | undefined;
  for (const { fate } of results) {
    if (!needsRetry(fate)) continue;
    const r = rank[fate.kind as keyof typeof rank];
    if (!worst || r > worst.rank) worst = { rank: r, error: (fate as { error: unknown }).error };
  }
  if (!worst) return undefined;
  return worst.error instanceof Error ? worst.error : new Error(String(worst.error));
}
