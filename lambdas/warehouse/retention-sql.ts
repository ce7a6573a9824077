/**
 * Every SQL text of a removal (age-off and purge, `Warehouse.removeRows` in ./port.ts), for the three adapters. Like
 * ./sql.ts: identifiers come from constants here, values always travel as bind parameters (`$1`, `$2`, …).
 *
 * A removal has three parts, so that a dry run is the first and last alone and computes the same counts:
 * 1. `plan`: temporary tables only, nothing of the warehouse changes. Which raws go (`removal_raws`); which of their
 *    `_hash` values no remaining raw of the tenant holds any more (`removal_dead_raws`); the candidates: every
 *    instance reachable from the removed raws through tahoe_edge, plus the caller's candidates and what they reach
 *    (`removal_candidates`); those no raw derives directly (`removal_unowned`); the candidates that stay
 *    (`removal_keep`, a recursive walk down from every edge whose parent stays, see below); the rest
 *    (`removal_doomed`); the edges that go with their parent or their child (`removal_edges`); the hours of the
 *    aggregate to recompute (sql.ts's AGG_HOURS table); and every count, into the one-row table `removal_counts`,
 *    before anything is deleted.
 * 2. `apply`: the deletes, the aggregate refresh (sql.ts's own statements), load_log (purges without `keepLoadLog`)
 *    and ingest_file for purges, and the purge_log row (its counts read from `removal_counts`, so that Redshift's
 *    single batch can write it).
 * 3. `result`: the counts, read back.
 *
 * Which candidates stay. What a raw derives directly (its raw_ref children: sessions and events) stays while a raw
 * that remains still derives it. Anything else (objects, attributes, unlinked instances) stays while something that
 * stays refers to it: an instance that is not a candidate, or a kept candidate. So an event of a removed record goes
 * even when its session stays (another object's records share the session), and so does the session's edge to it:
 * the tables end as they would be had the removed raws never been loaded, save for the merged columns of what stays
 * (a shared session keeps the start and end times merged from every record it saw). Instances a filter left
 * unlinked are never removed unless they are candidates themselves, and their children stay with them (no edge is
 * left pointing at a deleted instance). The walk visits only the candidates and the edges into them, not the
 * tenant's whole graph.
 *
 * A purge of a whole tenant is simpler: every row with its tenant goes. FORGET_FILES is simpler still: the purged
 * files' load_log rows, counted, deleted and recorded.
 *
 * The given candidates arrive as values (`candidates`, 1,000 to an INSERT) or, on a warehouse that reads the
 * object's tahoe_instance files itself, as rows the adapter copies into the load's own staging table of
 * tahoe_instance (`RemovalSqlOptions.copyCandidates`); their distinct `_hash` values join the given candidates.
 *
 * Dialects: Redshift's recursive CTEs must be `WITH RECURSIVE name (columns) AS (… UNION ALL …)`; PostgreSQL takes
 * the same form, but there `UNION` (which drops rows already found) keeps a walk over a graph with many paths to
 * one node from visiting it once per path. The graph is acyclic (content hashes), so both end.
 */
import { parseTahoeKey } from '../shared/s3-keys';
import type { RemovalRequest, RemovalResult } from './port';
import {
  AGG_HOURS,
  type Dialect,
  deleteAffectedAggregatesSql,
  insertAffectedAggregatesSql,
  type SqlStatement,
  stagingTable,
} from './sql';

export const REMOVAL_RAWS = 'removal_raws';
export const REMOVAL_GIVEN = 'removal_given';
export const REMOVAL_CANDIDATES = 'removal_candidates';
export const REMOVAL_DEAD_RAWS = 'removal_dead_raws';
export const REMOVAL_UNOWNED = 'removal_unowned';
export const REMOVAL_KEEP = 'removal_keep';
export const REMOVAL_DOOMED = 'removal_doomed';
export const REMOVAL_EDGES = 'removal_edges';
export const REMOVAL_COUNTS = 'removal_counts';

