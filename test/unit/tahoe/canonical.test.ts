import fc from 'fast-check';
import {
  CanonicalTooLargeError,
  canonical,
  canonicalAndJson,
  eventHash,
  instanceHash,
  sha256Hex,
} from '../../../lambdas/tahoe/canonical';
import { dumps, loads, PyFloat, type PyValue, pyTypeName } from '../../../lambdas/tahoe/json';
import { RecordStore } from '../../../lambdas/tahoe/model';
import { compareCodePoints, pyStrip } from '../../../lambdas/tahoe/pystr';
import { readJsonl, str } from './golden';

const vectors = readJsonl('canonical_vectors.jsonl');

describe('canonical_vectors.jsonl', () => {
  it('holds the vectors this suite expects', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(270);
  });

  it.each(vectors.map((v) => [str(v, 'id'), v] as const))('reproduces canonical vector %s', (_id, v) => {
    const value = loads(str(v, 'json'));
    expect(pyTypeName(value)).toBe(v.get('py_type'));
    const c = canonical(value);
    expect(c).toBe(v.get('canonical'));
    // The raw path computes both texts in one walk; it must agree with each.
    expect(canonicalAndJson(value)).toEqual({ canonical: c, json: dumps(value) });
    const attr = v.get('sha256_attr');
    if (attr !== null) expect(instanceHash('attribute', 'x', c)).toBe(attr);
  });
});

describe('canonical', () => {
  it('double-encodes nested values and sorts de-duplicated lists (TAHOE.md examples)', () => {
    expect(canonical(['b', 'a', 'a', 1])).toBe('["\\"a\\"", "\\"b\\"", "1"]');
    expect(
      canonical(
        new Map<string, PyValue>([
          ['b', 1],
          ['a', 'x'],
        ]),
      ),
    ).toBe('{"a": "\\"x\\"", "b": "1"}');
    expect(canonical('café')).toBe('"caf\\u00e9"');
  });

  it('reproduces the known answers of TAHOE.md', () => {
    const store = new RecordStore();
    expect(store.attribute('ipv4', '1.1.1.1').hash).toBe(
      '4469d1e06fdd2b03ce89abf4dcc354df0be231b97e7293fe1750232d2d3b23a6',
    );
    const url = store.object('url', [
      store.attribute('url', 'example.com'),
      store.object('host', [store.attribute('ipv4', '1.1.1.1')]),
    ]);
    expect(url.hash).toBe('b228a4f398f3b974f16ba18c741dbeb09655e4ec9021b7e9c8d90a4210977ce6');
    const orgid = 'a441b15fe9a3cf56661190a0b93b9dec7d04127288cc87250967cf3b52894d11';
    expect(store.event('test', [store.attribute('test', 'test')], orgid, -1).hash).toBe(
      '2a3cca131a1724c92cc1a823da9603b60bf037550e07bcabd1f1622d77762983',
    );
    expect(store.attribute('status', 'wait').hash).toBe(
      '64d6f946a875d0fc05774ef1e1fe4eaa4b2f1700c71df9a1bb33b0c0cfcbad89',
    );
  });

  it('hashes an event with str(float(timestamp)): an int and the equal float give one event', () => {
    const a = eventHash('x', 'org', 1600000000, '{}');
    expect(a).toBe(sha256Hex('eventxorg1600000000.0{}'));
    expect(eventHash('x', 'org', Number.POSITIVE_INFINITY, '{}')).toBe(sha256Hex('eventxorginf{}'));
  });

  it('sorts dict keys by code point, not by UTF-16 unit (U+FFFF before an astral key)', () => {
    const d = new Map<string, PyValue>([
      ['😀', 1],
      ['\uffff', 2],
    ]);
    expect(canonical(d)).toBe('{"\\uffff": "2", "\\ud83d\\ude00": "1"}');
    expect(compareCodePoints('\uffff', '😀')).toBeLessThan(0);
    expect(compareCodePoints('\udc80', '😀')).toBeLessThan(0);
    expect(compareCodePoints('\ud800\ue000', '\ud800\udc00')).toBeLessThan(0);
  });

  it('refuses, within its budget, a nesting whose double encoding explodes', () => {
    let deep: PyValue = 'x"';
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => canonical(deep, 1_000_000)).toThrow(CanonicalTooLargeError);
  });
});

// Strings of any UTF-16 units (lone surrogates, NUL, non-ASCII included), of code points, and of ASCII.
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
);

// Arbitrary TAHOE values (ints, floats, strings, bools, null, lists and dicts of them).
const { value: anyValueUntyped } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.integer(),
    fc.double().map((x) => new PyFloat(x)),
    anyText,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc
      .array(fc.tuple(anyText, tie('value')), { maxLength: 5 })
      .map((e) => new Map<string, PyValue>(e as [string, PyValue][])),
  ),
}));
const anyValue = anyValueUntyped as fc.Arbitrary<PyValue>;

// Characters Python's str.strip() removes, and look-alikes it keeps.
const STRIPPED = [
  ...'\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000',
  ...Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)),
];
const KEPT = ['\ufeff', '\u200b', '\u180e', '\u0000', '\u2060', '\u007f', '\u200c'];

describe('canonical properties', () => {
  it('never changes with the order of a list or with duplicates in it', () => {
    fc.assert(
      fc.property(fc.array(anyValue, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), (list, picks) => {
        const extra = picks.filter(() => list.length > 0).map((p) => list[p % list.length] as PyValue);
        const shuffled = [...list, ...extra].reverse();
        expect(canonical(shuffled)).toBe(canonical(list));
      }),
    );
  });

  it('never changes when whitespace that Python strips surrounds a string', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.array(fc.constantFrom(...STRIPPED), { maxLength: 4 }),
        fc.array(fc.constantFrom(...STRIPPED), { maxLength: 4 }),
        (s, before, after) => {
          expect(canonical(before.join('') + s + after.join(''))).toBe(canonical(s));
          expect(canonical([`${before.join('')}${s}`])).toBe(canonical([s]));
        },
      ),
    );
  });

  it('always changes when whitespace that Python keeps surrounds a string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.constantFrom(...KEPT), fc.boolean(), (s, ch, front) => {
        const changed = front ? ch + s : s + ch;
        expect(canonical(changed)).not.toBe(canonical(s));
        expect(pyStrip(changed)).not.toBe(pyStrip(s));
      }),
    );
  });

  it('always tells an int from the equal float', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), (n) => {
        expect(canonical(n)).not.toBe(canonical(new PyFloat(n)));
        expect(canonical([n])).not.toBe(canonical([new PyFloat(n)]));
      }),
    );
  });

  it('gives in one walk the same canonical and JSON texts as canonical() and dumps()', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        expect(canonicalAndJson(v)).toEqual({ canonical: canonical(v), json: dumps(v) });
      }),
    );
  });

  it('is printable ASCII for any value', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        expect(canonical(v)).toMatch(/^[\x20-\x7e]*$/);
      }),
    );
  });
});
