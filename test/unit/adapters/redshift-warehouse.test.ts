import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchExecuteStatementCommand,
  type BatchExecuteStatementCommandInput,
  CancelStatementCommand,
  DescribeStatementCommand,
  type DescribeStatementResponse,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  GetStatementResultCommand,
  type GetStatementResultResponse,
  RedshiftDataClient,
} from '@aws-sdk/client-redshift-data';
import { GetObjectCommand, type GetObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import {
  classifyDataApiError,
  copyFromManifestSql,
  MAX_BATCH_STATEMENTS,
  type ParquetFooters,
  parseTimestamp,
  RedshiftWarehouse,
  type RedshiftWarehouseOptions,
  S3ParquetFooters,
  StatementFailedError,
  timestampParameter,
  toNamedBatch,
} from '../../../lambdas/adapters/redshift-warehouse';
import type { LedgerItem } from '../../../lambdas/ledger/model';
import { createPartWriter } from '../../../lambdas/parquet/part-writer';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';
import { manifestKey, tahoeKey } from '../../../lambdas/shared/s3-keys';
import { tableManifestKey } from '../../../lambdas/warehouse/manifest';
import { FileLoadError, type LoadBatch, type LoadFile } from '../../../lambdas/warehouse/port';

const rd = mockClient(RedshiftDataClient);
const client = new RedshiftDataClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
});

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const rawA = tahoeKey({ table: 'tahoe_raw', tenant: 'acme', dt: '2024-05-01', rawSha256: SHA_A, part: 0 });
const rawB = tahoeKey({ table: 'tahoe_raw', tenant: 'acme', dt: '2024-05-01', rawSha256: SHA_B, part: 0 });
const edgeA = tahoeKey({ table: 'tahoe_edge', tenant: 'acme', dt: '2024-05-01', rawSha256: SHA_A, part: 0 });
const rejectedKey = tahoeKey({
  table: 'tahoe_instance',
  tenant: 'globex',
  dt: '2024-05-02',
  rawSha256: SHA_B,
  part: 3,
});

const NOW = new Date('2024-05-01T12:34:56.789Z');
const LOAD_ID = '01HX5ZZKBKACTAV9WEVGEMMVRZ';

const item: LedgerItem = {
  ref: {
    bucket: 'raw-bucket',
    key: 'raw/tenant=acme/typetag=cowrie/dt=2024-05-01/hour=12/01HX.jsonl',
    versionId: 'v1',
  },
  status: 'PROCESSED',
  tenant: 'acme',
  typetag: 'cowrie',
  size: 1234,
  receivedAt: new Date('2024-05-01T12:00:00Z'),
  sha256: SHA_A,
  attempts: 1,
  createdAt: new Date('2024-05-01T12:00:00Z'),
  updatedAt: new Date('2024-05-01T12:01:00Z'),
};

function batch(overrides: Partial<LoadBatch> = {}): LoadBatch {
  return {
    loadId: LOAD_ID,
    bucket: 'curated-bucket',
    manifestBucket: 'manifests-bucket',
    manifestKey: manifestKey(LOAD_ID),
    // The keys the loader core writes (lambdas/warehouse/manifest.ts): they must pass the COPY location grammar.
    tableManifests: {
      tahoe_raw: tableManifestKey(LOAD_ID, 'tahoe_raw'),
      tahoe_edge: tableManifestKey(LOAD_ID, 'tahoe_edge'),
    },
    files: [
      { key: rawA, table: 'tahoe_raw', bytes: 1000 },
      { key: rawB, table: 'tahoe_raw', bytes: 2000 },
      { key: edgeA, table: 'tahoe_edge', bytes: 500 },
    ],
    rejected: [{ key: rejectedKey, table: 'tahoe_instance', bytes: 10, error: "corrupt: O'Brien's file" }],
    objects: [{ item, loaded: true }],
    ...overrides,
  };
}

const ROWS: Record<string, number> = { [rawA]: 7, [rawB]: 5, [edgeA]: 3 };
const footers: ParquetFooters = { rowCount: async (_bucket, f) => ROWS[f.key] ?? 0 };

/** A deterministic clock that the injected sleep advances. */
function timeline() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

function warehouse(options: Partial<RedshiftWarehouseOptions> = {}) {
  const t = timeline();
  const w = new RedshiftWarehouse(client, {
    workgroupName: 'wg',
    database: 'cyberactive',
    secret: 'redshift!ns-cyberactive_admin',
    footers,
    clock: t.clock,
    sleep: t.sleep,
    ...options,
  });
  return { w, ...t };
}

