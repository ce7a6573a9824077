/**
 * The local demo (the README quick start): every answer it prints is recomputed here from what it was given (the
 * generated sample logs) or from what the process step wrote (the Parquet files, read with hyparquet), without
 * the warehouse.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import {
  checkTotals,
  type DemoResult,
  demoReport,
  demoSucceeded,
  ledgerTotals,
  type OutcomeTotals,
  runDemo,
} from '../../../lambdas/local/demo';
import { cowrieLines } from '../../../lambdas/local/sample-logs';
import { cli, parquetKeys, parquetRows, type Row, requireVmModules } from '../warehouse/helpers';

const NOW = new Date('2026-11-22T10:00:00Z');
const LINES = 400;
/** What the demo generates besides cowrie: 300 sighting lines, one feed, one e-mail (each file one record). */
const OTHER_RECORDS = 300 + 1 + 1;

/** The generated cowrie lines sorted by what the pipeline must make of them. */
function expectedCowrieOutcomes(): { lines: number; notJson: number; filterRaises: number } {
  let lines = 0;
  let notJson = 0;
  let filterRaises = 0;
  for (const line of cowrieLines({ lines: LINES, seed: 7, badShare: 0.02, start: NOW })) {
    lines++;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // No filter can read it: the raw is kept, flagged invalid.
      notJson++;
      continue;
    }
    // The cowrie filter raises on a list where a scalar belongs, on a timestamp that is not ISO 8601, and (as the
    // Cybex-P filter does) on an upload event without `outfile` (the generator writes it, as cowrie does).
    if (
      Array.isArray(record.username) ||
      !/^\d{4}-\d{2}-\d{2}T/.test(String(record.timestamp)) ||
      (record.eventid === 'cowrie.session.file_upload' && !('outfile' in record))
    ) {
      filterRaises++;
    }
  }
  return { lines, notJson, filterRaises };
}

interface Tables {
  instances: Map<string, Row>;
  edges: Row[];
}

/** The Parquet files the process step wrote, read back (one tenant: instances keyed by hash alone). */
async function parquetTables(runDir: string): Promise<Tables> {
  const read = async (table: string) =>
    (await Promise.all(parquetKeys(runDir, table as 'tahoe_edge').map((k) => parquetRows(runDir, k)))).flat();
  const instances = new Map<string, Row>();
  for (const i of await read('tahoe_instance')) instances.set(String(i._hash), i);
  return { instances, edges: await read('tahoe_edge') };
}

const isEvent = (i: Row | undefined): i is Row => i?.itype === 'event' && i.event_ts != null;
const dayOf = (seconds: unknown) => new Date(Number(seconds) * 1000).toISOString().slice(0, 10);
const hourOf = (seconds: unknown) =>
  `${new Date(Math.floor(Number(seconds) / 3600) * 3600_000).toISOString().slice(0, 19).replace('T', ' ')}`;