/** Every temporary table a removal creates, for the PostgreSQL adapters to drop before COMMIT. */
export const REMOVAL_TEMP_TABLES = [
  REMOVAL_RAWS,
  REMOVAL_GIVEN,
  REMOVAL_CANDIDATES,
  REMOVAL_DEAD_RAWS,
  REMOVAL_UNOWNED,
  REMOVAL_KEEP,
  REMOVAL_DOOMED,
  REMOVAL_EDGES,
  AGG_HOURS,
  REMOVAL_COUNTS,
] as const;

/** The columns of `removal_counts`: what the plan counted, and what each delete or update must affect. */
export const REMOVAL_COUNT_COLUMNS = [
  'tahoe_raw',
  'tahoe_instance',
  'tahoe_edge',
  /** agg_event_hourly rows of the touched hours, before the refresh. */
  'aggregate_before',
  /** agg_event_hourly rows of the touched hours the refresh inserts again (hours that still hold events). */
  'aggregate_after',
  'load_log',
  'ingest_file',
] as const;

export type RemovalCount = (typeof REMOVAL_COUNT_COLUMNS)[number];

export interface RemovalStep extends SqlStatement {
  /** An apply step that deletes, inserts or updates exactly this many rows, as the plan counted them. */
  readonly affects?: RemovalCount;
}

export interface RemovalSql {
  /** Temporary tables and counts: changes nothing of the warehouse. */
  readonly plan: readonly RemovalStep[];
  /** The removal itself and its purge_log row; left out of a dry run. */
  readonly apply: readonly RemovalStep[];
  /** One row: the columns of REMOVAL_COUNT_COLUMNS. */
  readonly result: SqlStatement;
}

/** Candidate hashes per INSERT: a statement of a few kilobytes, and few statements per Redshift batch. */
export const CANDIDATES_PER_INSERT = 1000;

/** The status an ingest_file row gets when its object is purged. */
export const PURGED_STATUS = 'PURGED';

const HASH = /^[0-9a-f]{64}$/;

/** The same hour expression as sql.ts's aggregate statements, so that the counts match the rows they delete. */
const HOUR_OF = (epoch: string) => `TIMESTAMP 'epoch' + ${epoch} * INTERVAL '1 second'`;

function plain(text: string, affects?: RemovalCount): RemovalStep {
  return { text, params: [], ...(affects ? { affects } : {}) };
}

function recursiveUnion(dialect: Dialect): string {
  return dialect === 'postgres' ? 'UNION' : 'UNION ALL';
}

function placeholders(n: number, offset = 0): string {
  return Array.from({ length: n }, (_, i) => `($${offset + i + 1})`).join(', ');
}

/** Checks what a caller may get wrong before any SQL is built. */
export function checkRemovalRequest(request: RemovalRequest): void {
  if (typeof request.tenant !== 'string' || request.tenant.length === 0 || request.tenant.length > 63) {
    throw new TypeError(`removal: tenant must be 1 to 63 characters, not ${JSON.stringify(request.tenant)}`);
  }
  if (request.kind === 'AGE_OFF' && !(request.before instanceof Date && !Number.isNaN(request.before.getTime()))) {
    throw new TypeError('removal: AGE_OFF needs a valid `before` date');
  }
  if (request.kind === 'FORGET_FILES' && request.sha256 !== undefined && !HASH.test(request.sha256)) {
    throw new TypeError(`removal: ${JSON.stringify(request.sha256)} is not a SHA-256`);
  }
  if (request.kind === 'PURGE_OBJECT') {
    if (!HASH.test(request.sha256)) throw new TypeError(`removal: ${JSON.stringify(request.sha256)} is not a SHA-256`);
    for (const h of request.candidates ?? []) {
      if (!HASH.test(h)) throw new TypeError(`removal: candidate ${JSON.stringify(h)} is not an instance hash`);
    }
    // The files are copied into the warehouse: only the object's own tahoe_instance files may be named, so that a
    // wrong manifest cannot make other instances candidates.
    for (const f of request.candidateFiles?.files ?? []) {
      let own = false;
      try {
        const k = parseTahoeKey(f.key);
        own = k.table === 'tahoe_instance' && k.tenant === request.tenant && k.rawSha256 === request.sha256;
      } catch {
        own = false;
      }
      if (!own || f.table !== 'tahoe_instance') {
        throw new TypeError(`removal: ${JSON.stringify(f.key)} is not a tahoe_instance file of the purged object`);
      }
    }
  }
}