function batchInput(): BatchExecuteStatementCommandInput {
  const calls = rd.commandCalls(BatchExecuteStatementCommand);
  expect(calls).toHaveLength(1);
  return calls[0]?.args[0].input as BatchExecuteStatementCommandInput;
}

/** A FINISHED description of a batch, with the sub-statements' ids and COPY row counts. */
function finished(id: string, sqls: readonly string[]): DescribeStatementResponse {
  return {
    Id: id,
    Status: 'FINISHED',
    SubStatements: sqls.map((sql, i) => ({
      Id: `${id}:${i + 1}`,
      Status: 'FINISHED',
      ResultRows: sql.startsWith('COPY stage_tahoe_raw') ? 12 : sql.startsWith('COPY stage_tahoe_edge') ? 3 : 0,
      HasResultSet: sql.startsWith('SELECT'),
    })),
  };
}

function result(columns: string[], records: GetStatementResultResponse['Records']): GetStatementResultResponse {
  return { ColumnMetadata: columns.map((name) => ({ name, typeName: 'int8' })), Records: records };
}

/** Wires a successful load: the batch finishes; counts and skipped keys are served by sub-statement id. */
function serveSuccessfulLoad(skipped: string[] = []) {
  rd.on(BatchExecuteStatementCommand).resolves({ Id: 'load-1' });
  rd.on(DescribeStatementCommand).callsFake(() => finished('load-1', batchInput().Sqls ?? []));
  rd.on(GetStatementResultCommand).callsFake((input: { Id: string }) => {
    const sqls = batchInput().Sqls ?? [];
    const sql = sqls[Number(input.Id.split(':')[1]) - 1] ?? '';
    if (sql.startsWith('SELECT s.file_key'))
      return {
        ...result(
          ['file_key'],
          skipped.map((k) => [{ stringValue: k }]),
        ),
      };
    return result(
      ['inserted_tahoe_raw', 'oversize_tahoe_raw', 'inserted_tahoe_edge'],
      [[{ longValue: 9 }, { longValue: 1 }, { longValue: 2 }]],
    );
  });
}

beforeEach(() => rd.reset());

