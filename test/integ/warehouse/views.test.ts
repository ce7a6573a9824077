/**
 * The analyst views (sql/views/) on data loaded from the real process core, on the PostgreSQL server and on
 * PGlite: each answer is compared with the same question answered in TypeScript from the Parquet files.
 */
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { ATTACKER_IP_TYPES } from '../../../lambdas/warehouse/sql';
import {
  BACKENDS,
  copyOf,
  expectedTables,
  load,
  parquetKeys,
  processedFixture,
  type Row,
  removeDir,
  requireServer,
  type TestWarehouse,
  testWarehouse,
} from './helpers';

let fixture: Promise<string> | undefined;
function processed(): Promise<string> {
  fixture ??= processedFixture();
  return fixture;
}

const HOUR = 3600;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** The expected rows, indexed the way the questions need them. */
function model(t: Record<'tahoe_raw' | 'tahoe_instance' | 'tahoe_edge', Row[]>) {
  const instances = new Map(t.tahoe_instance.map((i) => [`${i.tenant}/${i._hash}`, i]));
  const events = t.tahoe_instance.filter((i) => i.itype === 'event' && i.event_ts != null);
  const edges = (relation: string) => t.tahoe_edge.filter((e) => e.relation === relation);
  const attackerIps = (tenant: unknown, event: unknown) =>
    edges('mal_ref')
      .filter((e) => e.tenant === tenant && e.parent_hash === event)
      .map((e) => instances.get(`${e.tenant}/${e.child_hash}`))
      .filter(
        (a): a is Row =>
          !!a && a.itype === 'attribute' && (ATTACKER_IP_TYPES as readonly unknown[]).includes(a.sub_type),
      );
  return { instances, events, edges, attackerIps };
}