/** Options of `removalSql`. */
export interface RemovalSqlOptions {
  readonly id: string;
  readonly now: Date;
  /**
   * PURGE_OBJECT with `candidateFiles`, on a warehouse that reads them itself: statements that create the load's
   * staging table of tahoe_instance (`stagingTable('tahoe_instance')`) and fill it with the files' rows (Redshift:
   * `createStagingSql` and a COPY from the manifest, as a load does). The distinct `_hash` values of the tenant's
   * rows there join the given candidates.
   */
  readonly copyCandidates?: readonly SqlStatement[];
}

/** The raws the request removes (AGE_OFF, PURGE_OBJECT). */
function selectRemovedRaws(request: RemovalRequest): RemovalStep {
  const head = `CREATE TEMP TABLE ${REMOVAL_RAWS} AS SELECT tenant, _hash, object_sha256, record_no FROM tahoe_raw`;
  switch (request.kind) {
    case 'AGE_OFF':
      return { text: `${head} WHERE tenant = $1 AND received_at < $2`, params: [request.tenant, request.before] };
    case 'PURGE_OBJECT':
      return { text: `${head} WHERE tenant = $1 AND object_sha256 = $2`, params: [request.tenant, request.sha256] };
    case 'PURGE_TENANT':
    case 'FORGET_FILES':
      throw new TypeError(`${request.kind} does not select raws`);
  }
}

/** Whether a purge keeps the files' load_log rows (the core forgets them later with FORGET_FILES). */
function keepsLoadLog(request: RemovalRequest): boolean {
  return (request.kind === 'PURGE_OBJECT' || request.kind === 'PURGE_TENANT') && request.keepLoadLog === true;
}

