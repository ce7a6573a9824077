/**
 * The TAHOE instance model (TAHOE.md §1) for one record: attributes, objects, events and sessions, created
 * through a {@link RecordStore} that de-duplicates them by `_hash` as the reference's backend does.
 *
 * Differences from the reference, on purpose:
 * - The store lives for one record. Nothing is written anywhere until the filter has finished, so a filter
 *   that raises leaves no partial instances (the reference's partial writes are an accident of writing as it
 *   goes, not a feature).
 * - Object/event/session `data` lists are built sorted (keys by code point, list items by their JSON text), the
 *   order the golden vectors use. The reference's order comes from a Python `set()` of objects, i.e. arbitrary.
 * - No `Attribute('mock','mock')` shell, no mutable-default leak (README quirks 2 and 7).
 *
 * Speed: the same attributes, objects and sessions recur across records (an attacker's address, a session,
 * `method: ssh`). Their hash and canonical texts are pure functions of their content, so they are memoized in
 * a bounded process-wide table; only events (unique per timestamp) and raws are hashed every time.
 */
import { type CanonicalChild, canonical, eventHash, flat, instanceHash, quoteCanonicalTwice } from './canonical';
import { PyError } from './errors';
import { dumps, type PyDict, PyFloat, type PyScalar, type PyValue, pyTypeName, quote } from './json';
import { compareCodePoints, isIdentifier, pyRepr } from './pystr';

export type Category = 'benign' | 'malicious' | 'unknown';

/**
 * The one mutable part of a memoized (shared, frozen) attribute or object: what another module derives from it
 * once and reuses on every record that meets the instance again (rows.ts keeps its rows here). Holding it on the
 * instance spares a process-wide map lookup per instance and record; it lives and dies with the memo entry.
 */
export interface InstanceCache {
  rows?: unknown;
}

interface Base extends CanonicalChild {
  /** Id of the memo entry this instance's texts came from (0: not memoized); keys parents' memo entries. */
  readonly memoId: number;
  readonly subType: string;
  readonly hash: string;
  /** canonical(data): kept so that parents build theirs without re-walking the data. */
  readonly canon: string;
  /** dumps(data), Python's json.dumps text of the data (compact, ensure_ascii): the rows' `data`. */
  readonly json: string;
}

export interface Attribute extends Base {
  readonly itype: 'attribute';
  readonly data: PyScalar;
  /** Present on memoized instances (memoId ≠ 0) only. */
  readonly cache?: InstanceCache;
}

export interface TahoeObject extends Base {
  readonly itype: 'object';
  readonly data: PyDict;
  /** Hashes of direct children (a set). */
  readonly cref: readonly string[];
  /** cref ∪ every child's ref (a set). */
  readonly ref: readonly string[];
  /** Present on memoized instances (memoId ≠ 0) only. */
  readonly cache?: InstanceCache;
}

export interface TahoeEvent extends Base {
  readonly itype: 'event';
  readonly data: PyDict;
  readonly cref: readonly string[];
  readonly ref: readonly string[];
  readonly orgid: string;
  /** float(timestamp), seconds since the epoch (UTC); may be non-finite when the input said so. */
  readonly timestamp: number;
  category: Category;
  malRef: readonly string[];
  benRef: readonly string[];
}

export interface TahoeSession extends Base {
  readonly itype: 'session';
  readonly data: PyDict;
  readonly cref: readonly string[];
  /** The identifying children's refs (events added later are in {@link eventRefs}). */
  readonly ref: readonly string[];
  /** Events joined to this session (the reference adds them to the session's `_ref`). */
  eventRefs: string[];
  /** Fields the reference sets with `_update`; duration is stored as given, unvalidated. */
  startTime?: number;
  endTime?: number;
  duration?: PyValue;
}

export type Child = Attribute | TahoeObject;
export type Instance = Attribute | TahoeObject | TahoeEvent | TahoeSession;

/** Looks up an instance already stored elsewhere (e.g. earlier in the same file) to reuse its data. */
export type KnownData = (hash: string) => PyValue | undefined;

