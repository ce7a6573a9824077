/**
 * The warehouse DDL and the schema source (lambdas/schema/tables.ts) must not drift: Redshift's COPY maps Parquet
 * columns by position, and the merge SQL is generated from the schema. The CREATE TABLE column lists are parsed
 * from the migration files and compared with the schema, column by column.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TABLES, type TableName } from '../../../lambdas/schema/tables';
import { renderTahoeTables, warehouseColumns } from '../../../lambdas/warehouse/ddl';
import { splitStatements } from '../../../lambdas/warehouse/migrations';

const SQL = resolve(__dirname, '../../../sql');

interface ParsedTable {
  columns: { name: string; sqlType: string; notNull: boolean }[];
  primaryKey: string[];
}

/** Every CREATE TABLE of the scripts, with its columns as written (types upper-cased, spaces collapsed). */
function parseCreateTables(scripts: readonly string[]): Map<string, ParsedTable> {
  const out = new Map<string, ParsedTable>();
  for (const script of scripts) {
    for (const st of splitStatements(script)) {
      const m = /^CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*) \(([\s\S]*)\)$/i.exec(st.trim());
      if (!m) continue;
      const table: ParsedTable = { columns: [], primaryKey: [] };
      // Split the body at commas outside parentheses (VARCHAR(63), PRIMARY KEY (a, b)).
      const parts: string[] = [];
      let depth = 0;
      let cur = '';
      for (const ch of m[2] as string) {
        if (ch === '(') depth++;
        if (ch === ')') depth--;
        if (ch === ',' && depth === 0) {
          parts.push(cur.trim());
          cur = '';
        } else cur += ch;
      }
      parts.push(cur.trim());
      for (const p of parts) {
        const pk = /^PRIMARY KEY \(([^)]*)\)$/i.exec(p);
        if (pk) {
          table.primaryKey = (pk[1] as string).split(',').map((s) => s.trim());
          continue;
        }
        const col = /^([a-z_][a-z0-9_]*) (.+?)( NOT NULL)?( DEFAULT .+)?$/i.exec(p);
        if (!col) throw new Error(`cannot read column definition ${JSON.stringify(p)}`);
        table.columns.push({
          name: col[1] as string,
          sqlType: (col[2] as string).toUpperCase().replace(/\s+/g, ' '),
          notNull: col[3] !== undefined,
        });
      }
      out.set(m[1] as string, table);
    }
  }
  return out;
}

const migrations = readdirSync(join(SQL, 'migrations'))
  .sort()
  .map((f) => readFileSync(join(SQL, 'migrations', f), 'utf8'));
const parsed = parseCreateTables(migrations);

describe('warehouse DDL against the schema source', () => {
  it.each(Object.keys(TABLES) as TableName[])(
    '%s has exactly the schema’s columns, in order, with their types',
    (name) => {
      const table = parsed.get(name);
      expect(table).toBeDefined();
      expect(table?.columns).toEqual(warehouseColumns(TABLES[name]));
      // Schema columns first, in schema order: the staging tables and the Parquet files share this order.
      expect(table?.columns.slice(0, TABLES[name].columns.length).map((c) => c.name)).toEqual(
        TABLES[name].columns.map((c) => c.name),
      );
    },
  );

  it.each(Object.keys(TABLES) as TableName[])('%s has the natural key as its primary key', (name) => {
    expect(parsed.get(name)?.primaryKey).toEqual([...TABLES[name].key]);
  });

  it('holds the text renderTahoeTables() generates, so regenerating the file is a no-op', () => {
    const text = readFileSync(join(SQL, 'migrations', '0001_tahoe_tables.sql'), 'utf8');
    const body = text.slice(text.indexOf('CREATE TABLE'));
    expect(body.trim()).toBe(renderTahoeTables().trim());
  });

  it.each([
    ['a column dropped', (t: string) => t.replace('  timezone VARCHAR(64) NOT NULL,\n', '')],
    ['two columns swapped', (t: string) => t.replace(/( {2}timezone [^\n]*\n)( {2}received_at [^\n]*\n)/, '$2$1')],
    ['a type changed', (t: string) => t.replace('record_no BIGINT', 'record_no INTEGER')],
    ['NOT NULL lost', (t: string) => t.replace('object_key VARCHAR(1024) NOT NULL', 'object_key VARCHAR(1024)')],
  ])('would catch %s', (_what, edit) => {
    const drifted = edit(renderTahoeTables());
    expect(drifted).not.toBe(renderTahoeTables());
    expect(parseCreateTables([drifted]).get('tahoe_raw')?.columns).not.toEqual(warehouseColumns(TABLES.tahoe_raw));
    expect(parseCreateTables([renderTahoeTables()]).get('tahoe_raw')?.columns).toEqual(
      warehouseColumns(TABLES.tahoe_raw),
    );
  });
});
