/**
 * parsemain: one uploaded record → its TAHOE raw → the filter's instances (TAHOE.md §4–5, DESIGN.md §3.5).
 *
 * Every record ends in exactly one outcome, with a stage and a reason, and no exception escapes:
 * - SUCCESS: raw created and the filter derived instances from it;
 * - SUCCESS_INVALID: raw kept but `_valid: false` (no filter for the sub_type, or the filter found nothing);
 * - NOT_SUPPORTED: typetag empty, not an identifier, or not enabled for this deployment/tenant;
 * - ERROR: the filter raised; the raw is kept, no instance is (a record's instances are all-or-nothing);
 * - BAD_DATA: bytes that are not UTF-8, a record over the size limit, nesting over the depth limit, or a
 *   canonical form over its budget.
 * Time and memory are bounded by the limits (linear in the record size, see docs/tahoe.md).
 */
import { isUtf8 } from 'node:buffer';
import { CanonicalTooLargeError, canonicalAndJson, instanceHash } from './canonical';
import { PyError } from './errors';
import { DEFAULT_FILTERS, type FilterContext, type TahoeFilter } from './filters';
import { DEFAULT_MAX_DEPTH, JsonDecodeError, JsonDepthError, type PyValue } from './json';
import { distinctHashes, hasHash, type Instance, type KnownData, RecordStore } from './model';
import { isIdentifier, pyRepr } from './pystr';
import { type RawTexts, readRaw } from './raw';
import { DEFAULT_RECORD_LIMITS, framingFor, type RecordLimits, recordLimitFor } from './records';

export type TahoeOutcome = 'SUCCESS' | 'SUCCESS_INVALID' | 'NOT_SUPPORTED' | 'ERROR' | 'BAD_DATA';
export type TahoeStage = 'decode' | 'parsemain' | 'filter';

/** The raw instance of a record: its parsed data and `_hash` (orgid and timezone are not hashed). */
export interface TahoeRaw {
  readonly itype: 'raw';
  readonly subType: string;
  readonly data: PyValue;
  readonly hash: string;
  /** dumps(data): the data's JSON text as Python's json.dumps writes it (compact, ensure_ascii). */
  readonly json: string;
  readonly orgid: string;
  readonly timezone: string;
}

export interface TahoeRecordResult {
  readonly outcome: TahoeOutcome;
  /** Where it stopped (every outcome but SUCCESS). */
  readonly stage?: TahoeStage;
  /** Why, in words (every outcome but SUCCESS). */
  readonly reason?: string;
  /** For failures: the Python exception class the reference raises in that case (or our own name for cases it
   * has none, e.g. RecordTooLarge), as the golden vectors report it. */
  readonly errorType?: string;
  readonly raw: TahoeRaw | null;
  /** The filter that ran on the raw, if any. */
  readonly filter: { readonly name: string; readonly id: string } | null;
  /** The raw's `_ref` after the filter: hashes of everything it derived (a set: unique, in derivation order).
   * Empty unless SUCCESS. */
  readonly rawRef: readonly string[];
  /** Instances derived from the raw, de-duplicated by hash, in creation order. Empty on ERROR. */
  readonly instances: readonly Instance[];
}

export interface TahoeLimits extends RecordLimits {
  /** Deepest nesting of arrays/objects accepted. @default 64 */
  readonly maxDepth: number;
  /** Budget for the canonical text of one value, as a multiple of the record's size in bytes, with a floor of
   * 32 Mi characters. @default 4 */
  readonly canonicalFactor: number;
}

export const DEFAULT_TAHOE_LIMITS: TahoeLimits = {
  ...DEFAULT_RECORD_LIMITS,
  maxDepth: DEFAULT_MAX_DEPTH,
  canonicalFactor: 4,
};

const CANONICAL_FLOOR = 32 * 1024 * 1024;

export interface ParsemainOptions {
  /** When the upload was received (the time of sightings without one): a Date or float seconds since epoch. */
  readonly receivedAt: Date | number;
  /** Typetags enabled for this deployment and tenant. Absent: every identifier typetag is accepted. */
  readonly enabledTypetags?: ReadonlySet<string> | readonly string[];
  readonly limits?: Partial<TahoeLimits>;
  /** Filters by sub_type. @default DEFAULT_FILTERS */
  readonly filters?: ReadonlyMap<string, TahoeFilter>;
  /** Data of instances already stored (first writer wins across records); see RecordStore. */
  readonly knownData?: KnownData;
}

function refused(
  outcome: 'NOT_SUPPORTED' | 'BAD_DATA',
  stage: TahoeStage,
  errorType: string,
  reason: string,
): TahoeRecordResult {
  return { outcome, stage, errorType, reason, raw: null, filter: null, rawRef: [], instances: [] };
}

/** The result for a record the splitter dropped for its size (see records.ts). */
export function oversizeResult(size: number, limit: number): TahoeRecordResult {
  return refused('BAD_DATA', 'decode', 'RecordTooLarge', `record is ${size} bytes, over the ${limit}-byte limit`);
}

/** The distinct hashes of a raw's `_ref` (a Python set), in derivation order. */
function unique(ref: readonly string[]): readonly string[] {
  if (ref.length <= 16) {
    // Filters usually return distinct hashes: the list itself is then the answer (results are read-only).
    if (distinctHashes(ref)) return ref;
    const out: string[] = [];
    for (const h of ref) if (!hasHash(out, h)) out.push(h);
    return out;
  }
  return Array.from(new Set(ref));
}

const identifierCache = new Map<string, boolean>();

