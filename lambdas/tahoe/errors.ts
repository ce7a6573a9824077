/**
 * Errors raised while turning a record into TAHOE data.
 *
 * The reference reports failures as Python exceptions; the golden vectors name them (`error: TypeError`, stage
 * `filter`). A filter here throws {@link PyError} with the Python exception class the reference would raise in
 * the same situation, so reports line up with the reference's; the message is ours.
 */
import { type PyValue, pyTypeName } from './json';
import { pyRepr } from './pystr';

export class PyError extends Error {
  override readonly name = 'PyError';
  constructor(
    /** Python exception class name, e.g. `KeyError`, `TypeError`, `ValueError`. */
    readonly pyType: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Python `data[key]` with a str key: KeyError when absent, TypeError when `data` is not a dict. */
export function getItem(data: PyValue, key: string): PyValue {
  if (data instanceof Map) {
    const v = data.get(key);
    if (v === undefined) throw new PyError('KeyError', pyRepr(key));
    return v;
  }
  throw notSubscriptableByStr(data);
}

/** The TypeError Python raises for `data['key']` when `data` is not a dict. */
export function notSubscriptableByStr(data: PyValue): PyError {
  const t = pyTypeName(data);
  if (t === 'list') return new PyError('TypeError', 'list indices must be integers or slices, not str');
  if (t === 'str') return new PyError('TypeError', 'string indices must be integers');
  return new PyError('TypeError', `'${t}' object is not subscriptable`);
}

/** Python `key in data` for a str key. */
export function contains(data: PyValue, key: string): boolean {
  if (data instanceof Map) return data.has(key);
  if (typeof data === 'string') return data.includes(key);
  if (Array.isArray(data)) return data.some((x) => x === key);
  throw new PyError('TypeError', `argument of type '${pyTypeName(data)}' is not iterable`);
}
