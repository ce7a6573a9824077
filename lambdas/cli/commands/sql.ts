/**
 * `cyberactive sql "<query>"`: runs one query on the warehouse that `cyberactive load` filled (embedded PostgreSQL
 * under --data DIR, or a server) and prints the result as an aligned table, or as JSON. Values for `$1`, `$2`, …
 * are given with --param, so that they never have to be spliced into the query text.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FsObjectStore } from '../../adapters/fs-object-store';
import type { QueryResult } from '../../warehouse/port';
import { type CliIo, type Command, UsageError } from '../io';
import { openWarehouse } from './load';

const USAGE = 'cyberactive sql "<query>" (--data DIR | --warehouse postgres://…) [--schema NAME] [--param V]… [--json]';

const HELP = `${USAGE}

Runs <query> on the warehouse and prints the rows as a table (NULL shown empty, long values cut at 80
characters) or, with --json, as one JSON object {columns, rows} with every value whole.

Options:
  --data DIR        the folder given to \`cyberactive load --from DIR\` (embedded PostgreSQL in DIR/warehouse)
  --warehouse URL   a PostgreSQL server instead
  --schema NAME     the server schema (default: the user's search_path)
  --param V         a value for $1, then $2, … (repeatable)
  --json            print JSON

Examples:
  cyberactive sql --data out "SELECT * FROM v_top_attacker_ip_daily WHERE attacker_rank <= 10"
  cyberactive sql --data out "SELECT * FROM v_event_attribute WHERE attribute_value = \\$1" --param 203.0.113.7`;

const MAX_CELL = 80;

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        data: { type: 'string' },
        warehouse: { type: 'string' },
        schema: { type: 'string' },
        param: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** A value as text: dates in ISO 8601, JSON values as JSON, NULL empty. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  return String(value);
}

/** An aligned text table, psql-like, with the row count under it. */
export function formatTable(result: QueryResult): string {
  const { columns, rows } = result;
  if (columns.length === 0) return '(no result set)\n';
  const cells = rows.map((r) =>
    columns.map((c) => {
      const t = cellText(r[c]).replace(/[\r\n\t]/g, ' ');
      return t.length > MAX_CELL ? `${t.slice(0, MAX_CELL - 1)}…` : t;
    }),
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] as number))
      .join(' | ')
      .trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}

export const command: Command = {
  summary: 'run a SQL query on the warehouse and print the result',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(argv);
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('expected exactly one query (quote it)');
    if (!values.data === !values.warehouse) throw new UsageError('give either --data DIR or --warehouse URL');
    const dir = resolve(io.cwd, values.data ?? '.');
    if (values.data && !existsSync(join(dir, 'warehouse'))) {
      io.stderr.write(
        `cyberactive sql: no warehouse in ${dir}: run \`cyberactive load --from ${values.data}\` first\n`,
      );
      return 1;
    }
    const warehouse = await openWarehouse({
      url: values.warehouse,
      schema: values.schema,
      dataDir: dir,
      store: new FsObjectStore(dir),
    });
    let result: QueryResult;
    try {
      result = await warehouse.query(positionals[0] as string, values.param ?? []);
    } finally {
      await warehouse.close();
    }
    io.stdout.write(
      values.json
        ? `${JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}\n`
        : formatTable(result),
    );
    return 0;
  },
};
