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
import { type CanonicalChild, canonical, eventHash, instanceHash, quoteCanonical } from './canonical';
import { PyError } from './errors';
import { dumps, type PyDict, PyFloat, type PyScalar, type PyValue, pyTypeName, quote } from './json';
import { compareCodePoints, isIdentifier, pyRepr } from './pystr';

export type Category = 'benign' | 'malicious' | 'unknown';

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
}

export interface TahoeObject extends Base {
  readonly itype: 'object';
  readonly data: PyDict;
  /** Hashes of direct children (a set). */
  readonly cref: readonly string[];
  /** cref ∪ every child's ref (a set). */
  readonly ref: readonly string[];
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
const SURROGATE_UNIT = /[\ud800-\udfff]/;
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
  readonly nodes = new Map<string, Trie>();

  findNode(key: string, children: readonly Child[]): NodeMemo | undefined {
    let t = this.nodes.get(key);
    for (const c of children) {
      if (!t) return undefined;
      t = t.next.get(childKey(c));
    }
    return t?.memo;
  }

  putNode(key: string, children: readonly Child[], memo: NodeMemo): void {
    let t = this.nodes.get(key);
    if (!t) {
      t = { next: new Map() };
      this.nodes.set(key, t);
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

  node(key: string, children: readonly Child[]): NodeMemo | undefined {
    const hit = this.young.findNode(key, children);
    if (hit) return hit;
    const old = this.old.findNode(key, children);
    if (old) this.putNode(key, children, old);
    return old;
  }

  putNode(key: string, children: readonly Child[], memo: NodeMemo): void {
    this.young.putNode(key, children, memo);
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
 * `OES._makedata`: `{child.sub_type: [child.data, ...]}` with its JSON text, both in the golden order, and
 * (when `withCanon`) its canonical text built from the children's (see canonicalOfChildren).
 */
function compose(children: readonly Child[], withCanon: boolean): Composed {
  let keys: string[];
  let groups: Map<string, Child[]> | undefined;
  if (children.length === 1) keys = [(children[0] as Child).subType];
  else {
    groups = new Map();
    for (const c of children) {
      const g = groups.get(c.subType);
      if (g) g.push(c);
      else groups.set(c.subType, [c]);
    }
    keys = Array.from(groups.keys());
    if (keys.length > 1) {
      // Without surrogates, UTF-16 order is code point order and the native sort applies.
      if (keys.some((k) => SURROGATE_UNIT.test(k))) keys.sort(compareCodePoints);
      else keys.sort();
    }
  }
  const data: PyDict = new Map();
  let json = '{';
  let canon = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const qk = quoteKey(k);
    const g = groups ? (groups.get(k) as Child[]) : (children as Child[]);
    if (g.length === 1) {
      const c = g[0] as Child;
      data.set(k, [c.data]);
      json += `${i === 0 ? '' : ','}${qk}:[${c.json}]`;
      if (withCanon) canon += `${i === 0 ? '' : ', '}${qk}: "[${c.canonQQ}]"`;
      continue;
    }
    g.sort((a, b) => (a.json < b.json ? -1 : a.json > b.json ? 1 : 0));
    data.set(
      k,
      g.map((c) => c.data),
    );
    json += `${i === 0 ? '' : ','}${qk}:[${g.map((c) => c.json).join(',')}]`;
    if (withCanon) {
      const unique = new Map<string, string>();
      for (const c of g) unique.set(c.canon, c.canonQQ);
      const items = Array.from(unique.keys())
        .sort()
        .map((c) => unique.get(c) as string)
        .join(', ');
      canon += `${i === 0 ? '' : ', '}${qk}: "[${items}]"`;
    }
  }
  return { data, json: `${json}}`, canon: withCanon ? `${canon}}` : '' };
}

/** `OES._makeref`: direct children, and children plus their refs. */
function refsOf(children: readonly Child[]): { cref: string[]; ref: string[] } {
  const cref: string[] = [];
  const ref = new Set<string>();
  for (const c of children) {
    if (!cref.includes(c.hash)) cref.push(c.hash);
    ref.add(c.hash);
    if (c.itype === 'object') for (const r of c.ref) ref.add(r);
  }
  return { cref, ref: Array.from(ref) };
}

/**
 * The instances one record produced, keyed by `_hash`, in creation order. Creating an instance whose hash is
 * already in the store returns the stored one (first writer wins, as in the reference: e.g. `"admin"` and
 * `" admin"` are one attribute and the first text is kept).
 */
export class RecordStore {
  private readonly byHash = new Map<string, Instance>();
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
    this.byHash.set(i.hash, i);
    this.list.push(i);
    return i;
  }

  get(hash: string): Instance | undefined {
    return this.byHash.get(hash);
  }

  attribute(subType: string, data: PyValue): Attribute {
    if (!isScalar(data)) {
      throw new PyError('TypeError', `data = <class '${pyTypeName(data)}'>, ${SCALAR_MESSAGE}`);
    }
    let a = memo.attribute(subType, data);
    if (!a) {
      validateSubType(subType);
      const canon = canonical(data, this.options.maxCanonicalChars);
      const keep = memoizable(data);
      a = Object.freeze<Attribute>({
        itype: 'attribute',
        memoId: keep ? nextMemoId++ : 0,
        subType,
        data,
        hash: instanceHash('attribute', subType, canon),
        canon,
        canonQQ: quoteCanonical(quoteCanonical(canon)).slice(1, -1),
        json: dumps(data),
      });
      if (keep) memo.putAttribute(a);
    }
    const found = this.byHash.get(a.hash);
    if (found) return found as Attribute;
    const stored = this.options.known?.(a.hash);
    // Adopted data is not the memo's: such an instance must not key its parents' memo entries by id.
    if (stored !== undefined) a = { ...a, memoId: 0, data: stored as PyScalar, json: dumps(stored) };
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
    for (const h of malRef) if (!ref.includes(h)) throw new PyError('ValueError', `instance not a child: ${h}`);
    for (const h of benRef) {
      if (!ref.includes(h)) throw new PyError('ValueError', `instance not a child: ${h}`);
      if (malRef.includes(h)) throw new PyError('ValueError', "instance can't be both benign and malicious");
    }
    validateSubType(subType);
    const composed = compose(unique, true);
    const hash = eventHash(subType, orgid, ts, composed.canon);
    const found = this.byHash.get(hash);
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
    if (!session.eventRefs.includes(event.hash)) session.eventRefs.push(event.hash);
  }

  private node(itype: 'object' | 'session', subType: string, children: readonly Child[]): TahoeObject | TahoeSession {
    const unique = uniqueChildren(children);
    const key = itype === 'object' ? `o${subType}` : `s${subType}`;
    const pure = allMemoized(unique);
    let m = memo.node(key, unique);
    let composed: Composed | undefined;
    if (!m) {
      validateSubType(subType);
      composed = compose(unique, true);
      const canon = composed.canon;
      const refs = refsOf(unique);
      m = {
        id: nextMemoId++,
        hash: instanceHash(itype, subType, canon),
        canon,
        canonQQ: quoteCanonical(quoteCanonical(canon)).slice(1, -1),
        cref: refs.cref,
        ref: refs.ref,
        composed: pure ? composed : undefined,
      };
      memo.putNode(key, unique, m);
    }
    const found = this.byHash.get(m.hash);
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
          };
    if (n.itype === 'object' && memoId !== 0 && !m.shared) m.shared = Object.freeze(n);
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
  if (children) for (const c of children) if (!out.includes(c.hash)) out.push(c.hash);
  return out;
}

function uniqueChildren(children: readonly Child[]): Child[] {
  if (children.length === 0) throw new PyError('ValueError', 'data cannot be empty');
  const out: Child[] = [];
  for (const c of children) if (!out.includes(c)) out.push(c);
  return out;
}
