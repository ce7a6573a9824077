/**
 * The Warehouse port (lambdas/warehouse/port.ts) on Amazon Redshift Serverless, through the Redshift Data API.
 *
 * A load is ONE `BatchExecuteStatement`: the Data API runs the statements of a batch in order, in one transaction,
 * and rolls all of them back if one fails (https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_BatchExecuteStatement.html).
 * The batch takes the load lock, creates the staging tables, COPYs each table's files from its manifest
 * (`FORMAT AS PARQUET`, `IAM_ROLE default`: the namespace's default role, which can read only the curated `tahoe/`
 * and the manifests), merges, refreshes the aggregate, and writes load_log and ingest_file — all SQL from
 * lambdas/warehouse/sql.ts. The call is asynchronous: `DescribeStatement` is polled with a capped exponential backoff
 * until the batch ends or a deadline passes (then the batch is cancelled, which rolls it back).
 *
 * Values always travel as Data API `Parameters` (`:p1`, `:p2`, … renamed from sql.ts's `$1`, `$2`); the Data API has
 * no way to pass NULL or an empty string as a parameter, so those two constants are written as `NULL` and `''`.
 * Two things cannot be parameters because Redshift parses them before binding: COPY's `FROM 's3://…'` and the table
 * names. The first is built from a bucket and key that must match a strict grammar (the manifest keys the loader
 * writes, never input), the second from the schema source's fixed table names.
 *
 * Where Redshift differs from the PostgreSQL adapters, and why:
 * - A batch cannot look at a result half-way, so a file another run recorded in load_log meanwhile is detected by the
 *   batch itself: load_log rows go to a temp table first, the batch returns those already present (`skipped`) and
 *   inserts only the others. The skipped files' rows are still merged; the merge rules are idempotent (keep, min,
 *   max, fill, strongest verdict), so merging the same rows again changes nothing. Loads are single-flight anyway
 *   (reserved concurrency 1 and `LOCK load_log`); this only matters for a run started by hand meanwhile.
 * - COPY reads a manifest per table and reports rows per table, not per file: rows per file come from the Parquet
 *   footers ({@link ParquetFooters}), read before the batch, which also refuses a file whose columns are not the
 *   table's, naming it, before Redshift is asked.
 * - The statements of one migration run as one batch when Redshift allows them in a transaction; a migration with a
 *   statement that refuses a transaction block (ALTER … DISTKEY / SORTKEY / DISTSTYLE, VACUUM) runs statement by
 *   statement, as sql/redshift/0006 asks.
 *
 * Errors (DESIGN.md §5): throttling, 5xx, busy sessions, serialisation conflicts, aborted statements and the deadline
 * → TransientError; access denied, missing workgroup or secret, missing tables or privileges → ConfigError; a COPY
 * that fails → FileLoadError naming the file when SYS_LOAD_ERROR_DETAIL or the error text names one of the batch
 * (otherwise without a file: the core bisects).
 */
import { randomUUID } from 'node:crypto';
import {
  BatchExecuteStatementCommand,
  type BatchExecuteStatementCommandInput,
  CancelStatementCommand,
  type ColumnMetadata,
  DescribeStatementCommand,
  type DescribeStatementResponse,
  ExecuteStatementCommand,
  type Field,
  GetStatementResultCommand,
  type RedshiftDataClient,
  type SqlParameter,
  type SubStatementData,
} from '@aws-sdk/client-redshift-data';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type AsyncBuffer, parquetMetadataAsync } from 'hyparquet';
import type { ObjectRef } from '../ledger/model';
import { ConfigError, PermanentError, TransientError } from '../shared/errors';
import { TAHOE_TABLES, type TahoeTable } from '../shared/s3-keys';
import { loadMigrations, loadViews, type Migration, VIEWS_VERSION } from '../warehouse/migrations';
import { checkSchema, ParquetFileError } from '../warehouse/parquet-copy';
import {
  FileLoadError,
  type LoadBatch,
  type LoadFile,
  type LoadResult,
  type LoadStatus,
  type PendingObject,
  type QueryResult,
  type RemovalRequest,
  type RemovalResult,
  type TableCounts,
  type Warehouse,
} from '../warehouse/port';
import { removalCounts, removalResult, removalSql, tenantsWithRowsSql } from '../warehouse/retention-sql';
import {
  afterCreateViewSql,
  confirmLedgerMarkSql,
  countNewRowsSql,
  countOversizeSql,
  createAffectedHoursSql,
  createMergeSourceSql,
  createStagingSql,
  deleteAffectedAggregatesSql,
  insertAffectedAggregatesSql,
  insertLoadLogSql,
  LOAD_LOG_COLUMNS,
  type LoadLogRow,
  loadLogRow,
  lockStatement,
  mergeSql,
  pendingObjectsSql,
  recordMigrationSql,
  type SqlStatement,
  selectLoadLogSql,
  selectMigrationsSql,
  stagingTable,
  updateMigrationSql,
  upsertIngestFileSql,
} from '../warehouse/sql';
import { classifyS3Error } from './s3-object-store';

/** The most statements one BatchExecuteStatement accepts (`Sqls`: 1 to 40 items). */
export const MAX_BATCH_STATEMENTS = 40;

/** Reads what the loader must know of a Parquet file before it is loaded: its row count, checking its columns. */
export interface ParquetFooters {
  /**
   * Rows in `file` (the footer's num_rows). Throws FileLoadError naming the file when it is not a Parquet file of
   * its table, a TransientError or ConfigError when it cannot be read for other reasons.
   */
  rowCount(bucket: string, file: LoadFile): Promise<number>;
}

