/**
 * Python `str` semantics that the email reader depends on and that JavaScript spells differently:
 * what counts as whitespace (`str.split()`, `str.strip()`), `str.isdigit()`, `int(text)`, and the
 * surrogate-escape convention Python uses for undecodable bytes (U+DC80..U+DCFF stand for bytes 0x80..0xFF).
 */
import { EmailError } from './types';

/** Raised where CPython raises an exception that the reference filter does not catch. */
export function pythonCrash(what: string): EmailError {
  return new EmailError('malformed', `the reference parser raises here: ${what}`);
}

// str.isspace(): bidi classes WS, B, S and category Zs.
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

export function isPySpace(ch: string): boolean {
  return ch.length === 1 && PY_SPACE.has(ch.charCodeAt(0));
}

export function pyStrip(s: string): string {
  return pyRstrip(pyLstrip(s));
}

export function pyLstrip(s: string): string {
  let i = 0;
  while (i < s.length && PY_SPACE.has(s.charCodeAt(i))) i++;
  return s.slice(i);
}

export function pyRstrip(s: string): string {
  let j = s.length;
  while (j > 0 && PY_SPACE.has(s.charCodeAt(j - 1))) j--;
  return s.slice(0, j);
}

/** `s.split()` with no argument: runs of whitespace separate, empty fields dropped. */
export function pySplitWs(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    if (PY_SPACE.has(s.charCodeAt(i))) {
      if (start >= 0) out.push(s.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

const DECIMAL = /^\p{Nd}$/u;
// Characters with Numeric_Type=Digit that are not decimal digits: `isdigit()` accepts them, `int()` does not.
const DIGIT_NOT_DECIMAL: ReadonlyArray<readonly [number, number]> = [
  [0xb2, 0xb3],
  [0xb9, 0xb9],
  [0x1369, 0x1371],
  [0x19da, 0x19da],
  [0x2070, 0x2070],
  [0x2074, 0x2079],
  [0x2080, 0x2089],
  [0x2460, 0x2468],
  [0x2474, 0x247c],
  [0x2488, 0x2490],
  [0x24ea, 0x24ea],
  [0x24f5, 0x24fd],
  [0x24ff, 0x24ff],
  [0x2776, 0x277e],
  [0x2780, 0x2788],
  [0x278a, 0x2792],
  [0x10a40, 0x10a43],
  [0x10e60, 0x10e68],
  [0x11052, 0x1105a],
  [0x1f100, 0x1f10a],
];

function isDecimalCp(cp: number): boolean {
  return DECIMAL.test(String.fromCodePoint(cp));
}

function isDigitCp(cp: number): boolean {
  if (isDecimalCp(cp)) return true;
  return DIGIT_NOT_DECIMAL.some(([lo, hi]) => cp >= lo && cp <= hi);
}

/** `s.isdigit()`: non-empty and every code point a digit. */
export function pyIsDigit(s: string): boolean {
  if (s.length === 0) return false;
  for (const ch of s) {
    if (!isDigitCp(ch.codePointAt(0) as number)) return false;
  }
  return true;
}

/** The decimal value of a Unicode decimal digit: Nd characters come in runs of ten, 0 to 9, in order. */
function decimalValue(cp: number): number {
  // A run can directly follow another run (mathematical digits); runs are always whole tens.
  let runStart = cp;
  while (runStart > 0 && isDecimalCp(runStart - 1)) runStart--;
  return (cp - runStart) % 10;
}

/**
 * `int(s)` for base 10: surrounding whitespace, one sign, Unicode decimal digits, single underscores between
 * digits. Returns undefined where Python raises ValueError. Values beyond 2^53 lose precision, which is harmless
 * here: every caller range-checks the result far below that.
 */
export function pyInt(s: string): number | undefined {
  const t = pyStrip(s);
  let i = 0;
  let sign = 1;
  if (t[0] === '+' || t[0] === '-') {
    sign = t[0] === '-' ? -1 : 1;
    i = 1;
  }
  let value = 0;
  let digits = 0;
  let lastUnderscore = false;
  const cps = Array.from(t.slice(i));
  for (const ch of cps) {
    if (ch === '_') {
      if (digits === 0 || lastUnderscore) return undefined;
      lastUnderscore = true;
      continue;
    }
    const cp = ch.codePointAt(0) as number;
    if (!isDecimalCp(cp)) return undefined;
    value = value * 10 + decimalValue(cp);
    digits++;
    lastUnderscore = false;
  }
  if (digits === 0 || lastUnderscore) return undefined;
  return sign * value;
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** True when the string holds a surrogate code point (Python: `s.encode()` fails). */
export function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isHigh(c)) {
      if (i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
        i++;
        continue;
      }
      return true;
    }
    if (isLow(c)) return true;
  }
  return false;
}

/**
 * `s.encode('utf-8', 'surrogateescape')`: U+DC80..U+DCFF become the raw bytes 0x80..0xFF; any other lone
 * surrogate makes Python raise UnicodeEncodeError.
 */
export function encodeUtf8SurrogateEscape(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (isHigh(c) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      c = ((c - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00) + 0x10000;
      i++;
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      out.push(c - 0xdc00);
      continue;
    } else if (isHigh(c) || isLow(c)) {
      throw pythonCrash('UnicodeEncodeError (surrogates not allowed)');
    }
    pushUtf8(out, c);
  }
  return Uint8Array.from(out);
}

function pushUtf8(out: number[], c: number): void {
  if (c < 0x80) out.push(c);
  else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
  else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
}

export type DecodeErrors = 'strict' | 'replace' | 'surrogateescape';

/**
 * Python's UTF-8 decoder. Invalid input is reported per maximal ill-formed subsequence (as Python and the
 * Unicode standard's recommended practice do): 'replace' writes one U+FFFD for it, 'surrogateescape' one escape
 * per byte, 'strict' gives up (undefined).
 */
export function decodeUtf8(bytes: Uint8Array, errors: DecodeErrors): string | undefined {
  const parts: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length) {
      parts.push(String.fromCodePoint(...run));
      run = [];
    }
  };
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      run.push(b);
      i++;
    } else {
      let need = 0;
      let lo = 0x80;
      let hi = 0xbf;
      let cp = 0;
      if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0x0f;
        if (b === 0xe0) lo = 0xa0;
        if (b === 0xed) hi = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x07;
        if (b === 0xf0) lo = 0x90;
        if (b === 0xf4) hi = 0x8f;
      }
      let j = i + 1;
      let ok = need > 0;
      for (let k = 0; ok && k < need; k++, j++) {
        const c = bytes[j];
        if (c === undefined || c < (k === 0 ? lo : 0x80) || c > (k === 0 ? hi : 0xbf)) ok = false;
        else cp = (cp << 6) | (c & 0x3f);
      }
      if (ok) {
        run.push(cp);
        i = j;
      } else {
        // The ill-formed subsequence ends before the byte that broke it (at least one byte long).
        const end = Math.max(i + 1, j - 1);
        if (errors === 'strict') return undefined;
        if (errors === 'replace') run.push(0xfffd);
        else for (let k = i; k < end; k++) run.push(0xdc00 + (bytes[k] as number));
        i = end;
      }
    }
    if (run.length > 8192) flush();
  }
  flush();
  return parts.join('');
}

/**
 * `utils._sanitize`: surrogate-escaped bytes go back to bytes, and the whole is read again as UTF-8 with
 * 'replace', so escaped bytes that happen to form UTF-8 become characters.
 */
export function sanitize(s: string): string {
  if (!hasLoneSurrogate(s)) return s;
  return decodeUtf8(encodeUtf8SurrogateEscape(s), 'replace') as string;
}
