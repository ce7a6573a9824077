/**
 * A bounded "seen before?" set for de-duplicating rows within one raw object (row-sink.ts uses it for instance
 * rows, and through their parents for edge rows).
 *
 * The same attributes, objects and their edges recur on thousands of records of a file (an attacker's address, a
 * sensor, `method: ssh`); writing each once keeps the Parquet output small. But remembering every key of a 5 GiB
 * file would let memory grow with the file, so the set holds at most two generations of `capacity` keys: when the
 * current generation is full it becomes the previous one and the oldest is dropped. Keys seen recently stay known,
 * which is where repetition in logs is (a session's records are close together), and a key still in use is
 * promoted into the current generation, so it is never forgotten while it keeps recurring.
 *
 * A key forgotten this way is written again. That is harmless by design: every TAHOE table has a natural key
 * (DESIGN.md §3.7) and the loader MERGEs on it, so a repeated row changes nothing in the warehouse. What a set must
 * never do is drop a row it has not seen — it never does: a key is reported as seen only if it was added.
 *
 * Eviction depends only on the order of the keys, so the same file gives the same rows on every attempt. Lookups
 * use the row's own hash string (a flat string whose hash V8 caches) and allocate nothing: de-duplication runs for
 * every instance row of every record.
 */

/** Variants remembered per hash: a session has a handful (its connect, its close, the records between). */
const MAX_VARIANTS = 4;

type Held = string | string[];

/**
 * Instance rows by `_hash`, each with a variant: rows of one hash that differ (a session's times, an event's
 * category) are told apart by it. Up to {@link MAX_VARIANTS} variants of a hash are remembered, the oldest dropped
 * first; a dropped one that comes back is written again (harmless, see above).
 */
export class BoundedInstanceSet {
  private current = new Map<string, Held>();
  private previous = new Map<string, Held>();

  constructor(readonly capacity: number) {
    checkCapacity(capacity);
  }

  /** True when this hash and variant were added recently; otherwise remembers them and answers false. */
  seen(hash: string, variant: string): boolean {
    const held = this.current.get(hash);
    if (held !== undefined) {
      if (held === variant || (typeof held !== 'string' && held.includes(variant))) return true;
      this.current.set(hash, withVariant(held, variant));
      return false;
    }
    const old = this.previous.get(hash);
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
    }
    const known = old !== undefined && (old === variant || (typeof old !== 'string' && old.includes(variant)));
    // Promoted with what was known of it, so that a hash in constant use is never forgotten.
    this.current.set(hash, old === undefined ? variant : known ? old : withVariant(old, variant));
    return known;
  }

  /** Whether any variant of `hash` is held (without remembering anything). */
  has(hash: string): boolean {
    return this.current.has(hash) || this.previous.has(hash);
  }

  /** Hashes held now (at most 2 × capacity). */
  get size(): number {
    return this.current.size + this.previous.size;
  }
}

function withVariant(held: Held, variant: string): Held {
  const list = typeof held === 'string' ? [held] : held;
  return [...list.slice(list.length >= MAX_VARIANTS ? 1 : 0), variant];
}

function checkCapacity(capacity: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
  }
}
