import fc from 'fast-check';
import { BoundedInstanceSet } from '../../../lambdas/process/dedupe';

describe('BoundedInstanceSet', () => {
  test('reports a hash and variant as seen only after it was added', () => {
    const set = new BoundedInstanceSet(10);
    expect(set.seen('a', '')).toBe(false);
    expect(set.seen('a', '')).toBe(true);
    expect(set.seen('b', '')).toBe(false);
    expect(set.seen('a', '')).toBe(true);
  });

  test('tells variants of one hash apart, remembering the last four', () => {
    const set = new BoundedInstanceSet(10);
    // A session: its connect, the records between, its close, then a record logged after the close.
    expect(set.seen('session', '1|null|null')).toBe(false);
    expect(set.seen('session', 'null|null|null')).toBe(false);
    expect(set.seen('session', 'null|null|null')).toBe(true);
    expect(set.seen('session', 'null|9|8')).toBe(false);
    expect(set.seen('session', 'null|null|null')).toBe(true);
    expect(set.seen('session', '1|null|null')).toBe(true);
    for (const v of ['a', 'b', 'c', 'd']) expect(set.seen('session', v)).toBe(false);
    expect(set.seen('session', '1|null|null')).toBe(false);
  });

  test('never holds more than two generations, and forgets the oldest keys', () => {
    const set = new BoundedInstanceSet(3);
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) set.seen(k, '');
    expect(set.size).toBeLessThanOrEqual(6);
    expect(set.seen('a', '')).toBe(false);
    expect(set.seen('g', '')).toBe(true);
  });

  test('keeps a key that keeps recurring, however many others pass', () => {
    const set = new BoundedInstanceSet(4);
    for (let i = 0; i < 1000; i++) {
      set.seen(`k${i}`, '');
      expect(set.seen('hot', '')).toBe(i > 0);
    }
  });

  test('property: never says seen for a key it was not given, and holds at most 2 × capacity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fc.constantFrom('', 'x')), {
          maxLength: 200,
        }),
        (capacity, keys) => {
          const set = new BoundedInstanceSet(capacity);
          const given = new Set<string>();
          for (const [h, v] of keys) {
            const seen = set.seen(h, v);
            if (seen) expect(given.has(`${h}|${v}`)).toBe(true);
            given.add(`${h}|${v}`);
            expect(set.size).toBeLessThanOrEqual(2 * capacity);
          }
        },
      ),
    );
  });

  test('refuses a capacity that is not a positive integer', () => {
    expect(() => new BoundedInstanceSet(0)).toThrow(RangeError);
    expect(() => new BoundedInstanceSet(1.5)).toThrow(RangeError);
  });
});
