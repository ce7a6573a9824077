/**
 * Timestamps exactly as the reference computes them: `datetime.fromisoformat(text.replace("Z", "+00:00"))
 * .timestamp()` under CPython 3.8 (the reference's tested version), at microsecond precision.
 *
 * `Date.parse` is unusable here: it truncates to milliseconds and accepts other spellings. The parser below
 * follows CPython 3.8's C implementation state by state (which spellings it accepts is part of the contract:
 * e.g. 5 or 7 fractional digits and a lowercase `z` are rejected, `HH` alone or `HH:MM.ffffff` are accepted).
 */
import { PyError } from './errors';
import { pyRepr } from './pystr';

/** A parsed ISO datetime: calendar fields plus an optional UTC offset (seconds and microseconds). */
export interface IsoDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly microsecond: number;
  /** undefined for a naive datetime. */
  readonly offsetSeconds?: number;
  readonly offsetMicroseconds?: number;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

/** Days from 1970-01-01 to the given proleptic Gregorian date. */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function invalid(text: string): PyError {
  return new PyError('ValueError', `Invalid isoformat string: ${pyRepr(text)}`);
}

/** Reads `n` ASCII digits at `i` (a NUL or the end of the text stops it, as in C). */
function digits(s: string, i: number, n: number): number | undefined {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k);
    if (!(c >= 0x30 && c <= 0x39)) return undefined;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/** The C string's view: NUL past the end, and an embedded NUL reads as NUL too. */
function at(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : 0;
}

interface Hms {
  rv: number;
  h: number;
  m: number;
  s: number;
  us: number;
}

/** CPython 3.8 `parse_hh_mm_ss_ff(tstr, tstr_end)`; positions index `s`. */
function parseHhMmSsFf(s: string, start: number, end: number): Hms {
  const vals = [0, 0, 0];
  let p = start;
  for (let i = 0; i < 3; i++) {
    const v = digits(s, p, 2);
    if (v === undefined) return { rv: -3, h: 0, m: 0, s: 0, us: 0 };
    vals[i] = v;
    p += 2;
    const c = at(s, p);
    p++;
    if (p >= end)
      return { rv: c !== 0 ? 1 : 0, h: vals[0] as number, m: vals[1] as number, s: vals[2] as number, us: 0 };
    if (c === 0x3a) continue;
    if (c === 0x2e) break;
    return { rv: -4, h: 0, m: 0, s: 0, us: 0 };
  }
  const remains = end - p;
  if (remains !== 6 && remains !== 3) return { rv: -3, h: 0, m: 0, s: 0, us: 0 };
  const frac = digits(s, p, remains);
  if (frac === undefined) return { rv: -3, h: 0, m: 0, s: 0, us: 0 };
  p += remains;
  return {
    rv: at(s, p) !== 0 ? 1 : 0,
    h: vals[0] as number,
    m: vals[1] as number,
    s: vals[2] as number,
    us: remains === 3 ? frac * 1000 : frac,
  };
}

/** CPython 3.8 `datetime.fromisoformat(text)`. Throws PyError ValueError like the reference. */
export function fromIsoFormat(text: string): IsoDateTime {
  // PyUnicode_AsUTF8AndSize fails on lone surrogates: an invalid string for fromisoformat.
  if (/\p{Surrogate}/u.test(text)) throw invalid(text);
  const year = digits(text, 0, 4);
  if (year === undefined) throw invalid(text);
  if (at(text, 4) !== 0x2d) throw invalid(text);
  const month = digits(text, 5, 2);
  if (month === undefined) throw invalid(text);
  if (at(text, 7) !== 0x2d) throw invalid(text);
  const day = digits(text, 8, 2);
  if (day === undefined) throw invalid(text);
  let hour = 0;
  let minute = 0;
  let second = 0;
  let microsecond = 0;
  let offsetSeconds: number | undefined;
  let offsetMicroseconds: number | undefined;
  if (text.length > 10) {
    // The separator is any single character (CPython skips it by its UTF-8 length).
    const sep = text.codePointAt(10) as number;
    const start = 10 + (sep > 0xffff ? 2 : 1);
    // Everything after the separator must be ASCII to parse; measuring it in UTF-16 units is then exact.
    const time = text.slice(start);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the C parser reads ASCII bytes only
    if (!/^[\x00-\x7f]*$/.test(time)) throw invalid(text);
    const end = time.length;
    let tz = 0;
    do {
      const c = at(time, tz);
      if (c === 0x2b || c === 0x2d) break;
    } while (++tz < end);
    const t = parseHhMmSsFf(time, 0, tz);
    if (t.rv < 0) throw invalid(text);
    hour = t.h;
    minute = t.m;
    second = t.s;
    microsecond = t.us;
    if (tz >= end) {
      if (t.rv === 1) throw invalid(text);
    } else {
      const tzlen = end - tz;
      if (tzlen !== 6 && tzlen !== 9 && tzlen !== 16) throw invalid(text);
      const sign = at(time, tz) === 0x2d ? -1 : 1;
      const o = parseHhMmSsFf(time, tz + 1, end);
      if (o.rv !== 0) throw invalid(text);
      offsetSeconds = sign * (o.h * 3600 + o.m * 60 + o.s);
      offsetMicroseconds = sign * o.us;
    }
  }
  if (year < 1) throw new PyError('ValueError', `year ${year} is out of range`);
  if (month < 1 || month > 12) throw new PyError('ValueError', 'month must be in 1..12');
  const dim = month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > dim) throw new PyError('ValueError', 'day is out of range for month');
  if (hour > 23) throw new PyError('ValueError', 'hour must be in 0..23');
  if (minute > 59) throw new PyError('ValueError', 'minute must be in 0..59');
  if (second > 59) throw new PyError('ValueError', 'second must be in 0..59');
  if (offsetSeconds !== undefined) {
    const totalUs = offsetSeconds * 1_000_000 + (offsetMicroseconds ?? 0);
    if (Math.abs(totalUs) >= 86_400_000_000) {
      throw new PyError(
        'ValueError',
        'offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24).',
      );
    }
  }
  return { year, month, day, hour, minute, second, microsecond, offsetSeconds, offsetMicroseconds };
}

