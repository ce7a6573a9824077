import fc from 'fast-check';
import { canonicalAndJson } from '../../../lambdas/tahoe/canonical';
import { dumps, loads, PyFloat, type PyValue } from '../../../lambdas/tahoe/json';
import { readRaw } from '../../../lambdas/tahoe/raw';

const BIG = 32 * 1024 * 1024;

/** What readRaw must equal: loads, then canonical and dumps of the result (or the same error). */
function reference(text: string, maxDepth = 64): { ok: true; value: string } | { ok: false; error: string } {
  try {
    const data = loads(text, { maxDepth });
    const t = canonicalAndJson(data, BIG);
    return { ok: true, value: `${dumps(data)}|${t.canonical}|${t.json}` };
  } catch (err) {
    return { ok: false, error: (err as Error).name };
  }
}

function fast(text: string, maxDepth = 64): { ok: true; value: string } | { ok: false; error: string } {
  try {
    const r = readRaw(text, maxDepth, BIG);
    return { ok: true, value: `${dumps(r.data)}|${r.canonical}|${r.json}` };
  } catch (err) {
    return { ok: false, error: (err as Error).name };
  }
}

const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
);
const { value: anyValueUntyped } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.integer(),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.double().map((x) => new PyFloat(x)),
    anyText,
    fc.constantFrom(' padded ', 'x', '', '\u3000x', 'a"b', 'a\\b', '😀'),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(fc.tuple(anyText, tie('value')), { maxLength: 4 })
      .map((e) => new Map<string, PyValue>(e as [string, PyValue][])),
  ),
}));
const anyValue = anyValueUntyped as fc.Arbitrary<PyValue>;
const record = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom('eventid', 'src_ip', '10', 'b', 'a'), anyText), anyValue), { maxLength: 8 })
  .map((e) => new Map<string, PyValue>(e as [string, PyValue][]));

/** Python-style spacing (", " and ": ") around a compact dump, as Cowrie writes its lines. */
function spaced(compact: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < compact.length; i++) {
    const ch = compact[i] as string;
    out += ch;
    if (inString) {
      if (ch === '\\') out += compact[++i];
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === ',' || ch === ':') out += ' ';
  }
  return out;
}

describe('readRaw', () => {
  it('equals loads + canonical + dumps on any record, compact or spaced (property)', () => {
    fc.assert(
      fc.property(record, fc.boolean(), (rec, pythonSpacing) => {
        const compact = dumps(rec);
        const text = pythonSpacing ? ` ${spaced(compact)}\r\n` : compact;
        expect(fast(text)).toEqual(reference(text));
      }),
      { numRuns: 500 },
    );
  });

  it('equals loads on any other JSON value at the top level (property)', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const text = dumps(v);
        expect(fast(text)).toEqual(reference(text));
      }),
    );
  });

  it('fails exactly where loads fails, with the same error (property)', () => {
    const mutation = fc.tuple(record, fc.nat(), fc.constantFrom('', ',', '}', '"', ':', '\\', '\u0001', 'x', ' '));
    fc.assert(
      fc.property(mutation, ([rec, at, insert]) => {
        const text = dumps(rec);
        const i = at % (text.length + 1);
        const broken = text.slice(0, i) + insert + text.slice(i + (insert === '' ? 1 : 0));
        expect(fast(broken)).toEqual(reference(broken));
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['a duplicate key', '{"a": 1, "b": 2, "a": "x"}'],
    ['a nested object', '{"a": {"c": [1, 2.5, "x"]}, "b": null}'],
    ['escapes and non-ASCII', '{"k\\u00e9": "a\\"b", "é": "\\ud800", "x": " y "}'],
    ['numbers of every kind', '{"a": -0, "b": 1E5, "c": 123456789012345678901234, "d": -Infinity, "e": NaN}'],
    ['an empty object with spaces', ' { } '],
    ['extra data', '{"a": 1} x'],
    ['a trailing comma', '{"a": 1,}'],
    ['a missing colon', '{"a" 1}'],
    ['an unterminated string', '{"a": "b}'],
  ])('agrees with loads on %s', (_name, text) => {
    expect(fast(text)).toEqual(reference(text));
  });

  it('applies the same depth limit as loads', () => {
    const text = '{"a": [[[1]]]}';
    expect(fast(text, 3)).toEqual(reference(text, 3));
    expect(fast(text, 3)).toEqual({ ok: false, error: 'JsonDepthError' });
    expect(fast('{}', 0)).toEqual(reference('{}', 0));
  });
});
