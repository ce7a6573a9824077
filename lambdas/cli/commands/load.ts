/**
 * `cyberactive load --from DIR`: runs the loader core (lambdas/warehouse/loader.ts) over the Parquet files that
 * `cyberactive process … --out DIR` wrote, offline: DIR is the object store (curated/, and manifests/ for the
 * manifests the loader writes), DIR/ledger the ledger, and the warehouse is embedded PostgreSQL under
 * DIR/warehouse unless --warehouse names a PostgreSQL server. Running it again loads only what is new.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FsObjectStore } from '../../adapters/fs-object-store';
import { LocalLedger } from '../../adapters/local-ledger';
import { PgWarehouse } from '../../adapters/pg-warehouse';
import { PgliteWarehouse } from '../../adapters/pglite-warehouse';
import { type LoaderReport, runLoader } from '../../warehouse/loader';
import type { Warehouse } from '../../warehouse/port';
import { type CliIo, type Command, UsageError } from '../io';

const USAGE = 'cyberactive load --from DIR [--warehouse postgres://…] [--schema NAME] [--json]';

const HELP = `${USAGE}

Loads the TAHOE Parquet files under DIR/curated/tahoe/ (as written by \`cyberactive process … --out DIR\`) into the
warehouse, exactly once: files already in load_log are skipped, each batch is one transaction, a file that cannot
be copied is isolated and recorded REJECTED. Then marks the raw objects LOADED in the ledger (DIR/ledger).

Options:
  --warehouse URL   a PostgreSQL server (postgres://user:password@host:port/db); default: embedded PostgreSQL
                    (PGlite) in DIR/warehouse
  --schema NAME     the server schema to load into (default: the user's search_path)
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

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        from: { type: 'string' },
        warehouse: { type: 'string' },
        schema: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function reportText(r: LoaderReport, target: string): string {
  const rows = (c: LoaderReport['rowsCopied']) =>
    `${c.tahoe_raw} tahoe_raw, ${c.tahoe_instance} tahoe_instance, ${c.tahoe_edge} tahoe_edge`;
  const lines = [`warehouse: ${target}`];
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
    const dir = resolve(io.cwd, values.from);
    if (!existsSync(join(dir, LOCAL_BUCKETS.curated))) {
      io.stderr.write(
        `cyberactive load: ${dir} holds no curated/ folder: run \`cyberactive process … --out DIR\` first\n`,
      );
      return 1;
    }
    const store = new FsObjectStore(dir);
    const warehouse = await openWarehouse({ url: values.warehouse, schema: values.schema, dataDir: dir, store });
    let report: LoaderReport;
    try {
      report = await runLoader({
        store,
        warehouse,
        ledger: LocalLedger.atPath(join(dir, 'ledger')),
        buckets: LOCAL_BUCKETS,
        clock: io.now,
      });
    } finally {
      await warehouse.close();
    }
    const target = values.warehouse ? new URL(values.warehouse).host : join(dir, 'warehouse');
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : reportText(report, target));
    return report.filesRejected.length > 0 ? EXIT_REJECTED : 0;
  },
};
