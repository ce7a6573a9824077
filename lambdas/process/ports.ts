/**
 * The ports of the process core (DESIGN.md §1, the seed's archive_one made event-driven): everything it needs from
 * the outside world, injected by the Lambda handler, the local runtime, the CLI and the tests alike.
 */
import type { ObjectStore } from '../adapters/object-store';
import type { KeyUnwrapper } from '../envelope/ports';
import type { LedgerItem, ObjectRef, Outcome, RecordCounts } from '../ledger/model';
import type { Ledger } from '../ledger/port';

/** What the pipeline knows of a tenant (DESIGN.md §3.1, §3.7). */
export interface TenantSettings {
  readonly tenant: string;
  /** 64 hex: the Cybex-P org hash used in the tenant's event hashes. */
  readonly orgid: string;
  /** Typetags this tenant may upload (a subset of the deployment's). */
  readonly typetags: readonly string[];
  /** `esdk`: only ESDK messages are accepted; `any`: esdk, cybexp or none. */
  readonly envelope: 'esdk' | 'any';
  readonly retentionDays: number;
}

/** The tenant registry, read side. `undefined` for an unknown tenant (its objects are refused as NOT_SUPPORTED). */
export interface TenantDirectory {
  get(tenant: string): Promise<TenantSettings | undefined>;
}

/** The "ObjectProcessed" pipeline event (EventBridge detail-type `ObjectProcessed`, source `cyberactive.process`). */
export interface ObjectProcessedEvent {
  readonly tenant: string;
  readonly typetag: string;
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string;
  readonly sha256?: string | undefined;
  readonly status: 'PROCESSED' | 'QUARANTINED';
  readonly outcome: Outcome;
  readonly reason?: string | undefined;
  readonly counts: RecordCounts;
  readonly outputs: readonly string[];
  readonly processedAt: string;
}

/** Publishes pipeline events (EventBridge on AWS, a local list/file locally). At-least-once. */
export interface EventPublisher {
  publish(event: ObjectProcessedEvent): Promise<void>;
}

/** One raw object to process, as an S3 notification names it. */
export interface ProcessRequest {
  readonly ref: ObjectRef;
  /** Size reported by the notification (the object is read for the real size). */
  readonly size?: number | undefined;
  /** The notification's eventTime: when S3 stored the object. */
  readonly eventTime?: Date | undefined;
  /**
   * Aborts the attempt (e.g. shortly before the Lambda times out): staged output is discarded, nothing becomes
   * visible, and a TransientError is thrown so that the message is retried.
   */
  readonly signal?: AbortSignal | undefined;
}

export interface ProcessDeps {
  readonly store: ObjectStore;
  readonly ledger: Ledger;
  readonly events: EventPublisher;
  readonly tenants: TenantDirectory;
  /** Unwraps envelope data keys (KMS on AWS, a PEM key locally). */
  readonly unwrapper: KeyUnwrapper;
  /** Envelope key ARNs this deployment accepts. */
  readonly allowedKeyArns: readonly string[];
  /** RSA modulus length in bytes of the keys `cybexp` blobs are wrapped with. @default 512 (RSA-4096) */
  readonly rsaModulusBytes?: number | undefined;
  /** Typetags the deployment routes; a tenant's list is intersected with it. */
  readonly enabledTypetags: ReadonlySet<string>;
  readonly buckets: { readonly curated: string; readonly quarantine: string };
  readonly limits: {
    readonly rowsPerPart: number;
    readonly maxRecordBytes: number;
    /** Attempts before the ledger answers `exhausted` and the object is recorded as ERROR. */
    readonly maxAttempts: number;
    /** Lease length; the core heartbeats at a third of it. */
    readonly leaseMs: number;
    /**
     * Closes a Parquet part early once its buffered values reach about this many bytes, whatever `rowsPerPart`
     * says: with three tables buffering at once, this is what bounds the core's memory. @default 8 MiB
     */
    readonly maxPartBytes?: number | undefined;
    /** Largest whole-file record (email, phishing feeds), in bytes. @default 32 MiB */
    readonly maxDocumentBytes?: number | undefined;
    /**
     * Attribute/object hashes per generation of the bounded sets that de-duplicate instance and edge rows within
     * an object (lambdas/process/dedupe.ts); bounds memory whatever the object's size. @default 50000
     */
    readonly dedupeKeys?: number | undefined;
  };
  /** A folder for staging parts until the envelope is authenticated (Lambda: under /tmp). */
  readonly workDir: string;
  /** Unique per attempt (e.g. Lambda request id + SQS message id). */
  readonly owner: string;
  readonly clock: () => Date;
}

/** What became of one request. `busy` means another worker holds a live lease: the message should be retried. */
export type ProcessOutcome =
  | { readonly status: 'processed' | 'quarantined'; readonly item: LedgerItem }
  | { readonly status: 'duplicate'; readonly item: LedgerItem }
  | { readonly status: 'busy'; readonly leaseExpiresAt: Date };
