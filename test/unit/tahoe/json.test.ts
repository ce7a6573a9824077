import fc from 'fast-check';
import {
  dumps,
  JsonDecodeError,
  JsonDepthError,
  loads,
  PyFloat,
  type PyValue,
  pyFloatJson,
  pyFloatStr,
  quote,
} from '../../../lambdas/tahoe/json';

describe('loads (Python json.loads semantics)', () => {
  it('keeps integers and floats apart: 1 is an int, 1.0 and 1e0 are floats', () => {
    expect(loads('1')).toBe(1);
    expect(loads('1.0')).toEqual(new PyFloat(1));
    expect(loads('1e0')).toEqual(new PyFloat(1));
    expect(loads('1E-5')).toEqual(new PyFloat(1e-5));
  });

  it('reads -0 as the int 0 and -0.0 as the float negative zero', () => {
    expect(Object.is(loads('-0'), 0)).toBe(true);
    const f = loads('-0.0') as PyFloat;
    expect(Object.is(f.value, -0)).toBe(true);
  });

  it('keeps integers beyond 2^53 exact as bigints and safe ones as numbers', () => {
    expect(loads('9007199254740991')).toBe(9007199254740991);
    expect(loads('9007199254740993')).toBe(9007199254740993n);
    expect(loads('-123456789012345678901234')).toBe(-123456789012345678901234n);
  });

  it('accepts the NaN, Infinity and -Infinity tokens and overflows 1e400 to infinity', () => {
    expect(Number.isNaN((loads('NaN') as PyFloat).value)).toBe(true);
    expect(loads('[Infinity,-Infinity,1e400]')).toEqual([
      new PyFloat(Number.POSITIVE_INFINITY),
      new PyFloat(Number.NEGATIVE_INFINITY),
      new PyFloat(Number.POSITIVE_INFINITY),
    ]);
  });

  it('keeps a duplicate key at its first position with the last value, as a Python dict does', () => {
    const d = loads('{"a":1,"b":2,"a":3}') as Map<string, PyValue>;
    expect([...d.entries()]).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });

  it('keeps integer-like keys in text order (a JS object would move them first)', () => {
    const d = loads('{"b":1,"10":2,"9":3,"__proto__":4}') as Map<string, PyValue>;
    expect([...d.keys()]).toEqual(['b', '10', '9', '__proto__']);
  });

  it('keeps lone surrogate escapes and pairs escaped surrogates into one code point', () => {
    expect(loads('"\\ud800x"')).toBe('\ud800x');
    expect(loads('"\\uD83D\\uDE00"')).toBe('😀');
    expect(loads('"\\udc80\\ud800"')).toBe('\udc80\ud800');
  });

  it.each([
    ['empty text', ''],
    ['trailing comma in a list', '[1,2,]'],
    ['trailing comma in an object', '{"a":1,}'],
    ['a raw control character in a string', '"a\u0001b"'],
    ['a raw newline in a string', '"a\nb"'],
    ['a UTF-8 BOM prefix', '\ufeff{}'],
    ['single quotes', "{'a':1}"],
    ['a leading zero', '01'],
    ['a leading plus', '+1'],
    ['a bare fraction', '.5'],
    ['a dangling point', '1.'],
    ['an invalid escape', '"\\x41"'],
    ['a short unicode escape', '"\\u12"'],
    ['an unterminated string', '"abc'],
    ['two documents', '{"a":1}\n{"a":2}'],
    ['lowercase nan', 'nan'],
    ['a non-breaking space as whitespace', '\u00a01'],
  ])('rejects %s', (_name, text) => {
    expect(() => loads(text)).toThrow(JsonDecodeError);
  });

  it('accepts JSON whitespace (space, tab, CR, LF) around and between tokens', () => {
    expect(loads(' \t\r\n[ 1 ,\r\n2 ]\n')).toEqual([1, 2]);
  });

  it('refuses nesting deeper than the limit with a depth error, not a syntax error', () => {
    expect(loads('[[[1]]]', { maxDepth: 3 })).toEqual([[[1]]]);
    expect(() => loads('[[[[1]]]]', { maxDepth: 3 })).toThrow(JsonDepthError);
    expect(() => loads(`${'['.repeat(100_000)}`)).toThrow(JsonDepthError);
  });

  it('agrees with JSON.parse on documents without floats (property)', () => {
    const { value: noFloats } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.integer(),
        fc.string({ unit: 'binary' }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value')),
        fc.dictionary(fc.string(), tie('value')),
      ),
    }));
    fc.assert(
      fc.property(noFloats, (v) => {
        const text = JSON.stringify(v);
        expect(JSON.parse(dumps(loads(text)))).toEqual(JSON.parse(text));
      }),
    );
  });
});

describe('dumps (Python json.dumps(ensure_ascii=True, separators=(",", ":")))', () => {
  it('writes maps in insertion order with compact separators', () => {
    const d = loads('{"z":[1,2.5,null,true],"10":{"a":"b"}}');
    expect(dumps(d)).toBe('{"z":[1,2.5,null,true],"10":{"a":"b"}}');
  });

  it('escapes per UTF-16 unit in lowercase hex, DEL included, short escapes for the usual controls', () => {
    expect(quote('é😀\u007f\u0000"\\\n\r\t\b\f/')).toBe('"\\u00e9\\ud83d\\ude00\\u007f\\u0000\\"\\\\\\n\\r\\t\\b\\f/"');
    expect(quote('\udc80')).toBe('"\\udc80"');
  });

  it('writes floats as Python repr with NaN and Infinity tokens, and bigints exactly', () => {
    expect(dumps([new PyFloat(1), new PyFloat(-0), new PyFloat(Number.NaN), 12345678901234567890n])).toBe(
      '[1.0,-0.0,NaN,12345678901234567890]',
    );
    expect(dumps([new PyFloat(Number.POSITIVE_INFINITY), new PyFloat(Number.NEGATIVE_INFINITY)])).toBe(
      '[Infinity,-Infinity]',
    );
  });

  it('round-trips every golden-style document text it writes (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const once = dumps(loads(JSON.stringify(v)));
        expect(dumps(loads(once))).toBe(once);
      }),
    );
  });
});

describe('Python float repr', () => {
  it.each([
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [1e16, '1e+16'],
    [1.5e16, '1.5e+16'],
    [1e15, '1000000000000000.0'],
    [100, '100.0'],
    [-1, '-1.0'],
    [1588032005.834291, '1588032005.834291'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1.2345678901234568e17, '1.2345678901234568e+17'],
    [-2.6918805124630008e-8, '-2.6918805124630008e-08'],
  ])('writes %s as %s', (x, text) => {
    expect(pyFloatStr(x)).toBe(text);
    expect(pyFloatJson(x)).toBe(text);
  });

  it('writes non-finite values as nan/inf for str() and NaN/Infinity for JSON', () => {
    expect([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(pyFloatStr)).toEqual([
      'nan',
      'inf',
      '-inf',
    ]);
    expect(pyFloatJson(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
  });

  it('round-trips and uses exponent form exactly when the exponent is below -4 or at least 16 (property)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = pyFloatStr(x);
        expect(Object.is(Number(s), x)).toBe(true);
        if (x === 0) return;
        const e = Number(x.toExponential().split('e')[1]);
        expect(s.includes('e')).toBe(e < -4 || e >= 16);
        if (!s.includes('e')) expect(s).toContain('.');
      }),
    );
  });
});
