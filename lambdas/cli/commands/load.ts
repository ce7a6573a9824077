/**
 * `cyberactive load --from DIR`: runs the loader core (lambdas/warehouse/loader.ts) over the Parquet files that
 * `cyberactive process … --out DIR` wrote, offline: DIR is the object store (curated/, and manifests/ for the
 * manifests the loader writes), DIR/ledger the ledger, and the warehouse is embedded PostgreSQL under
 * DIR/warehouse unless --warehouse names a PostgreSQL server. Running it again loads only what is new.
 *
 * It lists every Parquet file by default (a local folder is small). `--recent-days N` lists only the last N days
 * and today of each tenant, as the scheduled loads on AWS do: the tenants of DIR/tenants.json when there is one,
 * else the tenant folders under DIR/curated/tahoe/.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FsObjectStore } from '../../adapters/fs-object-store';
import { LocalLedger } from '../../adapters/local-ledger';
import { FileTenantDirectory, LOCAL_TENANTS_FILE } from '../../adapters/local-tenant-directory';
import { PgWarehouse } from '../../adapters/pg-warehouse';
import { PgliteWarehouse } from '../../adapters/pglite-warehouse';
import { isTenantId } from '../../shared/ids';
import { TAHOE_TABLES } from '../../shared/s3-keys';
import { type LoaderListing, type LoaderReport, MAX_RECENT_DAYS, runLoader } from '../../warehouse/loader';
import type { Warehouse } from '../../warehouse/port';
import { type CliIo, type Command, parseOptions, UsageError } from '../io';

const USAGE = 'cyberactive load --from DIR [--warehouse postgres://…] [--schema NAME] [--recent-days N] [--json]';

const HELP = `${USAGE}

Loads the TAHOE Parquet files under DIR/curated/tahoe/ (as written by \`cyberactive process … --out DIR\`) into the
warehouse, exactly once: files already in load_log are skipped, each batch is one transaction, a file that cannot
be copied is isolated and recorded REJECTED. Then marks the raw objects LOADED in the ledger (DIR/ledger).

Options:
  --warehouse URL   a PostgreSQL server (postgres://user:password@host:port/db); default: embedded PostgreSQL
                    (PGlite) in DIR/warehouse
  --schema NAME     the server schema to load into (default: the user's search_path)
  --recent-days N   list only today and the N days before (UTC) of each tenant (DIR/tenants.json, else the tenant
                    folders under DIR/curated/tahoe/), as the scheduled loads on AWS do; default: list every file
  --json            print the run's report as one JSON object

Exit status: 0 every file loaded, 3 some files were REJECTED (listed with their error), 1 on other errors
(nothing of the failed batch was loaded), 2 on usage errors.`;

export const EXIT_REJECTED = 3;

/** Buckets of the folder object store that `cyberactive process --out DIR` writes. */
export const LOCAL_BUCKETS = { curated: 'curated', manifests: 'manifests' } as const;

/** The warehouse a local command talks to: a server when a URL is given, else PGlite in DIR/warehouse. */
export async function openWarehouse(options: {
  readonly url?: string | undefined;
  readonly schema?: string | undefined;
  readonly dataDir: string;
  readonly store: FsObjectStore;
}): Promise<Warehouse> {
  if (options.url) return PgWarehouse.create({ url: options.url, schema: options.schema, store: options.store });
  if (options.schema) throw new UsageError('--schema applies to a server (--warehouse URL) only');
  return PgliteWarehouse.open({ dataDir: join(options.dataDir, 'warehouse'), store: options.store });
}