/**
 * `dt.timestamp()`. An aware datetime gives total microseconds since the epoch divided by 10^6, correctly
 * rounded (CPython's int/int true division). A naive one is read as UTC (the corpus and Cowrie's logs are UTC)
 * and, like CPython, computed as whole seconds + microsecond / 1e6 in double arithmetic — which can differ from
 * the aware result in the last bit, so both paths are kept.
 */
export function isoTimestamp(dt: IsoDateTime): number {
  const seconds = daysFromCivil(dt.year, dt.month, dt.day) * 86400 + dt.hour * 3600 + dt.minute * 60 + dt.second;
  if (dt.offsetSeconds === undefined) return seconds + dt.microsecond / 1e6;
  const utcSeconds = seconds - dt.offsetSeconds;
  const us = dt.microsecond - (dt.offsetMicroseconds ?? 0);
  return exactMicrosToSeconds(utcSeconds, us);
}

/** (seconds·10^6 + micros) / 10^6 rounded once, as Python's int true division does. */
export function exactMicrosToSeconds(seconds: number, micros: number): number {
  // Below 2^53 both operands are exact doubles and IEEE division rounds correctly.
  if (Math.abs(seconds) < 9e9) return (seconds * 1_000_000 + micros) / 1e6;
  // Beyond, go through the exact decimal text: Number() rounds a decimal string correctly.
  const total = BigInt(seconds) * 1_000_000n + BigInt(micros);
  const neg = total < 0n;
  const abs = neg ? -total : total;
  const frac = (abs % 1_000_000n).toString().padStart(6, '0');
  return Number(`${neg ? '-' : ''}${abs / 1_000_000n}.${frac}`);
}

/** The reference Cowrie filter's conversion of a `timestamp` field: replace every "Z" by "+00:00", then parse. */
export function cowrieTimestamp(text: string): number {
  return cowrieFastPath(text) ?? isoTimestamp(fromIsoFormat(text.replaceAll('Z', '+00:00')));
}

function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 0x30;
  const b = s.charCodeAt(i + 1) - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Cowrie's own spelling, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, read without the general parser (it is on the hot path).
 * Gives exactly what the general path gives, or undefined to let it decide (and raise) on anything else.
 */
function cowrieFastPath(s: string): number | undefined {
  if (s.length !== 27 || s.charCodeAt(26) !== 0x5a || s.charCodeAt(19) !== 0x2e) return undefined;
  if (s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || s.charCodeAt(10) !== 0x54) return undefined;
  if (s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return undefined;
  const hi = d2(s, 0);
  const lo = d2(s, 2);
  const month = d2(s, 5);
  const day = d2(s, 8);
  const hour = d2(s, 11);
  const minute = d2(s, 14);
  const second = d2(s, 17);
  const f1 = d2(s, 20);
  const f2 = d2(s, 22);
  const f3 = d2(s, 24);
  if (Math.min(hi, lo, month, day, hour, minute, second, f1, f2, f3) < 0) return undefined;
  const year = hi * 100 + lo;
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const dim = month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > dim) return undefined;
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return exactMicrosToSeconds(seconds, f1 * 10000 + f2 * 100 + f3);
}
