/**
 * Parts written by the streaming writer, stored under their real S3 key layout in a temporary folder, read back
 * by DuckDB (an independent Parquet reader, native code) exactly as an analyst or the loader would see them.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { createPartWriter } from '../../../lambdas/parquet/part-writer';
import { isoToMicros } from '../../../lambdas/parquet/timestamp';
import { columnNames, type TableName, tableSpec } from '../../../lambdas/schema/tables';
import { TAHOE_TABLES, tahoeKey } from '../../../lambdas/shared/s3-keys';
import { edgeRow, instanceRow, pipelineRows, rawRow, sha } from '../../unit/parquet/helpers';

let dir: string;
let instance: DuckDBInstance;
let db: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cyberactive-parquet-'));
  instance = await DuckDBInstance.create(':memory:');
  db = await instance.connect();
  await db.run("SET TimeZone = 'UTC'");
});

afterAll(() => {
  db?.closeSync();
  instance?.closeSync();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Writes the rows as parts of `table` for one raw object; returns the part files, in part order. */
async function writeObject(
  table: TableName,
  rows: readonly object[],
  rowsPerPart: number,
  rawSha256 = sha(`object ${table}`),
  root = dir,
): Promise<string[]> {
  const files: string[] = [];
  const writer = createPartWriter(table, {
    rowsPerPart,
    onPart: (part, bytes) => {
      const file = join(root, tahoeKey({ table, tenant: 'demo-public', dt: '2021-03-01', rawSha256, part }));
      mkdirSync(dirname(file), { recursive: true });
      // Create-only, as the S3 keys are: writing a part twice is a bug.
      writeFileSync(file, bytes, { flag: 'wx' });
      files.push(file);
    },
  });
  for (const row of rows) await writer.add(row as never);
  await writer.end();
  return files;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * The files as a table function. Hive partitioning is off: DuckDB would otherwise add the key's `tenant=`/`dt=`
 * folders as columns, and these tests are about what the files themselves hold.
 */
const parquet = (files: string | string[], options = '') =>
  `read_parquet([${[files].flat().map(sqlString).join(', ')}], hive_partitioning = false${options})`;

/** The rows of the files as the writer was given them: BIGINT back to number, timestamps to exact microseconds. */
async function readRows(files: string[], table: TableName): Promise<Record<string, unknown>[]> {
  const spec = tableSpec(table);
  const select = spec.columns
    .map((c) =>
      c.type === 'timestamp'
        ? `epoch_us(${c.name}) AS ${c.name}`
        : c.type === 'int64'
          ? `${c.name}::DOUBLE AS ${c.name}`
          : c.name,
    )
    .join(', ');
  return query(
    `SELECT ${select} FROM ${parquet(files, ', filename = true, file_row_number = true')}
     ORDER BY filename, file_row_number`,
  );
}

function expected(rows: readonly object[]): Record<string, unknown>[] {
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, k === 'received_at' ? isoToMicros(v as string) : (v as unknown)]),
    ),
  );
}

async function describeTypes(file: string): Promise<Record<string, string>> {
  const rows = await query(`DESCRIBE SELECT * FROM ${parquet(file)}`);
  return Object.fromEntries(rows.map((r) => [r.column_name as string, r.column_type as string]));
}

