import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, loadViews, splitStatements } from '../../../lambdas/warehouse/migrations';

describe('splitStatements', () => {
  it('splits at top-level semicolons and drops comments', () => {
    expect(splitStatements('-- a comment; with a semicolon\nSELECT 1;\n/* block; */ SELECT 2 ;\n\n')).toEqual([
      'SELECT 1',
      'SELECT 2',
    ]);
  });

  it('keeps semicolons inside strings, quoted identifiers and dollar-quoted bodies', () => {
    const script = [
      "INSERT INTO t VALUES ('a;b', 'it''s; fine');",
      'SELECT "odd;name" FROM t;',
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;',
      'CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $body$ SELECT 2; $body$;',
    ].join('\n');
    expect(splitStatements(script)).toEqual([
      "INSERT INTO t VALUES ('a;b', 'it''s; fine')",
      'SELECT "odd;name" FROM t',
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$',
      'CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $body$ SELECT 2; $body$',
    ]);
  });

  it('refuses an unterminated string or body rather than guessing', () => {
    expect(() => splitStatements("SELECT 'open;")).toThrow(/unterminated/);
    expect(() => splitStatements('SELECT $$ open;')).toThrow(/unterminated/);
  });
});

describe('the migrations of the repository', () => {
  it.each(['postgres', 'redshift'] as const)('form one ordered sequence for %s, starting with 0000', (dialect) => {
    const all = loadMigrations(dialect);
    const versions = all.map((m) => m.version);
    expect(versions[0]).toBe('0000');
    expect([...versions].sort()).toEqual(versions);
    expect(new Set(versions).size).toBe(versions.length);
    expect(all.every((m) => m.statements.length > 0 && /^[0-9a-f]{64}$/.test(m.checksum))).toBe(true);
    // The shared ones are in both.
    expect(all.filter((m) => m.file.startsWith('migrations/')).length).toBe(7);
  });

  it('have the analyst views in dependency order, each file one CREATE VIEW', () => {
    const { views, checksum } = loadViews('postgres');
    expect(views.map((v) => v.name)).toEqual([
      'v_instance',
      'v_raw',
      'v_event_attribute',
      'v_event_session',
      'v_event_child',
      'v_top_attacker_ip_daily',
      'v_event_hourly',
      'v_warehouse_freshness',
      'v_ingest_audit',
    ]);
    for (const v of views) {
      expect(v.statements).toHaveLength(1);
      expect(v.statements[0]).toMatch(new RegExp(`^CREATE VIEW ${v.name} AS`));
    }
    expect(checksum).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('loadMigrations on a folder', () => {
  function folder(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'sql-'));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return dir;
  }

  it('refuses a dialect migration that reuses a shared version', () => {
    const dir = folder({
      'migrations/0000_schema_migrations.sql': 'SELECT 1;',
      'migrations/0001_a.sql': 'SELECT 1;',
      'postgres/0001_b.sql': 'SELECT 2;',
    });
    expect(() => loadMigrations('postgres', dir)).toThrow(/0001 is used by both/);
    expect(loadMigrations('redshift', dir).map((m) => m.version)).toEqual(['0000', '0001']);
  });

  it('refuses badly named files and a missing 0000', () => {
    expect(() => loadMigrations('postgres', folder({ 'migrations/1_a.sql': 'SELECT 1;' }))).toThrow(/NNNN_name/);
    expect(() => loadMigrations('postgres', folder({ 'migrations/0001_a.sql': 'SELECT 1;' }))).toThrow(/0000/);
  });

  it('takes a dialect’s view over the shared one of the same name, and changes the checksum with it', () => {
    const base = { 'views/01_v_a.sql': 'CREATE VIEW v_a AS SELECT 1;' };
    const dir = folder({ ...base, 'redshift/views/01_v_a.sql': 'CREATE VIEW v_a AS SELECT 2;' });
    expect(loadViews('redshift', dir).views[0]?.statements).toEqual(['CREATE VIEW v_a AS SELECT 2']);
    expect(loadViews('postgres', dir).views[0]?.statements).toEqual(['CREATE VIEW v_a AS SELECT 1']);
    expect(loadViews('redshift', dir).checksum).not.toBe(loadViews('postgres', dir).checksum);
    expect(() => loadViews('redshift', folder({ ...base, 'redshift/views/02_v_b.sql': 'x' }))).toThrow(
      /overrides no view/,
    );
  });
});
