/**
 * `cyberactive age-off` and `cyberactive purge`, driven in-process on a folder written by `cyberactive process` and
 * loaded by `cyberactive load` into embedded PostgreSQL: exit statuses, the human text and the --json report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgeOffReport, PurgeReport } from '../../../lambdas/warehouse/retention';
import {
  buildFixture,
  byName,
  copyDir,
  type FixtureObject,
  keysOf,
  objectsIn,
  removeDir,
  runCli,
  settings,
  writeTenantsFile,
} from '../../unit/warehouse/retention-fixture';
import { requireVmModules } from './helpers';

jest.setTimeout(120_000);

let fixture: { dir: string; objects: FixtureObject[] };
let loaded: string;
let dir: string;

beforeAll(async () => {
  requireVmModules();
  fixture = await buildFixture();
  loaded = copyDir(fixture.dir);
  const r = await runCli(['load', '--from', loaded]);
  if (r.code !== 0) throw new Error(r.stderr);
  writeTenantsFile(join(loaded, 'tenants.json'), [settings('acme', 30), settings('beta', 400)]);
});
afterAll(() => {
  removeDir(fixture.dir);
  removeDir(loaded);
});
beforeEach(() => {
  dir = copyDir(loaded);
});
afterEach(() => removeDir(dir));

describe('usage', () => {
  test('both commands are listed by `cyberactive help`', async () => {
    const r = await runCli(['help']);
    expect(r.stderr).toMatch(/^ {2}age-off +remove warehouse rows older than each tenant's retention$/m);
    expect(r.stderr).toMatch(/^ {2}purge +delete one raw object or a whole tenant/m);
  });

  test.each([
    [['purge', '--from', 'x'], '--tenant T is required'],
    [['purge', '--tenant', 'acme'], '--from DIR is required'],
    [['purge', '--tenant', 'Acme', '--from', 'x'], 'invalid tenant id "Acme"'],
    [['purge', '--tenant', 'acme', '--sha256', 'abc', '--from', 'x'], 'invalid sha256 "abc"'],
    [['purge', '--tenant', 'acme', '--from', 'x', '--force'], "Unknown option '--force'"],
    [['age-off'], '--from DIR is required'],
    [['age-off', '--from', 'x', '--now', 'yesterday'], '--now "yesterday": expected an ISO 8601 time'],
  ])('%j exits 2 with the problem and the usage', async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toMatch(/\nusage: cyberactive (purge|age-off) /);
    expect(r.stdout).toBe('');
  });

  test('age-off without a tenants file says how to write one, and changes nothing', async () => {
    const r = await runCli(['age-off', '--from', dir, '--tenants', join(dir, 'none.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no tenants file ${join(dir, 'none.json')}`);
    expect(r.stderr).toContain('"retention_days": 400');
  });

  test('a folder without a warehouse is refused before anything is deleted', async () => {
    const bare = copyDir(fixture.dir);
    try {
      const before = objectsIn(bare);
      const r = await runCli(['purge', '--tenant', 'acme', '--from', bare]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no warehouse in');
      expect(objectsIn(bare)).toEqual(before);
    } finally {
      removeDir(bare);
    }
  });
});

describe('purge', () => {
  test('of one object prints what went, where the record is, and what was left alone', async () => {
    const target = byName(fixture.objects, 'acme/old');
    const r = await runCli(['purge', '--tenant', 'acme', '--sha256', target.sha256, '--from', dir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^purge [0-9A-Z]{26}: raw object ${target.sha256} of tenant acme$`));
    expect(lines).toContain('ledger: 1 raw object known');
    expect(lines).toContain(
      `objects deleted: ${keysOf(target).length} (raw 1, curated ${target.parts.length}, quarantine 1); already absent: 0; failed: 0`,
    );
    expect(lines.find((l) => l.startsWith('warehouse removed: '))).toMatch(
      /^warehouse removed: 300 tahoe_raw, \d+ tahoe_instance, \d+ tahoe_edge rows; \d+ agg_event_hourly rows; 0 load_log rows; 1 ingest_file rows marked PURGED$/,
    );
    // The load_log rows go in a step of their own, once the files are gone.
    expect(lines).toContain(`load_log forgot: ${target.parts.length} rows of the purged files`);
    const recordLine = lines.find((l) => l.startsWith('record: ')) ?? '';
    expect(recordLine).toMatch(/^record: manifests\/purges\/[0-9A-Z]{26}\.json$/);
    expect(existsSync(join(dir, recordLine.slice('record: '.length)))).toBe(true);
    expect(lines.at(-1)).toMatch(/^left alone: proofs/);
    for (const k of keysOf(target)) expect(objectsIn(dir)).not.toContain(k);
  });

  test('--dry-run --json prints the report, deletes nothing and writes no record', async () => {
    const before = objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests']);
    const r = await runCli(['purge', '--tenant', 'beta', '--from', dir, '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as PurgeReport;
    expect(report).toMatchObject({
      request: { kind: 'PURGE_TENANT', tenant: 'beta' },
      dryRun: true,
      ok: true,
      s3: { absent: [], failed: [] },
      warehouse: { status: 'removed', result: { deleted: { tahoe_raw: 200 } } },
      loadLog: { status: 'forgotten', loadLogRowsDeleted: byName(fixture.objects, 'beta/one').parts.length },
    });
    expect(report.record).toBeUndefined();
    expect(report.s3.deleted.map((o) => `${o.bucket}/${o.key}`).sort()).toEqual(
      keysOf(byName(fixture.objects, 'beta/one')),
    );
    expect(objectsIn(dir, ['raw', 'curated', 'quarantine', 'manifests'])).toEqual(before);
    const rows = await runCli(['sql', '--data', dir, "SELECT count(*) AS n FROM tahoe_raw WHERE tenant = 'beta'"]);
    expect(rows.stdout).toContain('200');
  });

  test('run twice, the second run reports everything absent and still exits 0', async () => {
    const target = byName(fixture.objects, 'beta/one');
    const argv = ['purge', '--tenant', 'beta', '--sha256', target.sha256, '--from', dir, '--json'];
    expect((await runCli(argv)).code).toBe(0);
    const second = await runCli(argv);
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout) as PurgeReport;
    expect(report.s3.deleted).toEqual([]);
    expect(report.s3.absent).toHaveLength(keysOf(target).length);
    const record = JSON.parse(readFileSync(join(dir, 'manifests', report.record?.key ?? ''), 'utf8'));
    expect(record.s3.absent).toHaveLength(keysOf(target).length);
  });
});

describe('age-off', () => {
  test('prints per tenant what went, and the tenants it skipped', async () => {
    const r = await runCli(['age-off', '--from', dir, '--now', '2026-11-22T03:00:00Z']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('age-off at 2026-11-22T03:00:00.000Z');
    expect(lines[1]).toMatch(
      /^acme: retention 30 days, raws received before 2026-10-23T03:00:00.000Z: removed 300 tahoe_raw, \d+ tahoe_instance/,
    );
    expect(lines[2]).toBe(
      'beta: retention 400 days, raws received before 2025-10-18T03:00:00.000Z: nothing older to remove',
    );
    expect(lines[3]).toBe('skipped gamma: not in the tenant directory: no retention configured, nothing removed');
  });

  test('--dry-run --json reports the counts and leaves the rows', async () => {
    const r = await runCli(['age-off', '--from', dir, '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as AgeOffReport;
    expect(report).toMatchObject({ at: '2026-11-22T10:30:00.000Z', dryRun: true, failed: 0, migrationsApplied: [] });
    expect(report.tenants.map((t) => [t.tenant, t.result?.deleted.tahoe_raw])).toEqual([
      ['acme', 300],
      ['beta', 0],
    ]);
    const rows = await runCli(['sql', '--data', dir, "SELECT count(*) AS n FROM tahoe_raw WHERE tenant = 'acme'"]);
    expect(rows.stdout).toContain('500');
  });
});