/** Part 1 for AGE_OFF and PURGE_OBJECT. */
function graphPlan(
  request: RemovalRequest,
  dialect: Dialect,
  copyCandidates: readonly SqlStatement[] | undefined,
): RemovalStep[] {
  const tenant = request.tenant;
  const union = recursiveUnion(dialect);
  const analyze = (table: string): RemovalStep[] => (dialect === 'postgres' ? [plain(`ANALYZE ${table}`)] : []);
  const given = request.kind === 'PURGE_OBJECT' ? [...new Set(request.candidates ?? [])] : [];
  const steps: RemovalStep[] = [selectRemovedRaws(request), ...analyze(REMOVAL_RAWS)];

  steps.push(plain(`CREATE TEMP TABLE ${REMOVAL_GIVEN} (h VARCHAR(64) NOT NULL)`));
  for (let i = 0; i < given.length; i += CANDIDATES_PER_INSERT) {
    const chunk = given.slice(i, i + CANDIDATES_PER_INSERT);
    steps.push({ text: `INSERT INTO ${REMOVAL_GIVEN} (h) VALUES ${placeholders(chunk.length)}`, params: chunk });
  }
  if (request.kind === 'PURGE_OBJECT' && copyCandidates && copyCandidates.length > 0) {
    // However many instances the object's files hold, this is a fixed number of statements and no values: the
    // rows travel from S3 to the warehouse, never through the request.
    steps.push(...copyCandidates);
    steps.push({
      text: `INSERT INTO ${REMOVAL_GIVEN} (h) SELECT DISTINCT _hash FROM ${stagingTable('tahoe_instance')} WHERE tenant = $1`,
      params: [tenant],
    });
  }

  // Raw hashes no remaining raw of the tenant holds: every raw holding them is removed. Counted, not correlated
  // (Redshift refuses most correlated subqueries).
  steps.push({
    text:
      `CREATE TEMP TABLE ${REMOVAL_DEAD_RAWS} AS SELECT r.h FROM` +
      ` (SELECT _hash AS h, COUNT(*) AS n FROM ${REMOVAL_RAWS} GROUP BY _hash) r` +
      ` JOIN (SELECT t._hash AS h, COUNT(*) AS n FROM tahoe_raw t` +
      ` JOIN (SELECT DISTINCT _hash FROM ${REMOVAL_RAWS}) d ON d._hash = t._hash WHERE t.tenant = $1 GROUP BY t._hash) a` +
      ' ON a.h = r.h WHERE a.n = r.n',
    params: [tenant],
  });

  // Everything the removed raws reach, and what the given candidates reach.
  steps.push({
    text:
      `CREATE TEMP TABLE ${REMOVAL_CANDIDATES} AS WITH RECURSIVE reach (h) AS (` +
      ' SELECT s.h FROM (' +
      ` SELECT e.child_hash AS h FROM tahoe_edge e JOIN (SELECT DISTINCT _hash FROM ${REMOVAL_RAWS}) r` +
      ' ON e.parent_hash = r._hash WHERE e.tenant = $1' +
      ` UNION SELECT g.h FROM ${REMOVAL_GIVEN} g) s` +
      ` ${union} SELECT e.child_hash FROM reach JOIN tahoe_edge e ON e.parent_hash = reach.h WHERE e.tenant = $1` +
      ') SELECT DISTINCT h FROM reach',
    params: [tenant],
  });
  steps.push(...analyze(REMOVAL_CANDIDATES));

  // Candidates no raw derives directly (no raw_ref edge into them): objects and attributes, which exist for what
  // refers to them, and instances a filter left unlinked.
  steps.push({
    text:
      `CREATE TEMP TABLE ${REMOVAL_UNOWNED} AS SELECT c.h FROM ${REMOVAL_CANDIDATES} c LEFT JOIN (` +
      `SELECT DISTINCT e.child_hash FROM tahoe_edge e JOIN ${REMOVAL_CANDIDATES} c2 ON c2.h = e.child_hash` +
      " WHERE e.tenant = $1 AND e.relation = 'raw_ref') r ON r.child_hash = c.h WHERE r.child_hash IS NULL",
    params: [tenant],
  });

  // The candidates that stay. A session or event (what a raw derives, raw_ref) stays while a raw that is not on its
  // way out still derives it; anything else while something that stays refers to it: a parent that is neither a
  // candidate nor a raw hash on its way out, then, recursively, a kept candidate.
  steps.push({
    text:
      `CREATE TEMP TABLE ${REMOVAL_KEEP} AS WITH RECURSIVE kept (h) AS (` +
      ` SELECT e.child_hash FROM tahoe_edge e JOIN ${REMOVAL_CANDIDATES} c ON c.h = e.child_hash` +
      ` LEFT JOIN ${REMOVAL_CANDIDATES} pc ON pc.h = e.parent_hash` +
      ` LEFT JOIN ${REMOVAL_DEAD_RAWS} pd ON pd.h = e.parent_hash` +
      ` LEFT JOIN ${REMOVAL_UNOWNED} u ON u.h = e.child_hash` +
      " WHERE e.tenant = $1 AND pc.h IS NULL AND pd.h IS NULL AND (e.relation = 'raw_ref' OR u.h IS NOT NULL)" +
      ` ${union} SELECT e.child_hash FROM kept JOIN tahoe_edge e ON e.parent_hash = kept.h` +
      ` JOIN ${REMOVAL_UNOWNED} u ON u.h = e.child_hash WHERE e.tenant = $1` +
      ') SELECT DISTINCT h FROM kept',
    params: [tenant],
  });
  steps.push(
    plain(
      `CREATE TEMP TABLE ${REMOVAL_DOOMED} AS SELECT c.h FROM ${REMOVAL_CANDIDATES} c` +
        ` LEFT JOIN ${REMOVAL_KEEP} k ON k.h = c.h WHERE k.h IS NULL`,
    ),
    ...analyze(REMOVAL_DOOMED),
  );

  // An edge goes with its parent (a doomed instance, or a raw hash no remaining raw holds) and with its child (a
  // session's edge to an event of a removed record, when the session stays).
  const edgeColumns = 'e.tenant, e.parent_hash, e.relation, e.child_hash, e.event_ts';
  steps.push({
    text:
      `CREATE TEMP TABLE ${REMOVAL_EDGES} AS SELECT ${edgeColumns}` +
      ` FROM tahoe_edge e JOIN (SELECT h FROM ${REMOVAL_DOOMED} UNION SELECT h FROM ${REMOVAL_DEAD_RAWS}) p` +
      ` ON p.h = e.parent_hash WHERE e.tenant = $1` +
      ` UNION SELECT ${edgeColumns} FROM tahoe_edge e JOIN ${REMOVAL_DOOMED} d ON d.h = e.child_hash WHERE e.tenant = $1`,
    params: [tenant],
  });

  // The hours whose aggregate rows change: those of removed events and of removed mal_ref edges (an edge's event
  // time is its event's), with the hour expression sql.ts's createAffectedHoursSql uses.
  steps.push({
    text:
      `CREATE TEMP TABLE ${AGG_HOURS} AS SELECT DISTINCT x.tenant, FLOOR(x.event_ts / 3600) * 3600 AS hour_epoch FROM (` +
      ` SELECT i.tenant, i.event_ts FROM tahoe_instance i JOIN ${REMOVAL_DOOMED} d ON d.h = i._hash` +
      " WHERE i.tenant = $1 AND i.itype = 'event' AND i.event_ts IS NOT NULL" +
      ` UNION ALL SELECT tenant, event_ts FROM ${REMOVAL_EDGES} WHERE relation = 'mal_ref' AND event_ts IS NOT NULL) x`,
    params: [tenant],
  });

  const purge = request.kind === 'PURGE_OBJECT';
  const forgets = purge && !keepsLoadLog(request);
  const counts: Record<RemovalCount, string> = {
    tahoe_raw: `SELECT COUNT(*) FROM ${REMOVAL_RAWS}`,
    tahoe_instance: `SELECT COUNT(*) FROM tahoe_instance i JOIN ${REMOVAL_DOOMED} d ON d.h = i._hash WHERE i.tenant = $1`,
    tahoe_edge: `SELECT COUNT(*) FROM ${REMOVAL_EDGES}`,
    aggregate_before:
      `SELECT COUNT(*) FROM agg_event_hourly a JOIN ${AGG_HOURS} k` +
      ` ON a.tenant = k.tenant AND a.hour = ${HOUR_OF('k.hour_epoch')}`,
    // What insertAffectedAggregatesSql will insert: one row per event type and touched hour that still has events.
    aggregate_after:
      `SELECT COUNT(*) FROM (SELECT DISTINCT e.sub_type, k.hour_epoch FROM ${AGG_HOURS} k` +
      " JOIN tahoe_instance e ON e.tenant = k.tenant AND e.itype = 'event'" +
      ' AND e.event_ts >= k.hour_epoch AND e.event_ts < k.hour_epoch + 3600' +
      ` LEFT JOIN ${REMOVAL_DOOMED} d ON d.h = e._hash WHERE d.h IS NULL) g`,
    load_log: forgets ? 'SELECT COUNT(*) FROM load_log WHERE tenant = $1 AND raw_sha256 = $2' : 'SELECT 0',
    ingest_file: purge
      ? `SELECT COUNT(*) FROM ingest_file WHERE tenant = $1 AND sha256 = $2 AND status <> '${PURGED_STATUS}'`
      : 'SELECT 0',
  };
  steps.push(countsStep(counts, purge ? [tenant, request.sha256] : [tenant]));
  return steps;
}

