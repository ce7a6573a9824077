/** Reads the project's copy of the TAHOE golden vectors (test/fixtures/tahoe) with the lossless parser. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dumps, type JsonOut, loads, type PyDict, PyFloat, type PyValue } from '../../../lambdas/tahoe/json';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'tahoe');

/** The value, or a test failure saying it is missing. */
export function must<T>(v: T | undefined | null, what = 'value'): T {
  if (v === undefined || v === null) throw new Error(`missing ${what}`);
  return v;
}

export function readJsonl(name: string): PyDict[] {
  return readFileSync(join(FIXTURES, name), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => loads(l) as PyDict);
}

export function str(d: PyDict, key: string): string {
  const v = d.get(key);
  if (typeof v !== 'string') throw new Error(`${key}: expected a string, got ${dumps(v ?? null)}`);
  return v;
}

export function float(d: PyDict, key: string): number {
  const v = d.get(key);
  if (v instanceof PyFloat) return v.value;
  if (typeof v === 'number') return v;
  throw new Error(`${key}: expected a number, got ${dumps(v ?? null)}`);
}

/** The record's input: its text, or its bytes when the vector gives them base64-encoded. */
export function recordInput(g: PyDict): string | Buffer {
  const text = g.get('input');
  if (typeof text === 'string') return text;
  return Buffer.from(str(g, 'input_b64'), 'base64');
}

/**
 * A comparable text of a view: dict keys sorted and every list sorted by its members' JSON text, so lists in
 * object/event data compare as multisets (README: the reference's list order is arbitrary).
 */
export function normalized(v: JsonOut): string {
  return dumps(norm(v));
}

function norm(v: JsonOut): JsonOut {
  if (Array.isArray(v)) {
    return v
      .map((x: JsonOut) => norm(x))
      .map((x: JsonOut) => [dumps(x), x] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([, x]) => x);
  }
  if (v instanceof Map) {
    return new Map(
      [...v.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, x]) => [k, norm(x)]),
    );
  }
  return v as PyValue;
}