describe('load', () => {
  test('sends exactly one BatchExecuteStatement: lock, stage, COPY per table, merge, aggregate, load_log', async () => {
    serveSuccessfulLoad();
    const { w } = warehouse();
    await w.load(batch(), NOW);
    const input = batchInput();
    expect(rd.commandCalls(ExecuteStatementCommand)).toHaveLength(0);
    expect(input).toMatchObject({
      WorkgroupName: 'wg',
      Database: 'cyberactive',
      SecretArn: 'redshift!ns-cyberactive_admin',
    });
    expect(input.ExecutionMode).toBeUndefined(); // the default: one transaction
    // A client token, so that an SDK retry of the request cannot start the load twice.
    expect(input.ClientToken).toMatch(/^[0-9a-f-]{36}$/);
    const sqls = input.Sqls ?? [];
    expect(sqls[0]).toBe('LOCK load_log');
    expect(sqls.filter((s) => s.startsWith('COPY '))).toEqual([
      `COPY stage_tahoe_raw FROM 's3://manifests-bucket/manifests/${LOAD_ID}.tahoe_raw.manifest' IAM_ROLE default FORMAT AS PARQUET MANIFEST`,
      `COPY stage_tahoe_edge FROM 's3://manifests-bucket/manifests/${LOAD_ID}.tahoe_edge.manifest' IAM_ROLE default FORMAT AS PARQUET MANIFEST`,
    ]);
    const order = (prefix: string) => sqls.findIndex((s) => s.startsWith(prefix));
    expect(order('CREATE TEMP TABLE stage_tahoe_raw')).toBeLessThan(order('COPY stage_tahoe_raw'));
    expect(order('COPY stage_tahoe_edge')).toBeLessThan(order('CREATE TEMP TABLE merge_tahoe_raw'));
    expect(order('MERGE INTO tahoe_raw')).toBeGreaterThan(order('SELECT (SELECT COUNT'));
    expect(order('DELETE FROM agg_event_hourly')).toBeGreaterThan(order('MERGE INTO tahoe_edge'));
    expect(order('SELECT s.file_key')).toBeLessThan(order('INSERT INTO load_log'));
    expect(sqls.some((s) => s.startsWith('DROP TABLE'))).toBe(false);
    expect(sqls.length).toBeLessThanOrEqual(MAX_BATCH_STATEMENTS);
  });

  test('passes every value as a Data API parameter, never in the SQL text', async () => {
    serveSuccessfulLoad();
    const { w } = warehouse();
    await w.load(batch(), NOW);
    const { Sqls = [], Parameters = [] } = batchInput();
    // COPY's location is the one literal (Redshift parses it before binding), checked against the manifest grammar.
    const text = Sqls.filter((s) => !s.startsWith('COPY ')).join('\n');
    const values = Parameters.map((p) => p.value);
    for (const value of [rawA, rawB, edgeA, rejectedKey, LOAD_ID, 'globex', "corrupt: O'Brien's file", SHA_B]) {
      expect(values).toContain(value);
      expect(text).not.toContain(value);
    }
    expect(values).toContain('2024-05-01 12:34:56.789000+00');
    // Each parameter is named by exactly one placeholder, and each placeholder has its parameter.
    const used = [...text.matchAll(/:(p\d+)\b/g)].map((m) => m[1]);
    expect([...used].sort()).toEqual(Parameters.map((p) => p.name).sort());
    expect(new Set(used).size).toBe(used.length);
    // Values the Data API cannot carry are the SQL constants.
    expect(Parameters.every((p) => typeof p.value === 'string' && p.value.length > 0)).toBe(true);
    expect(text).toMatch(/NULL/);
  });

  test('reports COPY counts, new and oversize rows, skipped files and rows per file', async () => {
    serveSuccessfulLoad([rawB]);
    const { w } = warehouse();
    const r = await w.load(batch(), NOW);
    expect(r).toEqual({
      copied: { tahoe_raw: 12, tahoe_instance: 0, tahoe_edge: 3 },
      inserted: { tahoe_raw: 9, tahoe_instance: 0, tahoe_edge: 2 },
      oversize: 1,
      skipped: [rawB],
      rowsByFile: { [rawA]: 7, [edgeA]: 3 },
    });
  });

  test('writes load_log through a staging table, inserting only the files not logged meanwhile', async () => {
    serveSuccessfulLoad();
    const { w } = warehouse();
    await w.load(batch(), NOW);
    const sqls = batchInput().Sqls ?? [];
    expect(sqls.filter((s) => /^INSERT INTO stage_load_log \(file_key/.test(s))).toHaveLength(1);
    expect(sqls).toContain(
      `INSERT INTO load_log (file_key, load_id, table_name, tenant, raw_sha256, bytes, row_count, status, error_message, manifest_key, loaded_at) SELECT file_key, load_id, table_name, tenant, raw_sha256, bytes, row_count, status, error_message, manifest_key, loaded_at FROM stage_load_log s WHERE NOT EXISTS (SELECT 1 FROM load_log l WHERE l.file_key = s.file_key)`,
    );
  });

  test('records rejections alone when the batch has no files to copy', async () => {
    serveSuccessfulLoad();
    const { w } = warehouse();
    const r = await w.load(batch({ files: [], tableManifests: {} }), NOW);
    const sqls = batchInput().Sqls ?? [];
    expect(sqls.some((s) => s.startsWith('COPY') || s.startsWith('MERGE'))).toBe(false);
    expect(sqls[0]).toBe('LOCK load_log');
    expect(r.rowsByFile).toEqual({});
  });

  test('refuses a file whose footer is not its table, naming it, before asking Redshift', async () => {
    const bad: ParquetFooters = {
      rowCount: async (_b, f: LoadFile) => {
        if (f.key === rawB) throw new FileLoadError(rawB, `${rawB}: not a Parquet file of tahoe_raw`);
        return 1;
      },
    };
    const { w } = warehouse({ footers: bad });
    await expect(w.load(batch(), NOW)).rejects.toMatchObject({ name: 'PermanentError', fileKey: rawB });
    expect(rd.commandCalls(BatchExecuteStatementCommand)).toHaveLength(0);
  });

  test('refuses a batch that needs more statements than one Data API transaction holds', async () => {
    const { w } = warehouse();
    const objects = Array.from({ length: 200 * 40 }, () => ({ item, loaded: false }));
    await expect(w.load(batch({ objects }), NOW)).rejects.toThrow(/at most 40 in one transaction/);
    expect(rd.commandCalls(BatchExecuteStatementCommand)).toHaveLength(0);
  });

  test('refuses a manifest location that could break out of the COPY literal', async () => {
    const { w } = warehouse();
    await expect(
      w.load(
        batch({
          tableManifests: { tahoe_raw: "manifests/x' IAM_ROLE 'arn:aws:iam::1:role/r", tahoe_edge: 'manifests/e' },
        }),
        NOW,
      ),
    ).rejects.toThrow(/is not a loader manifest key/);
    expect(rd.commandCalls(BatchExecuteStatementCommand)).toHaveLength(0);
  });
});

describe('polling', () => {
  test('waits with a doubling, capped backoff until the batch finishes', async () => {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'load-1' });
    let polls = 0;
    rd.on(DescribeStatementCommand).callsFake(() => {
      polls++;
      if (polls < 6) return { Id: 'load-1', Status: polls < 2 ? 'SUBMITTED' : 'STARTED' };
      return finished('load-1', batchInput().Sqls ?? []);
    });
    rd.on(GetStatementResultCommand).resolves(result(['inserted_tahoe_raw'], [[{ longValue: 0 }]]));
    const { w, sleeps } = warehouse({ initialPollMs: 100, maxPollMs: 400 });
    await w.load(batch(), NOW);
    expect(sleeps).toEqual([100, 200, 400, 400, 400]);
    expect(rd.commandCalls(DescribeStatementCommand).every((c) => c.args[0].input.Id === 'load-1')).toBe(true);
  });

  test('cancels the batch and throws a TransientError when the deadline passes', async () => {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'load-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'load-1', Status: 'STARTED' });
    rd.on(CancelStatementCommand).resolves({ Status: true });
    const { w, sleeps } = warehouse({ initialPollMs: 1000, maxPollMs: 8000, statementTimeoutMs: 30_000 });
    const err = await w.load(batch(), NOW).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/cancelled/);
    expect(rd.commandCalls(CancelStatementCommand).map((c) => c.args[0].input.Id)).toEqual(['load-1']);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(30_000);
    expect(Math.max(...sleeps)).toBe(8000);
  });

  test('stops at the invocation deadline when it comes before the statement timeout', async () => {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'load-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'load-1', Status: 'PICKED' });
    rd.on(CancelStatementCommand).resolves({ Status: true });
    const t = timeline();
    const { w } = warehouse({ clock: t.clock, sleep: t.sleep, deadline: () => 1_000_000 + 3000 });
    await expect(w.load(batch(), NOW)).rejects.toBeInstanceOf(TransientError);
    expect(t.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3000);
  });

  test('turns an aborted batch into a TransientError', async () => {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'load-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'load-1', Status: 'ABORTED' });
    const { w } = warehouse();
    await expect(w.load(batch(), NOW)).rejects.toThrow(TransientError);
  });
});

