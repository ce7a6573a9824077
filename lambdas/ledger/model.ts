/**
 * The ledger's domain types (DESIGN.md §3.6): one item per raw object version, and what the pipeline's steps learn
 * about it. Stored attribute names live in record.ts; this file speaks in the core's terms.
 */

/** A raw object version. S3 reports the version id `null` for objects written before versioning was enabled. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string;
}

/**
 * `RECEIVED → PROCESSING (lease) → PROCESSED | QUARANTINED → LOADED`. PROCESSED means the object went through
 * (some records may still have been quarantined); QUARANTINED means the whole object was refused at file level.
 */
export const LEDGER_STATUSES = ['RECEIVED', 'PROCESSING', 'PROCESSED', 'QUARANTINED', 'LOADED'] as const;
export type LedgerStatus = (typeof LEDGER_STATUSES)[number];

/** States in which processing is over: a further notification of the object is a duplicate. */
export const FINISHED_STATUSES: ReadonlySet<LedgerStatus> = new Set<LedgerStatus>([
  'PROCESSED',
  'QUARANTINED',
  'LOADED',
]);

export function isFinished(status: LedgerStatus): boolean {
  return FINISHED_STATUSES.has(status);
}

/** The seed's outcomes, at file level. Anything but SUCCESS means the whole object was refused. */
export const OUTCOMES = ['SUCCESS', 'NOT_SUPPORTED', 'ERROR', 'BAD_DATA'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * What became of an object's records. Each record ends in exactly one of the five per-outcome counts (SUCCESS,
 * SUCCESS-invalid, NOT_SUPPORTED, ERROR, BAD_DATA), so they add up to `recordsIn`; invariants.ts lists every rule.
 */
export interface RecordCounts {
  /** Records split from the object. */
  readonly recordsIn: number;
  /** Rows written to `tahoe_raw`. */
  readonly raws: number;
  /** Rows written to `tahoe_instance`. */
  readonly instances: number;
  /** Rows written to `tahoe_edge`. */
  readonly edges: number;
  /** Records written to the object's quarantine file. */
  readonly quarantined: number;
  /** Read by a filter. */
  readonly success: number;
  /** Kept as a raw but flagged invalid: no filter could read it (the reference's `_valid: false`). */
  readonly successInvalid: number;
  /** Could not become a raw because its typetag is not supported. */
  readonly notSupported: number;
  /** Its filter raised (the raw is kept). */
  readonly error: number;
  /** Could not become a raw: invalid UTF-8, over the size limit. */
  readonly badData: number;
}

export const COUNT_FIELDS = [
  'recordsIn',
  'raws',
  'instances',
  'edges',
  'quarantined',
  'success',
  'successInvalid',
  'notSupported',
  'error',
  'badData',
] as const satisfies readonly (keyof RecordCounts)[];

export const ZERO_COUNTS: RecordCounts = Object.freeze({
  recordsIn: 0,
  raws: 0,
  instances: 0,
  edges: 0,
  quarantined: 0,
  success: 0,
  successInvalid: 0,
  notSupported: 0,
  error: 0,
  badData: 0,
});

/** Where an object's output went: TAHOE Parquet keys (curated bucket) and its quarantine file, if any. */
export interface LedgerOutputs {
  readonly curated: readonly string[];
  readonly quarantine?: string | undefined;
}

/** What is known of an object when it arrives (from its key and the S3 event). */
export interface ObjectMeta {
  readonly tenant: string;
  readonly typetag: string;
  readonly size: number;
  /** When the upload was granted or the object arrived; orders a tenant's uploads (`listByTenant`). */
  readonly receivedAt: Date;
  /** SHA-256 of the stored bytes, when already known (e.g. from the S3 checksum); else recorded at completion. */
  readonly sha256?: string | undefined;
}

/** What a worker reports when it finishes an object. */
export interface ProcessingResult {
  readonly outcome: Outcome;
  /** Why the object or some of its records were refused. Required unless the outcome is SUCCESS. */
  readonly reason?: string | undefined;
  /** SHA-256 of the raw bytes. Required for SUCCESS: the notary timestamps every processed object's hash. */
  readonly sha256?: string | undefined;
  readonly counts: RecordCounts;
  readonly outputs: LedgerOutputs;
}

