/**
 * `removeRows` and `tenantsWithRows` of the Redshift adapter against a mocked Data API: one batch per removal, values
 * only as parameters, the counts read back from the batch's last statement, failures mapped as a load's are. What
 * the SQL does is tested on real PostgreSQL (test/integ/warehouse/removal.test.ts runs these same Redshift texts).
 */
import {
  BatchExecuteStatementCommand,
  type BatchExecuteStatementCommandInput,
  CancelStatementCommand,
  DescribeStatementCommand,
  ExecuteStatementCommand,
  GetStatementResultCommand,
  RedshiftDataClient,
} from '@aws-sdk/client-redshift-data';
import { mockClient } from 'aws-sdk-client-mock';
import { MAX_BATCH_STATEMENTS, RedshiftWarehouse } from '../../../lambdas/adapters/redshift-warehouse';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';
import { tahoeKey } from '../../../lambdas/shared/s3-keys';
import { tableManifestKey } from '../../../lambdas/warehouse/manifest';
import type { CandidateFiles, RemovalRequest } from '../../../lambdas/warehouse/port';
import { CANDIDATES_PER_INSERT, REMOVAL_COUNT_COLUMNS } from '../../../lambdas/warehouse/retention-sql';

const rd = mockClient(RedshiftDataClient);
const client = new RedshiftDataClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
});

const NOW = new Date('2026-11-23T08:00:00.123Z');
const ID = '01JD0000000000000000000000';
const SHA = '3'.repeat(64);
const CANDIDATES = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)];
const TENANT = 'acme-corp';

const purge: RemovalRequest = { kind: 'PURGE_OBJECT', tenant: TENANT, sha256: SHA, candidates: CANDIDATES };
const ageOff: RemovalRequest = { kind: 'AGE_OFF', tenant: TENANT, before: new Date('2026-01-01T00:00:00Z') };
const tenantPurge: RemovalRequest = { kind: 'PURGE_TENANT', tenant: TENANT };

/** The object's instance files, as the purge core lists them in its manifest. */
function candidateFiles(n: number): CandidateFiles {
  return {
    bucket: 'curated-bucket',
    manifestBucket: 'manifests-bucket',
    manifestKey: tableManifestKey(ID, 'tahoe_instance'),
    files: Array.from({ length: n }, (_, i) => ({
      key: tahoeKey({ table: 'tahoe_instance', tenant: TENANT, dt: '2026-11-20', rawSha256: SHA, part: i }),
      table: 'tahoe_instance' as const,
      bytes: 1000 + i,
    })),
  };
}

/** A purge as the core sends it to Redshift: the candidates in the object's files, the load_log rows kept. */
const filePurge: RemovalRequest = {
  kind: 'PURGE_OBJECT',
  tenant: TENANT,
  sha256: SHA,
  candidateFiles: candidateFiles(3),
  keepLoadLog: true,
};

/** The counts the mocked batch "computed", one distinct value per column. */
const COUNTS = [900, 1056, 11298, 7, 3, 12, 1];

function warehouse(options: { statementTimeoutMs?: number } = {}) {
  let now = 0;
  return new RedshiftWarehouse(client, {
    workgroupName: 'wg',
    database: 'cyberactive',
    footers: { rowCount: async () => 0 },
    clock: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    ...options,
  });
}

function batchInput(): BatchExecuteStatementCommandInput {
  const calls = rd.commandCalls(BatchExecuteStatementCommand);
  expect(calls).toHaveLength(1);
  return calls[0]?.args[0].input as BatchExecuteStatementCommandInput;
}

/** A batch that finishes; the result of its last statement is COUNTS. */
function serveRemoval() {
  rd.on(BatchExecuteStatementCommand).resolves({ Id: 'rm-1' });
  rd.on(DescribeStatementCommand).callsFake(() => ({
    Id: 'rm-1',
    Status: 'FINISHED',
    SubStatements: (batchInput().Sqls ?? []).map((_, i) => ({ Id: `rm-1:${i + 1}`, Status: 'FINISHED' })),
  }));
  rd.on(GetStatementResultCommand).callsFake((input: { Id: string }) => {
    const sqls = batchInput().Sqls ?? [];
    // Only the last statement's result is the counts; anything else asked for is a bug.
    expect(input.Id).toBe(`rm-1:${sqls.length}`);
    return {
      ColumnMetadata: REMOVAL_COUNT_COLUMNS.map((name) => ({ name, typeName: 'int8' })),
      Records: [COUNTS.map((n) => ({ longValue: n }))],
    };
  });
}

