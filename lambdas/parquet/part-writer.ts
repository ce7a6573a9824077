/**
 * A streaming writer of Parquet parts: rows go in one at a time, complete Parquet files ("parts") of at most
 * `rowsPerPart` rows come out through `onPart`, which the caller uploads under a deterministic, create-only key
 * (lambdas/shared/s3-keys.ts `tahoeKey`, part = partNo).
 *
 * Memory is bounded by one part, whatever the size of the input: rows are buffered as column arrays, and a part is
 * encoded and handed over as soon as it is full, while `add` waits, so the next part does not start filling before
 * the previous one is out. `maxPartBytes` also bounds a part in bytes, for rows with large values.
 *
 * Decisions:
 * - Zero rows give zero parts (no empty file): an object that yields no rows of a table has no output for it,
 *   and the ledger's list of output keys says so.
 * - A row is checked whole before any of it is buffered: a rejected row (PermanentError BAD_DATA, naming the
 *   column) leaves the writer as it was, so the caller can quarantine that record and go on.
 * - Strings must be well-formed UTF-16. A lone surrogate has no UTF-8 encoding: writing it would either corrupt the
 *   file or silently replace it with U+FFFD, changing a value that hashes were computed over. TAHOE `data` is JSON
 *   text with non-ASCII escaped (`\ud800` stays six ASCII characters), so only a broken caller meets this.
 */
import type { SchemaElement } from 'hyparquet';
import { type ColumnSpec, type RowOf, type TableName, type TableSpec, type Tables, tableSpec } from '../schema/tables';
import { PermanentError } from '../shared/errors';
import { type ColumnInput, encodePart, type PhysicalValues } from './encode';
import { parquetColumn, parquetSchema } from './parquet-schema';
import { isoToMicros } from './timestamp';

export interface PartWriterOptions {
  /** Rows per part, at least 1. Every part but the last has exactly this many (unless maxPartBytes cut it). */
  rowsPerPart: number;
  /**
   * Closes a part early once its buffered values reach about this many bytes (strings count their UTF-16 length,
   * which for the ASCII they mostly are is their UTF-8 size). Encoding needs about as much again.
   * @default 64 MiB
   */
  maxPartBytes?: number;
  /**
   * Receives each part, numbered from 0, in order. The writer waits for the returned promise before it accepts
   * more rows; a rejection fails the writer (the caller retries the whole object: the parts come out the same).
   */
  onPart(partNo: number, bytes: Uint8Array, rowCount: number): void | Promise<void>;
}

export interface PartsWritten {
  readonly parts: number;
  readonly rows: number;
}

export interface PartWriter<Row> {
  /** Buffers one row; hands over a part when it fills. Await it before the next call. */
  add(row: Row): Promise<void>;
  /** Hands over the last, partial part, if any. */
  end(): Promise<PartsWritten>;
  readonly rows: number;
  readonly parts: number;
}

/** The spec of a table given by name or by spec. */
export type SpecFor<T extends TableSpec | TableName> = T extends TableName ? Tables[T] : Extract<T, TableSpec>;
export type RowFor<T extends TableSpec | TableName> = RowOf<SpecFor<T>>;

const DEFAULT_MAX_PART_BYTES = 64 * 1024 * 1024;

type Cell = string | number | bigint | boolean | null;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const nativeWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
const isWellFormed: (s: string) => boolean = nativeWellFormed
  ? (s) => nativeWellFormed.call(s)
  : (s) => !LONE_SURROGATE.test(s);

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

/** A growable typed array, reused from part to part (its capacity is bounded by rowsPerPart). */
class Growable<A extends Int32Array | BigInt64Array | Float64Array | Uint8Array> {
  length = 0;
  constructor(
    private data: A,
    private readonly make: (capacity: number) => A,
    private readonly maxCapacity: number,
  ) {}

