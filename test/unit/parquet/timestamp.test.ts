import fc from 'fast-check';
import { isoToMicros, microsToIso } from '../../../lambdas/parquet/timestamp';

describe('isoToMicros', () => {
  it.each([
    ['1970-01-01T00:00:00Z', 0n],
    ['1970-01-01T00:00:00.000001Z', 1n],
    ['2021-03-01T12:00:05.123Z', 1614600005123000n],
    ['2021-03-01T12:00:05.123456Z', 1614600005123456n],
    ['2021-03-01T12:00:05.1+00:00', 1614600005100000n],
    ['1969-12-31T23:59:59.999999Z', -1n],
    ['2024-02-29T23:59:59Z', 1709251199000000n],
    ['0001-01-01T00:00:00Z', -62135596800000000n],
    ['9999-12-31T23:59:59.999999Z', 253402300799999999n],
  ])('reads %s as %p µs', (text, micros) => {
    expect(isoToMicros(text)).toBe(micros);
  });

  it.each([
    '2021-03-01T12:00:05',
    '2021-03-01 12:00:05Z',
    '2021-03-01T12:00:05+01:00',
    '2021-03-01T12:00:05.1234567Z',
    '2021-02-29T00:00:00Z',
    '2021-04-31T00:00:00Z',
    '2021-13-01T00:00:00Z',
    '2021-03-01T24:00:00Z',
    '2016-12-31T23:59:60Z',
    '0000-01-01T00:00:00Z',
    '+012021-03-01T00:00:00Z',
    '',
  ])('refuses %p', (text) => {
    expect(isoToMicros(text)).toBeUndefined();
  });

  it('agrees with Date for every toISOString() output', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        (d) => {
          expect(isoToMicros(d.toISOString())).toBe(BigInt(d.getTime()) * 1000n);
        },
      ),
    );
  });

  it('is the inverse of microsToIso', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -62135596800000000n, max: 253402300799999999n }), (micros) => {
        expect(isoToMicros(microsToIso(micros))).toBe(micros);
      }),
    );
  });
});

describe('microsToIso', () => {
  it('writes six fraction digits, flooring before the epoch', () => {
    expect(microsToIso(1614600005123456n)).toBe('2021-03-01T12:00:05.123456Z');
    expect(microsToIso(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(microsToIso(0n)).toBe('1970-01-01T00:00:00.000000Z');
  });

  it('refuses instants after year 9999', () => {
    expect(() => microsToIso(253402300800000000n)).toThrow(RangeError);
  });
});
