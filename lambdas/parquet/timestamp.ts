/**
 * ISO 8601 UTC text ↔ microseconds since the epoch, exactly (no float rounding): the rows carry instants as
 * text (`Date.prototype.toISOString()` or a microsecond variant of it) and Parquet stores TIMESTAMP(MICROS) as
 * INT64.
 *
 * Only the UTC forms are accepted (`Z` or `+00:00`), with 0–6 fraction digits: an offset or a finer fraction would
 * have to be converted or rounded, and a silently shifted receipt time is worse than a refused row.
 */

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)$/;

/** Microseconds since 1970-01-01T00:00:00Z, or undefined when the text is not a valid UTC instant. */
export function isoToMicros(text: string): bigint | undefined {
  const m = ISO_UTC.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (year < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  // A day that does not exist (2021-02-30) rolls over into the next month: refuse it rather than move it.
  if (at.getUTCFullYear() !== year || at.getUTCMonth() !== month - 1 || at.getUTCDate() !== day) return undefined;
  at.setUTCHours(hour, minute, second, 0);
  const micros = frac === undefined ? 0n : BigInt(frac.padEnd(6, '0'));
  return BigInt(at.getTime()) * 1000n + micros;
}

/** The inverse of isoToMicros, always with six fraction digits: `2021-03-01T12:00:05.123456Z`. */
export function microsToIso(micros: bigint): string {
  // Floor division, so that instants before 1970 keep a non-negative fraction.
  let seconds = micros / 1_000_000n;
  let fraction = micros % 1_000_000n;
  if (fraction < 0n) {
    seconds -= 1n;
    fraction += 1_000_000n;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString();
  if (!iso.endsWith('.000Z') || iso.length !== 24) throw new RangeError(`timestamp out of range: ${micros}µs`);
  return `${iso.slice(0, 19)}.${fraction.toString().padStart(6, '0')}Z`;
}