const LONE_SURROGATE = /\p{Surrogate}/u;
const SCALAR_MESSAGE = 'expected (int, float, str, bool, NoneType)';

/** Sub_types already validated (a filter uses a handful; sighting keys come from data, hence the bound). */
const validSubTypes = new Set<string>();

function validateSubType(subType: string): void {
  if (validSubTypes.has(subType)) return;
  if (!isIdentifier(subType)) throw new PyError('ValueError', `sub_type = ${pyRepr(subType)}`);
  if (validSubTypes.size < 4096) validSubTypes.add(subType);
}

/** The last orgid found free of lone surrogates (one tenant's orgid recurs on every event). */
let checkedOrgid = '';

function checkOrgid(orgid: string): void {
  if (orgid === checkedOrgid) return;
  // The reference hashes orgid's UTF-8 encoding, which fails on a lone surrogate.
  if (LONE_SURROGATE.test(orgid)) throw new PyError('UnicodeEncodeError', 'orgid holds a lone surrogate');
  checkedOrgid = orgid;
}

function isScalar(v: PyValue): v is PyScalar {
  return v === null || typeof v !== 'object' || v instanceof PyFloat;
}

/** Python float(x) for an int/float/bool timestamp; TypeError otherwise, OverflowError for huge ints. */
export function pyFloat(v: PyValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === 'bigint') {
    // Number(bigint) rounds to nearest-even like Python; Python raises where the result would overflow.
    const f = Number(v);
    if (!Number.isFinite(f)) throw new PyError('OverflowError', 'int too large to convert to float');
    return f;
  }
  throw new PyError('TypeError', `timestamp = <class '${pyTypeName(v)}'>, expected 'int/float'`);
}

// --- memo of content-derived texts -----------------------------------------------------------------------

interface NodeMemo {
  readonly id: number;
  readonly hash: string;
  readonly canon: string;
  readonly canonQQ: string;
  readonly cref: readonly string[];
  readonly ref: readonly string[];
  /** The composed data, kept when every child came from the memo (so their exact values are the key). */
  readonly composed?: Composed;
  /** The object itself, shared by every record that builds it from the same memoized children. */
  shared?: TahoeObject;
}

type NodeKind = 'object' | 'session';

/** Memo entries by child identity: one level per child (memo id, or hash for children not memoized). */
interface Trie {
  readonly next: Map<number | string, Trie>;
  memo?: NodeMemo;
}

function childKey(c: Child): number | string {
  return c.memoId === 0 ? c.hash : c.memoId;
}

/** Whether every child came from the memo (then the children's exact values are part of the key). */
function allMemoized(children: readonly Child[]): boolean {
  for (const c of children) if (c.memoId === 0) return false;
  return true;
}

/** One generation of the memo: attributes by sub_type and value, objects and sessions by children. */
class Generation {
  readonly attributes = new Map<string, Map<PyScalar, Attribute>>();
  /** Objects and sessions by sub_type: two maps, so that no key string is built per lookup. */
  readonly objects = new Map<string, Trie>();
  readonly sessions = new Map<string, Trie>();

  findNode(kind: NodeKind, subType: string, children: readonly Child[]): NodeMemo | undefined {
    let t = (kind === 'object' ? this.objects : this.sessions).get(subType);
    for (const c of children) {
      if (!t) return undefined;
      t = t.next.get(childKey(c));
    }
    return t?.memo;
  }

  putNode(kind: NodeKind, subType: string, children: readonly Child[], memo: NodeMemo): void {
    const roots = kind === 'object' ? this.objects : this.sessions;
    let t = roots.get(subType);
    if (!t) {
      t = { next: new Map() };
      roots.set(subType, t);
    }
    for (const c of children) {
      const k = childKey(c);
      let n: Trie | undefined = t.next.get(k);
      if (!n) {
        n = { next: new Map() };
        t.next.set(k, n);
      }
      t = n;
    }
    t.memo = memo;
  }
}

/**
 * The memo keeps what recurs and forgets one-off values within bounded memory: new entries and hits go to the
 * young generation; when it is full, the old generation is dropped and the young one takes its place. (Clearing
 * everything at once instead made every recurring instance miss at the same moment, and the refill churned the
 * garbage collector.)
 */
