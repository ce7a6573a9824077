/**
 * What the ledger refuses to record. Every adapter checks a request here before touching storage, so the rules
 * hold the same on DynamoDB and on the local twins.
 */
import { InvalidIdentifierError, isTenantId, isTypetag, SHA256_HEX } from '../shared/ids';
import { assertBatchId, parseQuarantineKey, parseTahoeKey } from '../shared/s3-keys';
import { LedgerInvariantError } from './errors';
import {
  COUNT_FIELDS,
  MAX_PAGE_SIZE,
  MAX_REASON_LENGTH,
  type ObjectMeta,
  type ObjectRef,
  OUTCOMES,
  type ProcessingResult,
  type RecordCounts,
} from './model';

/** S3 bucket names: 3–63 characters, no `/` (so `<bucket>/<key>` splits back unambiguously). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_KEY_BYTES = 1024;
const MAX_OWNER_LENGTH = 256;
/** A lease longer than the longest Lambda run plus slack is a unit mistake (seconds passed as milliseconds). */
const MAX_LEASE_MS = 2 * 60 * 60 * 1000;
const MAX_ATTEMPTS_LIMIT = 100;
/** ISO-8601 strings sort chronologically only with four-digit years. */
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function refuse(violations: string[], what?: string): void {
  if (violations.length > 0) throw new LedgerInvariantError(violations, what);
}

export function refViolations(ref: ObjectRef): string[] {
  const v: string[] = [];
  if (typeof ref?.bucket !== 'string' || !BUCKET.test(ref.bucket))
    v.push(`bad bucket name ${JSON.stringify(ref?.bucket)}`);
  if (typeof ref?.key !== 'string' || ref.key.length === 0 || Buffer.byteLength(ref.key) > MAX_KEY_BYTES) {
    v.push('object key must be 1-1024 bytes');
  }
  if (typeof ref?.versionId !== 'string' || ref.versionId.length === 0 || ref.versionId.length > MAX_KEY_BYTES) {
    v.push('version id must be a non-empty string (S3 says "null" for unversioned objects)');
  }
  return v;
}

export function assertRef(ref: ObjectRef): void {
  refuse(refViolations(ref), 'invalid object reference');
}

export function assertRefs(refs: readonly ObjectRef[]): void {
  refuse(refs.flatMap(refViolations), 'invalid object reference');
}

export function isValidTime(at: Date): boolean {
  return at instanceof Date && Number.isFinite(at.getTime()) && at.getTime() >= MIN_TIME && at.getTime() <= MAX_TIME;
}

export function assertTime(at: Date, name = 'now'): void {
  if (!isValidTime(at)) throw new LedgerInvariantError([`${name} must be a valid date between 1970 and 9999`]);
}

export function assertOwner(owner: string): void {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > MAX_OWNER_LENGTH) {
    throw new LedgerInvariantError([`owner must be 1-${MAX_OWNER_LENGTH} characters`]);
  }
}

export function assertLeaseMs(leaseMs: number): void {
  if (!Number.isSafeInteger(leaseMs) || leaseMs <= 0 || leaseMs > MAX_LEASE_MS) {
    throw new LedgerInvariantError([`leaseMs must be a positive integer of at most ${MAX_LEASE_MS} (got ${leaseMs})`]);
  }
}

export function assertMaxAttempts(maxAttempts: number): void {
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw new LedgerInvariantError([`maxAttempts must be 1-${MAX_ATTEMPTS_LIMIT} (got ${maxAttempts})`]);
  }
}

export function assertMeta(meta: ObjectMeta): void {
  const v: string[] = [];
  if (!isTenantId(meta?.tenant)) v.push(`bad tenant id ${JSON.stringify(meta?.tenant)}`);
  if (!isTypetag(meta?.typetag)) v.push(`bad typetag ${JSON.stringify(meta?.typetag)}`);
  if (!Number.isSafeInteger(meta?.size) || meta.size < 0) v.push(`size must be a non-negative integer`);
  if (!isValidTime(meta?.receivedAt)) v.push('receivedAt must be a valid date between 1970 and 9999');
  if (meta?.sha256 !== undefined && !SHA256_HEX.test(meta.sha256)) v.push('sha256 must be 64 lower-case hex digits');
  refuse(v, 'invalid object metadata');
}

export function assertLoadId(loadId: string): void {
  // Load ids are ULIDs: they name the loader's manifest (s3-keys.ts `manifestKey`).
  if (typeof loadId !== 'string' || !ULID.test(loadId)) {
    throw new LedgerInvariantError([`load id ${JSON.stringify(loadId)} is not a ULID`]);
  }
}

export function assertProofBatch(batchId: string): void {
  try {
    assertBatchId(batchId);
  } catch (err) {
    if (err instanceof InvalidIdentifierError) throw new LedgerInvariantError([err.message]);
    throw err;
  }
}

export function assertQueryTenant(tenant: string): void {
  if (!isTenantId(tenant)) throw new LedgerInvariantError([`bad tenant id ${JSON.stringify(tenant)}`]);
}

export function assertQuerySha256(sha256: string): void {
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    throw new LedgerInvariantError(['sha256 must be 64 lower-case hex digits']);
  }
}

export function assertPageSize(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new LedgerInvariantError([`limit must be 1-${MAX_PAGE_SIZE} (got ${limit})`]);
  }
}

