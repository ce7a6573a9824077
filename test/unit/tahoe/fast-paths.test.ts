/**
 * The shortcuts of the record path (raw.ts, canonical.ts, json.ts, model.ts, rows.ts) against plain
 * definitions: each must give exactly what the general code or the definition gives, including where the
 * shortcut stops applying (cache capacity, long texts, large stores, many events).
 */
import fc from 'fast-check';
import {
  canonical,
  canonicalAndJson,
  flat,
  instanceHash,
  quoteCanonical,
  quoteCanonicalTwice,
  sha256Hex,
} from '../../../lambdas/tahoe/canonical';
import { dumps, loads, PyFloat, type PyValue, pyFloatJson, pyFloatStr } from '../../../lambdas/tahoe/json';
import { type Child, RecordStore, type TahoeEvent } from '../../../lambdas/tahoe/model';
import { parsemain } from '../../../lambdas/tahoe/parsemain';
import { readRaw } from '../../../lambdas/tahoe/raw';
import { type RowContext, toRows } from '../../../lambdas/tahoe/rows';

const BIG = 32 * 1024 * 1024;
const ORG = '96bee5cae04c4672c759adcbf98ce927f874a9094590cd5e7390b7943aff6307';

/** JSON-quoting of a canonical (printable ASCII) text, by definition. */
function quoteByDefinition(s: string): string {
  return `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** readRaw must equal loads, then canonical and dumps of the result (or fail the same way). */
function expectReadRawLikeLoads(text: string): void {
  let expected: string;
  try {
    const data = loads(text);
    const t = canonicalAndJson(data, BIG);
    expected = `${dumps(data)}|${t.canonical}|${t.json}`;
  } catch (err) {
    expected = `error ${(err as Error).name}`;
  }
  let actual: string;
  try {
    const r = readRaw(text, 64, BIG);
    actual = `${dumps(r.data)}|${r.canonical}|${r.json}`;
  } catch (err) {
    actual = `error ${(err as Error).name}`;
  }
  expect(actual).toBe(expected);
}

describe('quoteCanonical and quoteCanonicalTwice', () => {
  const canonicalText = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '"', '\\', ':', ',', '[', '{', '0') });

  it('quote like json.dumps on canonical texts (property)', () => {
    fc.assert(
      fc.property(canonicalText, (s) => {
        expect(quoteCanonical(s)).toBe(quoteByDefinition(s));
        expect(quoteCanonicalTwice(s)).toBe(quoteByDefinition(quoteByDefinition(s)).slice(1, -1));
      }),
      { numRuns: 500 },
    );
  });

  it('handle the empty text and texts made only of escapes', () => {
    expect(quoteCanonical('')).toBe('""');
    expect(quoteCanonicalTwice('')).toBe('\\"\\"');
    expect(quoteCanonical('"\\')).toBe('"\\"\\\\"');
    expect(quoteCanonicalTwice('"')).toBe(quoteByDefinition(quoteByDefinition('"')).slice(1, -1));
  });

  it('flat returns the same string value', () => {
    const s = `${'a'.repeat(20)}${String(Math.random())}${'b'.repeat(20)}`;
    expect(flat(s)).toBe(s);
    expect(flat('')).toBe('');
  });
});

describe('float repr of microsecond timestamps', () => {
  /** Python repr for 1e-4 <= |x| < 1e16, from the engine's own shortest conversion. */
  function reprByEngine(x: number): string {
    const s = String(x);
    return Number.isInteger(x) ? `${s}.0` : s;
  }

  it('writes decimals of up to six fractional digits like the general conversion (property)', () => {
    const seconds = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 33 + 10 }),
      fc.integer({ min: 2 ** 33 - 10, max: 2 ** 36 }),
    );
    const micros = fc.integer({ min: 0, max: 999_999 });
    fc.assert(
      fc.property(seconds, micros, fc.boolean(), (s, us, negative) => {
        const x = (negative ? -1 : 1) * ((s * 1e6 + us) / 1e6);
        if (Math.abs(x) < 1e-4) return;
        expect(pyFloatStr(x)).toBe(reprByEngine(x));
        expect(pyFloatJson(x)).toBe(reprByEngine(x));
      }),
      { numRuns: 5000 },
    );
  });

  it('writes doubles next to such decimals, and arbitrary doubles, like the general conversion (property)', () => {
    const near = fc.tuple(fc.integer({ min: 1, max: 2 ** 33 }), fc.integer({ min: 0, max: 999_999 })).map(([s, us]) => {
      const x = (s * 1e6 + us) / 1e6;
      const bits = new Float64Array([x]);
      const view = new BigInt64Array(bits.buffer);
      view[0] = (view[0] as bigint) + 1n;
      return bits[0] as number;
    });
    fc.assert(
      fc.property(fc.oneof(near, fc.double({ min: 1e-4, max: 1e15, noNaN: true })), (x) => {
        expect(pyFloatStr(x)).toBe(reprByEngine(x));
      }),
      { numRuns: 5000 },
    );
  });

  it('handles the edges of the shortcut', () => {
    for (const x of [1, 1.000001, 0.999999, 8589934591.999999, 8589934592, 8589934592.5, 1588032005.8343, 1e6]) {
      expect(pyFloatStr(x)).toBe(reprByEngine(x));
      expect(pyFloatStr(-x)).toBe(reprByEngine(-x));
    }
    expect(pyFloatStr(1588032005.834291)).toBe('1588032005.834291');
    expect(pyFloatStr(1588032005)).toBe('1588032005.0');
    expect(pyFloatStr(1588032005.1)).toBe('1588032005.1');
  });
});

describe('readRaw shortcuts', () => {
  it('keeps the record text as its JSON text only where dumps writes the same', () => {
    const compact = '{"b":"x","a":1,"c":[1,2],"d":null}';
    expect(readRaw(compact, 64, BIG).json).toBe(compact);
    for (const text of [
      ' {"a": "x" , "b" :1}\t',
      '{"a":1.50,"b":-0,"c":1E5,"d":-0.0}',
      '{"a":"caf\\u00E9","b":"\\/","c":"caf\u00e9","\\u0061":"x"}',
      '{"a":"x\\"y","b":"\\\\"}',
      '{"a":[ 1 ,2 ],"b":{ "c" : "d" }}',
    ]) {
      expectReadRawLikeLoads(text);
    }
  });

  it('agrees with loads on records of many distinct keys (more than the key cache holds)', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i % 7}${'x'.repeat(i % 5)}${i}`);
    const text = `{${keys.map((k, i) => `"${k}":${i % 2 === 0 ? `"v${i}"` : i}`).join(',')}}`;
    expectReadRawLikeLoads(text);
    // Twice: now with the cache filled by the first pass.
    expectReadRawLikeLoads(text);
  });

  it('agrees with loads on keys that share their length and first characters, record after record', () => {
    const similar = ['src_ip', 'src_pt', 'src_iq', 'sra_ip', 'src_i', 'src_ipp', 'sr', 's', ''];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < similar.length; i++) {
        const members = similar.map((k, j) => `"${k}":"${(i + j + round) % 3 === 0 ? ' pad ' : `v${j}`}"`);
        expectReadRawLikeLoads(`{${members.join(',')}}`);
        expectReadRawLikeLoads(`{${members.reverse().join(', ')}}`);
      }
    }
  });

  it('agrees with loads on long records (not cached) and on records with escapes or non-ASCII (scanned)', () => {
    const long = `{"session":"${'a'.repeat(5000)}","sensor":"s","eventid":"e"}`;
    expectReadRawLikeLoads(long);
    expectReadRawLikeLoads(long);
    expectReadRawLikeLoads('{"session":"a\\u0062","sensor":"\u00e9","eventid":"e\\n"}');
    expectReadRawLikeLoads('{"session":"a","sensor":"b\\"","eventid":"e"}');
    expectReadRawLikeLoads('{"session":"a","sensor":"b\u007f","eventid":"e"}');
  });

  it('agrees with loads on simple records cut or changed anywhere (property)', () => {
    const plain = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', ',', '{', '}', '[', ']', '1', '-', '.') });
    const record = fc.array(fc.tuple(plain, fc.oneof(plain, fc.integer())), { maxLength: 6 });
    fc.assert(
      fc.property(record, fc.nat(), fc.constantFrom('', '"', ',', ':', '}', ' ', 'x'), (members, at, insert) => {
        const text = `{${members.map(([k, v]) => `"${k}":${JSON.stringify(v)}`).join(',')}}`;
        expectReadRawLikeLoads(text);
        const i = at % (text.length + 1);
        expectReadRawLikeLoads(text.slice(0, i) + insert + text.slice(i + (insert === '' ? 1 : 0)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('RecordStore shortcuts', () => {
  it('finds instances by hash past the size where it starts indexing them', () => {
    const store = new RecordStore();
    const attrs = Array.from({ length: 40 }, (_, i) => store.attribute('n', `v${i}`));
    expect(store.size).toBe(40);
    for (const a of attrs) {
      expect(store.get(a.hash)).toBe(a);
      expect(store.attribute('n', a.data)).toBe(a);
    }
    expect(store.size).toBe(40);
    expect(store.get(sha256Hex('absent'))).toBeUndefined();
  });

  it('composes objects whose children share a sub_type as canonical() and dumps() of their data', () => {
    const store = new RecordStore();
    // `" x"` hashes like `"x"`: from another store it is a distinct child with the same hash, kept in the data
    // (sorted by JSON text) and counted once in the canonical text.
    const twin = new RecordStore().attribute('b', ' x');
    const children: Child[] = [
      store.attribute('b', 'y'),
      store.attribute('a', 2),
      store.attribute('b', 'x'),
      twin,
      store.attribute('c', new PyFloat(1)),
    ];
    const o = store.object('thing', children);
    expect(o.canon).toBe(canonical(o.data));
    expect(o.json).toBe(dumps(o.data));
    expect(o.hash).toBe(instanceHash('object', 'thing', canonical(o.data)));
    expect(dumps(o.data)).toBe('{"a":[2],"b":[" x","x","y"],"c":[1.0]}');
  });

  it('collects refs as sets in first-seen order, for few and for many children', () => {
    const naive = (children: readonly Child[]) => {
      const ref: string[] = [];
      for (const c of children) {
        for (const h of [c.hash, ...(c.itype === 'object' ? c.ref : [])]) if (!ref.includes(h)) ref.push(h);
      }
      return ref;
    };
    for (const n of [3, 50]) {
      const store = new RecordStore();
      const shared = store.attribute('ipv4', '192.0.2.1');
      const children: Child[] = [];
      for (let i = 0; i < n; i++) {
        children.push(store.object('host', [shared, store.attribute('port', i)]));
        children.push(store.attribute('port', i));
      }
      const parent = store.object('net', children);
      expect(parent.ref).toEqual(naive(children));
      expect(parent.cref).toEqual([...new Set(children.map((c) => c.hash))]);
      // Long lists are sorted by the built-in sort, short ones by insertion: the same texts either way.
      expect(parent.canon).toBe(canonical(parent.data));
      expect(parent.json).toBe(dumps(parent.data));
      for (const list of parent.data.values()) {
        const texts = (list as PyValue[]).map((v) => dumps(v));
        expect(texts).toEqual([...texts].sort());
      }
    }
  });
});

describe('toRows shortcuts', () => {
  const ctx = (tenant: string): RowContext => ({
    tenant,
    objectSha256: 'ab'.repeat(32),
    recordNo: 1,
    objectKey: 'k',
    receivedAt: '2021-03-01T12:00:05.000Z',
    timezone: 'UTC',
    orgid: ORG,
  });

  it('dates raw_ref edges of records with many events (looked up through an index)', () => {
    for (const n of [2, 20]) {
      const sighting = Object.fromEntries([
        ...Array.from({ length: n }, (_, i) => [`attr_${i}`, `value-${i}`]),
        ['timestamp', 1600000000.25],
      ]);
      const result = parsemain('sighting', ORG, 'UTC', JSON.stringify(sighting), { receivedAt: 1 });
      expect(result.outcome).toBe('SUCCESS');
      const events = result.instances.filter((i): i is TahoeEvent => i.itype === 'event');
      expect(events).toHaveLength(n);
      const rows = toRows(result, ctx('t'));
      const eventHashes = new Set(events.map((e) => e.hash));
      const rawRefs = rows.edges.filter((e) => e.relation === 'raw_ref');
      expect(rawRefs).toHaveLength(result.rawRef.length);
      for (const e of rawRefs) expect(e.event_ts).toBe(eventHashes.has(e.child_hash) ? 1600000000.25 : null);
    }
  });

  it('gives the rows of shared instances the tenant of each call', () => {
    const text =
      '{"eventid":"cowrie.login.failed","username":"root","password":"x","session":"s1","sensor":"n1",' +
      '"src_ip":"203.0.113.9","timestamp":"2021-03-01T12:00:00.500Z"}';
    const result = parsemain('cowrie', ORG, 'UTC', text, { receivedAt: 1 });
    for (const tenant of ['a', 'b', 'a']) {
      const rows = toRows(result, ctx(tenant));
      expect(rows.instances.every((r) => r.tenant === tenant)).toBe(true);
      expect(rows.edges.every((r) => r.tenant === tenant)).toBe(true);
    }
  });
});

describe('values that recur across records', () => {
  it('give the same instances and texts from the memo as when first built (property)', () => {
    const scalar = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    ) as fc.Arbitrary<PyValue>;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('u', 'p'), scalar), { minLength: 1, maxLength: 5 }), (pairs) => {
        const first = new RecordStore();
        const again = new RecordStore();
        const a = pairs.map(([t, v]) => first.attribute(t, v));
        const b = pairs.map(([t, v]) => again.attribute(t, v));
        for (let i = 0; i < a.length; i++) {
          const x = a[i] as Child;
          expect((b[i] as Child).hash).toBe(x.hash);
          expect(x.canon).toBe(canonical(x.data));
          expect(x.json).toBe(dumps(x.data));
          expect(x.canonQQ).toBe(quoteByDefinition(quoteByDefinition(x.canon)).slice(1, -1));
        }
        const o1 = first.object('o', a);
        const o2 = again.object('o', b);
        expect(o2.hash).toBe(o1.hash);
        expect(o1.canon).toBe(canonical(o1.data));
        expect(o2.json).toBe(dumps(o2.data));
      }),
      { numRuns: 300 },
    );
  });
});
