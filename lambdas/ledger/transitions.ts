/**
 * The ledger's state machine as pure functions: given the stored item (or none) and a request, what to write and
 * what to answer. The local twins apply them under compare-and-swap; the DynamoDB adapter encodes the same rules
 * as condition and update expressions, and applies these functions to the item DynamoDB returns
 * (ReturnValuesOnConditionCheckFailure ALL_OLD) to explain a refused write — so both answer alike, which a
 * model-based test checks operation by operation.
 *
 * A function returns no `write` when the request changes nothing (a duplicate, a busy object, a refusal); it
 * throws for requests that must not succeed at all (LeaseLostError, LedgerInvariantError).
 */
import { LeaseLostError, LedgerInvariantError } from './errors';
import { clampReason, outputsTenant } from './invariants';
import {
  type BeginResult,
  DEFAULT_MAX_ATTEMPTS,
  type HeartbeatResult,
  isFinished,
  type LedgerItem,
  type MarkLoadedRefusal,
  type MarkNotarisedResult,
  type ObjectMeta,
  type ObjectRef,
  type ProcessingResult,
  type ReceiveResult,
  ZERO_COUNTS,
} from './model';

export interface Transition<R> {
  /** The item to store; absent when nothing changes. */
  readonly write?: LedgerItem | undefined;
  readonly result: R;
}

function newItem(ref: ObjectRef, meta: ObjectMeta, now: Date): LedgerItem {
  return {
    ref: { bucket: ref.bucket, key: ref.key, versionId: ref.versionId },
    status: 'RECEIVED',
    tenant: meta.tenant,
    typetag: meta.typetag,
    size: meta.size,
    receivedAt: meta.receivedAt,
    ...(meta.sha256 === undefined ? {} : { sha256: meta.sha256 }),
    attempts: 0,
    createdAt: now,
    updatedAt: now,
  };
}

/** Drops undefined fields, so that an item reads the same as after a round trip through storage. */
function clean(item: LedgerItem): LedgerItem {
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined)) as unknown as LedgerItem;
}

export function receiveTransition(
  current: LedgerItem | undefined,
  ref: ObjectRef,
  meta: ObjectMeta,
  now: Date,
): Transition<ReceiveResult> {
  if (current) return { result: { kind: 'exists', item: current } };
  const item = newItem(ref, meta, now);
  return { write: item, result: { kind: 'created', item } };
}

export interface BeginRequest {
  readonly owner: string;
  readonly now: Date;
  readonly leaseMs: number;
  readonly meta: ObjectMeta;
  readonly maxAttempts?: number | undefined;
}

export function beginTransition(
  current: LedgerItem | undefined,
  ref: ObjectRef,
  req: BeginRequest,
): Transition<BeginResult> {
  const maxAttempts = req.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const answer = (attempt: number, takenOver: boolean, leaseExpiresAt: Date): BeginResult =>
    attempt > maxAttempts
      ? { kind: 'exhausted', attempt, maxAttempts, leaseExpiresAt }
      : { kind: 'acquired', attempt, takenOver, leaseExpiresAt };

  if (current && isFinished(current.status)) return { result: { kind: 'finished', item: current } };
  const expiresAt = current?.leaseExpiresAt;
  // A lease is live while now < expiry; at expiry it can be taken over (DynamoDB: `lease_expires_at <= :now`).
  if (current?.status === 'PROCESSING' && expiresAt && expiresAt.getTime() > req.now.getTime()) {
    // The caller already holds the lease: its own earlier request went through although the answer was lost (an
    // SDK retry after a time-out, a lost compare-and-swap race). Answering `busy` would make it drop its own object.
    // Only the first acquisition of an object is not a takeover, so `attempts > 1` tells which this was.
    if (current.owner === req.owner) return { result: answer(current.attempts, current.attempts > 1, expiresAt) };
    return { result: { kind: 'busy', leaseExpiresAt: expiresAt, attempt: current.attempts } };
  }
  // New, RECEIVED, or PROCESSING with an expired lease (a crashed worker's): take it.
  const base = current ?? newItem(ref, req.meta, req.now);
  const attempt = base.attempts + 1;
  const leaseExpiresAt = new Date(req.now.getTime() + req.leaseMs);
  const write = clean({
    ...base,
    status: 'PROCESSING',
    sha256: base.sha256 ?? req.meta.sha256,
    attempts: attempt,
    owner: req.owner,
    leaseExpiresAt,
    startedAt: req.now,
    updatedAt: req.now,
  });
  return { write, result: answer(attempt, current?.status === 'PROCESSING', leaseExpiresAt) };
}