/**
 * The rules every finished object's counts obey (DESIGN.md §3.5, §3.6):
 * 1. every count is a non-negative integer;
 * 2. each record ends in exactly one outcome: success + successInvalid + notSupported + error + badData = recordsIn;
 * 3. every record that is not a SUCCESS goes to the quarantine: quarantined = notSupported + error + badData;
 * 4. a raw exists for each SUCCESS record and possibly for an ERROR record (a filter error keeps its raw), never
 *    for NOT_SUPPORTED or BAD_DATA ones (they could not become a raw):
 *    success + successInvalid ≤ raws ≤ success + successInvalid + error.
 */
export function countsViolations(c: RecordCounts): string[] {
  const v: string[] = [];
  for (const field of COUNT_FIELDS) {
    const n = c?.[field];
    if (!Number.isSafeInteger(n) || (n as number) < 0) v.push(`counts.${field} must be a non-negative integer`);
  }
  if (v.length > 0) return v;
  const terminal = c.success + c.successInvalid + c.notSupported + c.error + c.badData;
  if (terminal !== c.recordsIn) {
    v.push(
      `per-outcome counts add up to ${terminal} (success ${c.success} + successInvalid ${c.successInvalid} + notSupported ${c.notSupported} + error ${c.error} + badData ${c.badData}), not recordsIn ${c.recordsIn}`,
    );
  }
  const refused = c.notSupported + c.error + c.badData;
  if (c.quarantined !== refused) {
    v.push(`quarantined ${c.quarantined} differs from notSupported + error + badData = ${refused}`);
  }
  const kept = c.success + c.successInvalid;
  if (c.raws < kept || c.raws > kept + c.error) {
    v.push(`raws ${c.raws} outside [success + successInvalid, + error] = [${kept}, ${kept + c.error}]`);
  }
  return v;
}

/** The tenant all of a result's output keys name, once checked by `resultViolations`; undefined when there are none. */
export function outputsTenant(result: ProcessingResult): string | undefined {
  const first = result.outputs.curated[0] ?? result.outputs.quarantine;
  if (first === undefined) return undefined;
  return first.startsWith('tahoe/') ? parseTahoeKey(first).tenant : parseQuarantineKey(first).tenant;
}

/**
 * Everything wrong with a worker's result: counts (see `countsViolations`), a missing reason or hash, and outputs
 * that could not be this object's — keys of another object or tenant, or a count with no file holding its rows.
 */
export function resultViolations(result: ProcessingResult): string[] {
  const v: string[] = [];
  if (!(OUTCOMES as readonly string[]).includes(result?.outcome)) {
    return [`unknown outcome ${JSON.stringify(result?.outcome)}`];
  }
  if (result.outcome !== 'SUCCESS' && !(typeof result.reason === 'string' && result.reason.trim().length > 0)) {
    v.push(`outcome ${result.outcome} needs a reason`);
  }
  if (result.reason !== undefined && typeof result.reason !== 'string') v.push('reason must be a string');
  if (result.sha256 !== undefined && !SHA256_HEX.test(result.sha256)) v.push('sha256 must be 64 lower-case hex digits');
  if (result.outcome === 'SUCCESS' && result.sha256 === undefined) {
    v.push('a processed object needs the sha256 of its raw bytes');
  }
  v.push(...countsViolations(result.counts));

  const outputs = result.outputs;
  if (!outputs || !Array.isArray(outputs.curated)) return [...v, 'outputs.curated must be a list of keys'];
  const tenants = new Set<string>();
  const tables = new Set<string>();
  const seen = new Set<string>();
  for (const key of outputs.curated) {
    if (seen.has(key)) v.push(`output ${key} listed twice`);
    seen.add(key);
    try {
      const parsed = parseTahoeKey(key);
      tenants.add(parsed.tenant);
      tables.add(parsed.table);
      if (result.sha256 !== undefined && parsed.rawSha256 !== result.sha256) {
        v.push(`output ${key} belongs to another raw object`);
      }
    } catch (err) {
      v.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (outputs.quarantine !== undefined) {
    try {
      const parsed = parseQuarantineKey(outputs.quarantine);
      tenants.add(parsed.tenant);
      if (result.sha256 !== undefined && parsed.rawSha256 !== result.sha256) {
        v.push(`quarantine file ${outputs.quarantine} belongs to another raw object`);
      }
    } catch (err) {
      v.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (tenants.size > 1) v.push(`outputs name several tenants: ${[...tenants].sort().join(', ')}`);

  // No silent loss: rows counted must be somewhere.
  const c = result.counts;
  if (v.length === 0) {
    if (c.raws > 0 && !tables.has('tahoe_raw')) v.push(`${c.raws} raws but no tahoe_raw output`);
    if (c.instances > 0 && !tables.has('tahoe_instance'))
      v.push(`${c.instances} instances but no tahoe_instance output`);
    if (c.edges > 0 && !tables.has('tahoe_edge')) v.push(`${c.edges} edges but no tahoe_edge output`);
    if (c.quarantined > 0 && outputs.quarantine === undefined) {
      v.push(`${c.quarantined} records quarantined but no quarantine file`);
    }
  }
  return v;
}

export function assertResult(result: ProcessingResult): void {
  refuse(resultViolations(result), 'processing result refused');
}

/** A reason as stored: trimmed to a bounded length. */
export function clampReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (reason.length <= MAX_REASON_LENGTH) return reason;
  let end = MAX_REASON_LENGTH - 1;
  // Never cut a surrogate pair in two: the lone half would not survive UTF-8 storage.
  const last = reason.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${reason.slice(0, end)}…`;
}