/** `removal_counts`: one row, one BIGINT column per count. */
function countsStep(counts: Record<RemovalCount, string>, params: readonly unknown[]): RemovalStep {
  const cols = REMOVAL_COUNT_COLUMNS.map((c) => `CAST((${counts[c]}) AS BIGINT) AS ${c}`);
  return { text: `CREATE TEMP TABLE ${REMOVAL_COUNTS} AS SELECT ${cols.join(', ')}`, params };
}

/** Part 2 for AGE_OFF and PURGE_OBJECT. */
function graphApply(request: RemovalRequest): RemovalStep[] {
  const tenant = request.tenant;
  const steps: RemovalStep[] = [
    plain(
      `DELETE FROM tahoe_raw USING ${REMOVAL_RAWS} r WHERE tahoe_raw.tenant = r.tenant` +
        ' AND tahoe_raw.object_sha256 = r.object_sha256 AND tahoe_raw.record_no = r.record_no',
      'tahoe_raw',
    ),
    plain(
      `DELETE FROM tahoe_edge USING ${REMOVAL_EDGES} r WHERE tahoe_edge.tenant = r.tenant` +
        ' AND tahoe_edge.parent_hash = r.parent_hash AND tahoe_edge.relation = r.relation' +
        ' AND tahoe_edge.child_hash = r.child_hash',
      'tahoe_edge',
    ),
    {
      text: `DELETE FROM tahoe_instance USING ${REMOVAL_DOOMED} d WHERE tahoe_instance.tenant = $1 AND tahoe_instance._hash = d.h`,
      params: [tenant],
      affects: 'tahoe_instance',
    },
    // The touched hours are recomputed from what remains, by the load's own statements.
    plain(deleteAffectedAggregatesSql(), 'aggregate_before'),
    plain(insertAffectedAggregatesSql(), 'aggregate_after'),
  ];
  if (request.kind === 'PURGE_OBJECT') {
    if (!keepsLoadLog(request)) steps.push(forgetStep(tenant, request.sha256));
    steps.push({
      text: `UPDATE ingest_file SET status = '${PURGED_STATUS}' WHERE tenant = $1 AND sha256 = $2 AND status <> '${PURGED_STATUS}'`,
      params: [tenant, request.sha256],
      affects: 'ingest_file',
    });
  }
  return steps;
}

