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
import { Budget, canonicalAndJson, quoteCanonical, Walker } from './canonical';
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
 * runs for every key and value of every record.
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
 * Reads one record. Throws what `loads` throws for the same text (JsonDecodeError, JsonDepthError) and
 * CanonicalTooLargeError past `maxCanonicalChars`.
 */
export function readRaw(text: string, maxDepth: number, maxCanonicalChars: number): RawTexts {
  const p = new Parser(text, maxDepth);
  p.skipWs();
  if (text.charCodeAt(p.i) !== 0x7b || maxDepth < 1) return general(text, maxDepth, maxCanonicalChars);
  const budget = new Budget(maxCanonicalChars);
  const data: PyDict = new Map();
  const keys: string[] = [];
  const pieces: string[] = [];
  let plainKeys = true;
  let json = '{';
  p.i++;
  p.skipWs();
  if (text.charCodeAt(p.i) === 0x7d) {
    p.i++;
    return finish(p, text, data, '{}', '{}');
  }
  for (;;) {
    if (text.charCodeAt(p.i) !== 0x22) {
      throw new JsonDecodeError('Expecting property name enclosed in double quotes', p.i);
    }
    // Key: a plain one is its own quoted text in the record.
    let key: string;
    let qk: string;
    const keyOpen = p.i;
    const keyClose = plainEnd(text, keyOpen);
    if (keyClose !== -1) {
      key = text.slice(keyOpen + 1, keyClose);
      qk = text.slice(keyOpen, keyClose + 1);
      p.i = keyClose + 1;
    } else {
      key = p.string();
      qk = quote(key);
      if (qk.length !== key.length + 2) plainKeys = false;
    }
    p.skipWs();
    if (text.charCodeAt(p.i) !== 0x3a) throw new JsonDecodeError("Expecting ':' delimiter", p.i);
    p.i++;
    p.skipWs();

    let value: PyValue;
    let piece: string;
    let inner: string;
    const c = text.charCodeAt(p.i);
    const valueClose = c === 0x22 ? plainEnd(text, p.i) : -1;
    if (valueClose !== -1) {
      value = text.slice(p.i + 1, valueClose);
      piece = text.slice(p.i, valueClose + 1);
      p.i = valueClose + 1;
      // Stripping plain text leaves plain text: the canonical is json.dumps(stripped), quoted once more.
      inner = `"\\"${pyStrip(value)}\\""`;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      value = p.value(1);
      piece =
        typeof value === 'number' || typeof value === 'bigint' ? String(value) : pyFloatJson((value as PyFloat).value);
      inner = `"${piece}"`;
    } else {
      value = p.value(1);
      const w = new Walker(budget);
      inner = quoteCanonical(w.walk(value));
      piece = w.json;
    }
    budget.charge(inner.length + qk.length + 4);
    const before = data.size;
    data.set(key, value);
    // A duplicate key changes an earlier member: leave such records to the general code.
    if (data.size === before) return general(text, maxDepth, maxCanonicalChars);
    keys.push(key);
    pieces.push(`${qk}: ${inner}`);
    json += keys.length === 1 ? `${qk}:${piece}` : `,${qk}:${piece}`;

    p.skipWs();
    const d = text.charCodeAt(p.i);
    if (d === 0x2c) {
      p.i++;
      p.skipWs();
    } else if (d === 0x7d) {
      p.i++;
      break;
    } else throw new JsonDecodeError("Expecting ',' delimiter", p.i);
  }

  // Members sorted by key: insertion sort of indices (a record has a dozen keys). Plain ASCII keys compare
  // alike in UTF-16 and in code points, so the native comparison applies to them.
  const n = keys.length;
  const order: number[] = [];
  for (let i = 0; i < n; i++) order.push(i);
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
  let canonical = '{';
  for (let i = 0; i < n; i++) canonical += i === 0 ? pieces[order[i] as number] : `, ${pieces[order[i] as number]}`;
  return finish(p, text, data, `${canonical}}`, `${json}}`);
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
