/**
 * TAHOE's `canonical()` and `_hash` (TAHOE.md §2), bit-identical to the Python reference.
 *
 * canonical(dict) = json.dumps({k: canonical(v)}, sort_keys=True); canonical(list) = json.dumps(sorted(set(
 * canonical(x)))); canonical(str) = json.dumps(s.strip()); other scalars = json.dumps(v). Nested values are
 * therefore encoded once per level, which makes the text grow exponentially with nesting depth (every level
 * escapes the quotes and backslashes of the one below). A budget bounds that growth: the reference would run
 * out of memory on the same input, we refuse it with a reason instead.
 */
import * as crypto from 'node:crypto';
import { isPlainAscii, PyFloat, type PyValue, pyFloatJson, pyFloatStr, quote } from './json';
import { compareCodePoints, pyStrip } from './pystr';

/** The canonical text would exceed the budget (pathological nesting of strings). */
export class CanonicalTooLargeError extends Error {
  override readonly name = 'CanonicalTooLargeError';
  constructor(readonly limit: number) {
    super(`canonical form exceeds ${limit} characters (nesting too deep for TAHOE's double encoding)`);
  }
}

/** Default budget for one canonical text, in characters (ASCII, so also bytes). */
export const DEFAULT_MAX_CANONICAL_CHARS = 32 * 1024 * 1024;

/**
 * JSON-quotes an already-canonical text. Canonical texts are printable ASCII (ensure_ascii escaped everything
 * else), so only `"` and `\` need escaping. Escaping is per character, so it distributes over concatenation:
 * quoteCanonical(a + b) = quoteCanonical(a) + quoteCanonical(b) without the outer quotes — the composition
 * helpers below rely on that to reuse the quoted texts of children.
 */
export function quoteCanonical(s: string): string {
  // One scan with slices between the escapes: String.prototype.replaceAll measured several times slower here.
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      out += s.slice(start, i) + (c === 0x22 ? '\\"' : '\\\\');
      start = i + 1;
    }
  }
  return start === 0 ? `"${s}"` : `${out}${s.slice(start)}"`;
}

/**
 * quoteCanonical(quoteCanonical(s)) without its outer quotes, in one scan: the text of a child inside its parent's
 * canonical text (see CanonicalChild.canonQQ). Quoting twice maps `"` to `\"` then to `\\\"`, and `\` to `\\`
 * then to `\\\\`; the inner quotes added by the first quoting become `\"` at both ends.
 */
export function quoteCanonicalTwice(s: string): string {
  let out = '\\"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      out += s.slice(start, i) + (c === 0x22 ? '\\\\\\"' : '\\\\\\\\');
      start = i + 1;
    }
  }
  return `${out}${s.slice(start)}\\"`;
}

// biome-ignore lint/correctness/noUnusedVariables: only written, so that the character read in flat() is kept
let flatSink = 0;

/**
 * Returns `s`, stored by V8 as one flat string from now on. Texts built by concatenation are trees of pieces
 * that V8 copies into one string whenever they are hashed; reading a character flattens such a tree in place
 * (the string value is unchanged, only its representation). Memoized texts that many later parents embed are
 * flattened once here, so that hashing every parent copies them in one piece instead of walking their tree
 * again. (Accumulating the character keeps the read from being optimised away.)
 */
export function flat(s: string): string {
  flatSink ^= s.charCodeAt(0) | 0;
  return s;
}

/** Counts the characters produced while computing canonical texts; throws past the limit. */
export class Budget {
  used = 0;
  constructor(readonly limit: number) {}
  charge(n: number): void {
    this.used += n;
    if (this.used > this.limit) throw new CanonicalTooLargeError(this.limit);
  }
}

/**
 * `tahoe.misc.canonical(value)`.
 * @param maxChars budget for all text produced while computing it; throws {@link CanonicalTooLargeError} beyond.
 */
export function canonical(value: PyValue, maxChars: number = DEFAULT_MAX_CANONICAL_CHARS): string {
  return canon(value, new Budget(maxChars));
}

