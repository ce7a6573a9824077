/**
 * Shared by the retention tests (unit, integration, CLI): real output of `cyberactive process` for three tenants,
 * and small helpers to look at a data folder. Objects:
 * - acme/old: received 2026-10-01, acme/new: received 2026-11-20 (same tenant, overlapping attackers);
 * - beta/one: received 2026-11-03;
 * - gamma/one: received 2026-09-01 (a tenant with rows but, in the age-off tests, no settings).
 * Each has Parquet parts of every table and a quarantine file (3 % of its lines are bad).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { cowrieLines } from '../../../lambdas/local/sample-logs';
import type { TenantSettings } from '../../../lambdas/process/ports';
import { FIXTURE_NOW, filesUnder, runCli } from '../../helpers/local';

export { copyDir, removeDir, runCli, testIo } from '../../helpers/local';

export interface FixtureObject {
  readonly name: string;
  readonly tenant: string;
  readonly receivedAt: string;
  readonly sha256: string;
  /** The raw object's key in the `raw` bucket folder. */
  readonly rawKey: string;
  /** Parquet keys in the `curated` bucket folder. */
  readonly parts: readonly string[];
  /** Quarantine key in the `quarantine` bucket folder. */
  readonly quarantine: string;
}

const INPUTS = [
  { name: 'acme/old', tenant: 'acme', lines: 300, seed: 7, at: '2026-10-01T10:00:00Z' },
  { name: 'acme/new', tenant: 'acme', lines: 200, seed: 8, at: '2026-11-20T12:00:00Z' },
  { name: 'beta/one', tenant: 'beta', lines: 200, seed: 9, at: '2026-11-03T09:00:00Z' },
  { name: 'gamma/one', tenant: 'gamma', lines: 100, seed: 10, at: '2026-09-01T09:00:00Z' },
] as const;

export const NOW = FIXTURE_NOW;

export function settings(tenant: string, retentionDays: number): TenantSettings {
  return {
    tenant,
    orgid: createHash('sha256').update(`tenant:${tenant}`).digest('hex'),
    typetags: ['cowrie'],
    envelope: 'any',
    retentionDays,
  };
}

/** The data folder's tenants.json, as FileTenantDirectory reads it. */
export function writeTenantsFile(path: string, tenants: readonly TenantSettings[]): void {
  const entries = Object.fromEntries(
    tenants.map((t) => [
      t.tenant,
      { orgid: t.orgid, typetags: t.typetags, envelope: t.envelope, retention_days: t.retentionDays },
    ]),
  );
  writeFileSync(path, `${JSON.stringify({ tenants: entries }, null, 2)}\n`);
}

/** Processes the inputs into a fresh folder; returns the folder and what each object became. */
export async function buildFixture(): Promise<{ dir: string; objects: FixtureObject[] }> {
  const work = mkdtempSync(join(tmpdir(), 'retention-fixture-'));
  const dir = join(work, 'out');
  const objects: FixtureObject[] = [];
  for (const [i, x] of INPUTS.entries()) {
    const file = join(work, `input-${i}.jsonl`);
    const start = new Date(Date.parse(x.at) - 6 * 3600_000);
    writeFileSync(file, `${[...cowrieLines({ lines: x.lines, seed: x.seed, badShare: 0.03, start })].join('\n')}\n`);
    const r = await runCli([
      'process',
      file,
      '--tenant',
      x.tenant,
      '--typetag',
      'cowrie',
      '--out',
      dir,
      '--received-at',
      x.at,
      '--rows-per-part',
      '150',
      '--json',
    ]);
    if (r.code !== 0) throw new Error(`process failed: ${r.stderr}`);
    const s = JSON.parse(r.stdout) as { sha256: string; rawObject: string; parts: string[]; quarantine: string };
    const rel = (bucket: string, path: string) => relative(join(dir, bucket), path).split(sep).join('/');
    objects.push({
      name: x.name,
      tenant: x.tenant,
      receivedAt: x.at,
      sha256: s.sha256,
      rawKey: rel('raw', s.rawObject),
      parts: s.parts.map((p) => rel('curated', p)).sort(),
      quarantine: rel('quarantine', s.quarantine),
    });
  }
  return { dir, objects };
}

/** Every object of a bucket folder, as `bucket/key`. */
export function objectsIn(dir: string, buckets: readonly string[] = ['raw', 'curated', 'quarantine']): string[] {
  return buckets
    .flatMap((b) => (existsSync(join(dir, b)) ? filesUnder(join(dir, b)).map((k) => `${b}/${k}`) : []))
    .sort();
}

/** Every `bucket/key` of a fixture object. */
export function keysOf(o: FixtureObject): string[] {
  return [`raw/${o.rawKey}`, ...o.parts.map((p) => `curated/${p}`), `quarantine/${o.quarantine}`].sort();
}

/** The `_hash` column of a Parquet file, as an independent reading (not the code under test). */
export async function hashesIn(path: string): Promise<string[]> {
  const bytes = readFileSync(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file })) as { _hash: string }[];
  return rows.map((r) => r._hash);
}

export function byName(objects: readonly FixtureObject[], name: string): FixtureObject {
  const o = objects.find((x) => x.name === name);
  if (!o) throw new Error(`no fixture object ${name}`);
  return o;
}
