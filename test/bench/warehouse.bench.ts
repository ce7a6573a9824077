/**
 * The loader core into PostgreSQL: one run of runLoader over 100 Parquet files written by the real process core
 * (Cowrie logs of four tenants, ~0.8 M rows, mostly tahoe_edge), into an empty warehouse, on
 * - the PostgreSQL server at WAREHOUSE_TEST_URL (a fresh schema, dropped afterwards), and
 * - embedded PGlite with its data folder on disk, as `cyberactive load` and the local runtime use it.
 * Then a second run over the same files, which finds everything in load_log and loads nothing (the steady cost of
 * a scheduled run with no new files).
 *
 * Reported: rows/s (rows copied ÷ wall time of the run, migrations excluded), the run's time, the repeat run's
 * time, peak RSS, and where a load's time goes (the adapter's trace, summed per step).
 * Targets: ≥ 150,000 rows/s on the server, ≥ 30,000 rows/s on PGlite.
 *
 * Run with `npm run bench -- warehouse` (the server must be up; see docs/warehouse.md).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { FsObjectStore } from '../../lambdas/adapters/fs-object-store';
import { LocalLedger, MemoryLedgerStore } from '../../lambdas/adapters/local-ledger';
import { PgWarehouse } from '../../lambdas/adapters/pg-warehouse';
import { PgliteWarehouse } from '../../lambdas/adapters/pglite-warehouse';
import { cowrieLines } from '../../lambdas/local/sample-logs';
import { runLoader } from '../../lambdas/warehouse/loader';
import type { Warehouse } from '../../lambdas/warehouse/port';
import { filesUnder, runCli } from '../helpers/local';

const URL = process.env.WAREHOUSE_TEST_URL ?? 'postgres://cyberactive:cyberactive@127.0.0.1:5432/cyberactive_test';
const FILES = 100;
const TARGETS = { server: 150_000, pglite: 30_000 } as const;
const MiB = 1024 * 1024;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

async function cli(argv: string[]): Promise<void> {
  const r = await runCli(argv, () => new Date());
  if (r.code !== 0) throw new Error(`cyberactive ${argv[0]} failed: ${r.stderr}`);
}

/** Processed Parquet of four tenants, cut to exactly FILES files (all tables) in a folder of their own. */
async function dataset(work: string): Promise<{ dir: string; bytes: number }> {
  const out = join(work, 'processed');
  for (let i = 0; i < 4; i++) {
    const input = join(work, `cowrie-${i}.jsonl`);
    const start = new Date(Date.parse('2026-11-01T00:00:00Z') + i * 6 * 3600_000);
    writeFileSync(input, `${[...cowrieLines({ lines: 14_000, seed: 100 + i, badShare: 0.01, start })].join('\n')}\n`);
    await cli([
      'process',
      input,
      '--tenant',
      `bench-${i}`,
      '--typetag',
      'cowrie',
      '--out',
      out,
      '--received-at',
      `2026-11-0${i + 1}T10:00:00Z`,
      '--rows-per-part',
      '8000',
    ]);
  }
  const keys = filesUnder(join(out, 'curated')).filter((k) => k.endsWith('.parquet'));
  if (keys.length < FILES) throw new Error(`only ${keys.length} Parquet files were produced`);
  // Every table keeps its share: take files round-robin over the three tables' lists.
  const byTable = ['tahoe_raw', 'tahoe_instance', 'tahoe_edge'].map((t) =>
    keys.filter((k) => k.startsWith(`tahoe/${t}/`)),
  );
  const chosen: string[] = [];
  for (let i = 0; chosen.length < FILES; i++)
    for (const list of byTable) if (list[i] && chosen.length < FILES) chosen.push(list[i] as string);
  const dir = join(work, 'bench');
  let bytes = 0;
  for (const k of chosen) {
    const to = join(dir, 'curated', k);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(out, 'curated', k), to);
    bytes += statSync(to).size;
  }
  return { dir, bytes };
}

interface Measured {
  name: string;
  files: number;
  rows: number;
  rowsByTable: Record<string, number>;
  seconds: number;
  repeatSeconds: number;
  peakRssMiB: number;
  steps: [string, number][];
}