/** The options every command on a local data folder and its warehouse takes (load, age-off, purge). */
export const LOCAL_WAREHOUSE_OPTIONS = {
  from: { type: 'string' },
  warehouse: { type: 'string' },
  schema: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const OPTIONS = { ...LOCAL_WAREHOUSE_OPTIONS, 'recent-days': { type: 'string' } } as const;

function parse(argv: readonly string[]) {
  return parseOptions(argv, OPTIONS);
}

function reportText(r: LoaderReport, target: string): string {
  const rows = (c: LoaderReport['rowsCopied']) =>
    `${c.tahoe_raw} tahoe_raw, ${c.tahoe_instance} tahoe_instance, ${c.tahoe_edge} tahoe_edge`;
  const lines = [`warehouse: ${target}`];
  if (r.listing === 'recent') lines.push(`listed: recent days only (${r.prefixesListed} partition prefixes)`);
  if (r.migrationsApplied.length > 0) lines.push(`migrations applied: ${r.migrationsApplied.join(', ')}`);
  lines.push(
    `files: ${r.filesListed} listed, ${r.filesLoaded} loaded, ${r.filesRejected.length} rejected` +
      `${r.filesSkipped > 0 ? `, ${r.filesSkipped} loaded meanwhile by another run` : ''}` +
      ` (${r.loads.length} load${r.loads.length === 1 ? '' : 's'})`,
    `rows read: ${rows(r.rowsCopied)}`,
    `rows new:  ${rows(r.rowsInserted)}`,
  );
  if (r.oversizeRows > 0) lines.push(`oversize rows (value kept in Parquet only): ${r.oversizeRows}`);
  for (const f of r.filesRejected) lines.push(`REJECTED ${f.key}: ${f.error}`);
  if (r.ignoredKeys.length > 0) lines.push(`ignored (not TAHOE Parquet keys): ${r.ignoredKeys.length}`);
  lines.push(`raw objects marked LOADED in the ledger: ${r.objectsMarkedLoaded}`);
  for (const x of r.ledgerRefusals) lines.push(`ledger refused ${x.ref.key}: ${x.reason}`);
  return `${lines.join('\n')}\n`;
}

/** The tenants a recent local load lists: those of DIR/tenants.json, or the tenant folders the files are in. */
async function localTenants(dir: string): Promise<string[]> {
  const file = join(dir, LOCAL_TENANTS_FILE);
  if (existsSync(file)) return (await new FileTenantDirectory(file).list()).map((t) => t.tenant);
  const tenants = new Set<string>();
  for (const table of TAHOE_TABLES) {
    const folder = join(dir, LOCAL_BUCKETS.curated, 'tahoe', table);
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      const tenant = name.startsWith('tenant=') ? name.slice('tenant='.length) : '';
      if (isTenantId(tenant)) tenants.add(tenant);
    }
  }
  return [...tenants];
}

function recentDays(value: string): number {
  const n = /^\d{1,2}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= MAX_RECENT_DAYS)) {
    throw new UsageError(`--recent-days must be a whole number from 0 to ${MAX_RECENT_DAYS}, got ${value}`);
  }
  return n;
}

export const command: Command = {
  summary: 'load Parquet from `cyberactive process` into the warehouse (PGlite or a PostgreSQL server)',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values } = parse(argv);
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (!values.from) throw new UsageError('--from DIR is required');
    const days = values['recent-days'] === undefined ? undefined : recentDays(values['recent-days']);
    const dir = resolve(io.cwd, values.from);
    if (!existsSync(join(dir, LOCAL_BUCKETS.curated))) {
      io.stderr.write(
        `cyberactive load: ${dir} holds no curated/ folder: run \`cyberactive process … --out DIR\` first\n`,
      );
      return 1;
    }
    const store = new FsObjectStore(dir);
    const listing: LoaderListing | undefined =
      days === undefined ? undefined : { tenants: () => localTenants(dir), recentDays: days };
    const warehouse = await openWarehouse({ url: values.warehouse, schema: values.schema, dataDir: dir, store });
    let report: LoaderReport;
    try {
      report = await runLoader({
        store,
        warehouse,
        ledger: LocalLedger.atPath(join(dir, 'ledger')),
        buckets: LOCAL_BUCKETS,
        clock: io.now,
        ...(listing ? { listing } : {}),
      });
    } finally {
      await warehouse.close();
    }
    const target = values.warehouse ? new URL(values.warehouse).host : join(dir, 'warehouse');
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : reportText(report, target));
    return report.filesRejected.length > 0 ? EXIT_REJECTED : 0;
  },
};
