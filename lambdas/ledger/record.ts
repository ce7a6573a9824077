/**
 * The stored form of a ledger item: the attributes of a DynamoDB item (names matching LEDGER_SCHEMA in
 * lib/stacks/storage-stack.ts), also used verbatim as the local twins' JSON, so that one item reads the same
 * wherever it was written. Times are ISO-8601 UTC strings (they sort chronologically, which the
 * `byTenantReceivedAt` index relies on), except the lease expiry, a number of epoch milliseconds so that a
 * condition expression can compare it with `now`.
 */
import { z } from 'zod';
import { CorruptLedgerItemError } from './errors';
import {
  COUNT_FIELDS,
  LEDGER_STATUSES,
  type LedgerItem,
  type LedgerOutputs,
  type ObjectRef,
  OUTCOMES,
  type RecordCounts,
} from './model';

/** Attribute names. Key and index attributes must match LEDGER_SCHEMA (checked by a unit test). */
export const ATTR = {
  pk: 'pk',
  sk: 'sk',
  bucket: 'bucket',
  key: 'object_key',
  versionId: 'version_id',
  tenant: 'tenant',
  typetag: 'typetag',
  size: 'size',
  receivedAt: 'received_at',
  sha256: 'sha256',
  status: 'status',
  attempts: 'attempts',
  owner: 'lease_owner',
  leaseExpiresAt: 'lease_expires_at',
  outcome: 'outcome',
  reason: 'reason',
  counts: 'counts',
  outputs: 'outputs',
  loadId: 'load_id',
  loadedAt: 'loaded_at',
  proofBatch: 'proof_batch',
  notarisedAt: 'notarised_at',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
} as const;

/**
 * The table's key and index names, as LEDGER_SCHEMA in lib/stacks/storage-stack.ts declares them (a unit test holds
 * the two equal). Repeated here because Lambda code must not import the CDK app.
 */
export const LEDGER_TABLE = {
  partitionKey: ATTR.pk,
  sortKey: ATTR.sk,
  byTenantReceivedAt: { indexName: 'byTenantReceivedAt', partitionKey: ATTR.tenant, sortKey: ATTR.receivedAt },
  bySha256: { indexName: 'bySha256', partitionKey: ATTR.sha256, sortKey: ATTR.tenant },
} as const;

/** Stored names of the counts, as the warehouse's `ingest_file` table spells them. */
export const COUNT_ATTR: Readonly<Record<keyof RecordCounts, string>> = {
  recordsIn: 'records_in',
  raws: 'raws',
  instances: 'instances',
  edges: 'edges',
  quarantined: 'quarantined',
  success: 'success',
  successInvalid: 'success_invalid',
  notSupported: 'not_supported',
  error: 'error',
  badData: 'bad_data',
};

export type LedgerRecord = Record<string, unknown>;

/** `<bucket>/<key>`: bucket names hold no `/`, so the split is unambiguous. */
export function partitionKey(ref: ObjectRef): string {
  return `${ref.bucket}/${ref.key}`;
}

export function recordKey(ref: ObjectRef): { pk: string; sk: string } {
  return { pk: partitionKey(ref), sk: ref.versionId };
}

const iso = z.iso.datetime({ offset: false, precision: 3 });
const count = z.number().int().nonnegative();
const countsSchema = z.object(
  Object.fromEntries(COUNT_FIELDS.map((f) => [COUNT_ATTR[f], count])) as Record<string, typeof count>,
);

const recordSchema = z.object({
  pk: z.string().min(1),
  sk: z.string().min(1),
  bucket: z.string().min(1),
  object_key: z.string().min(1),
  version_id: z.string().min(1),
  tenant: z.string(),
  typetag: z.string(),
  size: z.number().int().nonnegative(),
  received_at: iso,
  sha256: z.string().optional(),
  status: z.enum(LEDGER_STATUSES),
  attempts: z.number().int().nonnegative(),
  lease_owner: z.string().optional(),
  lease_expires_at: z.number().int().optional(),
  outcome: z.enum(OUTCOMES).optional(),
  reason: z.string().optional(),
  counts: countsSchema.optional(),
  outputs: z.object({ curated: z.array(z.string()), quarantine: z.string().optional() }).optional(),
  load_id: z.string().optional(),
  loaded_at: iso.optional(),
  proof_batch: z.string().optional(),
  notarised_at: iso.optional(),
  created_at: iso,
  updated_at: iso,
  started_at: iso.optional(),
  finished_at: iso.optional(),
});