  push(value: A[number]): void {
    if (this.length === this.data.length) {
      const bigger = this.make(Math.min(this.maxCapacity, Math.max(16, this.data.length * 2)));
      bigger.set(this.data as never);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** A view of the content, valid until the next push after reset(). */
  view(): A {
    return this.data.subarray(0, this.length) as A;
  }

  reset(): void {
    this.length = 0;
  }
}

function growable<A extends Int32Array | BigInt64Array | Float64Array | Uint8Array>(
  make: (capacity: number) => A,
  rowsPerPart: number,
): Growable<A> {
  return new Growable(make(Math.min(rowsPerPart, 1024)), make, rowsPerPart);
}

/** One column of the part being filled: validation, then storage of non-null values and of the null map. */
class ColumnBuffer {
  readonly element: SchemaElement;
  private readonly where: string;
  private readonly allowed: ReadonlySet<string> | undefined;
  private readonly defined: Growable<Uint8Array> | null;
  private objects: (string | boolean)[] = [];
  private readonly numbers: Growable<Int32Array> | Growable<BigInt64Array> | Growable<Float64Array> | null;
  private lastIso: string | undefined;
  private lastMicros = 0n;

  constructor(
    table: string,
    readonly spec: ColumnSpec,
    rowsPerPart: number,
  ) {
    this.element = parquetColumn(spec);
    this.where = `${table}.${spec.name}`;
    this.allowed = spec.values ? new Set(spec.values) : undefined;
    this.defined = spec.nullable ? growable((n) => new Uint8Array(n), rowsPerPart) : null;
    switch (spec.type) {
      case 'int32':
        this.numbers = growable((n) => new Int32Array(n), rowsPerPart);
        break;
      case 'int64':
      case 'timestamp':
        this.numbers = growable((n) => new BigInt64Array(n), rowsPerPart);
        break;
      case 'double':
        this.numbers = growable((n) => new Float64Array(n), rowsPerPart);
        break;
      default:
        this.numbers = null;
    }
  }

  private reject(why: string): never {
    throw new PermanentError('BAD_DATA', `${this.where}: ${why}`);
  }

  /** The value in its physical form, or a PermanentError naming the column. Pure: buffers nothing. */
  convert(value: unknown): Cell {
    if (value === null && this.spec.nullable) return null;
    switch (this.spec.type) {
      case 'string':
        if (typeof value !== 'string') return this.reject(`expected a string, got ${describe(value)}`);
        if (this.allowed && !this.allowed.has(value)) return this.reject(`${describe(value)} is not an allowed value`);
        if (!isWellFormed(value)) return this.reject('string holds a lone surrogate (not encodable as UTF-8)');
        return value;
      case 'int32':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
          return this.reject(`expected a 32-bit integer, got ${describe(value)}`);
        }
        return value;
      case 'int64':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
          return this.reject(`expected a safe integer, got ${describe(value)}`);
        }
        return BigInt(value);
      case 'double':
        if (typeof value !== 'number') return this.reject(`expected a number, got ${describe(value)}`);
        return value;
      case 'boolean':
        if (typeof value !== 'boolean') return this.reject(`expected a boolean, got ${describe(value)}`);
        return value;
      case 'timestamp': {
        if (typeof value !== 'string') return this.reject(`expected an ISO 8601 UTC string, got ${describe(value)}`);
        // Rows of one object share their receipt time: remember the last conversion.
        if (value === this.lastIso) return this.lastMicros;
        const micros = isoToMicros(value);
        if (micros === undefined) return this.reject(`not an ISO 8601 UTC timestamp: ${describe(value)}`);
        this.lastIso = value;
        this.lastMicros = micros;
        return micros;
      }
    }
  }

  /** Stores a converted cell; returns its approximate size in bytes. */
  push(cell: Cell): number {
    if (this.defined) this.defined.push(cell === null ? 0 : 1);
    if (cell === null) return 1;
    if (this.numbers) {
      (this.numbers as Growable<Int32Array | BigInt64Array | Float64Array>).push(cell as never);
      return 8;
    }
    this.objects.push(cell as string | boolean);
    return typeof cell === 'string' ? cell.length : 1;
  }

  /** The buffered content for encoding. Views stay valid until reset(). */
  take(): ColumnInput {
    return {
      element: this.element,
      defined: this.defined ? this.defined.view() : null,
      values: (this.numbers ? this.numbers.view() : this.objects) as PhysicalValues,
    };
  }

  reset(): void {
    this.defined?.reset();
    this.numbers?.reset();
    // A new array, so that the strings of the part just written can be collected.
    this.objects = [];
  }
}

type State = 'open' | 'handing-over' | 'ended' | 'failed';

