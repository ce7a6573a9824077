import type {
  BeginOptions,
  BeginResult,
  HeartbeatResult,
  LedgerItem,
  LedgerPage,
  ListOptions,
  MarkLoadedResult,
  MarkNotarisedResult,
  ObjectMeta,
  ObjectRef,
  ProcessingResult,
  ReceiveResult,
} from './model';

/**
 * The ledger (DESIGN.md §3.6): one item per raw object version, the exactly-once backbone of processing. Every
 * hop delivers at least once; the ledger turns that into "processed once": a worker `begin`s an object (taking a
 * lease), `heartbeat`s while it works, and `complete`s it; a duplicate finds it finished, a second worker finds it
 * busy, and a crashed worker's lease runs out so that another takes the object over.
 *
 * Conflicts are answers, not exceptions: `begin` says finished/busy/exhausted, `markLoaded` lists what it refused.
 * The exceptions are `LeaseLostError` (the caller's lease was taken over: it must not record its result),
 * `LedgerInvariantError` (a request that would record something impossible: a bug), `TransientError` (throttling,
 * time-outs, 5xx: retry) and `InvalidCursorError`.
 *
 * Every method that writes takes the time from its caller, so that cores and tests control the clock. Leases are
 * compared with the caller's `now`: workers' clocks must agree to well within a lease (Lambda's do).
 */
export interface Ledger {
  /**
   * Records an object's arrival (RECEIVED) unless it is already known, e.g. when its notification is queued, so
   * that `GET /v1/uploads/{id}` can say "pending" before a worker picks it up. Optional: `begin` creates the item
   * too.
   */
  receive(ref: ObjectRef, meta: ObjectMeta, now: Date): Promise<ReceiveResult>;

  /**
   * Takes the object for processing: a new or RECEIVED item, or one whose lease expired (a takeover), is acquired
   * with the attempt count raised by one. Past `maxAttempts` the answer is `exhausted` (the lease is still taken,
   * so that exactly one worker records the terminal ERROR). A finished object answers `finished`; a live lease of
   * another owner answers `busy`. A live lease of the same owner answers `acquired` again (a repeated call).
   */
  begin(ref: ObjectRef, options: BeginOptions): Promise<BeginResult>;

  /** Extends the caller's lease to `now + leaseMs`, if it still holds it. */
  heartbeat(ref: ObjectRef, owner: string, now: Date, leaseMs: number): Promise<HeartbeatResult>;

  /**
   * Finishes the object: PROCESSED when the outcome is SUCCESS, QUARANTINED when the whole object was refused.
   * Only the lease holder may (an expired lease that nobody took over still counts as held); anyone else gets a
   * `LeaseLostError` and nothing is written. A result that breaks an invariant (counts not adding up, outputs of
   * another object) is refused with `LedgerInvariantError`. Repeating the call after it went through returns the
   * stored item. Returns the finished item.
   */
  complete(ref: ObjectRef, owner: string, result: ProcessingResult, now: Date): Promise<LedgerItem>;

  /** Moves finished objects to LOADED by `loadId` (a ULID). Idempotent: repeating it changes nothing. */
  markLoaded(refs: readonly ObjectRef[], loadId: string, now: Date): Promise<MarkLoadedResult>;

  /** Sets the NOTARISED flag: the object's hash is in proof batch `batchId`. The first batch stands. */
  markNotarised(ref: ObjectRef, batchId: string, now: Date): Promise<MarkNotarisedResult>;

  /** The item as stored now (a strongly consistent read). */
  get(ref: ObjectRef): Promise<LedgerItem | undefined>;

  /**
   * The tenant's objects with this content (`GET /v1/objects/{sha256}`). Only objects whose hash is recorded.
   * On DynamoDB this reads an index, which lags writes by a moment.
   */
  findBySha256(tenant: string, sha256: string): Promise<LedgerItem[]>;

  /** The tenant's objects by arrival time, a page at a time. On DynamoDB an index, which lags writes by a moment. */
  listByTenant(tenant: string, options?: ListOptions): Promise<LedgerPage>;
}