export interface LedgerItem {
  readonly ref: ObjectRef;
  readonly status: LedgerStatus;
  readonly tenant: string;
  readonly typetag: string;
  readonly size: number;
  readonly receivedAt: Date;
  readonly sha256?: string | undefined;
  /** How many times a worker acquired the object. */
  readonly attempts: number;
  /** The worker that holds the lease (PROCESSING) or that finished the object. */
  readonly owner?: string | undefined;
  /** End of the current lease; only while PROCESSING. */
  readonly leaseExpiresAt?: Date | undefined;
  readonly outcome?: Outcome | undefined;
  readonly reason?: string | undefined;
  readonly counts?: RecordCounts | undefined;
  readonly outputs?: LedgerOutputs | undefined;
  readonly loadId?: string | undefined;
  readonly loadedAt?: Date | undefined;
  /** The NOTARISED flag: the proof batch whose Merkle tree holds this object's hash. */
  readonly proofBatch?: string | undefined;
  readonly notarisedAt?: Date | undefined;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the current or last attempt started. */
  readonly startedAt?: Date | undefined;
  readonly finishedAt?: Date | undefined;
}

export function isNotarised(item: LedgerItem): boolean {
  return item.proofBatch !== undefined;
}

/** Attempts before `begin` answers `exhausted` unless the caller says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 3;

export interface BeginOptions {
  /** Identifies this attempt; unique per attempt (e.g. the Lambda request id and the SQS message id). */
  readonly owner: string;
  readonly now: Date;
  /** How long the lease lasts unless extended by `heartbeat`. Longer than the gap between heartbeats. */
  readonly leaseMs: number;
  readonly meta: ObjectMeta;
  /** @default DEFAULT_MAX_ATTEMPTS */
  readonly maxAttempts?: number | undefined;
}

export type BeginResult =
  /** The caller holds the lease and processes the object. `takenOver`: a crashed worker's lease had expired. */
  | { readonly kind: 'acquired'; readonly attempt: number; readonly takenOver: boolean; readonly leaseExpiresAt: Date }
  /**
   * The object was acquired more than `maxAttempts` times. The caller holds the lease and must record a terminal
   * ERROR with `complete` (see `exhaustedResult`) instead of processing it again.
   */
  | {
      readonly kind: 'exhausted';
      readonly attempt: number;
      readonly maxAttempts: number;
      readonly leaseExpiresAt: Date;
    }
  /** Already processed: a duplicate notification, nothing to do. */
  | { readonly kind: 'finished'; readonly item: LedgerItem }
  /** Another worker holds a live lease: wait, or let the queue redeliver after `leaseExpiresAt`. */
  | { readonly kind: 'busy'; readonly leaseExpiresAt: Date; readonly attempt: number };

export type HeartbeatResult =
  | { readonly kind: 'extended'; readonly leaseExpiresAt: Date }
  /** The lease is no longer the caller's (taken over, or the object was finished): stop working on it. */
  | { readonly kind: 'lost'; readonly item?: LedgerItem | undefined };

export type ReceiveResult =
  | { readonly kind: 'created'; readonly item: LedgerItem }
  | { readonly kind: 'exists'; readonly item: LedgerItem };

export type MarkLoadedRefusal = 'missing' | 'not_finished' | 'other_load';

export interface MarkLoadedResult {
  /** Moved to LOADED by this call. */
  readonly marked: readonly ObjectRef[];
  /** Already LOADED by the same load: a repeated call. */
  readonly alreadyLoaded: readonly ObjectRef[];
  /** Left as they were: unknown, not finished yet, or loaded by another load. */
  readonly refused: readonly {
    readonly ref: ObjectRef;
    readonly reason: MarkLoadedRefusal;
    readonly status?: LedgerStatus | undefined;
    readonly loadId?: string | undefined;
  }[];
}

export type MarkNotarisedResult =
  | { readonly kind: 'notarised' }
  /** Already in this batch: a repeated call. */
  | { readonly kind: 'already' }
  /** Already in another batch; the first batch stands. */
  | { readonly kind: 'conflict'; readonly proofBatch: string }
  /** No such object, or its hash is not recorded yet: nothing to notarise. */
  | { readonly kind: 'missing' }
  | { readonly kind: 'unhashed' };

export interface ListOptions {
  /** Inclusive lower bound on `receivedAt`. */
  readonly from?: Date | undefined;
  /** Exclusive upper bound on `receivedAt`. */
  readonly to?: Date | undefined;
  /** Page size, 1–1000. @default 100 */
  readonly limit?: number | undefined;
  /** The `cursor` of the previous page. Opaque; only valid with the same adapter and tenant. */
  readonly cursor?: string | undefined;
}

export interface LedgerPage {
  /** In `receivedAt` order (ties in no particular order). */
  readonly items: readonly LedgerItem[];
  /** Present when there may be more items. */
  readonly cursor?: string | undefined;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** Longest reason kept; longer ones are cut (a reason is for humans, and items have a size limit). */
export const MAX_REASON_LENGTH = 1000;
