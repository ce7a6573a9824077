/**
 * JSON exactly as Python's `json.loads` reads it and `json.dumps(ensure_ascii=True)` writes it.
 *
 * TAHOE hashes depend on details that `JSON.parse` erases: `1` and `1.0` hash differently, integers above 2^53
 * must stay exact, `NaN`/`Infinity` are accepted tokens, duplicate keys keep the first key's position with the
 * last value, and integer-like keys must keep their textual order (a JS object would move them first).
 * lossless-json was measured and does not fit: it throws on duplicate keys, rejects `NaN`/`Infinity` and returns
 * plain objects (key order lost). So this module is a small hand-written parser and serializer.
 *
 * Value model (chosen for speed on the common case, integers and strings, see docs/tahoe.md):
 * - `null`, `boolean`, `string` (UTF-16, lone surrogates kept as Python keeps them)
 * - Python int: a JS `number` when it is a safe integer, otherwise a `bigint` (never a bigint in the safe range,
 *   so one value has one representation); `-0` reads as int 0
 * - Python float: a {@link PyFloat} box around the double (`-0.0`, `NaN`, `±Infinity` included)
 * - list: a JS array; dict: a `Map` (insertion order, like a Python dict)
 */

/** A Python float. Boxed so that it never mixes with integers, which are plain numbers. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export type PyScalar = null | boolean | number | bigint | string | PyFloat;
export type PyDict = Map<string, PyValue>;
export type PyValue = PyScalar | PyValue[] | PyDict;

/** Text that Python's `json.loads` rejects. Such a record becomes `{"data": text}` in parsemain. */
export class JsonDecodeError extends Error {
  override readonly name = 'JsonDecodeError';
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason}: char ${position}`);
  }
}

/** Nesting deeper than the configured limit. Not a syntax error: the record is refused (BAD_DATA), not wrapped. */
export class JsonDepthError extends Error {
  override readonly name = 'JsonDepthError';
  constructor(readonly maxDepth: number) {
    super(`JSON nesting deeper than ${maxDepth} levels`);
  }
}

export interface LoadsOptions {
  /** Maximum number of nested arrays/objects. @default 64 */
  readonly maxDepth?: number;
}

export const DEFAULT_MAX_DEPTH = 64;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** Python `json.loads(text)` with the default (strict) decoder. */
export function loads(text: string, options: LoadsOptions = {}): PyValue {
  const p = new Parser(text, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  p.skipWs();
  const value = p.value(0);
  p.skipWs();
  if (p.i !== text.length) throw new JsonDecodeError('Extra data', p.i);
  return value;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this looks for
const STRING_SPECIAL = /[\\\x00-\x1f]/;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The parser, for modules that read a document's top level themselves (raw.ts); `loads` is the entry point. */
export class Parser {
  i = 0;
  constructor(
    readonly s: string,
    readonly maxDepth: number,
  ) {}

  skipWs(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  value(depth: number): PyValue {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    switch (c) {
      case 0x22: // "
        return this.string();
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x6e: // n
        return this.literal('null', null);
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x4e: // N
        return this.literal('NaN', new PyFloat(Number.NaN));
      case 0x49: // I
        return this.literal('Infinity', new PyFloat(Number.POSITIVE_INFINITY));
      case 0x2d: // -
        if (s.startsWith('-Infinity', this.i)) {
          this.i += 9;
          return new PyFloat(Number.NEGATIVE_INFINITY);
        }
        return this.number();
      default:
        if (isDigit(c)) return this.number();
        throw new JsonDecodeError('Expecting value', this.i);
    }
  }

  literal<T extends PyValue>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) throw new JsonDecodeError('Expecting value', this.i);
    this.i += word.length;
    return v;
  }

  number(): PyValue {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const first = s.charCodeAt(i);
    if (first === 0x30) i++;
    else if (first >= 0x31 && first <= 0x39) {
      i++;
      while (isDigit(s.charCodeAt(i))) i++;
    } else throw new JsonDecodeError('Expecting value', start);
    let isFloat = false;
    // Like CPython's scanner: a '.' or 'e' not followed by digits ends the number (the rest is then extra data).
    if (s.charCodeAt(i) === 0x2e && isDigit(s.charCodeAt(i + 1))) {
      i += 2;
      while (isDigit(s.charCodeAt(i))) i++;
      isFloat = true;
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      let j = i + 1;
      const sign = s.charCodeAt(j);
      if (sign === 0x2b || sign === 0x2d) j++;
      if (isDigit(s.charCodeAt(j))) {
        j++;
        while (isDigit(s.charCodeAt(j))) j++;
        i = j;
        isFloat = true;
      }
    }
    this.i = i;
    const lexeme = s.slice(start, i);
    // Number() rounds correctly (round-half-even), like Python's float(); overflow gives ±Infinity like 1e400.
    if (isFloat) return new PyFloat(Number(lexeme));
    return intFromLexeme(lexeme);
  }

  string(): string {
    const s = this.s;
    const open = this.i;
    // Fast path: most strings have no escape and no control character up to their closing quote.
    const close = s.indexOf('"', open + 1);
    if (close !== -1) {
      const seg = s.slice(open + 1, close);
      if (!STRING_SPECIAL.test(seg)) {
        this.i = close + 1;
        return seg;
      }
    }
    let i = open + 1;
    let start = i;
    let out = '';
    for (;;) {
      if (i >= s.length) throw new JsonDecodeError('Unterminated string starting at', open);
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return start === open + 1 && out === '' ? s.slice(start, i) : out + s.slice(start, i);
      }
      if (c === 0x5c) {
        out += s.slice(start, i);
        const esc = s.charCodeAt(i + 1);
        switch (esc) {
          case 0x22:
            out += '"';
            break;
          case 0x5c:
            out += '\\';
            break;
          case 0x2f:
            out += '/';
            break;
          case 0x62:
            out += '\b';
            break;
          case 0x66:
            out += '\f';
            break;
          case 0x6e:
            out += '\n';
            break;
          case 0x72:
            out += '\r';
            break;
          case 0x74:
            out += '\t';
            break;
          case 0x75: {
            const hex = s.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonDecodeError('Invalid \\uXXXX escape', i + 1);
            // A JS string is UTF-16, so a high and a low surrogate escape appended one after the other form the
            // same code point Python's scanner combines them into; unpaired ones stay lone, as in Python.
            out += String.fromCharCode(Number.parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            throw new JsonDecodeError('Invalid \\escape', i);
        }
        i += 2;
        start = i;
        continue;
      }
      if (c < 0x20) throw new JsonDecodeError('Invalid control character at', i);
      i++;
    }
  }

  object(depth: number): PyDict {
    if (depth > this.maxDepth) throw new JsonDepthError(this.maxDepth);
    const s = this.s;
    const out: PyDict = new Map();
    this.i++;
    this.skipWs();
    if (s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return out;
    }
    for (;;) {
      if (s.charCodeAt(this.i) !== 0x22) {
        throw new JsonDecodeError('Expecting property name enclosed in double quotes', this.i);
      }
      const key = this.string();
      this.skipWs();
      if (s.charCodeAt(this.i) !== 0x3a) throw new JsonDecodeError("Expecting ':' delimiter", this.i);
      this.i++;
      this.skipWs();
      // Map.set on an existing key keeps its position and replaces the value: Python's dict semantics.
      out.set(key, this.value(depth));
      this.skipWs();
      const c = s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        this.skipWs();
      } else if (c === 0x7d) {
        this.i++;
        return out;
      } else throw new JsonDecodeError("Expecting ',' delimiter", this.i);
    }
  }

  array(depth: number): PyValue[] {
    if (depth > this.maxDepth) throw new JsonDepthError(this.maxDepth);
    const s = this.s;
    const out: PyValue[] = [];
    this.i++;
    this.skipWs();
    if (s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.skipWs();
      const c = s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        this.skipWs();
      } else if (c === 0x5d) {
        this.i++;
        return out;
      } else throw new JsonDecodeError("Expecting ',' delimiter", this.i);
    }
  }
}

/** A Python int from its decimal text, in the value model (safe number or bigint). */
export function intFromLexeme(lexeme: string): number | bigint {
  const digits = lexeme.charCodeAt(0) === 0x2d ? lexeme.length - 1 : lexeme.length;
  // Up to 15 digits always fits a double exactly; `+ 0` turns -0 into the int 0.
  if (digits <= 15) return Number(lexeme) + 0;
  return normalizeInt(BigInt(lexeme));
}

/** Keeps the single-representation invariant: safe integers are numbers, the rest bigints. */
export function normalizeInt(n: bigint): number | bigint {
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

// ---------------------------------------------------------------------------------------------------------------
// Serialization

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Printable ASCII without `"` and `\`: a string json.dumps writes between quotes unchanged. */
export function isPlainAscii(s: string): boolean {
  return PLAIN_ASCII.test(s);
}