describe.each(BACKENDS)('analyst views on %s', (backend) => {
  let dir: string;
  let w: TestWarehouse;
  let m: ReturnType<typeof model>;
  let expected: Awaited<ReturnType<typeof expectedTables>>;
  const q = (sql: string, params?: unknown[]) => w.admin(sql, params);

  beforeAll(async () => {
    if (backend === 'server') await requireServer();
    dir = copyOf(await processed());
    w = await testWarehouse(backend, new FsObjectStore(dir));
    await load(dir, await w.open());
    expected = await expectedTables(dir);
    m = model(expected);
  });

  afterAll(async () => {
    await w?.dispose();
    if (dir) removeDir(dir);
  });

  it('counts events per tenant, type and hour, with their distinct attacker IPs (v_event_hourly)', async () => {
    const want = new Map<string, { events: Set<unknown>; attackers: Set<unknown> }>();
    for (const e of m.events) {
      const hour = iso(Math.floor((e.event_ts as number) / HOUR) * HOUR);
      const k = JSON.stringify([e.tenant, e.sub_type, hour]);
      const g = want.get(k) ?? { events: new Set(), attackers: new Set() };
      g.events.add(e._hash);
      for (const a of m.attackerIps(e.tenant, e._hash)) g.attackers.add(a._hash);
      want.set(k, g);
    }
    const rows = await q('SELECT tenant, event_type, hour, events, distinct_attackers FROM v_event_hourly');
    const got = rows
      .map((r) =>
        JSON.stringify([
          r.tenant,
          r.event_type,
          (r.hour as Date).toISOString(),
          Number(r.events),
          Number(r.distinct_attackers),
        ]),
      )
      .sort();
    const exp = [...want.entries()]
      .map(([k, g]) => JSON.stringify([...JSON.parse(k), g.events.size, g.attackers.size]))
      .sort();
    expect(got.length).toBeGreaterThan(3);
    expect(got).toEqual(exp);
  });

  it('ranks attacker IPs per tenant and day (v_top_attacker_ip_daily)', async () => {
    const want = new Map<string, Set<unknown>>();
    for (const e of m.events) {
      const day = iso(e.event_ts as number).slice(0, 10);
      for (const a of m.attackerIps(e.tenant, e._hash)) {
        const k = JSON.stringify([e.tenant, day, JSON.parse(a.data as string)]);
        want.set(k, (want.get(k) ?? new Set()).add(e._hash));
      }
    }
    const rows = await q('SELECT tenant, day, ip, events, attacker_rank FROM v_top_attacker_ip_daily');
    expect(rows.map((r) => JSON.stringify([r.tenant, String(r.day), r.ip, Number(r.events)])).sort()).toEqual(
      [...want.entries()].map(([k, s]) => JSON.stringify([...JSON.parse(k), s.size])).sort(),
    );
    // Ranks run 1, 2, 3, … per tenant and day, in non-increasing order of events.
    const groups = new Map<string, Row[]>();
    for (const r of rows) groups.set(`${r.tenant}/${r.day}`, [...(groups.get(`${r.tenant}/${r.day}`) ?? []), r]);
    for (const g of groups.values()) {
      const byRank = [...g].sort((a, b) => Number(a.attacker_rank) - Number(b.attacker_rank));
      expect(byRank.map((r) => Number(r.attacker_rank))).toEqual(byRank.map((_, i) => i + 1));
      for (let i = 1; i < byRank.length; i++) {
        expect(Number(byRank[i]?.events)).toBeLessThanOrEqual(Number(byRank[i - 1]?.events));
      }
    }
  });

  it('finds the events containing an attribute, by value and by hash (v_event_attribute)', async () => {
    // The busiest attacker address of acme.
    const counts = new Map<string, number>();
    for (const e of m.edges('mal_ref')) {
      const a = m.instances.get(`${e.tenant}/${e.child_hash}`);
      if (e.tenant === 'acme' && a?.sub_type === 'ipv4')
        counts.set(a._hash as string, (counts.get(a._hash as string) ?? 0) + 1);
    }
    const [hash] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
    const attribute = m.instances.get(`acme/${hash}`) as Row;
    const value = JSON.parse(attribute.data as string) as string;
    const want = m
      .edges('ref')
      .filter(
        (e) =>
          e.tenant === 'acme' && e.child_hash === hash && m.instances.get(`acme/${e.parent_hash}`)?.itype === 'event',
      )
      .map((e) => e.parent_hash)
      .sort();
    expect(want.length).toBeGreaterThan(1);

    const byValue = await q(
      "SELECT event_hash, malicious FROM v_event_attribute WHERE tenant = $1 AND attribute_type = 'ipv4' AND attribute_value = $2 ORDER BY event_hash",
      ['acme', value],
    );
    expect(byValue.map((r) => r.event_hash)).toEqual(want);
    expect(byValue.every((r) => r.malicious === true)).toBe(true);
    const byHash = await q(
      'SELECT event_hash FROM v_event_attribute WHERE tenant = $1 AND attribute_hash = $2 ORDER BY 1',
      ['acme', hash],
    );
    expect(byHash.map((r) => r.event_hash)).toEqual(want);
  });

  it('gives the sessions and the children of an event (v_event_session, v_event_child)', async () => {
    const link = m
      .edges('session_event')
      .find((e) => e.tenant === 'beta' && m.instances.get(`beta/${e.parent_hash}`)?.start_time != null) as Row;
    const event = link.child_hash;
    const sessions = await q(
      'SELECT session_hash, session_start FROM v_event_session WHERE tenant = $1 AND event_hash = $2',
      ['beta', event],
    );
    const wantSessions = m
      .edges('session_event')
      .filter((e) => e.tenant === 'beta' && e.child_hash === event)
      .map((e) => e.parent_hash);
    expect(sessions.map((r) => r.session_hash).sort()).toEqual(wantSessions.sort());
    const session = m.instances.get(`beta/${link.parent_hash}`) as Row;
    const start = sessions[0]?.session_start;
    // The view turns seconds into a TIMESTAMP (microseconds); JavaScript's Date keeps the milliseconds.
    expect(start instanceof Date ? start.getTime() : null).toBe(
      session.start_time == null ? null : Math.floor((session.start_time as number) * 1000),
    );

    const children = await q(
      'SELECT relation, child_hash, child_itype FROM v_event_child WHERE tenant = $1 AND event_hash = $2',
      ['beta', event],
    );
    const want = [
      ...m
        .edges('cref')
        .filter((e) => e.tenant === 'beta' && e.parent_hash === event)
        .map((e) => ['cref', e.child_hash]),
      ...m
        .edges('raw_ref')
        .filter((e) => e.tenant === 'beta' && e.child_hash === event)
        .map((e) => ['raw_ref', e.parent_hash]),
    ];
    expect(children.map((r) => [r.relation, r.child_hash]).sort()).toEqual(want.sort());
    expect(children.filter((r) => r.relation === 'raw_ref').every((r) => r.child_itype === 'raw')).toBe(true);
  });

  it('parses JSON data where it is valid (v_instance)', async () => {
    const sample = expected.tahoe_instance.find((i) => i.itype === 'object') as Row;
    const [row] = await q('SELECT data_json FROM v_instance WHERE tenant = $1 AND _hash = $2', [
      sample.tenant,
      sample._hash,
    ]);
    expect(row?.data_json).toEqual(JSON.parse(sample.data as string));
  });

  it('reports freshness and the ingest audit per tenant (v_warehouse_freshness, v_ingest_audit)', async () => {
    const fresh = await q(
      'SELECT tenant, last_loaded_at, files_loaded, files_rejected, rows_loaded FROM v_warehouse_freshness ORDER BY tenant',
    );
    const keys = parquetKeys(dir);
    expect(
      fresh.map((r) => [
        r.tenant,
        (r.last_loaded_at as Date).toISOString(),
        Number(r.files_loaded),
        Number(r.files_rejected),
      ]),
    ).toEqual(
      ['acme', 'beta'].map((t) => [
        t,
        '2026-11-22T10:30:00.000Z',
        keys.filter((k) => k.includes(`/tenant=${t}/`)).length,
        0,
      ]),
    );

    const audit = await q(
      'SELECT tenant, status, records_in, counts_add_up, rows_match, fully_loaded, ledger_marked FROM v_ingest_audit ORDER BY tenant, records_in',
    );
    expect(audit.map((r) => [r.tenant, r.status, Number(r.records_in)])).toEqual([
      ['acme', 'LOADED', 400],
      ['acme', 'LOADED', 900],
      ['beta', 'LOADED', 500],
    ]);
    for (const r of audit) {
      expect(r).toMatchObject({ counts_add_up: true, rows_match: true, fully_loaded: true, ledger_marked: true });
    }
  });
});
