/**
 * The generated SQL of sql.ts: the merge matches on the natural keys and touches the right columns, values only
 * ever travel as parameters, and the statements stay in the subset both warehouses run.
 */
import type { LedgerItem } from '../../../lambdas/ledger/model';
import { columnNames, naturalKey, nonKeyColumns, TABLES } from '../../../lambdas/schema/tables';
import { TAHOE_TABLES, type TahoeTable } from '../../../lambdas/shared/s3-keys';
import {
  createAffectedHoursSql,
  createMergeSourceSql,
  createStagingSql,
  dropNewRowsSql,
  INGEST_FILE_COLUMNS,
  insertLoadLogSql,
  insertNewRowsSql,
  type LoadLogRow,
  lockStatement,
  MAX_ERROR_CHARS,
  MERGE_RULES,
  mergeSql,
  namedParameters,
  pendingObjectsSql,
  ROWS_PER_INSERT,
  selectLoadLogSql,
  upsertIngestFileSql,
} from '../../../lambdas/warehouse/sql';

function placeholders(text: string): number[] {
  return [...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
}

describe('merge SQL', () => {
  it.each(TAHOE_TABLES)('%s: MERGE matches on the natural key, updates every other column, inserts all', (t) => {
    const spec = TABLES[t];
    const key = naturalKey(spec);
    const sql = mergeSql(t);
    const on = /ON (.*?) WHEN MATCHED/.exec(sql)?.[1] ?? '';
    expect(on.split(' AND ')).toEqual(key.map((k) => `${t}.${k} = s.${k}`));
    const set = /UPDATE SET (.*?) WHEN NOT MATCHED/.exec(sql)?.[1] ?? '';
    const extra = t === 'tahoe_edge' ? [] : ['oversize'];
    expect(set.split(', ').map((a) => a.split(' = ')[0])).toEqual([...nonKeyColumns(spec), ...extra]);
    const insert = /INSERT \((.*?)\) VALUES/.exec(sql)?.[1] ?? '';
    expect(insert.split(', ')).toEqual([...columnNames(spec), ...extra]);
  });

  it.each(TAHOE_TABLES)('%s: new keys are inserted sorted by the natural key, changed rows left to MERGE', (t) => {
    const key = naturalKey(TABLES[t]);
    const sql = insertNewRowsSql(t);
    const order = /^INSERT INTO (\w+) \(.*\) SELECT .* FROM (\w+) WHERE is_new = 1 ORDER BY (.*)$/.exec(sql);
    expect(order?.slice(1, 3)).toEqual([t, `merge_${t}`]);
    // The key's text columns first, joined into one byte-compared sort key, then the others, in key order.
    const cols = (order?.[3] ?? '').replace(/ \|\| CHR\(1\) \|\| /g, ', ').replace(/[()]| COLLATE "C"/g, '');
    expect(cols).toBe(key.join(', '));
    expect(order?.[3]?.startsWith(`(${key[0]} || CHR(1) || ${key[1]}`)).toBe(true);
    expect(dropNewRowsSql(t)).toBe(`DELETE FROM merge_${t} WHERE is_new = 1`);
  });

  it.each(TAHOE_TABLES)('%s: the merge source groups the staged rows by the natural key and joins on it', (t) => {
    const key = naturalKey(TABLES[t]);
    const sql = createMergeSourceSql(t);
    expect(sql).toContain(`FROM stage_${t} GROUP BY ${key.join(', ')})`);
    expect(sql).toContain(`LEFT JOIN ${t} t ON ${key.map((k) => `t.${k} = s.${k}`).join(' AND ')}`);
    expect(sql.startsWith(`CREATE TEMP TABLE merge_${t} AS SELECT`)).toBe(true);
  });

  it('caps JSON values at the warehouse limit and flags them, instead of failing', () => {
    const raw = createMergeSourceSql('tahoe_raw');
    expect(raw).toContain('CASE WHEN OCTET_LENGTH(s.data) > 65535 THEN NULL ELSE s.data END');
    expect(raw).toMatch(/OCTET_LENGTH\(s\.data\) > 65535 THEN TRUE ELSE FALSE END\) ELSE \(CASE WHEN t\.oversize/);
    const inst = createMergeSourceSql('tahoe_instance');
    expect(inst).toContain('OCTET_LENGTH(s.data) > 65535 OR OCTET_LENGTH(s.duration) > 65535');
    expect(createMergeSourceSql('tahoe_edge')).not.toContain('OCTET_LENGTH');
  });

  it('only re-writes stored rows whose mutable columns change (keep columns never count as a change)', () => {
    const inst = createMergeSourceSql('tahoe_instance');
    const where = inst.slice(inst.lastIndexOf(') m WHERE'));
    for (const c of ['category', 'start_time', 'end_time', 'duration', 'oversize'])
      expect(where).toContain(`m.${c} <> m.old_${c}`);
    for (const c of ['itype', 'sub_type', 'data', 'orgid', 'event_ts']) expect(where).not.toContain(`m.${c} <>`);
    // tahoe_raw has no mutable column but its flag: a stored row is never rewritten for its content.
    expect(createMergeSourceSql('tahoe_raw')).toMatch(
      /WHERE m.is_new = 1 OR m.oversize <> m.old_oversize OR \(m.oversize IS NULL\) <> \(m.old_oversize IS NULL\)$/,
    );
  });

  it('names only existing non-key columns in its merge rules', () => {
    for (const [t, rules] of Object.entries(MERGE_RULES) as [TahoeTable, Record<string, string>][]) {
      for (const c of Object.keys(rules)) expect(nonKeyColumns(TABLES[t])).toContain(c);
    }
  });

  it('stages JSON as unbounded text on PostgreSQL and as the widest VARCHAR on Redshift', () => {
    expect(createStagingSql('tahoe_raw', 'postgres')).toContain('data TEXT NOT NULL');
    expect(createStagingSql('tahoe_raw', 'redshift')).toContain('data VARCHAR(65535) NOT NULL');
    expect(createStagingSql('tahoe_edge', 'postgres')).toBe(
      'CREATE TEMP TABLE stage_tahoe_edge (tenant VARCHAR(63) NOT NULL, parent_hash VARCHAR(64) NOT NULL, ' +
        'relation VARCHAR(16) NOT NULL, child_hash VARCHAR(64) NOT NULL, event_ts DOUBLE PRECISION)',
    );
  });

  it('refreshes the aggregate only for tables that can move it', () => {
    expect(createAffectedHoursSql(['tahoe_raw'])).toBeUndefined();
    expect(createAffectedHoursSql(['tahoe_instance'])).toContain("itype = 'event'");
    expect(createAffectedHoursSql(['tahoe_edge'])).toContain("relation = 'mal_ref'");
    expect(createAffectedHoursSql(['tahoe_instance', 'tahoe_edge'])).toContain('UNION ALL');
  });

  it('serialises loads with an advisory lock on PostgreSQL and a table lock on Redshift', () => {
    expect(lockStatement('postgres')).toMatch(/^SELECT pg_advisory_xact_lock\(\d+, hashtext\(current_schema\(\)\)\)$/);
    expect(lockStatement('redshift')).toBe('LOCK load_log');
  });
});

describe('statements with values', () => {
  const row = (i: number, error: string | null = null): LoadLogRow => ({
    fileKey: `tahoe/tahoe_raw/tenant=acme/dt=2026-11-02/${'a'.repeat(64)}-${String(i).padStart(5, '0')}.parquet`,
    loadId: '01JD3K8Z6Q2V9X4T7B5N1M0C8R',
    table: 'tahoe_raw',
    tenant: 'acme',
    rawSha256: 'a'.repeat(64),
    bytes: 10,
    rowCount: 3,
    status: error ? 'REJECTED' : 'LOADED',
    error,
    manifestKey: 'manifests/01JD3K8Z6Q2V9X4T7B5N1M0C8R.manifest',
    loadedAt: new Date('2026-11-22T10:30:00Z'),
  });

  it('passes load_log values as parameters, in chunks, never in the text', () => {
    const rows = Array.from({ length: ROWS_PER_INSERT + 3 }, (_, i) => row(i, i === 0 ? "it's '; DROP TABLE x" : null));
    const statements = insertLoadLogSql(rows);
    expect(statements.map((s) => s.params.length)).toEqual([ROWS_PER_INSERT * 11, 3 * 11]);
    for (const s of statements) {
      expect(placeholders(s.text)).toEqual(s.params.map((_, i) => i + 1));
      expect(s.text).not.toContain('DROP');
      expect(s.text).not.toContain('acme');
    }
    expect(statements[0]?.params[8]).toBe("it's '; DROP TABLE x");
  });

  it('cuts long error messages to the column', () => {
    const [s] = insertLoadLogSql([row(0, 'x'.repeat(MAX_ERROR_CHARS + 10))]);
    expect(String(s?.params[8]).length).toBe(MAX_ERROR_CHARS);
  });

  it('looks keys up with bound IN lists', () => {
    const keys = Array.from({ length: ROWS_PER_INSERT * 5 + 1 }, (_, i) => `k${i}`);
    const st = selectLoadLogSql(keys);
    expect(st.map((s) => s.params.length)).toEqual([ROWS_PER_INSERT * 5, 1]);
    expect(placeholders(st[1]?.text ?? '')).toEqual([1]);
  });

  it('writes ingest_file rows with one parameter per column, LOADED only when every file is in', () => {
    const item: LedgerItem = {
      ref: {
        bucket: 'raw',
        key: 'raw/tenant=acme/typetag=cowrie/dt=2026-11-02/hour=10/01JD3K8Z6Q2V9X4T7B5N1M0C8R.raw',
        versionId: 'null',
      },
      status: 'PROCESSED',
      tenant: 'acme',
      typetag: 'cowrie',
      size: 10,
      receivedAt: new Date('2026-11-02T10:00:00Z'),
      attempts: 1,
      createdAt: new Date('2026-11-02T10:00:00Z'),
      updatedAt: new Date('2026-11-02T10:00:00Z'),
      outputs: { curated: ['a', 'b'] },
    };
    const now = new Date('2026-11-22T10:30:00Z');
    const loaded = upsertIngestFileSql([{ item, loaded: true, loadId: '01JD3K8Z6Q2V9X4T7B5N1M0C8R', now }]);
    const insert = loaded.find((s) => s.text.startsWith('INSERT INTO stage_ingest_file'));
    expect(insert?.params.length).toBe(INGEST_FILE_COLUMNS.length);
    const value = (st: typeof insert, col: string) => st?.params[INGEST_FILE_COLUMNS.indexOf(col as never)];
    expect([value(insert, 'status'), value(insert, 'load_id'), value(insert, 'ledger_marked')]).toEqual([
      'LOADED',
      '01JD3K8Z6Q2V9X4T7B5N1M0C8R',
      false,
    ]);
    const partial = upsertIngestFileSql([{ item, loaded: false, loadId: '01JD3K8Z6Q2V9X4T7B5N1M0C8R', now }]);
    const p = partial.find((s) => s.text.startsWith('INSERT INTO stage_ingest_file'));
    expect([value(p, 'status'), value(p, 'load_id'), value(p, 'parquet_files')]).toEqual(['PROCESSED', null, 2]);
    expect(upsertIngestFileSql([])).toEqual([]);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(pendingObjectsSql(5).params).toEqual([5]);
    expect(() => pendingObjectsSql(0)).toThrow(RangeError);
    expect(() => pendingObjectsSql(1.5)).toThrow(RangeError);
  });

  it('renames $n parameters for the Data API, leaving quoted text alone', () => {
    expect(namedParameters("SELECT $1, '$2', $10 WHERE a = $2")).toBe("SELECT :p1, '$2', :p10 WHERE a = :p2");
  });
});