function escapeUnit(c: number): string {
  switch (c) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    default:
      return `\\u${c.toString(16).padStart(4, '0')}`;
  }
}

/**
 * A string as Python's `json.dumps(s, ensure_ascii=True)` writes it: every UTF-16 unit outside 0x20–0x7E (DEL
 * included) as `\uXXXX` in lowercase hex, so astral characters become surrogate-pair escapes, lone surrogates stay.
 */
export function quote(s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i) + escapeUnit(c);
    start = i + 1;
  }
  return `${out}${s.slice(start)}"`;
}

/**
 * Python `repr(float)` / `str(float)`: the shortest digits that round-trip, fixed notation when the decimal
 * exponent is in [-4, 16), otherwise `d.ddde±XX`; integral values get `.0`. Non-finite: `nan`, `inf`, `-inf`.
 */
export function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Number.POSITIVE_INFINITY) return 'inf';
  if (x === Number.NEGATIVE_INFINITY) return '-inf';
  return finiteRepr(x);
}

/** A float token as Python's json writes it: like repr, but `NaN`, `Infinity`, `-Infinity`. */
export function pyFloatJson(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  return finiteRepr(x);
}

/** Zeros that pad a fraction of n digits to six, by n. */
const FRACTION_PAD = ['', '00000', '0000', '000', '00', '0', ''];

