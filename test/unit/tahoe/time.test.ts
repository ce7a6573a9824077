import { canonical, eventHash } from '../../../lambdas/tahoe/canonical';
import { PyError } from '../../../lambdas/tahoe/errors';
import { pyFloatStr } from '../../../lambdas/tahoe/json';
import { cowrieTimestamp, fromIsoFormat } from '../../../lambdas/tahoe/time';
import { float, readJsonl, str } from './golden';

const vectors = readJsonl('event_vectors.jsonl');

describe('event_vectors.jsonl', () => {
  it.each(vectors.map((v) => [str(v, 'id'), str(v, 'timestamp_text'), v] as const))(
    'reproduces event vector %s (%s)',
    (_id, text, v) => {
      const ts = cowrieTimestamp(text);
      expect(ts).toBe(float(v, 'timestamp'));
      expect(pyFloatStr(ts)).toBe(v.get('timestamp_repr'));
      const data = v.get('data') ?? null;
      expect(eventHash(str(v, 'sub_type'), str(v, 'orgid'), ts, canonical(data))).toBe(v.get('_hash'));
    },
  );
});

describe('cowrieTimestamp (CPython 3.8 fromisoformat + timestamp)', () => {
  it('keeps microseconds exactly (Date.parse would truncate to milliseconds)', () => {
    expect(cowrieTimestamp('2020-04-28T00:00:05.834291Z')).toBe(1588032005.834291);
    expect(pyFloatStr(cowrieTimestamp('2020-04-28T00:00:05.834291Z'))).toBe('1588032005.834291');
  });

  it('applies the offset: the same instant in three zones gives one timestamp', () => {
    const utc = cowrieTimestamp('2021-03-01T12:00:00.123456Z');
    expect(cowrieTimestamp('2021-03-01T05:00:00.123456-07:00')).toBe(utc);
    expect(cowrieTimestamp('2021-03-01T17:30:00.123456+05:30')).toBe(utc);
  });

  it('reads a date alone as midnight and a naive time as UTC', () => {
    expect(cowrieTimestamp('2021-03-01')).toBe(1614556800);
    expect(cowrieTimestamp('2021-03-01 12:00:00')).toBe(1614600000);
    expect(cowrieTimestamp('2021-03-01T12')).toBe(1614600000);
  });

  it('rounds far-future and pre-1970 times like Python int division', () => {
    expect(cowrieTimestamp('9999-12-31T23:59:59.999999+00:00')).toBe(253402300800);
    expect(cowrieTimestamp('0001-01-01T00:00:00.000001+00:00')).toBe(-62135596800);
    expect(cowrieTimestamp('1969-06-24T06:25:34.659256Z')).toBe(-16479265.340744);
  });

  it.each([
    ['lowercase z', '2021-03-01T12:00:00z'],
    ['five fractional digits', '2021-03-01T12:00:00.12345Z'],
    ['seven fractional digits', '2021-03-01T12:00:00.1234567Z'],
    ['ISO basic format', '20210301T120000Z'],
    ['a leap second', '2016-12-31T23:59:60Z'],
    ['a 24h offset', '2021-03-01T12:00:00+24:00'],
    ['an offset without colon', '2021-03-01T12:00:00+0530'],
    ['February 30', '2021-02-30T00:00:00Z'],
    ['year 0', '0000-01-01T00:00:00Z'],
    ['a trailing space', '2021-03-01T12:00:00Z '],
    ['an empty time', '2021-03-01T'],
    ['a lone surrogate', '2021-03-01T12:00:00\ud800'],
  ])('rejects %s with the ValueError of the reference', (_name, text) => {
    expect(() => cowrieTimestamp(text)).toThrow(PyError);
    try {
      cowrieTimestamp(text);
    } catch (err) {
      expect((err as PyError).pyType).toBe('ValueError');
    }
  });

  it('accepts the separators and short forms CPython 3.8 accepts', () => {
    expect(fromIsoFormat('2021-03-01x12:00').hour).toBe(12);
    expect(fromIsoFormat('2021-03-01T12:30.500000').microsecond).toBe(500000);
    expect(fromIsoFormat('2021-03-01T12:00:00.123+05:30:15').offsetSeconds).toBe(5 * 3600 + 30 * 60 + 15);
  });
});