/** The load_log rows of the tenant's files, of one raw object or all (tenant + raw_sha256: the key's own parts). */
function loadLogWhere(sha256: string | undefined): string {
  return sha256 === undefined ? 'tenant = $1' : 'tenant = $1 AND raw_sha256 = $2';
}

function forgetStep(tenant: string, sha256: string | undefined): RemovalStep {
  return {
    text: `DELETE FROM load_log WHERE ${loadLogWhere(sha256)}`,
    params: sha256 === undefined ? [tenant] : [tenant, sha256],
    affects: 'load_log',
  };
}

/** FORGET_FILES: only load_log changes; every other count is 0. */
function forgetPlan(tenant: string, sha256: string | undefined): RemovalStep[] {
  return [
    countsStep(
      {
        tahoe_raw: 'SELECT 0',
        tahoe_instance: 'SELECT 0',
        tahoe_edge: 'SELECT 0',
        aggregate_before: 'SELECT 0',
        aggregate_after: 'SELECT 0',
        load_log: `SELECT COUNT(*) FROM load_log WHERE ${loadLogWhere(sha256)}`,
        ingest_file: 'SELECT 0',
      },
      sha256 === undefined ? [tenant] : [tenant, sha256],
    ),
  ];
}

/** A tenant purge: every row with the tenant's name goes, ingest_file rows are marked PURGED. */
function tenantPlan(tenant: string, keepLoadLog: boolean): RemovalStep[] {
  const all = (table: string) => `SELECT COUNT(*) FROM ${table} WHERE tenant = $1`;
  return [
    countsStep(
      {
        tahoe_raw: all('tahoe_raw'),
        tahoe_instance: all('tahoe_instance'),
        tahoe_edge: all('tahoe_edge'),
        aggregate_before: all('agg_event_hourly'),
        aggregate_after: 'SELECT 0',
        load_log: keepLoadLog ? 'SELECT 0' : all('load_log'),
        ingest_file: `SELECT COUNT(*) FROM ingest_file WHERE tenant = $1 AND status <> '${PURGED_STATUS}'`,
      },
      [tenant],
    ),
  ];
}

function tenantApply(tenant: string, keepLoadLog: boolean): RemovalStep[] {
  const del = (table: string, affects: RemovalCount): RemovalStep => ({
    text: `DELETE FROM ${table} WHERE tenant = $1`,
    params: [tenant],
    affects,
  });
  return [
    del('tahoe_raw', 'tahoe_raw'),
    del('tahoe_edge', 'tahoe_edge'),
    del('tahoe_instance', 'tahoe_instance'),
    del('agg_event_hourly', 'aggregate_before'),
    ...(keepLoadLog ? [] : [forgetStep(tenant, undefined)]),
    {
      text: `UPDATE ingest_file SET status = '${PURGED_STATUS}' WHERE tenant = $1 AND status <> '${PURGED_STATUS}'`,
      params: [tenant],
      affects: 'ingest_file',
    },
  ];
}