function canon(v: PyValue, budget: Budget): string {
  switch (typeof v) {
    case 'string': {
      const s = quote(pyStrip(v));
      budget.charge(s.length);
      return s;
    }
    case 'number':
      return String(v);
    case 'bigint': {
      const s = v.toString();
      budget.charge(s.length);
      return s;
    }
    case 'boolean':
      return v ? 'true' : 'false';
  }
  if (v === null) return 'null';
  if (v instanceof PyFloat) return pyFloatJson(v.value);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const parts = new Set<string>();
    for (const x of v) parts.add(canon(x, budget));
    return canonicalList(parts, budget);
  }
  const keys = Array.from(v.keys());
  if (keys.length === 0) return '{}';
  if (keys.length > 1) keys.sort(compareCodePoints);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const inner = canonQuoted(v.get(k) as PyValue, budget);
    const qk = quote(k);
    budget.charge(inner.length + qk.length + 4);
    out += i === 0 ? `${qk}: ${inner}` : `, ${qk}: ${inner}`;
  }
  return `${out}}`;
}

/** quoteCanonical(canon(v)), without the escaping pass for the common scalars. */
function canonQuoted(v: PyValue, budget: Budget): string {
  switch (typeof v) {
    case 'string': {
      const s = pyStrip(v);
      if (isPlainAscii(s)) {
        budget.charge(s.length + 6);
        return `"\\"${s}\\""`;
      }
      break;
    }
    case 'number':
      return `"${v}"`;
    case 'boolean':
      return v ? '"true"' : '"false"';
  }
  if (v === null) return '"null"';
  if (v instanceof PyFloat) return `"${pyFloatJson(v.value)}"`;
  const q = quoteCanonical(canon(v, budget));
  budget.charge(q.length);
  return q;
}

/**
 * canonical(value) and dumps(value) in one walk: a raw needs both (its hash and its stored JSON text), and the
 * two share most of the work (quoting every string once when stripping leaves it unchanged).
 */
export function canonicalAndJson(
  value: PyValue,
  maxChars: number = DEFAULT_MAX_CANONICAL_CHARS,
): { canonical: string; json: string } {
  const w = new Walker(new Budget(maxChars));
  const c = w.walk(value);
  return { canonical: c, json: w.json };
}

/** Writes dumps(v) into `json` and returns canonical(v), charging `budget`. */
export class Walker {
  json = '';
  constructor(readonly budget: Budget) {}

  /** Appends dumps(v) to `json` and returns canonical(v). */
  walk(v: PyValue): string {
    switch (typeof v) {
      case 'string': {
        const q = quote(v);
        this.json += q;
        const stripped = pyStrip(v);
        const c = stripped.length === v.length ? q : quote(stripped);
        this.budget.charge(c.length);
        return c;
      }
      case 'number': {
        const s = String(v);
        this.json += s;
        return s;
      }
      case 'bigint': {
        const s = v.toString();
        this.json += s;
        this.budget.charge(s.length);
        return s;
      }
      case 'boolean': {
        const s = v ? 'true' : 'false';
        this.json += s;
        return s;
      }
    }
    if (v === null) {
      this.json += 'null';
      return 'null';
    }
    if (v instanceof PyFloat) {
      const s = pyFloatJson(v.value);
      this.json += s;
      return s;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) {
        this.json += '[]';
        return '[]';
      }
      const parts = new Set<string>();
      this.json += '[';
      for (let i = 0; i < v.length; i++) {
        if (i > 0) this.json += ',';
        parts.add(this.walk(v[i] as PyValue));
      }
      this.json += ']';
      return canonicalList(parts, this.budget);
    }
    if (v.size === 0) {
      this.json += '{}';
      return '{}';
    }
    const keys: string[] = [];
    const pieces: string[] = [];
    let plainKeys = true;
    this.json += '{';
    for (const [k, x] of v) {
      let qk = QUOTED_KEYS.get(k);
      if (qk === undefined) {
        qk = quote(k);
        if (QUOTED_KEYS.size < 4096) QUOTED_KEYS.set(k, qk);
      }
      // A quoted key longer than the key plus its quotes holds escapes (controls, non-ASCII, surrogates).
      if (qk.length !== k.length + 2) plainKeys = false;
      this.json += keys.length === 0 ? `${qk}:` : `,${qk}:`;
      let inner: string;
      if (typeof x === 'string') {
        // The common case, inlined: one plain-ASCII test serves the JSON text and both canonical quotings.
        const stripped = pyStrip(x);
        const plain = isPlainAscii(stripped);
        this.json += plain && stripped.length === x.length ? `"${x}"` : quote(x);
        inner = plain ? `"\\"${stripped}\\""` : quoteCanonical(quote(stripped));
      } else if (typeof x === 'number') {
        const t = String(x);
        this.json += t;
        inner = `"${t}"`;
      } else if (typeof x === 'boolean' || x === null) {
        const t = x === null ? 'null' : x ? 'true' : 'false';
        this.json += t;
        inner = `"${t}"`;
      } else inner = quoteCanonical(this.walk(x));
      this.budget.charge(inner.length + qk.length + 4);
      keys.push(k);
      pieces.push(`${qk}: ${inner}`);
    }
    this.json += '}';
    // Sort the member indices by key (a dict has a dozen keys: insertion sort). Plain ASCII keys compare the
    // same in UTF-16 and in code points, so the native comparison applies.
    const n = keys.length;
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = 1; i < n; i++) {
      const cur = order[i] as number;
      const key = keys[cur] as string;
      let j = i - 1;
      while (j >= 0) {
        const other = keys[order[j] as number] as string;
        if (plainKeys ? other <= key : compareCodePoints(other, key) <= 0) break;
        order[j + 1] = order[j] as number;
        j--;
      }
      order[j + 1] = cur;
    }
    let out = '{';
    for (let i = 0; i < n; i++) out += i === 0 ? pieces[order[i] as number] : `, ${pieces[order[i] as number]}`;
    return `${out}}`;
  }
}

