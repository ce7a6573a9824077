import type { LedgerStatus, ObjectRef } from './model';

function showRef(ref: ObjectRef): string {
  return `${ref.bucket}/${ref.key} (version ${ref.versionId})`;
}

/**
 * The caller no longer holds the object's lease: another worker took it over after the lease expired, or it was
 * never the caller's. Nothing was written. The caller must stop and must not publish results as its own; the
 * message can be acknowledged, since the current owner (or the next delivery) finishes the object.
 */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly ref: ObjectRef,
    readonly owner: string,
    /** What the ledger holds instead: the current owner and state, if the item exists. */
    readonly current: { readonly owner?: string | undefined; readonly status: LedgerStatus } | undefined,
  ) {
    super(
      `lease on ${showRef(ref)} lost by ${owner}: ${
        current ? `${current.status}${current.owner ? ` held by ${current.owner}` : ''}` : 'no such item'
      }`,
    );
  }
}

/**
 * A request the ledger refuses because it would record something impossible: counts that do not add up, outputs
 * of another tenant or object, an identifier of the wrong shape. These are bugs in the caller, not bad input, so
 * they are neither quarantined nor silently fixed: the message is retried and ends in the DLQ where someone looks.
 */
export class LedgerInvariantError extends Error {
  override readonly name = 'LedgerInvariantError';
  constructor(
    readonly violations: readonly string[],
    what = 'ledger request refused',
  ) {
    super(`${what}: ${violations.join('; ')}`);
  }
}

/** A `listByTenant` cursor that this adapter did not issue for this tenant. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

/** A stored item that does not match the ledger's schema (edited by hand, or written by an incompatible version). */
export class CorruptLedgerItemError extends Error {
  override readonly name = 'CorruptLedgerItemError';
}