describe('the local demo (the README quick start)', () => {
  let dir: string;
  let result: DemoResult;
  let report: string;
  let tables: Tables;
  const logged: string[] = [];

  beforeAll(async () => {
    requireVmModules();
    dir = await mkdtemp(join(tmpdir(), 'cyberactive-demo-'));
    result = await runDemo({ dir, cowrieLines: LINES, now: NOW, log: (l) => logged.push(l) });
    report = demoReport(result);
    tables = await parquetTables(result.runDir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('processes every sample upload and loads every Parquet file, so that the ledger marks each LOADED', () => {
    expect(result.files.map((f) => f.item.status)).toEqual(['LOADED', 'LOADED', 'LOADED', 'LOADED']);
    expect(result.loader.filesRejected).toEqual([]);
    expect(result.loader.filesLoaded).toBe(parquetKeys(result.runDir).length);
    expect(result.answers.audit.map((a) => [a.name, a.status, a.countsAddUp, a.rowsMatch, a.fullyLoaded])).toEqual(
      result.files.map((f) => [f.name, 'LOADED', true, true, true]),
    );
    expect(demoSucceeded(result)).toBe(true);
    expect(logged.some((l) => l.startsWith('envelope key: arn:local:kms:'))).toBe(true);
  });

  it('counts records per outcome as the generated input predicts, equal to the ledger on disk', async () => {
    const cowrie = expectedCowrieOutcomes();
    // The sample has bad lines of both kinds, or this test would prove little.
    expect(cowrie.notJson).toBeGreaterThan(0);
    expect(cowrie.filterRaises).toBeGreaterThan(0);
    const recordsIn = cowrie.lines + OTHER_RECORDS;
    const expected: OutcomeTotals = {
      files: 4,
      recordsIn,
      success: recordsIn - cowrie.notJson - cowrie.filterRaises,
      successInvalid: cowrie.notJson,
      error: cowrie.filterRaises,
      badData: 0,
      notSupported: 0,
      quarantined: cowrie.filterRaises,
    };
    expect(result.totals).toEqual(expected);

    const ledger = LocalLedger.atPath(join(result.runDir, 'ledger'));
    const items = await Promise.all(result.files.map((f) => ledger.get(f.item.ref)));
    expect(ledgerTotals(items.filter((i) => i !== undefined))).toEqual(expected);

    expect(report).toMatch(new RegExp(`^ +records in +${recordsIn} *$`, 'm'));
    expect(report).toMatch(new RegExp(`^ +SUCCESS +${expected.success} `, 'm'));
    expect(report).toMatch(new RegExp(`^ +SUCCESS_INVALID +${cowrie.notJson} `, 'm'));
    expect(report).toMatch(new RegExp(`^ +ERROR +${cowrie.filterRaises} `, 'm'));
  });

  it('refuses to report when the warehouse and the ledger disagree on a count', () => {
    expect(() => checkTotals(result.totals, { ...result.totals })).not.toThrow();
    expect(() => checkTotals(result.totals, { ...result.totals, error: result.totals.error + 1 })).toThrow(
      /disagrees with the ledger: error: ledger \d+, warehouse \d+/,
    );
  });

  it('ranks the top attacker IPs per day as the Parquet files do', () => {
    const byDayIp = new Map<string, Set<string>>();
    for (const e of tables.edges.filter((x) => x.relation === 'mal_ref')) {
      const event = tables.instances.get(String(e.parent_hash));
      const ip = tables.instances.get(String(e.child_hash));
      if (!isEvent(event) || ip?.itype !== 'attribute' || !['ipv4', 'ipv6'].includes(String(ip.sub_type))) continue;
      const k = JSON.stringify([dayOf(event.event_ts), JSON.parse(String(ip.data))]);
      byDayIp.set(k, (byDayIp.get(k) ?? new Set()).add(String(event._hash)));
    }
    const ranked = [...byDayIp.entries()]
      .map(([k, events]) => {
        const [day, ip] = JSON.parse(k) as [string, string];
        return { day, ip, events: events.size };
      })
      .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : b.events - a.events || (a.ip < b.ip ? -1 : 1)));
    const want: { day: string; rank: number; ip: string; events: number }[] = [];
    for (const r of ranked) {
      const rank = want.filter((w) => w.day === r.day).length + 1;
      if (rank <= 5) want.push({ ...r, rank });
    }
    expect(want.length).toBeGreaterThanOrEqual(5);
    expect(result.answers.topAttackers).toEqual(want);
    for (const w of want.filter((x) => x.day === want[0]?.day)) {
      expect(report).toMatch(new RegExp(`^ +${w.day} +${w.rank} +${w.ip.replace(/\./g, '\\.')} +${w.events}$`, 'm'));
    }
  });

  it('counts events per hour and kind as the Parquet files do', () => {
    const byHourType = new Map<string, number>();
    for (const i of tables.instances.values()) {
      if (!isEvent(i)) continue;
      const k = JSON.stringify([hourOf(i.event_ts), i.sub_type]);
      byHourType.set(k, (byHourType.get(k) ?? 0) + 1);
    }
    const want = [...byHourType.entries()].map(([k, n]) => [...(JSON.parse(k) as string[]), n]).sort();
    expect(want.length).toBeGreaterThan(3);
    expect(result.answers.hourly.map((h) => [h.hour, h.eventType, h.events]).sort()).toEqual(want);
    // Each hour's row of the printed table ends with the hour's total.
    const perHour = new Map<string, number>();
    for (const [hour, , n] of want) perHour.set(String(hour), (perHour.get(String(hour)) ?? 0) + Number(n));
    for (const [hour, n] of perHour) expect(report).toMatch(new RegExp(`^ +${hour.slice(0, 16)} .* ${n}$`, 'm'));
  });

  it('finds the events naming the top attacker IP, and the session and parts of the first of them', () => {
    const top = result.answers.topAttackers[0];
    const answer = result.answers.attribute;
    expect(answer?.ip).toBe(top?.ip);
    const attributes = new Set(
      [...tables.instances.values()]
        .filter((i) => i.itype === 'attribute' && i.sub_type === 'ipv4' && i.data === JSON.stringify(top?.ip))
        .map((i) => String(i._hash)),
    );
    const naming = new Set(
      tables.edges
        .filter(
          (e) =>
            e.relation === 'ref' &&
            attributes.has(String(e.child_hash)) &&
            tables.instances.get(String(e.parent_hash))?.itype === 'event',
        )
        .map((e) => String(e.parent_hash)),
    );
    expect(naming.size).toBeGreaterThan(1);
    expect(answer?.total).toBe(naming.size);
    expect(answer?.events.every((e) => naming.has(e.eventHash))).toBe(true);
    expect(report).toContain(`Which events name ${top?.ip}? (v_event_attribute) ${naming.size} events`);

    // The first of them in time, and what it is made of.
    const first = [...naming].sort(
      (a, b) => Number(tables.instances.get(a)?.event_ts) - Number(tables.instances.get(b)?.event_ts),
    )[0];
    const event = result.answers.event;
    expect(Number(tables.instances.get(String(event?.hash))?.event_ts)).toBe(
      Number(tables.instances.get(String(first))?.event_ts),
    );
    const sessions = tables.edges
      .filter((e) => e.relation === 'session_event' && e.child_hash === event?.hash)
      .map((e) => e.parent_hash);
    expect(sessions.length).toBe(1);
    expect(event?.sessions.map((s) => s.sessionHash)).toEqual(sessions);
    const children = tables.edges.filter(
      (e) =>
        (e.relation === 'cref' && e.parent_hash === event?.hash) ||
        (e.relation === 'raw_ref' && e.child_hash === event?.hash),
    );
    expect(children.length).toBeGreaterThan(1);
    expect(event?.children.map((c) => c.relation).sort()).toEqual(children.map((c) => String(c.relation)).sort());
    expect(report).toContain(`event ${event?.hash}`);
  });

  it('reports freshness at the run clock and prints an audit line per upload', () => {
    expect(result.answers.freshness).toEqual([
      {
        tenant: 'demo',
        lastLoadedAt: '2026-11-22 10:00:00',
        lastEventHour: expect.stringMatching(/^2026-11-22 \d\d:00:00$/),
        filesLoaded: parquetKeys(result.runDir).length,
        filesRejected: 0,
        rowsLoaded: Object.values(result.loader.rowsCopied).reduce((n, c) => n + c, 0),
      },
    ]);
    for (const f of result.files) {
      const c = f.item.counts;
      const name = f.name.replace(/[()]/g, '\\$&');
      expect(report).toMatch(
        new RegExp(`^ +${name} +LOADED +${c?.recordsIn} +${c?.success} +${c?.successInvalid} +${c?.quarantined} `, 'm'),
      );
    }
  });

  it('prints a `cyberactive sql` command that works on the run folder, which `cyberactive load` also accepts', async () => {
    const m = /npx tsx bin\/cyberactive\.ts sql --data (\S+) '([^']+)' --param (\S+)/.exec(report);
    expect(m).not.toBeNull();
    const [, data, query, param] = m as unknown as [string, string, string, string];
    expect(data).toBe(result.runDir);
    const sql = await cli(['sql', '--data', data, query, '--param', param, '--json']);
    expect(sql.code).toBe(0);
    expect((JSON.parse(sql.stdout) as { rows: unknown[] }).rows).toHaveLength(result.answers.attribute?.total ?? -1);
    // Everything is loaded already: a load of the same folder finds nothing new.
    const load = await cli(['load', '--from', result.runDir]);
    expect(load.code).toBe(0);
    expect(load.stdout).toContain(`files: ${parquetKeys(result.runDir).length} listed, 0 loaded, 0 rejected`);
  });

  it('starts a second run from a clean folder, with the same key, and prints the same report', async () => {
    const again: string[] = [];
    const second = await runDemo({ dir, cowrieLines: LINES, now: NOW, log: (l) => again.push(l) });
    expect(again.find((l) => l.startsWith('envelope key:'))).toBe(logged.find((l) => l.startsWith('envelope key:')));
    // The previous run's ledger and warehouse are gone: every object is processed and loaded afresh.
    expect(second.files.every((f) => f.item.attempts === 1 && f.item.status === 'LOADED')).toBe(true);
    expect(second.loader.filesLoaded).toBe(result.loader.filesLoaded);
    expect(demoReport(second)).toBe(report);
  });
});
