/**
 * `cyberactive load` and `cyberactive sql` as a user runs them after `cyberactive process`: embedded PGlite by
 * default, a PostgreSQL server with --warehouse.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { tahoeKey } from '../../../lambdas/shared/s3-keys';
import {
  cli,
  copyOf,
  parquetKeys,
  processedFixture,
  removeDir,
  requireServer,
  requireVmModules,
  SERVER_URL,
} from './helpers';

let fixture: Promise<string> | undefined;
function processed(): Promise<string> {
  fixture ??= processedFixture();
  return fixture;
}

describe('cyberactive load and sql', () => {
  let dir: string;
  beforeAll(requireVmModules);
  beforeEach(async () => {
    dir = copyOf(await processed());
  });
  afterEach(() => removeDir(dir));

  it('with --recent-days lists only the recent days of the tenant folders; without it, everything', async () => {
    const today = parquetKeys(dir).filter((k) => k.includes('/dt=2026-11-03/')).length;
    const at = () => new Date('2026-11-03T10:00:00Z');
    const recent = await cli(['load', '--from', dir, '--recent-days', '0', '--json'], at);
    expect(recent.code).toBe(0);
    // Tenants acme and beta (their folders, no tenants.json), three tables, one day.
    expect(JSON.parse(recent.stdout)).toMatchObject({ listing: 'recent', prefixesListed: 6, filesLoaded: today });
    const full = await cli(['load', '--from', dir, '--json'], at);
    expect(JSON.parse(full.stdout)).toMatchObject({ listing: 'full', filesLoaded: parquetKeys(dir).length - today });
    const bad = await cli(['load', '--from', dir, '--recent-days', 'two'], at);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--recent-days must be a whole number from 0 to 31');
  });

  it('loads into embedded PostgreSQL under DIR/warehouse, then loads nothing twice, and answers queries', async () => {
    const files = parquetKeys(dir).length;
    const first = await cli(['load', '--from', dir]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`files: ${files} listed, ${files} loaded, 0 rejected`);
    expect(first.stdout).toContain('raw objects marked LOADED in the ledger: 3');

    const again = await cli(['load', '--from', dir, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ filesListed: files, filesLoaded: 0, loads: [] });

    const table = await cli([
      'sql',
      '--data',
      dir,
      'SELECT tenant, COUNT(*) AS raws FROM tahoe_raw WHERE tenant = $1 GROUP BY tenant',
      '--param',
      'beta',
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')).toEqual(['tenant | raws', '-------+-----', 'beta   | 500', '(1 row)', '']);

    const json = await cli([
      'sql',
      '--data',
      dir,
      '--json',
      'SELECT file_key, status FROM load_log ORDER BY 1 LIMIT 2',
    ]);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.columns).toEqual(['file_key', 'status']);
    expect(parsed.rows).toEqual(
      parquetKeys(dir)
        .slice(0, 2)
        .map((k) => ({ file_key: k, status: 'LOADED' })),
    );
  });

  it('exits 3 and names the file when a file is rejected', async () => {
    const bad = tahoeKey({
      table: 'tahoe_raw',
      tenant: 'acme',
      dt: '2026-11-02',
      rawSha256: randomBytes(32).toString('hex'),
      part: 0,
    });
    writeFileSync(join(dir, 'curated', bad), 'not parquet at all');
    const r = await cli(['load', '--from', dir]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`REJECTED ${bad}: ${bad}: not a Parquet file`);
  });

  it('refuses ambiguous or missing arguments with a usage error', async () => {
    expect((await cli(['sql', 'SELECT 1'])).code).toBe(2);
    expect((await cli(['sql', '--data', dir, '--warehouse', SERVER_URL, 'SELECT 1'])).code).toBe(2);
    expect((await cli(['load'])).code).toBe(2);
    const none = await cli(['sql', '--data', dir, 'SELECT 1']);
    expect([none.code, none.stderr]).toEqual([1, expect.stringContaining('run `cyberactive load')]);
  });

  it('loads into a PostgreSQL server given by URL and schema', async () => {
    await requireServer();
    const schema = `cli_${randomBytes(4).toString('hex')}`;
    try {
      const r = await cli(['load', '--from', dir, '--warehouse', SERVER_URL, '--schema', schema]);
      expect(r.code).toBe(0);
      const q = await cli([
        'sql',
        '--warehouse',
        SERVER_URL,
        '--schema',
        schema,
        '--json',
        'SELECT COUNT(*) AS n FROM v_ingest_audit WHERE fully_loaded AND rows_match',
      ]);
      expect(JSON.parse(q.stdout).rows).toEqual([{ n: '3' }]);
    } finally {
      const c = new pg.Client(SERVER_URL);
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  });
});