export interface RedshiftWarehouseOptions {
  /** The Redshift Serverless workgroup (name or ARN). */
  readonly workgroupName: string;
  readonly database: string;
  /**
   * Name or ARN of the Secrets Manager secret to connect with (the namespace's admin secret). Without it the Data
   * API connects with temporary credentials as the caller's IAM identity (`IAMR:<role>`), which then needs
   * `redshift-serverless:GetCredentials` and database privileges of its own.
   */
  readonly secret?: string;
  readonly footers: ParquetFooters;
  /** sql/ folder (migrations and views). @default the repository's */
  readonly sqlDir?: string;
  /** First wait between two DescribeStatement calls; it doubles up to `maxPollMs`. @default 250 */
  readonly initialPollMs?: number;
  /** @default 5000 */
  readonly maxPollMs?: number;
  /** Longest wait for one statement or batch. @default 600000 (10 minutes) */
  readonly statementTimeoutMs?: number;
  /**
   * An absolute deadline (ms since the epoch) no wait may pass, e.g. the invocation's end minus a margin; read at
   * every wait.
   * @default none
   */
  readonly deadline?: () => number;
  /** Footers read at once. @default 8 */
  readonly footerConcurrency?: number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly clock?: () => number;
}

/** A statement (or batch) Redshift reported FAILED; `subStatement` is the 1-based index of the failing one. */
export class StatementFailedError extends Error {
  override readonly name = 'StatementFailedError';
  constructor(
    message: string,
    readonly statementId: string,
    readonly subStatement: number | undefined,
    readonly redshiftQueryId: number | undefined,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

/** A Data API request: statement texts with `:pN` placeholders and the parameters they name. */
interface NamedBatch {
  readonly sqls: string[];
  readonly parameters: SqlParameter[];
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** A Date as Redshift reads a TIMESTAMPTZ, in UTC with microseconds: `YYYY-MM-DD HH:MM:SS.ffffff+00`. */
export function timestampParameter(at: Date): string {
  if (Number.isNaN(at.getTime())) throw new TypeError('invalid Date given as a SQL parameter');
  return (
    `${pad(at.getUTCFullYear(), 4)}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())} ` +
    `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}.${pad(at.getUTCMilliseconds(), 3)}000+00`
  );
}

/** A bind value as the Data API's string parameter, or the SQL constant it must be written as instead. */
function parameterValue(value: unknown): { literal: string } | { value: string } {
  if (value === null || value === undefined) return { literal: 'NULL' };
  if (typeof value === 'string') return value === '' ? { literal: "''" } : { value };
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return { value: String(value) };
    return { value: Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity' };
  }
  if (typeof value === 'bigint') return { value: value.toString() };
  if (typeof value === 'boolean') return { value: value ? 'true' : 'false' };
  if (value instanceof Date) return { value: timestampParameter(value) };
  throw new TypeError(`unsupported SQL parameter type: ${Object.prototype.toString.call(value)}`);
}

/**
 * Renames `$1`, `$2`, … of each statement to Data API names unique across the batch (`:p1` … `:pN`; a batch's
 * parameters are shared by all its statements). `$n` inside a quoted string is left alone. NULL and '' become the
 * SQL constants, because a Data API parameter value must be a non-empty string. Each parameter is named by exactly
 * one statement, as the Data API requires.
 */
export function toNamedBatch(statements: readonly SqlStatement[]): NamedBatch {
  const sqls: string[] = [];
  const parameters: SqlParameter[] = [];
  for (const st of statements) {
    // Without parameters there is nothing to rename, and `$1` may belong to a function body.
    if (st.params.length === 0) {
      sqls.push(st.text);
      continue;
    }
    const names = new Map<number, string>();
    let out = '';
    let quoted = false;
    const text = st.text;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (ch === "'") quoted = !quoted;
      if (!quoted && ch === '$' && /\d/.test(text[i + 1] ?? '') && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
        let j = i + 1;
        while (j < text.length && /\d/.test(text[j] as string)) j++;
        const index = Number(text.slice(i + 1, j));
        if (index < 1 || index > st.params.length) {
          throw new RangeError(`statement uses $${index} but has ${st.params.length} parameters`);
        }
        const v = parameterValue(st.params[index - 1]);
        if ('literal' in v) {
          out += v.literal;
        } else {
          let name = names.get(index);
          if (!name) {
            name = `p${parameters.length + 1}`;
            names.set(index, name);
            parameters.push({ name, value: v.value });
          }
          out += `:${name}`;
        }
        i = j - 1;
        continue;
      }
      out += ch;
    }
    sqls.push(out);
  }
  return { sqls, parameters };
}

// ---------------------------------------------------------------------------------------------------------------
// COPY

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Keys the loader writes for manifests: no quote, backslash, space or control character can reach the SQL text. */
const MANIFEST_KEY = /^manifests\/[A-Za-z0-9][A-Za-z0-9/_.=-]{0,900}$/;

/**
 * `COPY <staging> FROM 's3://<bucket>/<manifest>' IAM_ROLE default FORMAT AS PARQUET MANIFEST`. COPY takes neither
 * parameters nor a role ARN from the text here: the location is checked against the grammar of the keys the loader
 * writes, the table comes from the schema's fixed names, and the role is the namespace's default.
 * https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html
 */
export function copyFromManifestSql(table: TahoeTable, bucket: string, manifestKey: string): string {
  if (!(TAHOE_TABLES as readonly string[]).includes(table)) throw new TypeError(`not a TAHOE table: ${table}`);
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new TypeError(`manifest bucket ${JSON.stringify(bucket)} is not an S3 bucket name`);
  }
  if (!MANIFEST_KEY.test(manifestKey) || manifestKey.includes('..')) {
    throw new TypeError(`manifest key ${JSON.stringify(manifestKey)} is not a loader manifest key`);
  }
  return `COPY ${stagingTable(table)} FROM 's3://${bucket}/${manifestKey}' IAM_ROLE default FORMAT AS PARQUET MANIFEST`;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

const TRANSIENT_API_ERRORS = new Set([
  'ActiveSessionsExceededException',
  'ActiveStatementsExceededException',
  'ActiveWaitingRequestsExceededException',
  'BatchExecuteStatementException',
  'ExecuteStatementException',
  'DatabaseConnectionException',
  'InternalServerException',
  'QueryTimeoutException',
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const CONFIG_API_ERRORS = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'ResourceNotFoundException',
  'ValidationException',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** Maps an error of a Data API call to the pipeline's classes; anything else is returned unchanged. */
export function classifyDataApiError(err: unknown, what: string): unknown {
  if (err instanceof TransientError || err instanceof PermanentError || err instanceof ConfigError) return err;
  if (!(err instanceof Error)) return err;
  const e = err as Error & {
    $fault?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: { throttling?: boolean };
    code?: string;
  };
  const status = e.$metadata?.httpStatusCode;
  const detail = `${what}: ${e.name}${status ? ` (HTTP ${status})` : ''}: ${e.message}`;
  if (
    TRANSIENT_API_ERRORS.has(e.name) ||
    e.$retryable?.throttling === true ||
    (e.code !== undefined && NETWORK_CODES.has(e.code)) ||
    status === 429 ||
    (status !== undefined && status >= 500) ||
    e.$fault === 'server'
  ) {
    return new TransientError(detail, { cause: err });
  }
  if (CONFIG_API_ERRORS.has(e.name) || status === 401 || status === 403) {
    return new ConfigError(`${detail} (check the workgroup, database, secret and the caller's IAM policy)`, {
      cause: err,
    });
  }
  return err;
}

/** Redshift error texts that a later attempt can overcome: conflicts, capacity, connections. */
const TRANSIENT_SQL =
  /serializable isolation violation|could not serialize|deadlock|lock timeout|canceling statement due to|connection (?:reset|refused|closed|lost|timed out)|terminating connection|timed? ?out|too many (?:connections|sessions)|out of memory|insufficient (?:capacity|resources)|system is (?:busy|in maintenance)|try again|throttl|SlowDown|503/i;

/** Redshift error texts that a deployment or privilege problem causes: retrying cannot help. */
const CONFIG_SQL =
  /permission denied|must be (?:owner|superuser)|password authentication failed|not authorized|access ?denied|does not exist|not found in the (?:database|catalog)|IAM role|assume ?role|invalid credentials|InvalidAccessKeyId|KMS/i;

// ---------------------------------------------------------------------------------------------------------------
// Results

function fieldValue(field: Field, column: ColumnMetadata | undefined): unknown {
  if (field.isNull) return null;
  const type = (column?.typeName ?? '').toLowerCase();
  if (field.stringValue !== undefined) {
    if (type === 'timestamptz' || type === 'timestamp') return parseTimestamp(field.stringValue);
    return field.stringValue;
  }
  if (field.longValue !== undefined) {
    // BIGINT and NUMERIC come back as strings, as the port promises (the PostgreSQL drivers do the same).
    return type === 'int8' || type === 'numeric' || type === 'bigint' ? String(field.longValue) : field.longValue;
  }
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue);
  return null;
}

const TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}(?::?\d{2})?|Z)?$/;

/** `2024-05-01 12:00:00.123456+00` (timestamptz) or `2024-05-01 12:00:00` (timestamp, taken as UTC) → Date. */
export function parseTimestamp(text: string): Date | string {
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) return text;
  const fraction = m[3] ? m[3].slice(0, 4) : '';
  // A TIMESTAMP without a zone is UTC here: the pipeline stores UTC only.
  let zone = m[4] ?? 'Z';
  if (/^[+-]\d{2}$/.test(zone)) zone = `${zone}:00`;
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${m[1]}T${m[2]}${fraction}${zone}`);
  return Number.isNaN(date.getTime()) ? text : date;
}

function zeroCounts(): Record<TahoeTable, number> {
  return { tahoe_raw: 0, tahoe_instance: 0, tahoe_edge: 0 };
}

/** Statements of a migration that Redshift refuses inside a transaction block. */
const OUTSIDE_TRANSACTION =
  /^\s*(?:ALTER\s+TABLE\s+\S+\s+ALTER\s+(?:DISTSTYLE|DISTKEY|(?:COMPOUND\s+|INTERLEAVED\s+)?SORTKEY|ENCODE)|ALTER\s+TABLE\s+\S+\s+APPEND|VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|CREATE\s+EXTERNAL|DROP\s+EXTERNAL)/i;

/** What a statement of a load batch does, to tell which step failed and where its result is. */
type StepKind = 'lock' | 'stage' | 'copy' | 'merge' | 'counts' | 'aggregate' | 'log' | 'skipped' | 'ingest';

interface Step extends SqlStatement {
  readonly kind: StepKind;
  readonly table?: TahoeTable;
}

const STAGE_LOAD_LOG = 'stage_load_log';

function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of results. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

export class RedshiftWarehouse implements Warehouse {
  /** A purge's candidates are COPYed from the object's own files: see `removeRows`. */
  readonly removalCandidates = 'files' as const;
  private readonly initialPollMs: number;
  private readonly maxPollMs: number;
  private readonly statementTimeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly clock: () => number;

  constructor(
    private readonly client: RedshiftDataClient,
    private readonly options: RedshiftWarehouseOptions,
  ) {
    if (!options.workgroupName || !options.database) {
      throw new ConfigError('RedshiftWarehouse needs a workgroup name and a database');
    }
    this.initialPollMs = options.initialPollMs ?? 250;
    this.maxPollMs = Math.max(this.initialPollMs, options.maxPollMs ?? 5000);
    this.statementTimeoutMs = options.statementTimeoutMs ?? 600_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.clock = options.clock ?? Date.now;
  }

  /** Where and as whom statements run: the same for every request. */
  private get target() {
    return {
      WorkgroupName: this.options.workgroupName,
      Database: this.options.database,
      ...(this.options.secret ? { SecretArn: this.options.secret } : {}),
    };
  }

  private async send<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw classifyDataApiError(err, what);
    }
  }

  /** Submits one statement. */
  private async execute(what: string, statement: SqlStatement): Promise<string> {
    const { sqls, parameters } = toNamedBatch([statement]);
    const out = await this.send(what, () =>
      this.client.send(
        new ExecuteStatementCommand({
          ...this.target,
          Sql: sqls[0],
          ...(parameters.length > 0 ? { Parameters: parameters } : {}),
          StatementName: `cyberactive ${what}`.slice(0, 500),
          ClientToken: randomUUID(),
        }),
      ),
    );
    if (!out.Id) throw new TransientError(`${what}: the Data API returned no statement id`);
    return out.Id;
  }

  /** Submits statements as one transaction. */
  private async executeBatch(what: string, statements: readonly SqlStatement[]): Promise<string> {
    if (statements.length === 0) throw new RangeError(`${what}: no statements`);
    if (statements.length > MAX_BATCH_STATEMENTS) {
      throw new RangeError(
        `${what}: ${statements.length} statements, the Data API runs at most ${MAX_BATCH_STATEMENTS} in one transaction (load fewer files at once)`,
      );
    }
    const { sqls, parameters } = toNamedBatch(statements);
    const input: BatchExecuteStatementCommandInput = {
      ...this.target,
      Sqls: sqls,
      ...(parameters.length > 0 ? { Parameters: parameters } : {}),
      StatementName: `cyberactive ${what}`.slice(0, 500),
      // One token per call: an SDK retry of this request (after a lost response) is not run twice, and a later call
      // with the same text is a new statement, not the answer to an old one.
      // https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_BatchExecuteStatement.html
      ClientToken: randomUUID(),
    };
    const out = await this.send(what, () => this.client.send(new BatchExecuteStatementCommand(input)));
    if (!out.Id) throw new TransientError(`${what}: the Data API returned no statement id`);
    return out.Id;
  }

  /**
   * Polls until the statement ends: FINISHED → its description; FAILED → StatementFailedError; ABORTED →
   * TransientError. Waits double from `initialPollMs` up to `maxPollMs`; past the deadline the statement is
   * cancelled (so that it rolls back instead of finishing unseen) and a TransientError is thrown.
   */
  private async wait(what: string, id: string): Promise<DescribeStatementResponse> {
    const started = this.clock();
    const external = this.options.deadline?.();
    const deadline = Math.min(started + this.statementTimeoutMs, external ?? Number.POSITIVE_INFINITY);
    let delay = this.initialPollMs;
    for (;;) {
      const d = await this.send(`${what}: DescribeStatement`, () =>
        this.client.send(new DescribeStatementCommand({ Id: id })),
      );
      switch (d.Status) {
        case 'FINISHED':
          return d;
        case 'FAILED': {
          const failed = d.SubStatements?.findIndex((s) => s.Status === 'FAILED') ?? -1;
          const sub = failed >= 0 ? d.SubStatements?.[failed] : undefined;
          throw new StatementFailedError(
            `${what}: ${sub?.Error ?? d.Error ?? 'the statement failed'}`,
            id,
            failed >= 0 ? failed + 1 : undefined,
            sub?.RedshiftQueryId ?? d.RedshiftQueryId,
          );
        }
        case 'ABORTED':
          throw new TransientError(`${what}: statement ${id} was aborted`);
      }
      const now = this.clock();
      if (now + delay > deadline) {
        await this.cancel(id);
        throw new TransientError(
          `${what}: no result within ${now - started} ms; statement ${id} cancelled (its transaction rolls back)`,
        );
      }
      await this.sleep(delay);
      delay = Math.min(this.maxPollMs, delay * 2);
    }
  }

  private async cancel(id: string): Promise<void> {
    try {
      await this.client.send(new CancelStatementCommand({ Id: id }));
    } catch {
      // It may have ended meanwhile; either way the caller reports the time-out.
    }
  }

  /** Every row of a finished statement's result, page by page. */
  private async fetch(what: string, id: string): Promise<QueryResult> {
    let columns: readonly ColumnMetadata[] | undefined;
    const rows: Record<string, unknown>[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(`${what}: GetStatementResult`, () =>
        this.client.send(new GetStatementResultCommand({ Id: id, ...(token ? { NextToken: token } : {}) })),
      );
      columns ??= page.ColumnMetadata ?? [];
      const names = columns.map((c, i) => c.name ?? c.label ?? `column${i + 1}`);
      for (const record of page.Records ?? []) {
        const row: Record<string, unknown> = {};
        record.forEach((field, i) => {
          row[names[i] ?? `column${i + 1}`] = fieldValue(field, columns?.[i]);
        });
        rows.push(row);
      }
      token = page.NextToken;
    } while (token);
    return { columns: (columns ?? []).map((c, i) => c.name ?? c.label ?? `column${i + 1}`), rows };
  }

  /** Runs one statement and returns its rows (none for a statement without a result set). */
  private async run(what: string, statement: SqlStatement): Promise<QueryResult> {
    const id = await this.execute(what, statement);
    const d = await this.mapFailure(what, () => this.wait(what, id));
    return d.HasResultSet ? this.fetch(what, id) : { columns: [], rows: [] };
  }

  /** Classifies a failed statement outside a load: configuration, transient, or the warehouse's own error. */
  private async mapFailure<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof StatementFailedError)) throw err;
      if (TRANSIENT_SQL.test(err.message)) throw new TransientError(err.message, { cause: err });
      if (CONFIG_SQL.test(err.message)) throw new ConfigError(`${err.message} (${what})`, { cause: err });
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Migrations

  async applyMigrations(now: Date): Promise<string[]> {
    const migrations = loadMigrations('redshift', this.options.sqlDir);
    const views = loadViews('redshift', this.options.sqlDir);
    const [bootstrap] = migrations;
    if (!bootstrap) throw new ConfigError('migration 0000 (schema_migrations) is missing');
    // 0000 creates schema_migrations IF NOT EXISTS: safe every time, and needed before it can be read.
    await this.mapFailure('migration 0000', async () => {
      const id = await this.executeBatch(
        'migration 0000',
        bootstrap.statements.map((text) => ({ text, params: [] })),
      );
      await this.wait('migration 0000', id);
    });
    const known = new Map(
      (await this.run('read schema_migrations', { text: selectMigrationsSql(), params: [] })).rows.map((r) => [
        String(r.version),
        { checksum: String(r.checksum) },
      ]),
    );
    const applied: string[] = [];
    for (const m of migrations) {
      const seen = known.get(m.version);
      if (seen) {
        if (seen.checksum !== m.checksum) {
          throw new ConfigError(`migration ${m.file} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      if (m !== bootstrap) await this.applyMigration(m, now);
      else {
        const rec = recordMigrationSql(m.version, m.name, m.checksum, now);
        await this.run(`record migration ${m.version}`, rec);
      }
      applied.push(m.version);
    }

    const recorded = known.get(VIEWS_VERSION);
    if (!recorded || recorded.checksum !== views.checksum) {
      const names = views.views.map((v) => v.name).join(',');
      const statements: SqlStatement[] = [
        { text: 'LOCK schema_migrations', params: [] },
        // Views depend on one another: drop them all (last first), then create them in order.
        ...[...views.views].reverse().map((v) => ({ text: `DROP VIEW IF EXISTS ${v.name}`, params: [] })),
        ...views.views.flatMap((v) => [
          ...v.statements.map((text) => ({ text, params: [] })),
          ...afterCreateViewSql(v.name, 'redshift').map((text) => ({ text, params: [] })),
        ]),
        recorded
          ? updateMigrationSql(VIEWS_VERSION, names, views.checksum, now)
          : recordMigrationSql(VIEWS_VERSION, names, views.checksum, now),
      ];
      await this.mapFailure('views', async () => this.wait('views', await this.executeBatch('views', statements)));
      applied.push(VIEWS_VERSION);
    }
    return applied;
  }

  /**
   * One migration in one transaction with its schema_migrations row, when Redshift allows it; otherwise statement by
   * statement (each commits on its own), recorded once all have run. A failed migration is not recorded, so the next
   * run tries it again.
   */
  private async applyMigration(m: Migration, now: Date): Promise<void> {
    const what = `migration ${m.file}`;
    const record = recordMigrationSql(m.version, m.name, m.checksum, now);
    const statements = m.statements.map((text) => ({ text, params: [] as unknown[] }));
    const transactional = !m.statements.some((s) => OUTSIDE_TRANSACTION.test(s));
    if (transactional && statements.length + 2 <= MAX_BATCH_STATEMENTS) {
      await this.mapFailure(what, async () =>
        this.wait(
          what,
          await this.executeBatch(what, [{ text: 'LOCK schema_migrations', params: [] }, ...statements, record]),
        ),
      );
      return;
    }
    for (const [i, st] of statements.entries()) await this.run(`${what} statement ${i + 1}`, st);
    await this.run(`${what}: record`, record);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Reads

  async loadedKeys(keys: readonly string[]): Promise<Map<string, LoadStatus>> {
    const out = new Map<string, LoadStatus>();
    for (const st of keys.length > 0 ? selectLoadLogSql(keys) : []) {
      for (const r of (await this.run('read load_log', st)).rows) out.set(String(r.file_key), r.status as LoadStatus);
    }
    return out;
  }

  async pendingObjects(limit: number): Promise<PendingObject[]> {
    const { rows } = await this.run('read pending objects', pendingObjectsSql(limit));
    return rows.map((r) => ({
      ref: { bucket: String(r.bucket), key: String(r.object_key), versionId: String(r.version_id) },
      status: String(r.status),
      loadId: r.load_id == null ? undefined : String(r.load_id),
    }));
  }

  async confirmLedgerMarks(refs: readonly ObjectRef[]): Promise<void> {
    for (const chunk of chunked(refs, MAX_BATCH_STATEMENTS)) {
      const statements = chunk.map((r) => confirmLedgerMarkSql(r.bucket, r.key, r.versionId));
      await this.mapFailure('confirm ledger marks', async () =>
        this.wait('confirm ledger marks', await this.executeBatch('confirm ledger marks', statements)),
      );
    }
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<QueryResult> {
    return this.run('query', { text: sql, params });
  }

  async tenantsWithRows(): Promise<string[]> {
    return (await this.run('read tenants', tenantsWithRowsSql())).rows.map((r) => String(r.tenant));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Removal

  /**
   * One BatchExecuteStatement, so one transaction: `LOCK load_log` (as a load takes it), the plan of
   * retention-sql.ts (temporary tables and the counts), the removal and its purge_log row, and last the counts,
   * read back from that sub-statement's result. The counts are computed in SQL before anything is deleted, not
   * taken from the Data API's ResultRows, so that the purge_log row can be written inside the batch.
   *
   * A dry run is the same batch without the removal: lock, plan, counts. It writes no table of the warehouse (the
   * plan's temporary tables end with the Data API's session), so it needs no ROLLBACK inside the batch, and its
   * counts are those the real run computes before it deletes.
   *
   * A purge's candidates come from `candidateFiles`: the batch creates the load's staging table of tahoe_instance
   * and COPYs the object's own files into it from the purge's manifest, with the load's COPY (the namespace's
   * default role, FORMAT AS PARQUET, MANIFEST), so that a 1 GB object's hundreds of thousands of instance hashes
   * cost two statements and no parameters. Values in `candidates` still go as parameters, 1,000 to an INSERT; a
   * batch they would push past 40 statements is refused before anything is sent.
   */
  async removeRows(
    request: RemovalRequest,
    options: { readonly id: string; readonly now: Date; readonly dryRun?: boolean },
  ): Promise<RemovalResult> {
    const files = request.kind === 'PURGE_OBJECT' ? request.candidateFiles : undefined;
    const copyCandidates: SqlStatement[] =
      files && files.files.length > 0
        ? [
            { text: createStagingSql('tahoe_instance', 'redshift'), params: [] },
            { text: copyFromManifestSql('tahoe_instance', files.manifestBucket, files.manifestKey), params: [] },
          ]
        : [];
    const sql = removalSql(request, { ...options, copyCandidates }, 'redshift');
    const statements: SqlStatement[] = [
      { text: lockStatement('redshift'), params: [] },
      ...sql.plan,
      ...(options.dryRun ? [] : sql.apply),
      sql.result,
    ];
    const what = `${options.dryRun ? 'dry run of ' : ''}removal ${options.id} (${request.kind} of ${request.tenant})`;
    if (statements.length > MAX_BATCH_STATEMENTS) {
      throw new RangeError(
        `${what}: ${statements.length} statements, the Data API runs at most ${MAX_BATCH_STATEMENTS} in one transaction (pass fewer candidates)`,
      );
    }
    const copyAt = copyCandidates.length > 0 ? statements.indexOf(copyCandidates[1] as SqlStatement) + 1 : -1;
    return this.mapFailure(what, async () => {
      const id = await this.executeBatch(what, statements);
      let d: DescribeStatementResponse;
      try {
        d = await this.wait(what, id);
      } catch (err) {
        if (err instanceof StatementFailedError && err.subStatement === copyAt && files) {
          throw copyCandidatesFailure(err, `s3://${files.manifestBucket}/${files.manifestKey}`);
        }
        throw err;
      }
      const last = statements.length - 1;
      const counts = await this.fetch(`${what}: counts`, d.SubStatements?.[last]?.Id ?? `${d.Id ?? id}:${last + 1}`);
      return removalResult(removalCounts(counts.rows[0]));
    });
  }

  async close(): Promise<void> {
    // The client is the caller's (built once per container); the Data API holds no connection of ours.
  }

  // -------------------------------------------------------------------------------------------------------------
  // Load

  async load(batch: LoadBatch, now: Date): Promise<LoadResult> {
    const rowCounts = await mapLimited(batch.files, this.options.footerConcurrency ?? 8, (f) =>
      this.options.footers.rowCount(batch.bucket, f),
    );
    const rowsOf = new Map(batch.files.map((f, i) => [f.key, rowCounts[i] as number]));
    const steps = this.loadSteps(batch, now, rowsOf);
    const what = `load ${batch.loadId}`;
    const id = await this.executeBatch(what, steps);
    let d: DescribeStatementResponse;
    try {
      d = await this.wait(what, id);
    } catch (err) {
      if (!(err instanceof StatementFailedError)) throw err;
      throw await this.loadFailure(batch, steps, err);
    }
    return this.loadResult(batch, steps, d, rowsOf);
  }

  /** The statements of one load, in order; see the module comment. */
  private loadSteps(batch: LoadBatch, now: Date, rowsOf: ReadonlyMap<string, number>): Step[] {
    const tables = TAHOE_TABLES.filter((t) => batch.files.some((f) => f.table === t));
    const plain = (kind: StepKind, text: string, table?: TahoeTable): Step => ({
      kind,
      text,
      params: [],
      ...(table ? { table } : {}),
    });
    const steps: Step[] = [plain('lock', lockStatement('redshift'))];
    for (const t of tables) steps.push(plain('stage', createStagingSql(t, 'redshift'), t));
    for (const t of tables) {
      const manifest = batch.tableManifests[t];
      if (!manifest) throw new TypeError(`load ${batch.loadId}: no manifest for ${t}, which has files in the batch`);
      steps.push(plain('copy', copyFromManifestSql(t, batch.manifestBucket, manifest), t));
    }
    for (const t of tables) steps.push(plain('merge', createMergeSourceSql(t), t));
    if (tables.length > 0) {
      // One statement reads every count the result needs, before MERGE (which leaves its source tables as they are).
      const counts = tables.flatMap((t) => {
        const over = countOversizeSql(t);
        return [`(${countNewRowsSql(t)}) AS inserted_${t}`, ...(over ? [`(${over}) AS oversize_${t}`] : [])];
      });
      steps.push(plain('counts', `SELECT ${counts.join(', ')}`));
    }
    for (const t of tables) steps.push(plain('merge', mergeSql(t), t));
    const hours = createAffectedHoursSql(tables);
    if (hours) {
      steps.push(plain('aggregate', hours));
      steps.push(plain('aggregate', deleteAffectedAggregatesSql()));
      steps.push(plain('aggregate', insertAffectedAggregatesSql()));
    }

    const logRows: LoadLogRow[] = [
      ...batch.files.map((f) => loadLogRow(batch, f, now, 'LOADED', rowsOf.get(f.key) ?? 0, null)),
      ...batch.rejected.map((f) => loadLogRow(batch, f, now, 'REJECTED', 0, f.error)),
    ];
    if (logRows.length > 0) {
      const cols = LOAD_LOG_COLUMNS.join(', ');
      steps.push(plain('log', `CREATE TEMP TABLE ${STAGE_LOAD_LOG} AS SELECT ${cols} FROM load_log WHERE 1 = 0`));
      for (const st of insertLoadLogSql(logRows)) {
        const prefix = 'INSERT INTO load_log ';
        if (!st.text.startsWith(prefix))
          throw new TypeError('insertLoadLogSql no longer starts with INSERT INTO load_log');
        steps.push({
          kind: 'log',
          text: `INSERT INTO ${STAGE_LOAD_LOG} ${st.text.slice(prefix.length)}`,
          params: st.params,
        });
      }
      const present = `EXISTS (SELECT 1 FROM load_log l WHERE l.file_key = s.file_key)`;
      steps.push(plain('skipped', `SELECT s.file_key FROM ${STAGE_LOAD_LOG} s WHERE ${present}`));
      steps.push(
        plain('log', `INSERT INTO load_log (${cols}) SELECT ${cols} FROM ${STAGE_LOAD_LOG} s WHERE NOT ${present}`),
      );
    }
    const ingest = upsertIngestFileSql(
      batch.objects.map((o) => ({ item: o.item, loaded: o.loaded, loadId: batch.loadId, now })),
    );
    // Temp tables end with the Data API's session, at the end of the batch: their DROPs would only use up statements.
    for (const st of ingest) if (!/^DROP TABLE/i.test(st.text)) steps.push({ kind: 'ingest', ...st });
    return steps;
  }

  private async loadResult(
    batch: LoadBatch,
    steps: readonly Step[],
    d: DescribeStatementResponse,
    rowsOf: ReadonlyMap<string, number>,
  ): Promise<LoadResult> {
    const sub = (i: number): SubStatementData | undefined => d.SubStatements?.[i];
    const copied = zeroCounts();
    const inserted = zeroCounts();
    let oversize = 0;
    let skipped: string[] = [];
    for (const [i, step] of steps.entries()) {
      if (step.kind === 'copy' && step.table) {
        const rows = sub(i)?.ResultRows;
        copied[step.table] =
          typeof rows === 'number' && rows >= 0
            ? rows
            : batch.files.filter((f) => f.table === step.table).reduce((n, f) => n + (rowsOf.get(f.key) ?? 0), 0);
      }
      if (step.kind === 'counts') {
        const id = sub(i)?.Id ?? `${d.Id}:${i + 1}`;
        const row = (await this.fetch(`load ${batch.loadId}: counts`, id)).rows[0] ?? {};
        for (const t of TAHOE_TABLES) {
          if (row[`inserted_${t}`] != null) inserted[t] = Number(row[`inserted_${t}`]);
          if (row[`oversize_${t}`] != null) oversize += Number(row[`oversize_${t}`]);
        }
      }
      if (step.kind === 'skipped') {
        const id = sub(i)?.Id ?? `${d.Id}:${i + 1}`;
        skipped = (await this.fetch(`load ${batch.loadId}: skipped files`, id)).rows.map((r) => String(r.file_key));
      }
    }
    const skip = new Set(skipped);
    const rowsByFile: Record<string, number> = {};
    for (const f of batch.files) if (!skip.has(f.key)) rowsByFile[f.key] = rowsOf.get(f.key) ?? 0;
    return { copied: copied as TableCounts, inserted: inserted as TableCounts, oversize, skipped, rowsByFile };
  }

  /** Turns a failed load batch into the error the core acts on; see the module comment. */
  private async loadFailure(batch: LoadBatch, steps: readonly Step[], err: StatementFailedError): Promise<Error> {
    const step = err.subStatement ? steps[err.subStatement - 1] : undefined;
    if (step?.kind === 'copy') {
      const named = (await this.fileFromLoadErrors(batch, err)) ?? fileNamedIn(batch, err.message);
      if (named) return new FileLoadError(named, `${named}: ${err.message}`, { cause: err });
      if (CONFIG_SQL.test(err.message) && !/does not exist/i.test(err.message)) {
        return new ConfigError(`${err.message} (check the namespace's default IAM role and its S3 and KMS access)`, {
          cause: err,
        });
      }
      if (TRANSIENT_SQL.test(err.message)) return new TransientError(err.message, { cause: err });
      const files = batch.files.filter((f) => f.table === step.table).map((f) => f.key);
      return new FileLoadError(
        files.length === 1 ? files[0] : undefined,
        `COPY into ${step.table} failed without naming a file: ${err.message}`,
        { cause: err },
      );
    }
    if (TRANSIENT_SQL.test(err.message)) return new TransientError(err.message, { cause: err });
    if (CONFIG_SQL.test(err.message)) return new ConfigError(err.message, { cause: err });
    return err;
  }

  /**
   * The file SYS_LOAD_ERROR_DETAIL blames for the failed COPY, if it is one of the batch's
   * (https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html). Best effort: a failure to look is
   * not the load's failure.
   */
  private async fileFromLoadErrors(batch: LoadBatch, err: StatementFailedError): Promise<string | undefined> {
    if (err.redshiftQueryId === undefined) return undefined;
    try {
      const { rows } = await this.run('read sys_load_error_detail', {
        text: 'SELECT TRIM(file_name) AS file_name FROM sys_load_error_detail WHERE query_id = $1 LIMIT 10',
        params: [err.redshiftQueryId],
      });
      for (const r of rows) {
        const key = keyOfS3Url(String(r.file_name ?? ''), batch.bucket);
        if (key && batch.files.some((f) => f.key === key)) return key;
      }
    } catch {
      // Fall back on the error text.
    }
    return undefined;
  }
}

/**
 * A failed COPY of a purge's candidate files, classified as a load's COPY is: the role's access → ConfigError,
 * capacity and conflicts → TransientError; otherwise (a file of the manifest gone or unreadable) an error naming the
 * manifest, which the purge records as its warehouse step's failure (a re-run writes a manifest of the files there).
 */
function copyCandidatesFailure(err: StatementFailedError, manifest: string): Error {
  const message = `${err.message} (COPY of the purge's candidate files listed in ${manifest})`;
  if (CONFIG_SQL.test(err.message) && !/does not exist/i.test(err.message)) {
    return new ConfigError(`${message} (check the namespace's default IAM role and its S3 and KMS access)`, {
      cause: err,
    });
  }
  if (TRANSIENT_SQL.test(err.message)) return new TransientError(message, { cause: err });
  return new Error(message, { cause: err });
}

/** `s3://bucket/key` (or an https S3 URL) → key, if it is in `bucket`. */
function keyOfS3Url(url: string, bucket: string): string | undefined {
  const s3 = `s3://${bucket}/`;
  if (url.startsWith(s3)) return url.slice(s3.length);
  const https = new RegExp(`^https://[^/]+/${bucket.replace(/[.]/g, '\\.')}/(.+)$`).exec(url);
  if (https?.[1]) return decodeURIComponent(https[1]);
  return undefined;
}

/** The batch file the error text names, as a key or URL-encoded (Redshift prints object URLs). */
function fileNamedIn(batch: LoadBatch, message: string): string | undefined {
  for (const f of batch.files) {
    const encoded = f.key
      .split('/')
      .map((s) => encodeURIComponent(s))
      .join('/');
    if (message.includes(f.key) || message.includes(encoded)) return f.key;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Parquet footers from S3

/**
 * Reads Parquet footers with ranged GETs (hyparquet fetches the file's tail, usually one request), never the data.
 * A file that is not Parquet, or not of its table's columns, is a FileLoadError naming it.
 */
export class S3ParquetFooters implements ParquetFooters {
  constructor(private readonly s3: S3Client) {}

  async rowCount(bucket: string, file: LoadFile): Promise<number> {
    const what = `read the Parquet footer of s3://${bucket}/${file.key}`;
    const source: AsyncBuffer = {
      byteLength: file.bytes,
      slice: async (start, end) => {
        const last = (end ?? file.bytes) - 1;
        try {
          const out = await this.s3.send(
            new GetObjectCommand({ Bucket: bucket, Key: file.key, Range: `bytes=${start}-${last}` }),
          );
          const bytes = await out.Body?.transformToByteArray();
          if (!bytes) throw new TransientError(`${what}: empty response`);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        } catch (err) {
          throw classifyS3Error(err, what, { bucket, key: file.key });
        }
      },
    };
    try {
      const metadata = await parquetMetadataAsync(source);
      checkSchema(metadata, file.table);
      return Number(metadata.num_rows);
    } catch (err) {
      if (err instanceof TransientError || err instanceof ConfigError) throw err;
      if (err instanceof PermanentError && !(err instanceof ParquetFileError)) {
        throw new FileLoadError(file.key, `${file.key}: ${err.message}`, { cause: err });
      }
      throw new FileLoadError(file.key, `${file.key}: not a Parquet file of ${file.table}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}
