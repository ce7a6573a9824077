/**
 * `cyberactive age-off --from DIR`: runs the age-off of the retention core (lambdas/warehouse/retention.ts) on the
 * warehouse that `cyberactive load --from DIR` filled, with each tenant's retention from DIR/tenants.json (the
 * local tenant directory). Only warehouse rows go: on AWS the buckets' lifecycle rules age S3 off.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FsObjectStore } from '../../adapters/fs-object-store';
import { FileTenantDirectory, LOCAL_TENANTS_FILE } from '../../adapters/local-tenant-directory';
import type { RemovalResult } from '../../warehouse/port';
import { type AgeOffReport, ageOff } from '../../warehouse/retention';
import { type CliIo, type Command, parseOptions, UsageError } from '../io';
import { LOCAL_WAREHOUSE_OPTIONS, openWarehouse } from './load';
import { localWarehouseProblem, removalText } from './purge';

const USAGE =
  'cyberactive age-off --from DIR [--warehouse postgres://…] [--schema NAME] [--tenants FILE] [--now ISO] [--dry-run] [--json]';

const TENANTS_EXAMPLE =
  '{"tenants": {"acme": {"orgid": "<64 hex>", "typetags": ["cowrie"], "envelope": "any", "retention_days": 400}}}';

const HELP = `${USAGE}

Removes from the warehouse, for each tenant that has rows, the raws received more than the tenant's
retention_days before now, and the instances, edges and hourly aggregates that nothing left needs. A tenant with
rows but no entry in the tenants file is skipped and reported: nothing is removed without a configured retention.
Objects in DIR are not touched (on AWS, S3 ages off by the buckets' lifecycle rules).

Options:
  --from DIR        the folder given to \`cyberactive load --from DIR\`
  --warehouse URL   a PostgreSQL server (postgres://user:password@host:port/db); default: embedded PostgreSQL
                    (PGlite) in DIR/warehouse
  --schema NAME     the server schema (default: the user's search_path)
  --tenants FILE    the tenants and their retention (default: DIR/${LOCAL_TENANTS_FILE}), e.g.
                    ${TENANTS_EXAMPLE}
  --now ISO         the time to count retention from (default: now), e.g. 2026-11-22T03:00:00Z
  --dry-run         count what would be removed and change nothing
  --json            print the report as one JSON object

Exit status: 0 done, 1 the removal failed for some tenant (the others were done), 2 on usage errors.`;

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const OPTIONS = {
  ...LOCAL_WAREHOUSE_OPTIONS,
  tenants: { type: 'string' },
  now: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

function parse(argv: readonly string[]) {
  return parseOptions(argv, OPTIONS);
}

function parseNow(value: string | undefined, io: CliIo): Date {
  if (value === undefined) return io.now();
  const at = new Date(value);
  if (!ISO.test(value) || Number.isNaN(at.getTime())) {
    throw new UsageError(`--now ${JSON.stringify(value)}: expected an ISO 8601 time such as 2026-11-22T03:00:00Z`);
  }
  return at;
}

function isEmpty(r: RemovalResult): boolean {
  const d = r.deleted;
  return d.tahoe_raw + d.tahoe_instance + d.tahoe_edge + r.aggregateRowsDeleted === 0;
}

function reportText(r: AgeOffReport): string {
  const would = r.dryRun;
  const lines = [`age-off at ${r.at}${would ? ' (dry run: nothing was changed)' : ''}`];
  if (r.migrationsApplied.length > 0) lines.push(`migrations applied: ${r.migrationsApplied.join(', ')}`);
  for (const t of r.tenants) {
    const head = `${t.tenant}: retention ${t.retentionDays} days, raws received before ${t.before}`;
    if (!t.result) lines.push(`FAILED ${head}: ${t.error}`);
    else if (isEmpty(t.result)) lines.push(`${head}: nothing older to remove`);
    else lines.push(`${head}: ${would ? 'would remove' : 'removed'} ${removalText(t.result, { purge: false })}`);
  }
  if (r.tenants.length === 0) lines.push('no tenant to age off');
  for (const s of r.skipped) lines.push(`skipped ${s.tenant}: ${s.reason}`);
  lines.push('objects in the folder are not touched (on AWS, S3 ages off by the buckets’ lifecycle rules)');
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: "remove warehouse rows older than each tenant's retention",
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values } = parse(argv);
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (!values.from) throw new UsageError('--from DIR is required');
    const now = parseNow(values.now, io);
    const dir = resolve(io.cwd, values.from);
    const tenantsFile = resolve(io.cwd, values.tenants ?? join(dir, LOCAL_TENANTS_FILE));
    const problem = !existsSync(dir)
      ? `no folder ${dir}`
      : !existsSync(tenantsFile)
        ? `no tenants file ${tenantsFile}: age-off needs each tenant's retention_days; create it (or name one with --tenants FILE) as ${TENANTS_EXAMPLE}`
        : localWarehouseProblem(dir, values.warehouse);
    if (problem) {
      io.stderr.write(`cyberactive age-off: ${problem}\n`);
      return 1;
    }
    const warehouse = await openWarehouse({
      url: values.warehouse,
      schema: values.schema,
      dataDir: dir,
      store: new FsObjectStore(dir),
    });
    let report: AgeOffReport;
    try {
      report = await ageOff(
        { warehouse, tenants: new FileTenantDirectory(tenantsFile) },
        { now, dryRun: values['dry-run'] ?? false },
      );
    } finally {
      await warehouse.close();
    }
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : reportText(report));
    return report.failed > 0 ? 1 : 0;
  },
};
