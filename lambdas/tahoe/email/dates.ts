/**
 * Date headers as the reference reads them: `email.utils.parsedate_to_datetime` (Python 3.8), the string
 * `format_datetime` rebuilds, and `datetime.timestamp()`.
 *
 * Python 3.8 raises at `msg['date']` for any date it cannot turn into a datetime (unparsable text: TypeError;
 * second 60, day 31 of a 30-day month, an offset of 24 hours or more: ValueError). Python 3.10+ instead keeps the
 * text and sets `.datetime` to None, so `.timestamp()` fails later; either way the reference filter errors.
 */
import { pyInt, pyIsDigit, pySplitWs } from './py-text';

const MONTHS = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const ZONES: Record<string, number> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  AST: -400,
  ADT: -300,
  EST: -500,
  EDT: -400,
  CST: -600,
  CDT: -500,
  MST: -700,
  MDT: -600,
  PST: -800,
  PDT: -700,
};

export interface ParsedDate {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /**
   * 'offset': an explicit zone (offsetSeconds east of UTC). 'minus-zero': -0000 and its spellings, which Python
   * parses as a naive datetime. 'none': no zone or one Python does not know, also naive.
   */
  zone: 'offset' | 'minus-zero' | 'none';
  offsetSeconds: number;
}

function firstCodePoint(s: string): string {
  const cp = s.codePointAt(0);
  return cp === undefined ? '' : String.fromCodePoint(cp);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** `_parsedate_tz` followed by the datetime constructor; undefined wherever Python 3.8 raises. */
export function parseDate(text: string): ParsedDate | undefined {
  let data = pySplitWs(text);
  const head = data[0];
  if (head === undefined) return undefined;
  if (head.endsWith(',') || DAYS.includes(head.toLowerCase())) data.shift();
  else {
    const i = head.lastIndexOf(',');
    if (i >= 0) data[0] = head.slice(i + 1);
  }
  if (data.length === 3) {
    const stuff = (data[0] as string).split('-');
    if (stuff.length === 3) data = [...stuff, ...data.slice(1)];
  }
  if (data.length === 4) {
    const s = data[3] as string;
    let i = s.indexOf('+');
    if (i === -1) i = s.indexOf('-');
    if (i > 0) data = [...data.slice(0, 3), s.slice(0, i), s.slice(i)];
    else data.push('');
  }
  if (data.length < 5) return undefined;
  let [dd, mm, yy, tm, tz] = data.slice(0, 5) as [string, string, string, string, string];
  if (!dd || !mm || !yy) return undefined;
  mm = mm.toLowerCase();
  if (!MONTHS.includes(mm)) {
    [dd, mm] = [mm, dd.toLowerCase()];
    if (!MONTHS.includes(mm)) return undefined;
  }
  let month = MONTHS.indexOf(mm) + 1;
  if (month > 12) month -= 12;
  if (dd.endsWith(',')) dd = dd.slice(0, -1);
  if (yy.indexOf(':') > 0) [yy, tm] = [tm, yy];
  if (yy.endsWith(',')) {
    yy = yy.slice(0, -1);
    if (!yy) return undefined;
  }
  if (!pyIsDigit(firstCodePoint(yy))) [yy, tz] = [tz, yy];
  if (!tm) return undefined;
  if (tm.endsWith(',')) tm = tm.slice(0, -1);
  let fields = tm.split(':');
  let thh: string;
  let tmm: string;
  let tss: string;
  if (fields.length === 2) [thh, tmm, tss] = [fields[0] as string, fields[1] as string, '0'];
  else if (fields.length === 3) [thh, tmm, tss] = fields as [string, string, string];
  else if (fields.length === 1 && (fields[0] as string).includes('.')) {
    fields = (fields[0] as string).split('.');
    if (fields.length === 2) [thh, tmm, tss] = [fields[0] as string, fields[1] as string, '0'];
    else if (fields.length === 3) [thh, tmm, tss] = fields as [string, string, string];
    else return undefined;
  } else return undefined;
  let year = pyInt(yy);
  const day = pyInt(dd);
  const hour = pyInt(thh);
  const minute = pyInt(tmm);
  const second = pyInt(tss);
  if (year === undefined || day === undefined || hour === undefined || minute === undefined || second === undefined) {
    return undefined;
  }
  if (year < 100) year += year > 68 ? 1900 : 2000;
  let zone: ParsedDate['zone'] = 'none';
  let offset: number | undefined;
  const upper = tz.toUpperCase();
  if (Object.hasOwn(ZONES, upper)) offset = ZONES[upper];
  else {
    offset = pyInt(upper);
    if (offset === 0 && upper.startsWith('-')) {
      offset = undefined;
      zone = 'minus-zero';
    }
  }
  let offsetSeconds = 0;
  if (offset !== undefined) {
    zone = 'offset';
    if (offset) {
      const sign = offset < 0 ? -1 : 1;
      const abs = Math.abs(offset);
      offsetSeconds = sign * (Math.floor(abs / 100) * 3600 + (abs % 100) * 60);
    }
  }
  // datetime(...) and timezone(timedelta(...)) range checks.
  if (year < 1 || year > 9999 || month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if (Math.abs(offsetSeconds) >= 86400) return undefined;
  return { year, month, day, hour, minute, second, zone, offsetSeconds };
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Seconds since the epoch of a proleptic-Gregorian wall time read as UTC. */
function utcSeconds(d: Pick<ParsedDate, 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second'>): number {
  const date = new Date(0);
  date.setUTCFullYear(d.year, d.month - 1, d.day);
  date.setUTCHours(d.hour, d.minute, d.second, 0);
  return date.getTime() / 1000;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** `email.utils.format_datetime`: what `str(msg['date'])` shows. A naive datetime gets '-0000'. */
export function formatDate(d: ParsedDate): string {
  const weekday = (new Date(utcSeconds(d) * 1000).getUTCDay() + 6) % 7;
  let zone = '-0000';
  if (d.zone === 'offset') {
    const abs = Math.abs(d.offsetSeconds);
    zone = `${d.offsetSeconds < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600), 2)}${pad(Math.floor((abs % 3600) / 60), 2)}`;
  }
  return `${WEEKDAYS[weekday]}, ${pad(d.day, 2)} ${MONTH_NAMES[d.month - 1]} ${pad(d.year, 4)} ${pad(d.hour, 2)}:${pad(d.minute, 2)}:${pad(d.second, 2)} ${zone}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** An Intl formatter for an IANA zone; an unknown name falls back to UTC. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    const options: Intl.DateTimeFormatOptions = {
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    };
    try {
      f = new Intl.DateTimeFormat('en-US', { ...options, timeZone });
    } catch {
      f = new Intl.DateTimeFormat('en-US', { ...options, timeZone: 'UTC' });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's wall clock at instant `u` (seconds), as seconds since the epoch: Python's `local(u)`. */
function local(f: Intl.DateTimeFormat, u: number): number {
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(u * 1000))) parts[p.type] = p.value;
  let year = Number(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
  return utcSeconds({
    year,
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  });
}

/**
 * datetime.timestamp() of a naive datetime (CPython's local_to_seconds with fold=0): in a repeated hour the
 * first (daylight) reading wins; in a skipped hour the time is read with the offset in force before the jump.
 */
function naiveTimestamp(d: ParsedDate, timeZone: string): number {
  const f = formatterFor(timeZone);
  const t = utcSeconds(d);
  const a = local(f, t) - t;
  const u1 = t - a;
  const t1 = local(f, u1);
  let b: number;
  if (t1 === t) {
    const u2 = u1 - 86400;
    b = local(f, u2) - u2;
    if (a === b) return u1;
  } else {
    b = t1 - u1;
  }
  const u2 = t - b;
  if (local(f, u2) === t) return u2;
  if (t1 === t) return u1;
  return Math.max(u1, u2);
}

/**
 * `msg['date'].datetime.timestamp()`. A date with an explicit offset is exact. A date written with -0000 is
 * UTC (RFC 5322 §3.3; the reference ran with TZ=UTC). A date without a zone Python knows is read in `timeZone`.
 */
export function dateTimestamp(d: ParsedDate, timeZone: string): number {
  if (d.zone === 'offset') return utcSeconds(d) - d.offsetSeconds;
  if (d.zone === 'minus-zero') return utcSeconds(d);
  return naiveTimestamp(d, timeZone);
}