/** isIdentifier, cached: a deployment sees a handful of typetags, over and over. */
function isTypetagIdentifier(typetag: string): boolean {
  let ok = identifierCache.get(typetag);
  if (ok === undefined) {
    ok = isIdentifier(typetag);
    if (identifierCache.size < 1024) identifierCache.set(typetag, ok);
  }
  return ok;
}

function errorName(err: unknown): string {
  if (err instanceof PyError) return err.pyType;
  if (err instanceof CanonicalTooLargeError) return 'MemoryError';
  return 'InternalError';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function byteLength(record: Buffer | Uint8Array | string): number {
  return typeof record === 'string' ? Buffer.byteLength(record, 'utf8') : record.byteLength;
}

function isEnabled(typetag: string, enabled: ParsemainOptions['enabledTypetags']): boolean {
  if (enabled === undefined) return true;
  return 'has' in enabled ? enabled.has(typetag) : enabled.includes(typetag);
}

/**
 * parsemain(typetag, orgid, timezone, record) → raw → filter. `record` is the record's bytes (UTF-8) or text.
 */
export function parsemain(
  typetag: string,
  orgid: string,
  timezone: string,
  record: Buffer | Uint8Array | string,
  options: ParsemainOptions,
): TahoeRecordResult {
  try {
    return run(typetag, orgid, timezone, record, options);
  } catch (err) {
    // Defensive: run() handles every expected failure; anything else is a bug, reported, not thrown.
    return {
      outcome: 'ERROR',
      stage: 'parsemain',
      errorType: errorName(err),
      reason: `unexpected failure: ${message(err)}`,
      raw: null,
      filter: null,
      rawRef: [],
      instances: [],
    };
  }
}

function run(
  typetag: string,
  orgid: string,
  timezone: string,
  record: Buffer | Uint8Array | string,
  options: ParsemainOptions,
): TahoeRecordResult {
  const limits: TahoeLimits = options.limits ? { ...DEFAULT_TAHOE_LIMITS, ...options.limits } : DEFAULT_TAHOE_LIMITS;
  const size = byteLength(record);
  const maxBytes = recordLimitFor(framingFor(typetag), limits);
  if (size > maxBytes) return oversizeResult(size, maxBytes);

  let text: string;
  if (typeof record === 'string') text = record;
  else {
    const buf = Buffer.isBuffer(record) ? record : Buffer.from(record.buffer, record.byteOffset, record.byteLength);
    if (!isUtf8(buf)) return refused('BAD_DATA', 'decode', 'UnicodeDecodeError', 'record is not valid UTF-8');
    // toString keeps a leading BOM, as Python's bytes.decode('utf-8') does (json.loads then rejects it).
    text = buf.toString('utf8');
  }

  if (typetag === '') return refused('NOT_SUPPORTED', 'parsemain', 'UnknownTypetag', 'typetag is empty');
  if (!isTypetagIdentifier(typetag)) {
    return refused('NOT_SUPPORTED', 'parsemain', 'ValueError', `typetag ${pyRepr(typetag)} is not an identifier`);
  }
  if (!isEnabled(typetag, options.enabledTypetags)) {
    return refused('NOT_SUPPORTED', 'parsemain', 'NotSupported', `typetag ${pyRepr(typetag)} is not enabled`);
  }

  const maxCanonicalChars = Math.max(CANONICAL_FLOOR, limits.canonicalFactor * size);
  let texts: RawTexts;
  try {
    try {
      texts = readRaw(text, limits.maxDepth, maxCanonicalChars);
    } catch (err) {
      if (!(err instanceof JsonDecodeError)) throw err;
      // What json.loads rejects is kept as text (the reference's parsemain does the same).
      const data = new Map([['data', text]]);
      texts = { data, ...canonicalAndJson(data, maxCanonicalChars) };
    }
  } catch (err) {
    if (err instanceof JsonDepthError) return refused('BAD_DATA', 'decode', 'NestingTooDeep', err.message);
    if (err instanceof CanonicalTooLargeError) return refused('BAD_DATA', 'parsemain', 'MemoryError', err.message);
    throw err;
  }
  const data = texts.data;
  const hash = instanceHash('raw', typetag, texts.canonical);
  const raw: TahoeRaw = { itype: 'raw', subType: typetag, data, hash, json: texts.json, orgid, timezone };

  const filter = (options.filters ?? DEFAULT_FILTERS).get(typetag);
  if (!filter) {
    return {
      outcome: 'SUCCESS_INVALID',
      stage: 'filter',
      reason: `no filter reads sub_type ${pyRepr(typetag)}`,
      raw,
      filter: null,
      rawRef: [],
      instances: [],
    };
  }
  const store = new RecordStore({ known: options.knownData, maxCanonicalChars });
  const receivedAt = typeof options.receivedAt === 'number' ? options.receivedAt : options.receivedAt.getTime() / 1000;
  const ctx: FilterContext = { store, orgid, timezone, receivedAt, maxDepth: limits.maxDepth };
  const used = { name: filter.name, id: filter.id };
  let ref: readonly string[] | false;
  try {
    ref = filter.parse(data, ctx);
  } catch (err) {
    // Nothing the filter created is kept: the reference's partial writes are an artefact of writing as it went.
    return {
      outcome: 'ERROR',
      stage: 'filter',
      errorType: errorName(err),
      reason: message(err),
      raw,
      filter: used,
      rawRef: [],
      instances: [],
    };
  }
  if (!ref || ref.length === 0) {
    return {
      outcome: 'SUCCESS_INVALID',
      stage: 'filter',
      reason: `${filter.name} found nothing to read in the record`,
      raw,
      filter: used,
      rawRef: [],
      instances: store.all(),
    };
  }
  return {
    outcome: 'SUCCESS',
    raw,
    filter: used,
    rawRef: unique(ref),
    instances: store.all(),
  };
}