class StreamingPartWriter<Row> implements PartWriter<Row> {
  private readonly columns: ColumnBuffer[];
  private readonly schema: SchemaElement[];
  private readonly names: string[];
  private readonly cells: Cell[];
  private readonly maxPartBytes: number;
  private state: State = 'open';
  private failure: unknown;
  private partRows = 0;
  private partBytes = 0;
  private rowsAdded = 0;
  private partsHandedOver = 0;

  constructor(
    private readonly table: TableSpec,
    private readonly options: PartWriterOptions,
  ) {
    const { rowsPerPart, maxPartBytes = DEFAULT_MAX_PART_BYTES } = options;
    if (!Number.isSafeInteger(rowsPerPart) || rowsPerPart < 1) {
      throw new RangeError(`rowsPerPart must be a positive integer, not ${rowsPerPart}`);
    }
    if (!(maxPartBytes >= 1)) throw new RangeError(`maxPartBytes must be positive, not ${maxPartBytes}`);
    this.maxPartBytes = maxPartBytes;
    this.columns = table.columns.map((c) => new ColumnBuffer(table.name, c, rowsPerPart));
    this.schema = parquetSchema(table);
    this.names = table.columns.map((c) => c.name);
    this.cells = new Array<Cell>(this.columns.length).fill(null);
  }

  get rows(): number {
    return this.rowsAdded;
  }

  get parts(): number {
    return this.partsHandedOver;
  }

  private assertOpen(call: string): void {
    if (this.state === 'open') return;
    if (this.state === 'handing-over') {
      throw new Error(`${call}() called while a part of ${this.table.name} was being handed over: await add()`);
    }
    if (this.state === 'failed') {
      throw new Error(`${call}() on a ${this.table.name} writer that failed`, { cause: this.failure });
    }
    throw new Error(`${call}() after end() on a ${this.table.name} writer`);
  }

  async add(row: Row): Promise<void> {
    this.assertOpen('add');
    if (typeof row !== 'object' || row === null) {
      throw new PermanentError('BAD_DATA', `${this.table.name}: expected a row object, got ${describe(row)}`);
    }
    const record = row as Record<string, unknown>;
    const { columns, cells, names } = this;
    for (let i = 0; i < columns.length; i++)
      cells[i] = (columns[i] as ColumnBuffer).convert(record[names[i] as string]);
    let bytes = 0;
    for (let i = 0; i < columns.length; i++) bytes += (columns[i] as ColumnBuffer).push(cells[i] as Cell);
    this.partRows++;
    this.partBytes += bytes;
    this.rowsAdded++;
    if (this.partRows >= this.options.rowsPerPart || this.partBytes >= this.maxPartBytes) await this.handOver();
  }

  async end(): Promise<PartsWritten> {
    this.assertOpen('end');
    if (this.partRows > 0) await this.handOver();
    this.state = 'ended';
    return { parts: this.partsHandedOver, rows: this.rowsAdded };
  }

  private async handOver(): Promise<void> {
    this.state = 'handing-over';
    try {
      const rowCount = this.partRows;
      const bytes = encodePart({
        schema: this.schema,
        columns: this.columns.map((c) => c.take()),
        rowCount,
        keyValueMetadata: [{ key: 'cyberactive.table', value: this.table.name }],
      });
      // Release the rows before the (slow) hand-over: only the encoded part stays in memory meanwhile.
      for (const c of this.columns) c.reset();
      this.partRows = 0;
      this.partBytes = 0;
      await this.options.onPart(this.partsHandedOver, bytes, rowCount);
      this.partsHandedOver++;
      this.state = 'open';
    } catch (err) {
      this.state = 'failed';
      this.failure = err;
      throw err;
    }
  }
}

/**
 * A part writer for a TAHOE table (by name, e.g. `'tahoe_instance'`) or for any table spec. The row type follows
 * from the table: `createPartWriter('tahoe_raw', …).add(row)` takes a TahoeRawRow.
 */
export function createPartWriter<const T extends TableSpec | TableName>(
  table: T,
  options: PartWriterOptions,
): PartWriter<RowFor<T>> {
  const spec: TableSpec = typeof table === 'string' ? tableSpec(table) : table;
  return new StreamingPartWriter<RowFor<T>>(spec, options);
}