const WRITES = /^(?:DELETE|UPDATE|MERGE|INSERT INTO (?!removal_))/;

beforeEach(() => rd.reset());

describe('removeRows', () => {
  test('sends one batch: the lock, the plan, the removal, the purge_log row, then the counts it reads back', async () => {
    serveRemoval();
    const r = await warehouse().removeRows(purge, { id: ID, now: NOW });
    expect(rd.commandCalls(ExecuteStatementCommand)).toHaveLength(0);
    const input = batchInput();
    expect(input.ClientToken).toMatch(/^[0-9a-f-]{36}$/);
    const sqls = input.Sqls ?? [];
    expect(sqls[0]).toBe('LOCK load_log');
    expect(sqls.at(-1)).toMatch(/^SELECT tahoe_raw, tahoe_instance, .* FROM removal_counts$/);
    const at = (re: RegExp) => sqls.findIndex((s) => re.test(s));
    // Everything is counted before the first delete, and purge_log is written after the last.
    expect(at(/^CREATE TEMP TABLE removal_counts/)).toBeLessThan(at(/^DELETE /));
    expect(at(/^INSERT INTO purge_log/)).toBe(sqls.length - 2);
    for (const table of ['tahoe_raw', 'tahoe_edge', 'tahoe_instance', 'agg_event_hourly', 'load_log']) {
      expect(sqls.some((s) => s.startsWith(`DELETE FROM ${table} `))).toBe(true);
    }
    expect(sqls.some((s) => s.startsWith("UPDATE ingest_file SET status = 'PURGED'"))).toBe(true);
    // Redshift's recursive CTE form.
    const recursive = sqls.filter((s) => /WITH RECURSIVE/.test(s));
    expect(recursive).toHaveLength(2);
    for (const s of recursive) {
      expect(s).toMatch(/WITH RECURSIVE \w+ \(h\) AS \(/);
      expect(s).toMatch(/ UNION ALL SELECT e\.child_hash FROM \w+ JOIN tahoe_edge/);
    }
    expect(r).toEqual({
      deleted: { tahoe_raw: 900, tahoe_instance: 1056, tahoe_edge: 11298 },
      aggregateRowsDeleted: 7 - 3,
      loadLogRowsDeleted: 12,
      ingestFilesPurged: 1,
    });
  });

  test('passes every value as a Data API parameter, never in the SQL text', async () => {
    serveRemoval();
    await warehouse().removeRows(purge, { id: ID, now: NOW });
    const { Sqls = [], Parameters = [] } = batchInput();
    const text = Sqls.join('\n');
    const values = Parameters.map((p) => p.value);
    for (const v of [TENANT, SHA, ID, ...CANDIDATES]) {
      expect(values).toContain(v);
      expect(text).not.toContain(v);
    }
    expect(values).toContain('2026-11-23 08:00:00.123000+00');
    // Each parameter is named by exactly one statement (which may use it several times), as the Data API wants.
    const used = Sqls.flatMap((sql) => [...new Set([...sql.matchAll(/:(p\d+)\b/g)].map((m) => m[1]))]);
    expect([...used].sort()).toEqual(Parameters.map((p) => p.name).sort());
  });

  test('an age-off selects raws by time and keeps load_log and ingest_file', async () => {
    serveRemoval();
    await warehouse().removeRows(ageOff, { id: ID, now: NOW });
    const { Sqls = [], Parameters = [] } = batchInput();
    expect(Sqls.some((s) => /FROM tahoe_raw WHERE tenant = :p\d+ AND received_at < :p\d+$/.test(s))).toBe(true);
    expect(Parameters.map((p) => p.value)).toContain('2026-01-01 00:00:00.000000+00');
    expect(Sqls.some((s) => /^(?:DELETE FROM load_log|UPDATE ingest_file)/.test(s))).toBe(false);
  });

  test('a tenant purge deletes the tenant’s rows of every table, without walking the graph', async () => {
    serveRemoval();
    await warehouse().removeRows(tenantPurge, { id: ID, now: NOW });
    const sqls = batchInput().Sqls ?? [];
    for (const table of ['tahoe_raw', 'tahoe_instance', 'tahoe_edge', 'agg_event_hourly', 'load_log']) {
      expect(sqls).toContainEqual(expect.stringMatching(new RegExp(`^DELETE FROM ${table} WHERE tenant = :p\\d+$`)));
    }
    expect(sqls.some((s) => /RECURSIVE/.test(s))).toBe(false);
  });

  test('a dry run sends the lock, the plan and the counts only: no statement writes a warehouse table', async () => {
    serveRemoval();
    const real = await warehouse().removeRows(purge, { id: ID, now: NOW });
    const full = batchInput().Sqls ?? [];
    rd.reset();
    serveRemoval();
    const dry = await warehouse().removeRows(purge, { id: ID, now: NOW, dryRun: true });
    const sqls = batchInput().Sqls ?? [];
    expect(sqls.filter((s) => WRITES.test(s))).toEqual([]);
    expect(full.filter((s) => WRITES.test(s)).length).toBeGreaterThan(0);
    expect(sqls).toEqual(full.filter((s) => !WRITES.test(s)));
    expect(dry).toEqual(real);
  });

  test('puts a thousand candidates in each INSERT, and refuses more than one batch can hold before sending', async () => {
    serveRemoval();
    const hashes = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(64, '0'));
    await warehouse().removeRows({ ...purge, candidates: hashes(CANDIDATES_PER_INSERT + 1) }, { id: ID, now: NOW });
    const inserts = (batchInput().Sqls ?? []).filter((s) => s.startsWith('INSERT INTO removal_given'));
    expect(inserts.map((s) => s.split(':p').length - 1)).toEqual([CANDIDATES_PER_INSERT, 1]);
    rd.reset();
    const tooMany = hashes(CANDIDATES_PER_INSERT * MAX_BATCH_STATEMENTS);
    await expect(warehouse().removeRows({ ...purge, candidates: tooMany }, { id: ID, now: NOW })).rejects.toThrow(
      /at most 40 in one transaction \(pass fewer candidates\)/,
    );
    expect(rd.commandCalls(BatchExecuteStatementCommand)).toHaveLength(0);
  });

  test('says it reads a purge’s candidates itself, from the object’s files', () => {
    expect(warehouse().removalCandidates).toBe('files');
  });

  test('copies the candidates from the object’s files in the batch, with no hash sent as a parameter', async () => {
    serveRemoval();
    const r = await warehouse().removeRows(filePurge, { id: ID, now: NOW });
    const { Sqls = [], Parameters = [] } = batchInput();
    const manifest = `s3://manifests-bucket/manifests/${ID}.tahoe_instance.manifest`;
    const at = (re: RegExp) => Sqls.findIndex((s) => re.test(s));
    const stage = at(/^CREATE TEMP TABLE stage_tahoe_instance \(/);
    const copy = Sqls.indexOf(
      `COPY stage_tahoe_instance FROM '${manifest}' IAM_ROLE default FORMAT AS PARQUET MANIFEST`,
    );
    const given = at(
      /^INSERT INTO removal_given \(h\) SELECT DISTINCT _hash FROM stage_tahoe_instance WHERE tenant = :p\d+$/,
    );
    // The load's own staging table and COPY, after removal_given exists and before the walk reads it.
    expect(stage).toBeGreaterThan(at(/^CREATE TEMP TABLE removal_given /));
    expect(copy).toBe(stage + 1);
    expect(given).toBe(copy + 1);
    expect(given).toBeLessThan(at(/^CREATE TEMP TABLE removal_candidates /));
    expect(Sqls[stage]).toMatch(/_hash VARCHAR\(64\) NOT NULL/);
    // No candidate travels as a value: the parameters are the tenant, the hash, the id and the time.
    expect(Sqls.some((s) => s.startsWith('INSERT INTO removal_given (h) VALUES'))).toBe(false);
    expect(new Set(Parameters.map((p) => p.value))).toEqual(
      new Set([TENANT, SHA, ID, 'PURGE_OBJECT', '2026-11-23 08:00:00.123000+00']),
    );
    // keepLoadLog: the files' load_log rows stay; the ingest_file rows are still marked.
    expect(Sqls.some((s) => s.startsWith('DELETE FROM load_log'))).toBe(false);
    expect(Sqls.some((s) => s.startsWith("UPDATE ingest_file SET status = 'PURGED'"))).toBe(true);
    expect(Sqls.length).toBeLessThanOrEqual(MAX_BATCH_STATEMENTS);
    expect(r).toEqual({
      deleted: { tahoe_raw: 900, tahoe_instance: 1056, tahoe_edge: 11298 },
      aggregateRowsDeleted: 7 - 3,
      loadLogRowsDeleted: 12,
      ingestFilesPurged: 1,
    });
  });

  test('a purge of an object with thousands of candidate files is still one batch of the same statements', async () => {
    serveRemoval();
    await warehouse().removeRows(filePurge, { id: ID, now: NOW });
    const small = batchInput().Sqls ?? [];
    rd.reset();
    serveRemoval();
    await warehouse().removeRows({ ...filePurge, candidateFiles: candidateFiles(5000) }, { id: ID, now: NOW });
    expect(batchInput().Sqls).toEqual(small);
  });

  test('a dry run with candidate files copies them too (into a temporary table) and writes no warehouse table', async () => {
    serveRemoval();
    await warehouse().removeRows(filePurge, { id: ID, now: NOW, dryRun: true });
    const sqls = batchInput().Sqls ?? [];
    expect(sqls.filter((s) => WRITES.test(s))).toEqual([]);
    expect(sqls.some((s) => s.startsWith('COPY stage_tahoe_instance FROM '))).toBe(true);
  });

  test('names the manifest when the COPY of the candidate files fails, and does not call a missing file a configuration error', async () => {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'rm-1' });
    rd.on(DescribeStatementCommand).callsFake(() => {
      const sqls = batchInput().Sqls ?? [];
      const at = sqls.findIndex((s) => s.startsWith('COPY '));
      return {
        Id: 'rm-1',
        Status: 'FAILED',
        SubStatements: sqls.map((_, i) => ({
          Id: `rm-1:${i + 1}`,
          Status: i < at ? 'FINISHED' : i === at ? 'FAILED' : 'ABORTED',
          ...(i === at ? { Error: 'ERROR: S3ServiceException:The specified key does not exist.' } : {}),
        })),
      };
    });
    const err = (await warehouse()
      .removeRows(filePurge, { id: ID, now: NOW })
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ConfigError);
    expect(err).not.toBeInstanceOf(TransientError);
    expect(err.message).toContain(`s3://manifests-bucket/manifests/${ID}.tahoe_instance.manifest`);
  });

  test('a tenant purge that keeps load_log leaves it alone', async () => {
    serveRemoval();
    await warehouse().removeRows({ ...tenantPurge, keepLoadLog: true }, { id: ID, now: NOW });
    const sqls = batchInput().Sqls ?? [];
    // Not read, not written (the lock aside): the count of load_log rows is a constant 0.
    expect(sqls.filter((s) => /(?:FROM|INTO|UPDATE) load_log\b/.test(s))).toEqual([]);
    expect(sqls).toContain('LOCK load_log');
    expect(sqls).toContainEqual(expect.stringMatching(/^DELETE FROM tahoe_raw WHERE tenant = :p\d+$/));
  });

  test('FORGET_FILES deletes only the files’ load_log rows and records it, in one small batch', async () => {
    serveRemoval();
    await warehouse().removeRows({ kind: 'FORGET_FILES', tenant: TENANT, sha256: SHA }, { id: ID, now: NOW });
    const { Sqls = [], Parameters = [] } = batchInput();
    expect(Sqls).toHaveLength(5);
    expect(Sqls[0]).toBe('LOCK load_log');
    expect(Sqls[1]).toMatch(/^CREATE TEMP TABLE removal_counts AS SELECT /);
    expect(Sqls[2]).toMatch(/^DELETE FROM load_log WHERE tenant = :p\d+ AND raw_sha256 = :p\d+$/);
    expect(Sqls[3]).toMatch(/^INSERT INTO purge_log /);
    expect(Sqls.filter((s) => WRITES.test(s))).toEqual([Sqls[2], Sqls[3]]);
    expect(Parameters.map((p) => p.value)).toContain('FORGET_FILES');
    rd.reset();
    serveRemoval();
    await warehouse().removeRows({ kind: 'FORGET_FILES', tenant: TENANT }, { id: ID, now: NOW });
    expect(batchInput().Sqls?.[2]).toMatch(/^DELETE FROM load_log WHERE tenant = :p\d+$/);
  });

  test('refuses candidate files that are not the purged object’s instance files, before sending anything', async () => {
    const w = warehouse();
    const files = candidateFiles(1);
    const other = (key: string): RemovalRequest => ({
      ...filePurge,
      candidateFiles: { ...files, files: [{ key, table: 'tahoe_instance', bytes: 1 }] },
    });
    const edge = tahoeKey({ table: 'tahoe_edge', tenant: TENANT, dt: '2026-11-20', rawSha256: SHA, part: 0 });
    const otherObject = tahoeKey({
      table: 'tahoe_instance',
      tenant: TENANT,
      dt: '2026-11-20',
      rawSha256: '4'.repeat(64),
      part: 0,
    });
    const otherTenant = tahoeKey({
      table: 'tahoe_instance',
      tenant: 'beta',
      dt: '2026-11-20',
      rawSha256: SHA,
      part: 0,
    });
    for (const key of [edge, otherObject, otherTenant, 'tahoe/../x.parquet']) {
      await expect(w.removeRows(other(key), { id: ID, now: NOW })).rejects.toThrow(TypeError);
    }
    await expect(
      w.removeRows(
        { ...filePurge, candidateFiles: { ...files, manifestKey: "manifests/x' IAM_ROLE 'arn" } },
        { id: ID, now: NOW },
      ),
    ).rejects.toThrow(TypeError);
    await expect(
      w.removeRows({ kind: 'FORGET_FILES', tenant: TENANT, sha256: 'nope' }, { id: ID, now: NOW }),
    ).rejects.toThrow(TypeError);
    expect(rd.commandCalls(BatchExecuteStatementCommand)).toHaveLength(0);
  });

  test('refuses a malformed request before sending anything', async () => {
    const w = warehouse();
    await expect(w.removeRows({ ...purge, sha256: "x' OR 1=1" }, { id: ID, now: NOW })).rejects.toThrow(TypeError);
    await expect(w.removeRows({ ...purge, candidates: ['nope'] }, { id: ID, now: NOW })).rejects.toThrow(TypeError);
    await expect(w.removeRows(purge, { id: 'not-a-ulid', now: NOW })).rejects.toThrow(TypeError);
    await expect(w.removeRows({ ...ageOff, before: new Date(Number.NaN) }, { id: ID, now: NOW })).rejects.toThrow(
      TypeError,
    );
    expect(rd.commandCalls(BatchExecuteStatementCommand)).toHaveLength(0);
  });
});