/** Quoted dict keys: the same few keys recur in every record of a type. */
const QUOTED_KEYS = new Map<string, string>();

/** `json.dumps(sorted(set(parts)))` for canonical texts (ASCII, so JS order is code point order). */
export function canonicalList(parts: Iterable<string>, budget?: { charge(n: number): void }): string {
  const sorted = Array.from(parts).sort();
  let out = '[';
  for (let i = 0; i < sorted.length; i++) {
    const q = quoteCanonical(sorted[i] as string);
    budget?.charge(q.length + 2);
    out += i === 0 ? q : `, ${q}`;
  }
  return `${out}]`;
}

/** A child of an object/event/session as its parent's canonical text needs it. */
export interface CanonicalChild {
  readonly subType: string;
  /** canonical(child.data) */
  readonly canon: string;
  /** quoteCanonical(quoteCanonical(canon)) without its outer quotes: the child's text inside the parent's. */
  readonly canonQQ: string;
}

/**
 * Canonical text of an object/event/session `data` dict, `{sub_type: [child.data, ...]}`, from the children's
 * own canonical texts (which their hashes already needed): canonical(child.data) is the same text, so the
 * parent never re-walks the children's data. With q1 = quoteCanonical(c), each dict value is
 * quoteCanonical("[" + q1 + ", " + ... + "]"), i.e. `"[` + the escaped q1s + `]"` (escaping distributes).
 */
export function canonicalOfChildren(children: readonly CanonicalChild[]): string {
  const keys: string[] = [];
  const byKey = new Map<string, CanonicalChild[]>();
  for (const c of children) {
    const g = byKey.get(c.subType);
    if (g) g.push(c);
    else {
      byKey.set(c.subType, [c]);
      keys.push(c.subType);
    }
  }
  if (keys.length > 1) keys.sort(compareCodePoints);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const group = byKey.get(k) as CanonicalChild[];
    let items: string;
    if (group.length === 1) items = (group[0] as CanonicalChild).canonQQ;
    else {
      // sorted(set(...)) orders by the canonical texts themselves; equal texts count once.
      const unique = new Map<string, string>();
      for (const c of group) unique.set(c.canon, c.canonQQ);
      items = Array.from(unique.keys())
        .sort()
        .map((c) => unique.get(c) as string)
        .join(', ');
    }
    out += `${i === 0 ? '' : ', '}${quote(k)}: "[${items}]"`;
  }
  return `${out}}`;
}

// crypto.hash (Node ≥ 20.12, and the Lambda nodejs22.x runtime) hashes in one call without a Hash object, which
// is noticeably faster for the short inputs TAHOE hashes; createHash is the fallback for older runtimes.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** Lowercase hex SHA-256 of the UTF-8 bytes of `text`. */
export function sha256Hex(text: string): string {
  if (oneShot) return oneShot('sha256', text, 'hex');
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `_hash` of an attribute, object, session or raw: sha256(itype + sub_type + canonical(data)). */
export function instanceHash(itype: string, subType: string, canonicalData: string): string {
  return sha256Hex(itype + subType + canonicalData);
}

/** `_hash` of an event: sha256("event" + sub_type + orgid + str(float(timestamp)) + canonical(data)). */
export function eventHash(subType: string, orgid: string, timestamp: number, canonicalData: string): string {
  return sha256Hex(`event${subType}${orgid}${pyFloatStr(timestamp)}${canonicalData}`);
}