class Memo {
  private young = new Generation();
  private old = new Generation();
  private count = 0;

  constructor(private readonly generationSize: number) {}

  attribute(subType: string, data: PyScalar): Attribute | undefined {
    const hit = this.young.attributes.get(subType)?.get(data);
    if (hit) return hit;
    const old = this.old.attributes.get(subType)?.get(data);
    if (old) this.putAttribute(old);
    return old;
  }

  putAttribute(a: Attribute): void {
    let bySubType = this.young.attributes.get(a.subType);
    if (!bySubType) {
      bySubType = new Map();
      this.young.attributes.set(a.subType, bySubType);
    }
    bySubType.set(a.data, a);
    this.added();
  }

  node(kind: NodeKind, subType: string, children: readonly Child[]): NodeMemo | undefined {
    const hit = this.young.findNode(kind, subType, children);
    if (hit) return hit;
    const old = this.old.findNode(kind, subType, children);
    if (old) this.putNode(kind, subType, children, old);
    return old;
  }

  putNode(kind: NodeKind, subType: string, children: readonly Child[], memo: NodeMemo): void {
    this.young.putNode(kind, subType, children, memo);
    this.added();
  }

  private added(): void {
    if (++this.count >= this.generationSize) {
      this.old = this.young;
      this.young = new Generation();
      this.count = 0;
    }
  }
}

/**
 * Entries per generation: both generations full hold about 60 MB (measured on Cowrie data), a working set of
 * tens of thousands of recurring attackers, sessions and credentials. Values longer than MEMO_MAX_VALUE
 * characters are never kept.
 */
const MEMO_GENERATION = 1 << 15;
/** Longer attribute values are not memoized (they rarely recur and would hold memory). */
const MEMO_MAX_VALUE = 256;
/** Memoized attributes and objects are immutable and shared by every record that creates them. */
const memo = new Memo(MEMO_GENERATION);
/** Ids are never reused, so a key built from ids stays unambiguous across generations. */
let nextMemoId = 1;

/** Short strings, safe integers, booleans and null recur; floats and big integers are rare and unbounded. */
function memoizable(data: PyScalar): boolean {
  if (typeof data === 'string') return data.length <= MEMO_MAX_VALUE;
  return typeof data !== 'bigint' && !(data instanceof PyFloat);
}

// --- composition of object/event/session data ----------------------------------------------------------

interface Composed {
  readonly data: PyDict;
  readonly json: string;
  /** canonical(data), when asked for. */
  readonly canon: string;
}

const quotedKeys = new Map<string, string>();

function quoteKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = quote(k);
    if (quotedKeys.size < 4096) quotedKeys.set(k, q);
  }
  return q;
}

/**
 * Stable sort: by insertion for the handful of children a parent usually has (Array.prototype.sort costs more to
 * set up), by the built-in sort (stable too, same order) for long lists.
 */
function insertionSort<T>(xs: T[], before: (a: T, b: T) => boolean): T[] {
  if (xs.length > 16) return xs.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  for (let i = 1; i < xs.length; i++) {
    const cur = xs[i] as T;
    let j = i - 1;
    while (j >= 0 && before(cur, xs[j] as T)) {
      xs[j + 1] = xs[j] as T;
      j--;
    }
    xs[j + 1] = cur;
  }
  return xs;
}

const bySubType = (a: Child, b: Child): boolean => compareCodePoints(a.subType, b.subType) < 0;
const byJson = (a: Child, b: Child): boolean => a.json < b.json;

/**
 * `OES._makedata`: `{child.sub_type: [child.data, ...]}` with its JSON text, both in the golden order, and
 * (when `withCanon`) its canonical text built from the children's (see canonicalOfChildren).
 *
 * The children are sorted by sub_type (code point order, stable), so each group is a run of equal sub_types in
 * its original order and the runs come in key order: the same groups and order as grouping in a map and then
 * sorting its keys, without the map.
 */