/**
 * repr(x) when x is the double nearest to a decimal with at most six fractional digits and 1 <= |x| < 2^33 (the
 * float of every Cowrie and ISO timestamp of this era), else undefined. Such a decimal is the unique shortest
 * representation: there the spacing of doubles is at most 2^-20 < 10^-6, so no other decimal with six or fewer
 * fractional digits rounds to x, and any decimal with more has more significant digits. Python's repr and
 * Number.prototype.toString both print that shortest decimal; this prints it from integers, which is cheaper
 * than the general shortest-digits conversion of a double.
 */
function microsRepr(x: number, abs: number): string | undefined {
  if (abs < 1 || abs >= 8589934592) return undefined;
  const micros = Math.round(abs * 1e6);
  // Exact integers (< 2^53), and IEEE division rounds correctly: equality means x is that decimal's double.
  if (micros / 1e6 !== abs) return undefined;
  const frac = micros % 1e6;
  const int = (micros - frac) / 1e6;
  const sign = x < 0 ? '-' : '';
  if (frac === 0) return `${sign}${int}.0`;
  let digits = String(frac);
  digits = (FRACTION_PAD[digits.length] as string) + digits;
  let end = 6;
  while (digits.charCodeAt(end - 1) === 0x30) end--;
  return `${sign}${int}.${end === 6 ? digits : digits.slice(0, end)}`;
}

function finiteRepr(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  const fast = microsRepr(x, abs);
  if (fast !== undefined) return fast;
  if (abs >= 1e-4 && abs < 1e16) {
    // JS prints this range in fixed notation with the same shortest digits as Python.
    const s = String(x);
    return Number.isInteger(x) ? `${s}.0` : s;
  }
  // toExponential() without an argument yields the shortest round-trip digits (ECMA-262 Number::toString rules).
  const t = x.toExponential();
  const e = t.indexOf('e');
  const mantissa = t.slice(0, e);
  const exp = Number.parseInt(t.slice(e + 1), 10);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  // Unreachable for finite doubles (the fixed range was handled above), kept for safety.
  return String(x);
}

/** Values `dumps` can write: the TAHOE value model plus plain records and arrays used for views. */
export type JsonOut =
  | PyValue
  | undefined
  | readonly JsonOut[]
  | { readonly [key: string]: JsonOut }
  | Map<string, JsonOut>;

/**
 * Python `json.dumps(v, ensure_ascii=True, separators=(",", ":"))`. Maps and plain objects keep insertion order
 * (plain objects are only used with non-numeric keys); `undefined` members are left out.
 */
export function dumps(v: JsonOut): string {
  const parts: string[] = [];
  write(v, parts);
  return parts.join('');
}

function write(v: JsonOut, out: string[]): void {
  if (v === null || v === undefined) {
    out.push('null');
    return;
  }
  switch (typeof v) {
    case 'string':
      out.push(quote(v));
      return;
    case 'number':
      out.push(String(v));
      return;
    case 'bigint':
      out.push(v.toString());
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
  }
  if (v instanceof PyFloat) {
    out.push(pyFloatJson(v.value));
    return;
  }
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(',');
      write(v[i] as JsonOut, out);
    }
    out.push(']');
    return;
  }
  out.push('{');
  let first = true;
  const entries: Iterable<[string, JsonOut]> =
    v instanceof Map ? v.entries() : Object.entries(v as { readonly [key: string]: JsonOut });
  for (const [k, x] of entries) {
    if (x === undefined) continue;
    if (!first) out.push(',');
    first = false;
    out.push(quote(k), ':');
    write(x, out);
  }
  out.push('}');
}

/** Python's `type(v).__name__`, for error messages that match the reference's. */
export function pyTypeName(v: PyValue): string {
  if (v === null) return 'NoneType';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'int';
    case 'string':
      return 'str';
  }
  if (v instanceof PyFloat) return 'float';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

export function isDict(v: PyValue): v is PyDict {
  return v instanceof Map;
}
