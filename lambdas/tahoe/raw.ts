/**
 * A raw record's three texts in one pass: its data (`json.loads`), its canonical form (for `_hash`) and its JSON
 * text (`json.dumps`, for the row). Equal by construction and by test to `loads` + `canonicalAndJson`.
 *
 * Why a separate reader: almost every record is a flat JSON object of short ASCII strings and integers
 * (cowrie, sightings). For those members, the text between the quotes in the record is already the dumped
 * text and the core of the canonical one, so one test per string replaces parsing, then walking the map, then
 * testing each string again. Anything else (escapes, non-ASCII, floats, nesting, duplicate keys) goes through
 * the general code.
 */
import { Budget, canonicalAndJson, flat, quoteCanonical, Walker } from './canonical';
import { JsonDecodeError, loads, Parser, type PyDict, type PyFloat, type PyValue, pyFloatJson, quote } from './json';
import { compareCodePoints, pyStrip } from './pystr';

export interface RawTexts {
  readonly data: PyValue;
  /** canonical(data) */
  readonly canonical: string;
  /** dumps(data) */
  readonly json: string;
}

/**
 * For a string opening at `open`, the index of its closing quote when everything in between is printable ASCII
 * without `\` (text that JSON writes unchanged between quotes), else -1. One pass, no slice, no regex: this
 * runs for every key and value of records that are not simple (see SIMPLE_TEXT).
 */
function plainEnd(text: string, open: number): number {
  for (let j = open + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22) return j;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
  }
  return -1;
}

/**
 * A simple text: printable ASCII without `\` (most records). In it, every string is plain and ends at the next
 * `"` (no escapes, so no escaped quote), which is what plainEnd finds one character at a time: one test of the
 * whole text lets the native `indexOf` find each string's end instead.
 */
const SIMPLE_TEXT = /^[\x20-\x5b\x5d-\x7e]*$/;

/**
 * A key seen recently, with the heads of its canonical members: `"key": "\"` before a plain string and
 * `"key": "` before a number. Records of one type repeat the same dozen keys; reusing the stored key (equal
 * content, checked) instead of a fresh slice saves the slice and, above all, hashing a new string in `Map.set`
 * (a string computes its hash once and keeps it), and the heads make each member's canonical text three pieces
 * instead of five (fewer pieces to allocate, and to copy when the text is hashed).
 */
class KeyEntry {
  private plainHead = '';
  private numberHead = '';
  private quotedHead = '';
  constructor(readonly key: string) {}

  /** `"key": "\"` */
  stringHead(): string {
    if (this.plainHead === '') this.plainHead = flat(`"${this.key}": "\\"`);
    return this.plainHead;
  }

  /** `"key": "` */
  numHead(): string {
    if (this.numberHead === '') this.numberHead = flat(`"${this.key}": "`);
    return this.numberHead;
  }

  /** `"key": ` */
  head(): string {
    if (this.quotedHead === '') this.quotedHead = flat(`"${this.key}": `);
    return this.quotedHead;
  }
}

/**
 * Recent plain keys, in sets of KEY_WAYS entries chosen by the key's length and first two characters (keys of
 * one record type sharing those, like `src_ip` and `src_port`, fit in one set). A cached key may keep the text
 * it was sliced from alive, so only keys of short records are stored: at most KEY_SETS × KEY_WAYS ×
 * MAX_CACHING_TEXT characters are ever held.
 */
const KEY_SETS = 256;
const KEY_WAYS = 4;
const MAX_CACHING_TEXT = 4096;
const keyCache: (KeyEntry | undefined)[] = new Array<KeyEntry | undefined>(KEY_SETS * KEY_WAYS).fill(undefined);
/** The way replaced next when a set is full (round robin). */
let nextWay = 0;

/** The plain key between the quotes at `open` and `close`, from the cache when it holds the same characters. */
function plainKey(text: string, open: number, close: number): KeyEntry {
  const len = close - open - 1;
  const set = ((text.charCodeAt(open + 1) * 31 + text.charCodeAt(open + 2) + len * 7) & (KEY_SETS - 1)) * KEY_WAYS;
  let free = -1;
  for (let w = set; w < set + KEY_WAYS; w++) {
    const e = keyCache[w];
    if (e === undefined) {
      free = w;
      break;
    }
    // Same length and the same characters: the same string value.
    if (e.key.length === len && text.startsWith(e.key, open + 1)) return e;
  }
  const entry = new KeyEntry(text.slice(open + 1, close));
  if (text.length <= MAX_CACHING_TEXT) keyCache[free !== -1 ? free : set + (nextWay++ & (KEY_WAYS - 1))] = entry;
  return entry;
}