/** A batch whose statement starting with `prefix` FAILED with `error`. */
function failAt(prefix: string, error: string, queryId = 4242) {
  rd.on(BatchExecuteStatementCommand).resolves({ Id: 'load-1' });
  rd.on(DescribeStatementCommand).callsFake(() => {
    const sqls = batchInput().Sqls ?? [];
    const at = sqls.findIndex((s) => s.startsWith(prefix));
    expect(at).toBeGreaterThanOrEqual(0);
    return {
      Id: 'load-1',
      Status: 'FAILED',
      Error: error,
      SubStatements: sqls.map((_, i) => ({
        Id: `load-1:${i + 1}`,
        Status: i < at ? 'FINISHED' : i === at ? 'FAILED' : 'ABORTED',
        ...(i === at ? { Error: error, RedshiftQueryId: queryId } : {}),
      })),
    };
  });
}

describe('load failures', () => {
  test('names the file SYS_LOAD_ERROR_DETAIL blames for a failed COPY', async () => {
    failAt('COPY stage_tahoe_raw', "ERROR: Load into table 'stage_tahoe_raw' failed. Check 'sys_load_error_detail'");
    rd.on(ExecuteStatementCommand).resolves({ Id: 'lookup-1' });
    rd.on(DescribeStatementCommand, { Id: 'lookup-1' }).resolves({
      Id: 'lookup-1',
      Status: 'FINISHED',
      HasResultSet: true,
    });
    rd.on(GetStatementResultCommand, { Id: 'lookup-1' }).resolves({
      ColumnMetadata: [{ name: 'file_name', typeName: 'varchar' }],
      Records: [[{ stringValue: `s3://curated-bucket/${rawB}` }]],
    });
    const { w } = warehouse();
    const err = await w.load(batch(), NOW).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileLoadError);
    expect((err as FileLoadError).fileKey).toBe(rawB);
    // The lookup passes the query id as a parameter too.
    const lookup = rd.commandCalls(ExecuteStatementCommand)[0]?.args[0].input as ExecuteStatementCommandInput;
    expect(lookup.Sql).toMatch(/FROM sys_load_error_detail WHERE query_id = :p1/);
    expect(lookup.Parameters).toEqual([{ name: 'p1', value: '4242' }]);
  });

  test('names the file the error text shows as an S3 URL when the lookup finds nothing', async () => {
    const encoded = edgeA.replace(/=/g, '%3D');
    failAt(
      'COPY stage_tahoe_edge',
      `Spectrum Scan Error. File 'https://s3.eu-west-1.amazonaws.com/curated-bucket/${encoded}' has an incompatible Parquet schema`,
    );
    rd.on(ExecuteStatementCommand).resolves({ Id: 'lookup-1' });
    rd.on(DescribeStatementCommand, { Id: 'lookup-1' }).resolves({
      Id: 'lookup-1',
      Status: 'FINISHED',
      HasResultSet: true,
    });
    rd.on(GetStatementResultCommand, { Id: 'lookup-1' }).resolves({
      ColumnMetadata: [{ name: 'file_name' }],
      Records: [],
    });
    const { w } = warehouse();
    await expect(w.load(batch(), NOW)).rejects.toMatchObject({ fileKey: edgeA });
  });

  test('leaves the file unnamed (for the core to bisect) when a COPY of several files fails without a name', async () => {
    failAt('COPY stage_tahoe_raw', 'ERROR: Invalid Parquet file: magic number mismatch');
    rd.on(ExecuteStatementCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const { w } = warehouse();
    const err = await w.load(batch(), NOW).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileLoadError);
    expect((err as FileLoadError).fileKey).toBeUndefined();
  });

  test('maps a serialisation conflict in MERGE to a TransientError', async () => {
    failAt('MERGE INTO tahoe_raw', 'ERROR: 1023 DETAIL: Serializable isolation violation on table - 123456');
    const { w } = warehouse();
    await expect(w.load(batch(), NOW)).rejects.toBeInstanceOf(TransientError);
  });

  test('maps missing privileges or tables to a ConfigError', async () => {
    failAt('LOCK load_log', 'ERROR: permission denied for relation load_log');
    await expect(warehouse().w.load(batch(), NOW)).rejects.toBeInstanceOf(ConfigError);
    rd.reset();
    failAt('LOCK load_log', 'ERROR: relation "load_log" does not exist');
    await expect(warehouse().w.load(batch(), NOW)).rejects.toBeInstanceOf(ConfigError);
  });

  test('maps a COPY the role may not read to a ConfigError, not to a bad file', async () => {
    failAt('COPY stage_tahoe_raw', 'ERROR: S3ServiceException:Access Denied,Status 403,Error AccessDenied');
    rd.on(ExecuteStatementCommand).resolves({ Id: 'lookup-1' });
    rd.on(DescribeStatementCommand, { Id: 'lookup-1' }).resolves({
      Id: 'lookup-1',
      Status: 'FINISHED',
      HasResultSet: true,
    });
    rd.on(GetStatementResultCommand, { Id: 'lookup-1' }).resolves({
      ColumnMetadata: [{ name: 'file_name' }],
      Records: [],
    });
    await expect(warehouse().w.load(batch(), NOW)).rejects.toBeInstanceOf(ConfigError);
  });

  test.each([
    ['ThrottlingException', 400, TransientError],
    ['ActiveStatementsExceededException', 400, TransientError],
    ['InternalServerException', 500, TransientError],
    ['AccessDeniedException', 403, ConfigError],
    ['ValidationException', 400, ConfigError],
    ['ResourceNotFoundException', 404, ConfigError],
  ])('maps %s from the Data API to the right error class', async (name, status, cls) => {
    rd.on(BatchExecuteStatementCommand).rejects(
      Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } }),
    );
    await expect(warehouse().w.load(batch(), NOW)).rejects.toBeInstanceOf(cls);
  });
});

