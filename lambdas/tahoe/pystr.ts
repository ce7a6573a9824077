/**
 * Python `str` semantics that differ from JavaScript's and enter TAHOE hashes or validation.
 * JS strings are UTF-16; Python strings are code points. Every helper here states how it bridges the two.
 */

/**
 * Python's `str.isspace()` (Unicode White_Space plus the ASCII separators 0x1C–0x1F), the set `str.strip()`
 * removes. Not JS `trim()`: U+FEFF is kept (JS trims it), 0x1C–0x1F and U+0085 are stripped (JS keeps them).
 * All members are BMP non-surrogates, so testing UTF-16 units is exact.
 */
export function isPySpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Python `s.strip()` with no argument. */
export function pyStrip(s: string): string {
  const n = s.length;
  if (n === 0) return s;
  if (!isPySpace(s.charCodeAt(0)) && !isPySpace(s.charCodeAt(n - 1))) return s;
  let i = 0;
  while (i < n && isPySpace(s.charCodeAt(i))) i++;
  let j = n;
  while (j > i && isPySpace(s.charCodeAt(j - 1))) j--;
  return s.slice(i, j);
}

// Python's str.isidentifier(): XID_Start or '_' then XID_Continue (ECMAScript knows both properties). With the
// u flag a lone surrogate is one code point that is in neither class, so such strings are rejected, as in Python.
const IDENTIFIER = /^[\p{XID_Start}_]\p{XID_Continue}*$/u;
const ASCII_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Python `s.isidentifier()`: what TAHOE requires of every sub_type (and so of typetags). */
export function isIdentifier(s: string): boolean {
  return ASCII_IDENTIFIER.test(s) || IDENTIFIER.test(s);
}

/**
 * Compares two strings in Python's order (by code point). UTF-16 order differs as soon as a surrogate meets a
 * unit in U+E000–U+FFFF, so those cases fall back to comparing code points, pairing surrogates as Python's JSON
 * scanner does and leaving unpaired ones as their own code point.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x < 0xd800 && y < 0xd800) return x - y;
      return slowCompare(a, b);
    }
  }
  return a.length - b.length;
}

function slowCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(j) as number;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

/** Python `repr(s)` for ASCII-safe error messages (close enough: quotes and escapes as Python prints them). */
export function pyRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === q || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += `\\u${c.toString(16)}`;
    else out += ch;
  }
  return out + q;
}

/** Drops the first and the last code point, like Python's `s[1:-1]` (JS slice would split a surrogate pair). */
export function sliceInnerCodePoints(s: string): string {
  if (s.length === 0) return s;
  const first = s.codePointAt(0) as number;
  const start = first > 0xffff ? 2 : 1;
  let end = s.length - 1;
  const lastUnit = s.charCodeAt(end);
  if (lastUnit >= 0xdc00 && lastUnit <= 0xdfff && end > 0) {
    const prev = s.charCodeAt(end - 1);
    if (prev >= 0xd800 && prev <= 0xdbff) end -= 1;
  }
  return start >= end ? '' : s.slice(start, end);
}
