/**
 * `cyberactive purge --tenant T [--sha256 H] --from DIR`: runs the purge of the retention core
 * (lambdas/warehouse/retention.ts) on the folder that `cyberactive process … --out DIR` wrote and
 * `cyberactive load --from DIR` loaded: DIR is the object store (raw/, curated/, quarantine/, and manifests/ for
 * the purge record), DIR/ledger the ledger, the warehouse embedded PostgreSQL under DIR/warehouse or a server.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FsObjectStore } from '../../adapters/fs-object-store';
import { LocalLedger } from '../../adapters/local-ledger';
import { assertSha256, assertTenantId, InvalidIdentifierError } from '../../shared/ids';
import type { RemovalResult } from '../../warehouse/port';
import { countByRole, type PurgeReport, purge } from '../../warehouse/retention';
import { type CliIo, type Command, parseOptions, UsageError } from '../io';
import { LOCAL_BUCKETS, LOCAL_WAREHOUSE_OPTIONS, openWarehouse } from './load';

const USAGE =
  'cyberactive purge --tenant T [--sha256 H] --from DIR [--warehouse postgres://…] [--schema NAME] [--dry-run] [--json]';

const HELP = `${USAGE}

Removes one raw object (--sha256: the SHA-256 of its bytes, as \`cyberactive process\` prints it) or, without
--sha256, every object of tenant T, and everything derived from it: the rows from the warehouse first (while the
Parquet files still say which instances were the object's), then the objects from the store (the Parquet files,
the quarantine files, the raw objects; for a tenant also every object under its prefixes that the ledger does not
know), then, once no Parquet file is left, the files' load_log rows. Then writes a purge record,
DIR/manifests/purges/<id>.json, listing every object deleted, found already absent, or that could not be deleted,
and the rows removed per table. Proofs, loader manifests and ledger items are left (see docs/warehouse.md).

Running it again is safe, and finishes what a failed run left: what is already gone is reported absent.

Options:
  --from DIR        the folder of \`cyberactive process … --out DIR\` and \`cyberactive load --from DIR\`
  --warehouse URL   a PostgreSQL server (postgres://user:password@host:port/db); default: embedded PostgreSQL
                    (PGlite) in DIR/warehouse
  --schema NAME     the server schema (default: the user's search_path)
  --dry-run         list what would be deleted and count the rows, change nothing, write no record
  --json            print the report as one JSON object

Exit status: 0 everything was removed, 1 some objects could not be deleted or the warehouse step failed (the
record says which; run the command again), 2 on usage errors.`;

/** The bucket folders of `cyberactive process --out DIR`, and manifests/ of `cyberactive load`. */
export const LOCAL_RETENTION_BUCKETS = { ...LOCAL_BUCKETS, raw: 'raw', quarantine: 'quarantine' } as const;

const OPTIONS = {
  ...LOCAL_WAREHOUSE_OPTIONS,
  tenant: { type: 'string' },
  sha256: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

function parse(argv: readonly string[]) {
  return parseOptions(argv, OPTIONS);
}

/** Rows removed, as one line: what `removeRows` reports (load_log and ingest_file only change for a purge). */
export function removalText(r: RemovalResult, options: { readonly purge: boolean } = { purge: true }): string {
  const d = r.deleted;
  const rows =
    `${d.tahoe_raw} tahoe_raw, ${d.tahoe_instance} tahoe_instance, ${d.tahoe_edge} tahoe_edge rows; ` +
    `${r.aggregateRowsDeleted} agg_event_hourly rows`;
  if (!options.purge) return rows;
  return `${rows}; ${r.loadLogRowsDeleted} load_log rows; ${r.ingestFilesPurged} ingest_file rows marked PURGED`;
}

/** A warehouse that a local command needs: a URL, or the folder `cyberactive load` made. */
export function localWarehouseProblem(dir: string, url: string | undefined): string | undefined {
  if (url) return undefined;
  if (!existsSync(join(dir, 'warehouse'))) {
    return `no warehouse in ${dir}: run \`cyberactive load --from DIR\` first, or give --warehouse URL`;
  }
  return undefined;
}

function reportText(r: PurgeReport): string {
  const would = r.dryRun;
  const what = r.request.sha256
    ? `raw object ${r.request.sha256} of tenant ${r.request.tenant}`
    : `every object of tenant ${r.request.tenant}`;
  const lines = [`purge ${r.purgeId}: ${what}${would ? ' (dry run: nothing was changed)' : ''}`];
  lines.push(`ledger: ${r.ledgerObjects.length} raw object${r.ledgerObjects.length === 1 ? '' : 's'} known`);
  const c = countByRole(r.s3.deleted);
  lines.push(
    `objects ${would ? 'to delete' : 'deleted'}: ${r.s3.deleted.length} (raw ${c.raw}, curated ${c.curated}, ` +
      `quarantine ${c.quarantine}); already absent: ${r.s3.absent.length}; failed: ${r.s3.failed.length}`,
  );
  for (const f of r.s3.failed) lines.push(`FAILED ${f.bucket}/${f.key}: ${f.reason}`);
  for (const u of r.unreadable) lines.push(`unreadable (deleted, hashes not read): ${u.key}: ${u.reason}`);
  const w = r.warehouse;
  if (w.status === 'removed') lines.push(`warehouse ${would ? 'would remove' : 'removed'}: ${removalText(w.result)}`);
  else if (w.status === 'skipped') lines.push(`warehouse NOT changed: ${w.reason}`);
  else lines.push(`warehouse FAILED: ${w.error}`);
  const l = r.loadLog;
  if (l.status === 'forgotten') {
    lines.push(`load_log ${would ? 'would forget' : 'forgot'}: ${l.loadLogRowsDeleted} rows of the purged files`);
  } else if (l.status === 'skipped') lines.push(`load_log NOT changed: ${l.reason}`);
  else lines.push(`load_log FAILED: ${l.error}`);
  if (r.record) lines.push(`record: ${r.record.bucket}/${r.record.key}`);
  lines.push('left alone: proofs (hashes only; may be under Object Lock), loader manifests, ledger items');
  if (!r.ok) lines.push('the purge is incomplete: run the same command again');
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: 'delete one raw object or a whole tenant, and all derived data, from the store and the warehouse',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values } = parse(argv);
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (!values.tenant) throw new UsageError('--tenant T is required');
    if (!values.from) throw new UsageError('--from DIR is required');
    try {
      assertTenantId(values.tenant);
      if (values.sha256 !== undefined) assertSha256(values.sha256);
    } catch (err) {
      if (err instanceof InvalidIdentifierError) throw new UsageError(err.message);
      throw err;
    }
    const dir = resolve(io.cwd, values.from);
    const problem = existsSync(dir) ? localWarehouseProblem(dir, values.warehouse) : `no folder ${dir}`;
    if (problem) {
      io.stderr.write(`cyberactive purge: ${problem}\n`);
      return 1;
    }
    const store = new FsObjectStore(dir);
    const warehouse = await openWarehouse({ url: values.warehouse, schema: values.schema, dataDir: dir, store });
    let report: PurgeReport;
    try {
      report = await purge(
        { store, warehouse, ledger: LocalLedger.atPath(join(dir, 'ledger')), buckets: LOCAL_RETENTION_BUCKETS },
        { tenant: values.tenant, sha256: values.sha256, now: io.now(), dryRun: values['dry-run'] ?? false },
      );
    } finally {
      await warehouse.close();
    }
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : reportText(report));
    return report.ok ? 0 : 1;
  },
};