export const PURGE_LOG_COLUMNS = [
  'id',
  'kind',
  'tenant',
  'sha256',
  'before_ts',
  'raws',
  'instances',
  'edges',
  'aggregate_rows',
  'load_log_rows',
  'ingest_files',
  'recorded_at',
] as const;

/** The purge_log row, its counts taken from `removal_counts` (typed casts: the values are bare parameters). */
export function insertPurgeLogSql(request: RemovalRequest, id: string, now: Date): SqlStatement {
  return {
    text:
      `INSERT INTO purge_log (${PURGE_LOG_COLUMNS.join(', ')}) SELECT CAST($1 AS VARCHAR(26)), CAST($2 AS VARCHAR(16)),` +
      ' CAST($3 AS VARCHAR(63)), CAST($4 AS VARCHAR(64)), CAST($5 AS TIMESTAMPTZ), c.tahoe_raw, c.tahoe_instance,' +
      ' c.tahoe_edge, c.aggregate_before - c.aggregate_after, c.load_log, c.ingest_file, CAST($6 AS TIMESTAMPTZ)' +
      ` FROM ${REMOVAL_COUNTS} c`,
    params: [
      id,
      request.kind,
      request.tenant,
      request.kind === 'PURGE_OBJECT' || request.kind === 'FORGET_FILES' ? (request.sha256 ?? null) : null,
      request.kind === 'AGE_OFF' ? request.before : null,
      now,
    ],
  };
}

/** The statements of one removal. The caller takes the load lock first and runs plan, apply (unless a dry run), result. */
export function removalSql(request: RemovalRequest, options: RemovalSqlOptions, dialect: Dialect): RemovalSql {
  checkRemovalRequest(request);
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(options.id)) throw new TypeError(`removal id ${options.id} is not a ULID`);
  let plan: RemovalStep[];
  let apply: RemovalStep[];
  switch (request.kind) {
    case 'PURGE_TENANT': {
      const keep = keepsLoadLog(request);
      plan = tenantPlan(request.tenant, keep);
      apply = tenantApply(request.tenant, keep);
      break;
    }
    case 'FORGET_FILES':
      plan = forgetPlan(request.tenant, request.sha256);
      apply = [forgetStep(request.tenant, request.sha256)];
      break;
    default:
      plan = graphPlan(request, dialect, options.copyCandidates);
      apply = graphApply(request);
  }
  return {
    plan,
    apply: [...apply, insertPurgeLogSql(request, options.id, options.now)],
    result: { text: `SELECT ${REMOVAL_COUNT_COLUMNS.join(', ')} FROM ${REMOVAL_COUNTS}`, params: [] },
  };
}

/** The counts of the result row (BIGINTs arrive as strings or numbers). */
export function removalCounts(row: Readonly<Record<string, unknown>> | undefined): Record<RemovalCount, number> {
  const out = {} as Record<RemovalCount, number>;
  for (const c of REMOVAL_COUNT_COLUMNS) {
    const v = Number(row?.[c] ?? Number.NaN);
    if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`removal: count ${c} is ${String(row?.[c])}`);
    out[c] = v;
  }
  return out;
}

export function removalResult(counts: Readonly<Record<RemovalCount, number>>): RemovalResult {
  return {
    deleted: { tahoe_raw: counts.tahoe_raw, tahoe_instance: counts.tahoe_instance, tahoe_edge: counts.tahoe_edge },
    aggregateRowsDeleted: counts.aggregate_before - counts.aggregate_after,
    loadLogRowsDeleted: counts.load_log,
    ingestFilesPurged: counts.ingest_file,
  };
}

/** Tenants with rows in tahoe_raw, in name order (age-off visits each). */
export function tenantsWithRowsSql(): SqlStatement {
  return { text: 'SELECT DISTINCT tenant FROM tahoe_raw ORDER BY tenant', params: [] };
}
