/**
 * The three error classes of the pipeline (DESIGN.md §5). Every failure a core raises is one of these, so that
 * handlers can decide without string matching: quarantine and succeed, retry with backoff, or fail at start-up.
 */

/** Why a file or record was refused for good. Mirrors the ledger's terminal outcomes. */
export type PermanentOutcome = 'BAD_DATA' | 'NOT_SUPPORTED' | 'ERROR';

/** Poison input: record the reason, quarantine, and acknowledge the message. Never retried. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(
    readonly outcome: PermanentOutcome,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Throttling, 5xx, time-outs: retried with capped exponential backoff, then dead-lettered. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
}

/** A deployment mistake (missing or invalid setting). Raised at start-up, never in the middle of a batch. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Shorthand for the most common permanent error: input that cannot be decrypted, decoded or read. */
export function badData(message: string, cause?: unknown): PermanentError {
  return new PermanentError('BAD_DATA', message, cause === undefined ? undefined : { cause });
}

/**
 * The seed's retry delay, `min(cap, 2^attempt + jitter)` seconds, with the cap set per hop.
 * `random` is injected so that callers and tests control the jitter.
 */
export function backoffSeconds(attempt: number, capSeconds: number, random: () => number = Math.random): number {
  const base = 2 ** Math.max(0, Math.min(attempt, 30));
  return Math.min(capSeconds, base + random());
}