describe('DuckDB reads the parts', () => {
  it('of tahoe_raw with exact values, a 1 MiB record, unicode, and the declared types', async () => {
    const rows = [
      rawRow(0),
      rawRow(1, { data: `{"blob":"${'A'.repeat(1024 * 1024)}"}` }),
      rawRow(2, { data: '{"s":"\\ud800"}', sub_type: 'café_日本', timezone: 'Europe/Zürich' }),
      rawRow(3, { data: '"emoji 😀 and ∑ and \u00e9"', received_at: '1999-12-31T23:59:59.999999Z' }),
      rawRow(2 ** 40, { received_at: '2021-03-01T12:00:05Z' }),
    ];
    const files = await writeObject('tahoe_raw', rows, 100);
    expect(files).toHaveLength(1);
    expect(await readRows(files, 'tahoe_raw')).toEqual(expected(rows));
    expect(await describeTypes(files[0] as string)).toEqual({
      tenant: 'VARCHAR',
      object_sha256: 'VARCHAR',
      record_no: 'BIGINT',
      _hash: 'VARCHAR',
      sub_type: 'VARCHAR',
      timezone: 'VARCHAR',
      received_at: 'TIMESTAMP WITH TIME ZONE',
      object_key: 'VARCHAR',
      data: 'VARCHAR',
    });
    const [big] = await query(`SELECT octet_length(data::BLOB) AS n FROM ${parquet(files[0] as string)}
      WHERE record_no = 1`);
    expect(big?.n).toBe(BigInt(1024 * 1024 + 11));
  });

  it('of tahoe_instance with NULLs where the rows have them, and DOUBLE event times', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => instanceRow(i));
    const files = await writeObject('tahoe_instance', rows, 1000);
    expect(await readRows(files, 'tahoe_instance')).toEqual(expected(rows));
    const [counts] = await query(`SELECT count(*) AS n, count(orgid) AS orgids, count(event_ts) AS events,
      count(duration) AS durations FROM ${parquet(files[0] as string)}`);
    expect(counts).toEqual({
      n: 200n,
      orgids: BigInt(rows.filter((r) => r.orgid !== null).length),
      events: BigInt(rows.filter((r) => r.event_ts !== null).length),
      durations: BigInt(rows.filter((r) => r.duration !== null).length),
    });
    const types = await describeTypes(files[0] as string);
    expect(types).toMatchObject({ event_ts: 'DOUBLE', start_time: 'DOUBLE', category: 'VARCHAR', itype: 'VARCHAR' });
    expect(Object.keys(types)).toEqual(columnNames(tableSpec('tahoe_instance')));
  });

  it('of tahoe_edge rolled into ceil(N/k) files, each readable alone, together the rows in order', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => edgeRow(i));
    const files = await writeObject('tahoe_edge', rows, 300);
    expect(files).toHaveLength(4);
    expect(files[3]).toMatch(/tahoe\/tahoe_edge\/tenant=demo-public\/dt=2021-03-01\/[0-9a-f]{64}-00003\.parquet$/);
    const counts: unknown[] = [];
    for (const f of files) counts.push((await query(`SELECT count(*) AS n FROM ${parquet(f)}`))[0]?.n);
    expect(counts).toEqual([300n, 300n, 300n, 100n]);
    expect(await readRows(files, 'tahoe_edge')).toEqual(expected(rows));
  });

  it('with column statistics that filters can trust', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => edgeRow(i));
    const files = await writeObject('tahoe_edge', rows, 100, sha('statistics'));
    const times = rows.map((r) => r.event_ts).filter((t): t is number => t !== null);
    const cut = times[times.length >> 1] as number;
    const [hits] = await query(
      `SELECT count(*) FILTER (WHERE event_ts > ${cut}) AS later, count(*) FILTER (WHERE event_ts IS NULL) AS nulls,
        count(*) FILTER (WHERE relation = 'raw_ref') AS raw_refs FROM ${parquet(files)}`,
    );
    expect(hits).toEqual({
      later: BigInt(times.filter((t) => t > cut).length),
      nulls: BigInt(rows.length - times.length),
      raw_refs: BigInt(rows.filter((r) => r.relation === 'raw_ref').length),
    });
    const [one] = await query(`SELECT count(*) AS n FROM ${parquet(files)} WHERE event_ts = ${cut}`);
    expect(one?.n).toBe(1n);
  });

  it('of the rows the TAHOE core builds, for every table', async () => {
    const rows = pipelineRows();
    for (const table of TAHOE_TABLES) {
      const files = await writeObject(table, rows[table], 2, sha(`pipeline ${table}`));
      expect(await readRows(files, table)).toEqual(expected(rows[table]));
    }
  });

  it('with SNAPPY on every column chunk and the timestamp annotated as UTC microseconds', async () => {
    const files = await writeObject('tahoe_raw', [rawRow(0), rawRow(1)], 10, sha('metadata'));
    const file = sqlString(files[0] as string);
    const codecs = await query(`SELECT DISTINCT compression FROM parquet_metadata(${file})`);
    expect(codecs).toEqual([{ compression: 'SNAPPY' }]);
    const [ts] = await query(
      `SELECT converted_type, logical_type FROM parquet_schema(${file}) WHERE name = 'received_at'`,
    );
    expect(ts?.converted_type).toBe('TIMESTAMP_MICROS');
    expect(ts?.logical_type).toEqual(expect.stringContaining('isAdjustedToUTC=1'));
    expect(ts?.logical_type).toEqual(expect.stringContaining('MICROS=MicroSeconds()'));
  });
});

describe('re-encoding', () => {
  it('writes byte-identical parts for the same rows, also for rows read back from the parts', async () => {
    const rows = Array.from({ length: 700 }, (_, i) => instanceRow(i));
    const first = await writeObject('tahoe_instance', rows, 250, sha('again'), join(dir, 'first'));
    const second = await writeObject('tahoe_instance', rows, 250, sha('again'), join(dir, 'second'));
    expect(first).toHaveLength(3);
    // What DuckDB reads back, written again, gives the same bytes: nothing was lost or changed on the way.
    const reread = (await readRows(first, 'tahoe_instance')) as object[];
    const third = await writeObject('tahoe_instance', reread, 250, sha('again'), join(dir, 'third'));
    for (let i = 0; i < first.length; i++) {
      const a = readFileSync(first[i] as string);
      expect(readFileSync(second[i] as string).equals(a)).toBe(true);
      expect(readFileSync(third[i] as string).equals(a)).toBe(true);
    }
  });
});
