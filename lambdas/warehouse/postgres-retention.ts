/**
 * `removeRows` and `tenantsWithRows` on PostgreSQL (server and PGlite), on a session of PostgresWarehouse that is
 * already in a transaction holding the load lock. The SQL is ./retention-sql.ts's, the same as Redshift's batch.
 *
 * The statements run one by one, so PostgreSQL's own row counts are there to check the plan against: every
 * delete, insert or update of the removal must affect exactly as many rows as the plan counted beforehand, else
 * the removal throws and its transaction rolls back. The counts a dry run reports are therefore the counts the
 * real run would have had, and on Redshift (where the batch cannot be checked half-way) the same counting SQL is
 * trusted because it is checked here.
 */
import type { RemovalRequest, RemovalResult } from './port';
import type { PgSession } from './postgres-warehouse';
import {
  REMOVAL_TEMP_TABLES,
  type RemovalCount,
  removalCounts,
  removalResult,
  removalSql,
  tenantsWithRowsSql,
} from './retention-sql';
import { type Dialect, dropTempSql, type SqlStatement, stagingTable } from './sql';

/** The plan's count and a statement's row count disagree: a bug in the removal SQL, never a data problem. */
export class RemovalCountMismatchError extends Error {
  override readonly name = 'RemovalCountMismatchError';
}

export interface PgRemovalOptions {
  readonly id: string;
  readonly now: Date;
  readonly dryRun?: boolean;
  /**
   * The dialect of the texts. 'postgres' for the adapters; the tests also run the 'redshift' texts here, on a real
   * PostgreSQL, to check what Redshift will be sent.
   * @default 'postgres'
   */
  readonly dialect?: Dialect;
  /**
   * Statements that fill the staging table of tahoe_instance with a purge's candidate files (retention-sql.ts
   * `RemovalSqlOptions`). The adapters take a purge's candidates as values and never pass this; the tests do, to
   * run on PostgreSQL what Redshift does with the rows its COPY reads.
   */
  readonly copyCandidates?: readonly SqlStatement[];
}

/**
 * Runs a removal in the caller's transaction. With `dryRun` only the plan runs (temporary tables and counts) and
 * nothing of the warehouse changes; the caller rolls back either way on failure.
 */
export async function removeRowsInTransaction(
  s: PgSession,
  request: RemovalRequest,
  options: PgRemovalOptions,
): Promise<RemovalResult> {
  const sql = removalSql(request, options, options.dialect ?? 'postgres');
  for (const st of sql.plan) await s.query(st.text, st.params);
  const counts = removalCounts((await s.query(sql.result.text, sql.result.params)).rows[0]);
  if (!options.dryRun) {
    for (const st of sql.apply) {
      const r = await s.query(st.text, st.params);
      if (st.affects) check(st.affects, counts, r.rowCount, st.text);
    }
  }
  // Temporary tables outlive a COMMIT in PostgreSQL (the session is pooled); after a ROLLBACK they are gone anyway.
  for (const t of REMOVAL_TEMP_TABLES) await s.query(dropTempSql(t));
  // The load's own staging table: a load later on this pooled session creates it again.
  if (options.copyCandidates?.length) await s.query(dropTempSql(stagingTable('tahoe_instance')));
  return removalResult(counts);
}

function check(what: RemovalCount, counts: Readonly<Record<RemovalCount, number>>, rows: number, text: string): void {
  if (rows !== counts[what]) {
    throw new RemovalCountMismatchError(
      `removal: the plan counted ${counts[what]} rows for ${what}, the statement affected ${rows}: ${text.slice(0, 120)}`,
    );
  }
}

export async function tenantsWithRows(s: PgSession): Promise<string[]> {
  const st = tenantsWithRowsSql();
  return (await s.query(st.text, st.params)).rows.map((r) => String(r.tenant));
}