function compose(children: readonly Child[], withCanon: boolean): Composed {
  const sorted = children.length === 1 ? (children as Child[]) : insertionSort(children.slice(), bySubType);
  const data: PyDict = new Map();
  let json = '{';
  let canon = '{';
  for (let start = 0; start < sorted.length; ) {
    const k = (sorted[start] as Child).subType;
    let end = start + 1;
    while (end < sorted.length && (sorted[end] as Child).subType === k) end++;
    const qk = quoteKey(k);
    const first = start === 0;
    if (end - start === 1) {
      const c = sorted[start] as Child;
      data.set(k, [c.data]);
      json += `${first ? '' : ','}${qk}:[${c.json}]`;
      if (withCanon) canon += `${first ? '' : ', '}${qk}: "[${c.canonQQ}]"`;
      start = end;
      continue;
    }
    const g = insertionSort(sorted.slice(start, end), byJson);
    data.set(
      k,
      g.map((c) => c.data),
    );
    json += `${first ? '' : ','}${qk}:[${g.map((c) => c.json).join(',')}]`;
    if (withCanon) {
      const unique = new Map<string, string>();
      for (const c of g) unique.set(c.canon, c.canonQQ);
      const items = Array.from(unique.keys())
        .sort()
        .map((c) => unique.get(c) as string)
        .join(', ');
      canon += `${first ? '' : ', '}${qk}: "[${items}]"`;
    }
    start = end;
  }
  return { data, json: `${json}}`, canon: withCanon ? `${canon}}` : '' };
}

/**
 * Whether `hashes` holds `h` (`includes`). Hashes are hex digests, so comparing their first characters rules out
 * most candidates before a full string comparison (the strings compared are rarely the same object).
 */
export function hasHash(hashes: readonly string[], h: string): boolean {
  const c = h.charCodeAt(0);
  for (let i = 0; i < hashes.length; i++) {
    const x = hashes[i] as string;
    if (x.charCodeAt(0) === c && x === h) return true;
  }
  return false;
}

/** Whether no hash occurs twice in `hashes` (see hasHash). */
export function distinctHashes(hashes: readonly string[]): boolean {
  for (let i = 1; i < hashes.length; i++) {
    const h = hashes[i] as string;
    const c = h.charCodeAt(0);
    for (let j = 0; j < i; j++) {
      const x = hashes[j] as string;
      if (x.charCodeAt(0) === c && x === h) return false;
    }
  }
  return true;
}

/** Beyond this many hashes, ref lists are de-duplicated with a Set rather than by scanning the list. */
const SMALL_SET = 32;

/**
 * `OES._makeref`: direct children, and children plus their refs (sets, kept in first-seen order). A parent has
 * a few children with a few refs each: scanning the short lists costs less than a Set; large ones use a Set.
 */
function refsOf(children: readonly Child[]): { cref: string[]; ref: string[] } {
  const cref: string[] = [];
  let total = 0;
  for (const c of children) total += c.itype === 'object' ? c.ref.length + 1 : 1;
  if (total > SMALL_SET) {
    const ref = new Set<string>();
    for (const c of children) {
      if (!cref.includes(c.hash)) cref.push(c.hash);
      ref.add(c.hash);
      if (c.itype === 'object') for (const r of c.ref) ref.add(r);
    }
    return { cref, ref: Array.from(ref) };
  }
  const ref: string[] = [];
  for (const c of children) {
    if (!hasHash(cref, c.hash)) cref.push(c.hash);
    if (!hasHash(ref, c.hash)) ref.push(c.hash);
    if (c.itype === 'object') for (const r of c.ref) if (!hasHash(ref, r)) ref.push(r);
  }
  return { cref, ref };
}

/** Instances a store indexes by scanning its list (see RecordStore.byHash). */
const SMALL_STORE = 16;

/**
 * The instances one record produced, keyed by `_hash`, in creation order. Creating an instance whose hash is
 * already in the store returns the stored one (first writer wins, as in the reference: e.g. `"admin"` and
 * `" admin"` are one attribute and the first text is kept).
 */
