import { PyError } from '../errors';
import { JsonDecodeError, JsonDepthError, loads, type PyValue } from '../json';
import type { RecordStore } from '../model';

/** What a filter may use besides the raw's data. Filters never read the clock or the environment. */
export interface FilterContext {
  readonly store: RecordStore;
  readonly orgid: string;
  /** The upload's declared IANA timezone (stored with the raw; used for email dates without a zone). */
  readonly timezone: string;
  /** When the upload was received, float seconds since the epoch: the time of sightings that carry none. */
  readonly receivedAt: number;
  /** Nesting limit for JSON a filter decodes from a string. */
  readonly maxDepth: number;
}

/**
 * An analytics filter (the reference's `Filter.parse`): turns a raw's data into instances in `ctx.store` and
 * returns the hashes to add to the raw's `_ref`. An empty list or `false` means "nothing to read" (the raw is
 * then flagged `_valid: false`); an exception means the filter failed on this raw.
 */
export interface TahoeFilter {
  /** The reference's class name, e.g. `Cowrie`. */
  readonly name: string;
  /** The reference's `filt_id`, recorded in the raw's `filters`. */
  readonly id: string;
  /** The raw sub_type (typetag) it reads. */
  readonly subType: string;
  parse(data: PyValue, ctx: FilterContext): readonly string[] | false;
}

/** `json.loads(text)` inside a filter: a syntax error is the JSONDecodeError the reference would raise. */
export function loadsInFilter(text: string, ctx: FilterContext): PyValue {
  try {
    return loads(text, { maxDepth: ctx.maxDepth });
  } catch (err) {
    if (err instanceof JsonDecodeError) throw new PyError('JSONDecodeError', err.message, { cause: err });
    if (err instanceof JsonDepthError) throw new PyError('RecursionError', err.message, { cause: err });
    throw err;
  }
}