describe('removeRows failures', () => {
  function failAt(re: RegExp, error: string) {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'rm-1' });
    rd.on(DescribeStatementCommand).callsFake(() => {
      const sqls = batchInput().Sqls ?? [];
      const at = sqls.findIndex((s) => re.test(s));
      expect(at).toBeGreaterThanOrEqual(0);
      return {
        Id: 'rm-1',
        Status: 'FAILED',
        Error: error,
        SubStatements: sqls.map((_, i) => ({
          Id: `rm-1:${i + 1}`,
          Status: i < at ? 'FINISHED' : i === at ? 'FAILED' : 'ABORTED',
          ...(i === at ? { Error: error } : {}),
        })),
      };
    });
  }

  test('maps a serialisation conflict to a TransientError', async () => {
    failAt(/^DELETE FROM tahoe_edge/, 'ERROR: 1023 DETAIL: Serializable isolation violation on table - 123456');
    await expect(warehouse().removeRows(purge, { id: ID, now: NOW })).rejects.toBeInstanceOf(TransientError);
  });

  test('maps a missing table or privilege to a ConfigError', async () => {
    failAt(/^INSERT INTO purge_log/, 'ERROR: relation "purge_log" does not exist');
    await expect(warehouse().removeRows(purge, { id: ID, now: NOW })).rejects.toBeInstanceOf(ConfigError);
  });

  test('cancels the batch and throws a TransientError when it runs past the timeout', async () => {
    rd.on(BatchExecuteStatementCommand).resolves({ Id: 'rm-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 'rm-1', Status: 'STARTED' });
    rd.on(CancelStatementCommand).resolves({ Status: true });
    const err = await warehouse({ statementTimeoutMs: 10_000 })
      .removeRows(purge, { id: ID, now: NOW })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(rd.commandCalls(CancelStatementCommand).map((c) => c.args[0].input.Id)).toEqual(['rm-1']);
  });

  test('maps throttling by the Data API to a TransientError', async () => {
    rd.on(BatchExecuteStatementCommand).rejects(
      Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }),
    );
    await expect(warehouse().removeRows(purge, { id: ID, now: NOW })).rejects.toBeInstanceOf(TransientError);
  });
});

describe('tenantsWithRows', () => {
  test('reads the distinct tenants of tahoe_raw in one statement', async () => {
    rd.on(ExecuteStatementCommand).resolves({ Id: 't-1' });
    rd.on(DescribeStatementCommand).resolves({ Id: 't-1', Status: 'FINISHED', HasResultSet: true });
    rd.on(GetStatementResultCommand).resolves({
      ColumnMetadata: [{ name: 'tenant', typeName: 'varchar' }],
      Records: [[{ stringValue: 'acme' }], [{ stringValue: 'beta' }]],
    });
    expect(await warehouse().tenantsWithRows()).toEqual(['acme', 'beta']);
    const sql = rd.commandCalls(ExecuteStatementCommand)[0]?.args[0].input.Sql;
    expect(sql).toBe('SELECT DISTINCT tenant FROM tahoe_raw ORDER BY tenant');
  });
});