export class RecordStore {
  /** Index by hash, built once the store outgrows SMALL_STORE (a Cowrie record creates fewer instances: a
   * scan of the list is cheaper than a map then; a hash belongs to one instance of the list either way). */
  private byHash: Map<string, Instance> | undefined;
  private readonly list: Instance[] = [];

  constructor(private readonly options: { readonly known?: KnownData; readonly maxCanonicalChars?: number } = {}) {}

  /** Every instance created, in creation order (the store's own list: read it, do not change it). */
  all(): readonly Instance[] {
    return this.list;
  }

  get size(): number {
    return this.list.length;
  }

  private keep<T extends Instance>(i: T): T {
    this.list.push(i);
    if (this.byHash) this.byHash.set(i.hash, i);
    else if (this.list.length > SMALL_STORE) this.byHash = new Map(this.list.map((x) => [x.hash, x]));
    return i;
  }

  get(hash: string): Instance | undefined {
    if (this.byHash) return this.byHash.get(hash);
    const list = this.list;
    const c = hash.charCodeAt(0);
    for (let i = 0; i < list.length; i++) {
      const x = (list[i] as Instance).hash;
      if (x.charCodeAt(0) === c && x === hash) return list[i];
    }
    return undefined;
  }

  attribute(subType: string, data: PyValue): Attribute {
    if (!isScalar(data)) {
      throw new PyError('TypeError', `data = <class '${pyTypeName(data)}'>, ${SCALAR_MESSAGE}`);
    }
    let a = memo.attribute(subType, data);
    if (!a) {
      validateSubType(subType);
      // Memoized texts are flattened once: parents embed them in texts hashed on every record.
      const canon = flat(canonical(data, this.options.maxCanonicalChars));
      const keep = memoizable(data);
      a = Object.freeze<Attribute>({
        itype: 'attribute',
        memoId: keep ? nextMemoId++ : 0,
        subType,
        data,
        hash: instanceHash('attribute', subType, canon),
        canon,
        canonQQ: flat(quoteCanonicalTwice(canon)),
        json: flat(dumps(data)),
        cache: keep ? {} : undefined,
      });
      if (keep) memo.putAttribute(a);
    }
    const found = this.get(a.hash);
    if (found) return found as Attribute;
    const stored = this.options.known?.(a.hash);
    // Adopted data is not the memo's: such an instance must not key its parents' memo entries by id.
    if (stored !== undefined) {
      a = { ...a, memoId: 0, data: stored as PyScalar, json: dumps(stored), cache: undefined };
    }
    return this.keep(a);
  }

  object(subType: string, children: readonly Child[]): TahoeObject {
    return this.node('object', subType, children) as TahoeObject;
  }

  session(subType: string, children: readonly Child[]): TahoeSession {
    return this.node('session', subType, children) as TahoeSession;
  }

  event(
    subType: string,
    children: readonly Child[],
    orgid: string,
    timestamp: PyValue,
    context: { mal?: readonly Child[]; ben?: readonly Child[] } = {},
  ): TahoeEvent {
    checkOrgid(orgid);
    const ts = pyFloat(timestamp);
    const unique = uniqueChildren(children);
    const { cref, ref } = refsOf(unique);
    const malRef = uniqueHashes(context.mal);
    const benRef = uniqueHashes(context.ben);
    for (const h of malRef) if (!hasHash(ref, h)) throw new PyError('ValueError', `instance not a child: ${h}`);
    for (const h of benRef) {
      if (!hasHash(ref, h)) throw new PyError('ValueError', `instance not a child: ${h}`);
      if (hasHash(malRef, h)) throw new PyError('ValueError', "instance can't be both benign and malicious");
    }
    validateSubType(subType);
    const composed = compose(unique, true);
    const hash = eventHash(subType, orgid, ts, composed.canon);
    const found = this.get(hash);
    if (found) return found as TahoeEvent;
    const { data, json } = this.adopt(hash, composed);
    const e: TahoeEvent = {
      itype: 'event',
      memoId: 0,
      subType,
      data,
      hash,
      canon: composed.canon,
      canonQQ: '',
      json,
      cref,
      ref,
      orgid,
      timestamp: ts,
      category: 'unknown',
      malRef,
      benRef,
    };
    return this.keep(e);
  }