const date = (s: string | undefined) => (s === undefined ? undefined : new Date(s));

export function countsToRecord(c: RecordCounts): Record<string, number> {
  return Object.fromEntries(COUNT_FIELDS.map((f) => [COUNT_ATTR[f], c[f]]));
}

export function countsFromRecord(r: Record<string, number>): RecordCounts {
  return Object.fromEntries(COUNT_FIELDS.map((f) => [f, r[COUNT_ATTR[f]] as number])) as unknown as RecordCounts;
}

export function outputsToRecord(o: LedgerOutputs): Record<string, unknown> {
  return { curated: [...o.curated], ...(o.quarantine === undefined ? {} : { quarantine: o.quarantine }) };
}

/** Optional fields are left out rather than stored as null: DynamoDB's `attribute_exists` then means "set". */
export function toRecord(item: LedgerItem): LedgerRecord {
  const r: LedgerRecord = {
    ...recordKey(item.ref),
    [ATTR.bucket]: item.ref.bucket,
    [ATTR.key]: item.ref.key,
    [ATTR.versionId]: item.ref.versionId,
    [ATTR.tenant]: item.tenant,
    [ATTR.typetag]: item.typetag,
    [ATTR.size]: item.size,
    [ATTR.receivedAt]: item.receivedAt.toISOString(),
    [ATTR.status]: item.status,
    [ATTR.attempts]: item.attempts,
    [ATTR.createdAt]: item.createdAt.toISOString(),
    [ATTR.updatedAt]: item.updatedAt.toISOString(),
  };
  const put = (name: string, value: unknown) => {
    if (value !== undefined) r[name] = value;
  };
  put(ATTR.sha256, item.sha256);
  put(ATTR.owner, item.owner);
  put(ATTR.leaseExpiresAt, item.leaseExpiresAt?.getTime());
  put(ATTR.outcome, item.outcome);
  put(ATTR.reason, item.reason);
  put(ATTR.counts, item.counts && countsToRecord(item.counts));
  put(ATTR.outputs, item.outputs && outputsToRecord(item.outputs));
  put(ATTR.loadId, item.loadId);
  put(ATTR.loadedAt, item.loadedAt?.toISOString());
  put(ATTR.proofBatch, item.proofBatch);
  put(ATTR.notarisedAt, item.notarisedAt?.toISOString());
  put(ATTR.startedAt, item.startedAt?.toISOString());
  put(ATTR.finishedAt, item.finishedAt?.toISOString());
  return r;
}

/** Reads a stored item back, refusing anything that does not match the schema rather than guessing. */
export function fromRecord(record: unknown): LedgerItem {
  const parsed = recordSchema.safeParse(record);
  if (!parsed.success) {
    const where = typeof record === 'object' && record !== null ? ` ${String((record as LedgerRecord).pk)}` : '';
    throw new CorruptLedgerItemError(
      `ledger item${where} does not match the schema: ${parsed.error.issues
        .map((i) => `${i.path.join('.') || '(item)'}: ${i.message}`)
        .join('; ')}`,
    );
  }
  const r = parsed.data;
  const ref: ObjectRef = { bucket: r.bucket, key: r.object_key, versionId: r.version_id };
  if (r.pk !== partitionKey(ref) || r.sk !== r.version_id) {
    throw new CorruptLedgerItemError(`ledger item ${r.pk} (${r.sk}): key does not match bucket, key and version`);
  }
  if (r.status === 'PROCESSING' && (r.lease_owner === undefined || r.lease_expires_at === undefined)) {
    throw new CorruptLedgerItemError(`ledger item ${r.pk} (${r.sk}) is PROCESSING without a lease`);
  }
  const item: LedgerItem = {
    ref,
    status: r.status,
    tenant: r.tenant,
    typetag: r.typetag,
    size: r.size,
    receivedAt: new Date(r.received_at),
    sha256: r.sha256,
    attempts: r.attempts,
    owner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at === undefined ? undefined : new Date(r.lease_expires_at),
    outcome: r.outcome,
    reason: r.reason,
    counts: r.counts && countsFromRecord(r.counts),
    outputs: r.outputs && {
      curated: r.outputs.curated,
      ...(r.outputs.quarantine === undefined ? {} : { quarantine: r.outputs.quarantine }),
    },
    loadId: r.load_id,
    loadedAt: date(r.loaded_at),
    proofBatch: r.proof_batch,
    notarisedAt: date(r.notarised_at),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
  };
  // Absent rather than undefined, so that items compare equal however they were built.
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined)) as unknown as LedgerItem;
}