describe('query', () => {
  test('binds $n as :pn parameters, writes NULL for null, and reads every page', async () => {
    rd.on(ExecuteStatementCommand).resolves({ Id: 'q-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'q-1', Status: 'FINISHED', HasResultSet: true });
    const columns = [
      { name: 'tenant', typeName: 'varchar' },
      { name: 'n', typeName: 'int8' },
      { name: 'k', typeName: 'int4' },
      { name: 'seen', typeName: 'timestamptz' },
      { name: 'ok', typeName: 'bool' },
      { name: 'ts', typeName: 'float8' },
      { name: 'none', typeName: 'varchar' },
    ];
    const row = (tenant: string) => [
      { stringValue: tenant },
      { longValue: 12 },
      { longValue: 3 },
      { stringValue: '2024-05-01 12:00:00.5+00' },
      { booleanValue: true },
      { doubleValue: 1.5 },
      { isNull: true },
    ];
    rd.on(GetStatementResultCommand, { Id: 'q-1' }).resolves({
      ColumnMetadata: columns,
      Records: [row('acme')],
      NextToken: 't2',
    });
    rd.on(GetStatementResultCommand, { Id: 'q-1', NextToken: 't2' }).resolves({ Records: [row('globex')] });
    const { w } = warehouse({ secret: undefined });
    const r = await w.query(
      "SELECT * FROM v WHERE tenant = $1 AND note = '$2' AND at < $2 AND x IS NOT DISTINCT FROM $3",
      ['acme', new Date('2024-05-02T00:00:00Z'), null],
    );
    const input = rd.commandCalls(ExecuteStatementCommand)[0]?.args[0].input as ExecuteStatementCommandInput;
    expect(input.Sql).toBe(
      "SELECT * FROM v WHERE tenant = :p1 AND note = '$2' AND at < :p2 AND x IS NOT DISTINCT FROM NULL",
    );
    expect(input.Parameters).toEqual([
      { name: 'p1', value: 'acme' },
      { name: 'p2', value: '2024-05-02 00:00:00.000000+00' },
    ]);
    // No secret configured: IAM authentication, WorkgroupName and Database only.
    expect(input.SecretArn).toBeUndefined();
    expect(input).toMatchObject({ WorkgroupName: 'wg', Database: 'cyberactive' });
    expect(r.columns).toEqual(['tenant', 'n', 'k', 'seen', 'ok', 'ts', 'none']);
    expect(r.rows).toEqual([
      { tenant: 'acme', n: '12', k: 3, seen: new Date('2024-05-01T12:00:00.500Z'), ok: true, ts: 1.5, none: null },
      { tenant: 'globex', n: '12', k: 3, seen: new Date('2024-05-01T12:00:00.500Z'), ok: true, ts: 1.5, none: null },
    ]);
    expect(rd.commandCalls(GetStatementResultCommand)).toHaveLength(2);
  });

  test('returns no rows for a statement without a result set', async () => {
    rd.on(ExecuteStatementCommand).resolves({ Id: 'q-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'q-1', Status: 'FINISHED', HasResultSet: false });
    const r = await warehouse().w.query('DELETE FROM x WHERE y = $1', [1]);
    expect(r).toEqual({ columns: [], rows: [] });
    expect(rd.commandCalls(GetStatementResultCommand)).toHaveLength(0);
  });

  test('reports a failed query with the warehouse error', async () => {
    rd.on(ExecuteStatementCommand).resolves({ Id: 'q-1' });
    rd.on(DescribeStatementCommand).resolves({
      Id: 'q-1',
      Status: 'FAILED',
      Error: 'ERROR: syntax error at or near "FORM"',
    });
    await expect(warehouse().w.query('SELECT 1 FORM x')).rejects.toBeInstanceOf(StatementFailedError);
  });
});

describe('reads and marks', () => {
  test('loadedKeys returns the status of the keys load_log has', async () => {
    rd.on(ExecuteStatementCommand).resolves({ Id: 'q-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'q-1', Status: 'FINISHED', HasResultSet: true });
    rd.on(GetStatementResultCommand).resolves({
      ColumnMetadata: [{ name: 'file_key' }, { name: 'status' }],
      Records: [[{ stringValue: rawA }, { stringValue: 'LOADED' }]],
    });
    const keys = await warehouse().w.loadedKeys([rawA, rawB]);
    expect(keys).toEqual(new Map([[rawA, 'LOADED']]));
    const input = rd.commandCalls(ExecuteStatementCommand)[0]?.args[0].input as ExecuteStatementCommandInput;
    expect(input.Sql).toBe('SELECT file_key, status FROM load_log WHERE file_key IN (:p1, :p2)');
    expect(input.Parameters?.map((p) => p.value)).toEqual([rawA, rawB]);
  });

  test('loadedKeys of nothing asks nothing', async () => {
    expect(await warehouse().w.loadedKeys([])).toEqual(new Map());
    expect(rd.calls()).toHaveLength(0);
  });

  test('confirmLedgerMarks updates in transactions of at most 40 statements', async () => {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'b' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'b', Status: 'FINISHED' });
    const refs = Array.from({ length: 41 }, (_, i) => ({ bucket: 'raw', key: `raw/k${i}`, versionId: `v${i}` }));
    await warehouse().w.confirmLedgerMarks(refs);
    const calls = rd.commandCalls(BatchExecuteStatementCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.Sqls?.length)).toEqual([40, 1]);
    expect(calls[1]?.Parameters?.map((p) => p.value)).toEqual(['raw', 'raw/k40', 'v40']);
  });
});

describe('migrations', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redshift-sql-'));
    for (const sub of ['migrations', 'redshift', 'views']) mkdirSync(join(dir, sub));
    writeFileSync(
      join(dir, 'migrations', '0000_schema_migrations.sql'),
      'CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(64));\n',
    );
    writeFileSync(join(dir, 'migrations', '0001_tables.sql'), 'CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\n');
    writeFileSync(
      join(dir, 'redshift', '0002_layout.sql'),
      'ALTER TABLE a ALTER DISTSTYLE ALL;\nALTER TABLE b ALTER COMPOUND SORTKEY (y);\n',
    );
    writeFileSync(join(dir, 'views', '01_v_a.sql'), 'CREATE VIEW v_a AS SELECT x FROM a;\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function serve(known: { version: string; checksum: string }[]) {
    let n = 0;
    rd.on(BatchExecuteStatementCommand).callsFake(() => ({ Id: `b${++n}` }));
    rd.on(ExecuteStatementCommand).callsFake(() => ({ Id: `e${++n}` }));
    rd.on(DescribeStatementCommand).callsFake((input: { Id: string }) => ({
      Id: input.Id,
      Status: 'FINISHED',
      HasResultSet: true,
    }));
    rd.on(GetStatementResultCommand).resolves({
      ColumnMetadata: [{ name: 'version' }, { name: 'name' }, { name: 'checksum' }],
      Records: known.map((k) => [{ stringValue: k.version }, { stringValue: 'x' }, { stringValue: k.checksum }]),
    });
  }

  test('applies a transactional migration in one batch and a layout migration statement by statement', async () => {
    serve([]);
    const applied = await warehouse({ sqlDir: dir }).w.applyMigrations(NOW);
    expect(applied).toEqual(['0000', '0001', '0002', 'views']);
    const batches = rd.commandCalls(BatchExecuteStatementCommand).map((c) => c.args[0].input.Sqls ?? []);
    expect(batches[1]).toEqual([
      'LOCK schema_migrations',
      'CREATE TABLE a (x INT)',
      'CREATE TABLE b (y INT)',
      expect.stringMatching(/^INSERT INTO schema_migrations .* VALUES \(:p1, :p2, :p3, :p4\)$/),
    ]);
    const singles = rd.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input.Sql);
    expect(singles).toEqual(
      expect.arrayContaining(['ALTER TABLE a ALTER DISTSTYLE ALL', 'ALTER TABLE b ALTER COMPOUND SORTKEY (y)']),
    );
    expect(batches.some((b) => b.some((s) => s.includes('ALTER DISTSTYLE')))).toBe(false);
    expect(batches.at(-1)).toEqual([
      'LOCK schema_migrations',
      'DROP VIEW IF EXISTS v_a',
      'CREATE VIEW v_a AS SELECT x FROM a',
      expect.stringMatching(/^INSERT INTO schema_migrations/),
    ]);
  });

  test('refuses a migration that changed after it was applied', async () => {
    serve([
      { version: '0000', checksum: 'x' },
      { version: '0001', checksum: 'not-the-file' },
    ]);
    await expect(warehouse({ sqlDir: dir }).w.applyMigrations(NOW)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('helpers', () => {
  test('toNamedBatch numbers parameters across the statements of a batch', () => {
    const { sqls, parameters } = toNamedBatch([
      { text: 'INSERT INTO t VALUES ($1, $2)', params: ['a', 1] },
      { text: 'UPDATE t SET y = $2 WHERE x = $1 AND z = $1', params: ['b', true] },
      { text: 'CREATE FUNCTION f(INT) RETURNS INT STABLE AS $$ SELECT $1 $$ LANGUAGE sql', params: [] },
    ]);
    expect(sqls).toEqual([
      'INSERT INTO t VALUES (:p1, :p2)',
      'UPDATE t SET y = :p3 WHERE x = :p4 AND z = :p4',
      'CREATE FUNCTION f(INT) RETURNS INT STABLE AS $$ SELECT $1 $$ LANGUAGE sql',
    ]);
    expect(parameters).toEqual([
      { name: 'p1', value: 'a' },
      { name: 'p2', value: '1' },
      { name: 'p3', value: 'true' },
      { name: 'p4', value: 'b' },
    ]);
  });

  test('toNamedBatch writes empty strings as a constant and refuses values it cannot pass', () => {
    expect(toNamedBatch([{ text: 'SELECT $1', params: [''] }]).sqls).toEqual(["SELECT ''"]);
    expect(() => toNamedBatch([{ text: 'SELECT $1', params: [{}] }])).toThrow(TypeError);
    expect(() => toNamedBatch([{ text: 'SELECT $2', params: ['a'] }])).toThrow(RangeError);
  });

  test('copyFromManifestSql accepts only loader manifest keys and bucket names', () => {
    expect(copyFromManifestSql('tahoe_raw', 'b-1', 'manifests/01H/tahoe_raw.manifest')).toBe(
      "COPY stage_tahoe_raw FROM 's3://b-1/manifests/01H/tahoe_raw.manifest' IAM_ROLE default FORMAT AS PARQUET MANIFEST",
    );
    for (const key of ["manifests/a'b", 'manifests/a b', 'manifests/a\\b', 'tahoe/x', 'manifests/../x']) {
      expect(() => copyFromManifestSql('tahoe_raw', 'b-1', key)).toThrow(TypeError);
    }
    expect(() => copyFromManifestSql('tahoe_raw', "b'1", 'manifests/a')).toThrow(TypeError);
    expect(() => copyFromManifestSql('tahoe_x' as 'tahoe_raw', 'b-1', 'manifests/a')).toThrow(TypeError);
  });

  test('timestamps travel as UTC text with microseconds and come back as Dates', () => {
    expect(timestampParameter(new Date('2024-01-02T03:04:05.006Z'))).toBe('2024-01-02 03:04:05.006000+00');
    expect(parseTimestamp('2024-01-02 03:04:05.006789+00')).toEqual(new Date('2024-01-02T03:04:05.006Z'));
    expect(parseTimestamp('2024-01-02 03:04:05')).toEqual(new Date('2024-01-02T03:04:05Z'));
    expect(parseTimestamp('2024-01-02 05:04:05+0200')).toEqual(new Date('2024-01-02T03:04:05Z'));
    expect(parseTimestamp('not a time')).toBe('not a time');
  });

  test('classifyDataApiError leaves errors that are not the Data API’s alone', () => {
    const plain = new TypeError('bug');
    expect(classifyDataApiError(plain, 'x')).toBe(plain);
    expect(classifyDataApiError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'x')).toBeInstanceOf(
      TransientError,
    );
  });
});

describe('S3ParquetFooters', () => {
  const s3 = mockClient(S3Client);
  afterEach(() => s3.reset());

  async function edgeFile(rows: number): Promise<Uint8Array> {
    let bytes: Uint8Array | undefined;
    const writer = createPartWriter('tahoe_edge', {
      rowsPerPart: 1000,
      onPart: (_n, b) => {
        bytes = b;
      },
    });
    for (let i = 0; i < rows; i++) {
      await writer.add({ tenant: 'acme', parent_hash: SHA_A, relation: 'ref', child_hash: SHA_B, event_ts: i });
    }
    await writer.end();
    if (!bytes) throw new Error('no part written');
    return bytes;
  }

  function serveRanges(bytes: Uint8Array) {
    s3.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) => {
      const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '') ?? [];
      const slice = bytes.slice(Number(from), Number(to) + 1);
      // The SDK mixes transformToByteArray into response bodies; the footer reader uses only that.
      return { Body: { transformToByteArray: async () => slice } as never };
    });
  }

  test('reads the row count from the footer with ranged GETs only', async () => {
    const bytes = await edgeFile(37);
    serveRanges(bytes);
    const footers = new S3ParquetFooters(new S3Client({ region: 'eu-west-1' }));
    const rows = await footers.rowCount('curated-bucket', { key: edgeA, table: 'tahoe_edge', bytes: bytes.length });
    expect(rows).toBe(37);
    for (const call of s3.commandCalls(GetObjectCommand)) expect(call.args[0].input.Range).toMatch(/^bytes=\d+-\d+$/);
  });

  test('refuses a file of another table, naming it', async () => {
    const bytes = await edgeFile(2);
    serveRanges(bytes);
    const footers = new S3ParquetFooters(new S3Client({ region: 'eu-west-1' }));
    const err = await footers
      .rowCount('curated-bucket', { key: rawA, table: 'tahoe_raw', bytes: bytes.length })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileLoadError);
    expect((err as FileLoadError).fileKey).toBe(rawA);
  });

  test('refuses bytes that are not Parquet, naming the file', async () => {
    serveRanges(new TextEncoder().encode('{"not":"parquet"}'.repeat(4)));
    const footers = new S3ParquetFooters(new S3Client({ region: 'eu-west-1' }));
    await expect(
      footers.rowCount('curated-bucket', { key: rawA, table: 'tahoe_raw', bytes: 68 }),
    ).rejects.toMatchObject({
      fileKey: rawA,
    });
  });

  test('keeps throttling transient', async () => {
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }),
    );
    const footers = new S3ParquetFooters(new S3Client({ region: 'eu-west-1' }));
    await expect(
      footers.rowCount('curated-bucket', { key: rawA, table: 'tahoe_raw', bytes: 5000 }),
    ).rejects.toBeInstanceOf(TransientError);
  });
});