async function measure(
  name: keyof typeof TARGETS,
  dir: string,
  open: (trace: (s: string, ms: number) => void) => Promise<Warehouse>,
): Promise<Measured> {
  const steps = new Map<string, number>();
  const trace = (step: string, ms: number) => {
    const k = step.replace(/\s+/g, ' ').slice(0, 48);
    steps.set(k, (steps.get(k) ?? 0) + ms);
  };
  const warehouse = await open(trace);
  try {
    await warehouse.applyMigrations(new Date());
    const store = new FsObjectStore(dir);
    const deps = {
      store,
      warehouse,
      ledger: new LocalLedger(new MemoryLedgerStore()),
      buckets: { curated: 'curated', manifests: 'manifests' },
      clock: () => new Date(),
    };
    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    const t0 = performance.now();
    const report = await runLoader(deps);
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const t1 = performance.now();
    const again = await runLoader(deps);
    const repeatSeconds = (performance.now() - t1) / 1000;
    if (again.filesLoaded !== 0 || report.filesRejected.length > 0) throw new Error(`${name}: unexpected report`);
    const rows = report.rowsCopied.tahoe_raw + report.rowsCopied.tahoe_instance + report.rowsCopied.tahoe_edge;
    return {
      name,
      files: report.filesLoaded,
      rows,
      rowsByTable: { ...report.rowsCopied },
      seconds,
      repeatSeconds,
      peakRssMiB: peak / MiB,
      steps: [...steps.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6),
    };
  } finally {
    await warehouse.close();
  }
}

async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'warehouse-bench-'));
  try {
    const admin = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 5000 });
    try {
      await admin.connect();
    } catch (err) {
      throw new Error(`PostgreSQL server unreachable at ${URL} (${(err as Error).message}); see docs/warehouse.md`);
    }
    const settings = (
      await admin.query(
        "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'synchronous_commit') ORDER BY name",
      )
    ).rows.map((r) => `${r.name}=${r.value}`);
    const version = (await admin.query('SHOW server_version')).rows[0]?.server_version;
    const { dir, bytes } = await dataset(work);
    const schema = `bench_${Date.now().toString(36)}`;
    const results: Measured[] = [];
    try {
      const store = new FsObjectStore(dir);
      results.push(
        await measure('server', dir, async (trace) => PgWarehouse.create({ url: URL, schema, store, trace })),
      );
      results.push(
        await measure('pglite', dir, (trace) => PgliteWarehouse.open({ store, trace, dataDir: join(work, 'pglite') })),
      );
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }

    const lines = [
      '## Warehouse loading (loader core → PostgreSQL)',
      '',
      `One loader run over ${FILES} Parquet files (${fmt(bytes / MiB, 1)} MiB) from the process core, into an empty warehouse;`,
      `then the same run again (nothing new). Server: PostgreSQL ${version} (${settings.join(', ')}); PGlite with its data`,
      `folder on disk. ${cpus().length} cores, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} at the end.`,
      '',
      '| warehouse | files | rows (raw / instance / edge) | run | rows/s | target | repeat run | peak RSS |',
      '|---|---:|---|---:|---:|---:|---:|---:|',
    ];
    for (const r of results) {
      const rate = r.rows / r.seconds;
      const target = TARGETS[r.name as keyof typeof TARGETS];
      lines.push(
        `| ${r.name} | ${r.files} | ${fmt(r.rows)} (${fmt(r.rowsByTable.tahoe_raw ?? 0)} / ${fmt(r.rowsByTable.tahoe_instance ?? 0)} / ${fmt(r.rowsByTable.tahoe_edge ?? 0)}) | ${fmt(r.seconds, 1)} s | ${fmt(rate)} | ${fmt(target)} ${rate >= target ? '✓' : '✗'} | ${fmt(r.repeatSeconds, 2)} s | ${fmt(r.peakRssMiB)} MiB |`,
      );
    }
    lines.push('', 'Where a load spends its time (seconds, summed over the run):', '');
    for (const r of results) {
      lines.push(`- ${r.name}: ${r.steps.map(([s, ms]) => `${s.trim()} ${fmt(ms / 1000, 1)}`).join('; ')}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`warehouse bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
