/**
 * Every table the shared migrations create has its dialect-specific parts: a distribution style on Redshift (no
 * Redshift parser runs offline, so this is the check that a new table was not forgotten there), and row-level
 * security on both dialects for every table with a tenant column. Read from the migration texts themselves.
 */
import { loadMigrations } from '../../../lambdas/warehouse/migrations';

function text(dialect: 'postgres' | 'redshift', folder: string): string {
  return loadMigrations(dialect)
    .filter((m) => m.file.startsWith(`${folder}/`))
    .flatMap((m) => m.statements)
    .join(';\n');
}

/** Tables the shared migrations create, with their column names. */
function sharedTables(): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  for (const st of loadMigrations('postgres')
    .filter((m) => m.file.startsWith('migrations/'))
    .flatMap((m) => m.statements)) {
    const m = /^CREATE TABLE (?:IF NOT EXISTS )?(\w+) \(([\s\S]*)\)$/.exec(st.trim());
    if (!m) continue;
    const columns = (m[2] ?? '')
      .split('\n')
      .map((line) => /^\s*(\w+) /.exec(line)?.[1])
      .filter((c): c is string => c !== undefined && c !== 'PRIMARY');
    tables.set(m[1] as string, columns);
  }
  return tables;
}

describe('dialect-specific parts of the shared tables', () => {
  const tables = sharedTables();
  const tenantTables = [...tables].filter(([, cols]) => cols.includes('tenant')).map(([t]) => t);

  it('reads the shared tables from the migrations', () => {
    expect([...tables.keys()]).toEqual(
      expect.arrayContaining(['schema_migrations', 'tahoe_raw', 'tahoe_instance', 'tahoe_edge', 'load_log']),
    );
    expect(tenantTables).toEqual(expect.arrayContaining(['tahoe_raw', 'tahoe_edge', 'purge_log']));
    expect(tenantTables).not.toContain('schema_migrations');
  });

  it.each([...tables.keys()])('%s has a distribution style on Redshift', (table) => {
    expect(text('redshift', 'redshift')).toMatch(new RegExp(`ALTER TABLE ${table} ALTER DISTSTYLE (?:ALL|EVEN|KEY)`));
  });

  it.each(tenantTables)('%s is under row-level security on PostgreSQL and on Redshift', (table) => {
    const pg = text('postgres', 'postgres');
    expect(pg).toMatch(new RegExp(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`));
    expect(pg).toMatch(new RegExp(`CREATE POLICY \\w+ ON ${table} `));
    const rs = text('redshift', 'redshift');
    if (table === 'analyst_tenant') {
      // Redshift's policy looks the mapping up with a grant of its own; analysts are not granted the table
      // (docs/warehouse.md), so it needs no policy of its own there.
      expect(rs).toMatch(/GRANT SELECT ON analyst_tenant TO RLS POLICY \w+/);
      return;
    }
    expect(rs).toMatch(new RegExp(`ALTER TABLE ${table} ROW LEVEL SECURITY ON`));
    expect(rs).toMatch(new RegExp(`ATTACH RLS POLICY \\w+ ON [\\w, ]*\\b${table}\\b`));
  });
});