export function heartbeatTransition(
  current: LedgerItem | undefined,
  owner: string,
  now: Date,
  leaseMs: number,
): Transition<HeartbeatResult> {
  if (current?.status !== 'PROCESSING' || current.owner !== owner) {
    return { result: current ? { kind: 'lost', item: current } : { kind: 'lost' } };
  }
  const leaseExpiresAt = new Date(now.getTime() + leaseMs);
  return {
    write: { ...current, leaseExpiresAt, updatedAt: now },
    result: { kind: 'extended', leaseExpiresAt },
  };
}

/** `result` must have passed `assertResult` (invariants.ts). */
export function completeTransition(
  current: LedgerItem | undefined,
  ref: ObjectRef,
  owner: string,
  result: ProcessingResult,
  now: Date,
): Transition<LedgerItem> {
  if (current?.status === 'PROCESSING' && current.owner === owner) {
    const violations: string[] = [];
    if (result.sha256 !== undefined && current.sha256 !== undefined && result.sha256 !== current.sha256) {
      violations.push(`sha256 ${result.sha256} differs from the ${current.sha256} recorded when the object arrived`);
    }
    const tenant = outputsTenant(result);
    if (tenant !== undefined && tenant !== current.tenant) {
      violations.push(`outputs belong to tenant ${tenant}, the object to ${current.tenant}`);
    }
    if (violations.length > 0) throw new LedgerInvariantError(violations, 'processing result refused');
    const { leaseExpiresAt: _lease, ...rest } = current;
    const write = clean({
      ...rest,
      status: result.outcome === 'SUCCESS' ? 'PROCESSED' : 'QUARANTINED',
      outcome: result.outcome,
      reason: clampReason(result.reason) ?? current.reason,
      sha256: result.sha256 ?? current.sha256,
      counts: { ...result.counts },
      outputs: {
        curated: [...result.outputs.curated],
        ...(result.outputs.quarantine === undefined ? {} : { quarantine: result.outputs.quarantine }),
      },
      finishedAt: now,
      updatedAt: now,
    });
    return { write, result: write };
  }
  // The same owner finished it already: a repeated call (e.g. an SDK retry whose first try went through).
  if (current && isFinished(current.status) && current.owner === owner) return { result: current };
  throw new LeaseLostError(ref, owner, current && { owner: current.owner, status: current.status });
}

export type MarkLoadedOutcome =
  | { readonly kind: 'marked' }
  | { readonly kind: 'already' }
  | { readonly kind: 'refused'; readonly reason: MarkLoadedRefusal; readonly item?: LedgerItem | undefined };

export function markLoadedTransition(
  current: LedgerItem | undefined,
  loadId: string,
  now: Date,
): Transition<MarkLoadedOutcome> {
  if (!current) return { result: { kind: 'refused', reason: 'missing' } };
  if (current.status === 'PROCESSED' || current.status === 'QUARANTINED') {
    return {
      write: { ...current, status: 'LOADED', loadId, loadedAt: now, updatedAt: now },
      result: { kind: 'marked' },
    };
  }
  if (current.status === 'LOADED') {
    return current.loadId === loadId
      ? { result: { kind: 'already' } }
      : { result: { kind: 'refused', reason: 'other_load', item: current } };
  }
  return { result: { kind: 'refused', reason: 'not_finished', item: current } };
}

export function markNotarisedTransition(
  current: LedgerItem | undefined,
  proofBatch: string,
  now: Date,
): Transition<MarkNotarisedResult> {
  if (!current) return { result: { kind: 'missing' } };
  if (current.sha256 === undefined) return { result: { kind: 'unhashed' } };
  if (current.proofBatch === proofBatch) return { result: { kind: 'already' } };
  if (current.proofBatch !== undefined) return { result: { kind: 'conflict', proofBatch: current.proofBatch } };
  return {
    write: { ...current, proofBatch, notarisedAt: now, updatedAt: now },
    result: { kind: 'notarised' },
  };
}

/**
 * What a worker records when `begin` answered `exhausted`: a terminal ERROR with nothing produced, so that the object
 * stops coming back and shows as failed instead of cycling through the queue until its messages expire.
 */
export function exhaustedResult(maxAttempts: number, lastError?: string): ProcessingResult {
  const why = `gave up after ${maxAttempts} attempts`;
  return {
    outcome: 'ERROR',
    reason: lastError ? `${why}; last error: ${lastError}` : why,
    counts: ZERO_COUNTS,
    outputs: { curated: [] },
  };
}