  /** `Session.add_event`: the event's hash joins the session's refs. */
  addEvent(session: TahoeSession, event: TahoeEvent): void {
    if (!hasHash(session.eventRefs, event.hash)) session.eventRefs.push(event.hash);
  }

  private node(itype: 'object' | 'session', subType: string, children: readonly Child[]): TahoeObject | TahoeSession {
    const unique = uniqueChildren(children);
    const pure = allMemoized(unique);
    let m = memo.node(itype, subType, unique);
    let composed: Composed | undefined;
    if (!m) {
      validateSubType(subType);
      composed = compose(unique, true);
      // Memoized texts are flattened once: parents embed them in texts hashed on every record.
      const canon = flat(composed.canon);
      flat(composed.json);
      const refs = refsOf(unique);
      m = {
        id: nextMemoId++,
        hash: instanceHash(itype, subType, canon),
        canon,
        canonQQ: flat(quoteCanonicalTwice(canon)),
        cref: refs.cref,
        ref: refs.ref,
        composed: pure ? composed : undefined,
      };
      memo.putNode(itype, subType, unique, m);
    }
    const found = this.get(m.hash);
    if (found) return found as TahoeObject | TahoeSession;
    if (itype === 'object' && m.shared && !this.options.known) return this.keep(m.shared);
    const stored = this.options.known?.(m.hash);
    const own = composed ?? m.composed ?? compose(unique, false);
    const { data, json } = stored instanceof Map ? { data: stored, json: dumps(stored) } : own;
    // Adopted data is not the memo's: such an instance must not key its parents' memo entries by id.
    const memoId = stored instanceof Map || !pure ? 0 : m.id;
    const n: TahoeObject | TahoeSession =
      itype === 'object'
        ? {
            itype,
            memoId,
            subType,
            data,
            json,
            hash: m.hash,
            canon: m.canon,
            canonQQ: m.canonQQ,
            cref: m.cref,
            ref: m.ref,
            cache: memoId !== 0 ? {} : undefined,
          }
        : {
            itype,
            memoId,
            subType,
            data,
            json,
            hash: m.hash,
            canon: m.canon,
            canonQQ: m.canonQQ,
            cref: m.cref,
            ref: m.ref,
            eventRefs: [],
            // Declared up front (rather than added when set) so that every session has the same shape.
            startTime: undefined,
            endTime: undefined,
            duration: undefined,
          };
    // Objects are immutable: frozen when created, so that they all share one shape with the shared ones (the
    // rows code reads instances of every kind; few shapes keep its property reads fast).
    if (n.itype === 'object') {
      Object.freeze(n);
      if (memoId !== 0 && !m.shared) m.shared = n;
    }
    return this.keep(n);
  }

  private adopt(hash: string, composed: Composed): Composed {
    const stored = this.options.known?.(hash);
    return stored instanceof Map ? { data: stored, json: dumps(stored), canon: composed.canon } : composed;
  }
}

/**
 * The reference passes children through set(): the same object twice counts once, two distinct but equal
 * objects stay twice (in data; canonical() de-duplicates them). An empty list is an error there.
 */
function uniqueHashes(children: readonly Child[] | undefined): string[] {
  const out: string[] = [];
  if (children) for (const c of children) if (!hasHash(out, c.hash)) out.push(c.hash);
  return out;
}

function uniqueChildren(children: readonly Child[]): readonly Child[] {
  if (children.length === 0) throw new PyError('ValueError', 'data cannot be empty');
  // Usually every child is distinct: the list itself is then the answer (it is only read from here on).
  if (allDistinct(children)) return children;
  const out: Child[] = [];
  for (const c of children) if (!out.includes(c)) out.push(c);
  return out;
}

/** Whether no child occurs twice in the list. */
function allDistinct<T>(xs: readonly T[]): boolean {
  for (let i = 1; i < xs.length; i++) {
    const x = xs[i];
    for (let j = 0; j < i; j++) if (xs[j] === x) return false;
  }
  return true;
}