/**
 * Per member of the record being read, in text order: its key, and its canonical text `"key": inner` in three
 * pieces (head, value, tail; inner is the value's canonical text quoted once more), assembled in key order at
 * the end. Arrays reused from record to record (readRaw never runs inside itself): only the first `n` entries
 * of a call are its own, and they hold no more than one record's strings in between.
 */
const scratch = {
  keys: [] as string[],
  heads: [] as string[],
  cvals: [] as string[],
  tails: [] as string[],
  order: [] as number[],
};

/** Canonical text after a member's value: its closing, then the separator before the next member. */
const PLAIN_STRING_TAIL = '\\"", ';
const NUMBER_TAIL = '", ';
const QUOTED_TAIL = ', ';

/**
 * Reads one record. Throws what `loads` throws for the same text (JsonDecodeError, JsonDepthError) and
 * CanonicalTooLargeError past `maxCanonicalChars`.
 *
 * The JSON text is the record's own text wherever dumps would write the same characters: most lines (Cowrie
 * writes `json.dump(separators=(",", ":"))`) are returned as they are, without building anything. Whitespace
 * and tokens that dumps writes differently (escapes it spells otherwise, floats like `1.50`, `-0`) are the only
 * places where the dumped text is assembled from pieces.
 */
export function readRaw(text: string, maxDepth: number, maxCanonicalChars: number): RawTexts {
  const p = new Parser(text, maxDepth);
  p.skipWs();
  const objStart = p.i;
  if (text.charCodeAt(p.i) !== 0x7b || maxDepth < 1) return general(text, maxDepth, maxCanonicalChars);
  const simple = SIMPLE_TEXT.test(text);
  const budget = new Budget(maxCanonicalChars);
  const data: PyDict = new Map();
  const { keys, heads, cvals, tails, order } = scratch;
  let n = 0;
  let plainKeys = true;
  // dumps(data) = json + text[jsonFrom, end of the object): text before jsonFrom has been copied or replaced.
  let json = '';
  let jsonFrom = objStart;
  p.i++;
  // Whitespace (every JSON whitespace character is <= 0x20) is left out of the dumped text.
  if (text.charCodeAt(p.i) <= 0x20) {
    const ws = p.i;
    p.skipWs();
    json += text.slice(jsonFrom, ws);
    jsonFrom = p.i;
  }
  if (text.charCodeAt(p.i) === 0x7d) {
    p.i++;
    return finish(p, text, data, '{}', '{}');
  }
  for (;;) {
    if (text.charCodeAt(p.i) !== 0x22) {
      throw new JsonDecodeError('Expecting property name enclosed in double quotes', p.i);
    }
    // Key: a plain one is written by dumps exactly as it stands in the record.
    let key: string;
    let entry: KeyEntry | undefined;
    let qk = '';
    const keyOpen = p.i;
    const keyClose = simple ? text.indexOf('"', keyOpen + 1) : plainEnd(text, keyOpen);
    if (keyClose !== -1) {
      entry = plainKey(text, keyOpen, keyClose);
      key = entry.key;
      p.i = keyClose + 1;
    } else {
      key = p.string();
      qk = quote(key);
      if (qk.length !== key.length + 2) plainKeys = false;
      if (qk.length !== p.i - keyOpen || !text.startsWith(qk, keyOpen)) {
        json += text.slice(jsonFrom, keyOpen) + qk;
        jsonFrom = p.i;
      }
    }
    if (text.charCodeAt(p.i) <= 0x20) {
      const ws = p.i;
      p.skipWs();
      json += text.slice(jsonFrom, ws);
      jsonFrom = p.i;
    }
    if (text.charCodeAt(p.i) !== 0x3a) throw new JsonDecodeError("Expecting ':' delimiter", p.i);
    p.i++;
    if (text.charCodeAt(p.i) <= 0x20) {
      const ws = p.i;
      p.skipWs();
      json += text.slice(jsonFrom, ws);
      jsonFrom = p.i;
    }

    let value: PyValue;
    let head: string;
    let cval: string;
    let tail: string;
    const valueOpen = p.i;
    const c = text.charCodeAt(valueOpen);
    const valueClose = c !== 0x22 ? -1 : simple ? text.indexOf('"', valueOpen + 1) : plainEnd(text, valueOpen);
    if (valueClose !== -1) {
      // A plain string: dumps writes it as it stands; stripping plain text leaves plain text, so its canonical
      // text is json.dumps(stripped) quoted once more, i.e. the stripped text between `"\"` and `\""`.
      value = text.slice(valueOpen + 1, valueClose);
      head = entry ? entry.stringHead() : `${qk}: "\\"`;
      cval = pyStrip(value);
      tail = PLAIN_STRING_TAIL;
      p.i = valueClose + 1;
    } else {
      let piece: string;
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        value = p.value(1);
        piece =
          typeof value === 'number' || typeof value === 'bigint'
            ? String(value)
            : pyFloatJson((value as PyFloat).value);
        head = entry ? entry.numHead() : `${qk}: "`;
        cval = piece;
        tail = NUMBER_TAIL;
      } else {
        value = p.value(1);
        const w = new Walker(budget);
        head = entry ? entry.head() : `${qk}: `;
        cval = quoteCanonical(w.walk(value));
        tail = QUOTED_TAIL;
        piece = w.json;
      }
      // Keep the record's text where dumps writes the same (e.g. `42`, `"caf\u00e9"`), else replace the token.
      if (piece.length !== p.i - valueOpen || !text.startsWith(piece, valueOpen)) {
        json += text.slice(jsonFrom, valueOpen) + piece;
        jsonFrom = p.i;
      }
    }
    // What the general walk charges for a member: `"key": inner` and its separator.
    budget.charge(head.length + cval.length + tail.length);
    const before = data.size;
    data.set(key, value);
    // A duplicate key changes an earlier member: leave such records to the general code.
    if (data.size === before) return general(text, maxDepth, maxCanonicalChars);
    keys[n] = key;
    heads[n] = head;
    cvals[n] = cval;
    tails[n] = tail;
    n++;

    if (text.charCodeAt(p.i) <= 0x20) {
      const ws = p.i;
      p.skipWs();
      json += text.slice(jsonFrom, ws);
      jsonFrom = p.i;
    }
    const d = text.charCodeAt(p.i);
    if (d === 0x2c) {
      p.i++;
      if (text.charCodeAt(p.i) <= 0x20) {
        const ws = p.i;
        p.skipWs();
        json += text.slice(jsonFrom, ws);
        jsonFrom = p.i;
      }
    } else if (d === 0x7d) {
      p.i++;
      break;
    } else throw new JsonDecodeError("Expecting ',' delimiter", p.i);
  }

  // Members sorted by key: insertion sort of indices (a record has a dozen keys). Plain ASCII keys compare
  // alike in UTF-16 and in code points, so the native comparison applies to them.
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = 1; i < n; i++) {
    const cur = order[i] as number;
    const k = keys[cur] as string;
    let j = i - 1;
    while (j >= 0) {
      const other = keys[order[j] as number] as string;
      if (plainKeys ? other <= k : compareCodePoints(other, k) <= 0) break;
      order[j + 1] = order[j] as number;
      j--;
    }
    order[j + 1] = cur;
  }
  // `{"key": inner, ...}`, appended piece by piece to one string: the fewest intermediate strings. Each tail
  // ends with the `, ` before the next member; the last one's is cut off (slicing the few closing characters).
  let canonical = '{';
  for (let i = 0; i < n; i++) {
    const o = order[i] as number;
    canonical += heads[o] as string;
    canonical += cvals[o] as string;
    canonical += i === n - 1 ? (tails[o] as string).slice(0, -2) : (tails[o] as string);
  }
  canonical += '}';
  // The object's text ends here; what follows may only be whitespace (finish checks it).
  const dumped = jsonFrom === objStart ? text.slice(objStart, p.i) : json + text.slice(jsonFrom, p.i);
  return finish(p, text, data, canonical, dumped);
}

function finish(p: Parser, text: string, data: PyDict, canonical: string, json: string): RawTexts {
  p.skipWs();
  if (p.i !== text.length) throw new JsonDecodeError('Extra data', p.i);
  return { data, canonical, json };
}

function general(text: string, maxDepth: number, maxCanonicalChars: number): RawTexts {
  const data = loads(text, { maxDepth });
  const t = canonicalAndJson(data, maxCanonicalChars);
  return { data, canonical: t.canonical, json: t.json };
}
