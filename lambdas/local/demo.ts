/**
 * The main job on the embedded local runtime: everything a tenant and the pipeline do, offline, with the same
 * cores that run on AWS. A shipper's logs are generated (with some bad records), sealed with the tenant's envelope,
 * stored under server-chosen raw keys, processed (decrypt → split → parsemain → TAHOE filters → Parquet +
 * quarantine + ledger), loaded into the embedded warehouse (PGlite) by the loader core, and the analyst views are
 * asked the questions an analyst would ask of them.
 *
 * The run folder has the layout `cyberactive process --out DIR` writes, so `cyberactive load --from` and
 * `cyberactive sql --data` work on it as well.
 */
import { createHash, generateKeyPair, randomUUID } from 'node:crypto';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { FsObjectStore } from '../adapters/fs-object-store';
import { FileEventPublisher } from '../adapters/local-event-publisher';
import { LocalKeyUnwrapper, localKeyArn } from '../adapters/local-key-unwrapper';
import { LocalLedger } from '../adapters/local-ledger';
import { MemoryTenantDirectory } from '../adapters/local-tenant-directory';
import { PgliteWarehouse } from '../adapters/pglite-warehouse';
import { sealCybexp, sealEnvelope } from '../envelope';
import type { LedgerItem } from '../ledger/model';
import type { ProcessDeps, TenantSettings } from '../process/ports';
import { processObject } from '../process/process-object';
import { deterministicUploadId, type Envelope, rawKey } from '../shared/s3-keys';
import { DEFAULT_FILTERS } from '../tahoe/filters';
import { type LoaderReport, runLoader } from '../warehouse/loader';
import type { Warehouse } from '../warehouse/port';
import { cowrieLines, phishingEmail, phishingFeed, sightingLines } from './sample-logs';

export interface DemoOptions {
  /** Data folder; wiped (except keys/) at the start of each run. */
  readonly dir: string;
  /** Cowrie lines to generate. */
  readonly cowrieLines: number;
  readonly now: Date;
  readonly log: (line: string) => void;
}

interface Upload {
  readonly name: string;
  readonly typetag: string;
  readonly envelope: Envelope;
  readonly gzip: boolean;
  readonly plaintext: Buffer;
}

export interface DemoFileResult {
  readonly name: string;
  readonly key: string;
  /** The ledger item as the run left it (LOADED once the loader has loaded every Parquet file of the object). */
  readonly item: LedgerItem;
}

/** Records per outcome, summed over files. Every record ends in exactly one of the five outcomes. */
export interface OutcomeTotals {
  readonly files: number;
  readonly recordsIn: number;
  readonly success: number;
  readonly successInvalid: number;
  readonly error: number;
  readonly badData: number;
  readonly notSupported: number;
  /** Records written to quarantine files (ERROR records keep their raw too). */
  readonly quarantined: number;
}

export interface TopAttacker {
  readonly day: string;
  readonly rank: number;
  readonly ip: string;
  readonly events: number;
}

export interface HourlyCount {
  readonly hour: string;
  readonly eventType: string;
  readonly events: number;
  readonly distinctAttackers: number;
}

export interface AttributeEvent {
  readonly time: string;
  readonly eventType: string;
  readonly category: string;
  readonly malicious: boolean;
  readonly eventHash: string;
}

export interface EventSession {
  readonly sessionHash: string;
  readonly sessionType: string;
  readonly start: string;
  readonly end: string;
  readonly duration: number | null;
}

export interface EventChild {
  readonly relation: string;
  readonly itype: string;
  readonly type: string;
  readonly json: string;
}

export interface AuditRow {
  readonly name: string;
  readonly typetag: string;
  readonly status: string;
  readonly outcome: string;
  readonly recordsIn: number;
  readonly success: number;
  readonly successInvalid: number;
  readonly quarantined: number;
  readonly rowsWritten: number;
  readonly rowsLoaded: number;
  readonly countsAddUp: boolean;
  readonly rowsMatch: boolean;
  readonly fullyLoaded: boolean;
}

export interface Freshness {
  readonly tenant: string;
  readonly lastLoadedAt: string;
  readonly lastEventHour: string;
  readonly filesLoaded: number;
  readonly filesRejected: number;
  readonly rowsLoaded: number;
}

/** What the analyst views answered. */
export interface DemoAnswers {
  /** v_top_attacker_ip_daily: the first five per day. */
  readonly topAttackers: TopAttacker[];
  /** v_event_hourly. */
  readonly hourly: HourlyCount[];
  /** v_event_attribute: the events that name the top attacker IP (undefined when no event names an attacker IP). */
  readonly attribute?: { readonly ip: string; readonly total: number; readonly events: AttributeEvent[] };
  /** v_event_session and v_event_child: the first of those events. */
  readonly event?: {
    readonly hash: string;
    readonly type: string;
    readonly sessions: EventSession[];
    readonly children: EventChild[];
  };
  /** v_warehouse_freshness. */
  readonly freshness: Freshness[];
  /** v_ingest_audit, one row per uploaded file. */
  readonly audit: AuditRow[];
}

export interface DemoResult {
  /** The run folder: object store, ledger and warehouse (`cyberactive sql --data` takes it). */
  readonly runDir: string;
  readonly files: DemoFileResult[];
  /** From the warehouse (v_ingest_audit), checked equal to the ledger's. */
  readonly totals: OutcomeTotals;
  readonly loader: LoaderReport;
  readonly answers: DemoAnswers;
}

const TENANT = 'demo';
/** The folders `cyberactive process --out DIR` writes and `cyberactive load --from DIR` reads (LOCAL_BUCKETS). */
const BUCKETS = { raw: 'raw', curated: 'curated', quarantine: 'quarantine', manifests: 'manifests' } as const;
/** Rows shown per answer: enough to see the shape, few enough to read. */
const SHOW = { topPerDay: 5, days: 3, hours: 24, attributeEvents: 8, children: 12 } as const;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The tenant's envelope key pair, made once and kept across runs (RSA-4096 takes a few seconds). */
async function ensureKeys(dir: string): Promise<{ privatePem: string; publicPem: string }> {
  const privatePath = join(dir, 'private.pem');
  const publicPath = join(dir, 'public.pem');
  if (!(await exists(privatePath)) || !(await exists(publicPath))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = await promisify(generateKeyPair)('rsa', {
      modulusLength: 4096,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    await writeFile(privatePath, pair.privateKey, { mode: 0o600 });
    await writeFile(publicPath, pair.publicKey, { mode: 0o644 });
  }
  return { privatePem: await readFile(privatePath, 'utf8'), publicPem: await readFile(publicPath, 'utf8') };
}

function uploads(opts: DemoOptions): Upload[] {
  const lines = (gen: Iterable<string>) => Buffer.from(`${[...gen].join('\n')}\n`);
  return [
    {
      name: 'cowrie honeypot (esdk, gzip)',
      typetag: 'cowrie',
      envelope: 'esdk',
      gzip: true,
      plaintext: lines(cowrieLines({ lines: opts.cowrieLines, seed: 7, badShare: 0.02, start: opts.now })),
    },
    {
      name: 'sightings (esdk)',
      typetag: 'sighting',
      envelope: 'esdk',
      gzip: false,
      plaintext: lines(sightingLines({ lines: 300, seed: 8, start: opts.now })),
    },
    {
      name: 'OpenPhish feed (cybexp)',
      typetag: 'openphish_feed',
      envelope: 'cybexp',
      gzip: false,
      plaintext: Buffer.from(phishingFeed({ urls: 150, seed: 9 })),
    },
    {
      name: 'phishing e-mail (none)',
      typetag: 'email',
      envelope: 'none',
      gzip: false,
      plaintext: Buffer.from(phishingEmail({ seed: 10, date: opts.now })),
    },
  ];
}

async function seal(u: Upload, keyArn: string, publicPem: string): Promise<Buffer> {
  if (u.envelope === 'cybexp') return sealCybexp(u.plaintext, publicPem);
  const kind = u.envelope === 'esdk' ? 'esdk' : 'none';
  return buffer(
    sealEnvelope(kind, Readable.from([u.plaintext]), {
      keyArn,
      publicKey: publicPem,
      context: { tenant: TENANT, typetag: u.typetag },
      gzip: u.gzip,
    }),
  );
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const runDir = join(opts.dir, 'run');
  await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  opts.log(`data folder: ${opts.dir}`);
  const { privatePem, publicPem } = await ensureKeys(join(opts.dir, 'keys'));
  const keyArn = localKeyArn(publicPem);
  opts.log(`envelope key: ${keyArn}`);

  const settings: TenantSettings = {
    tenant: TENANT,
    orgid: createHash('sha256').update(`tenant:${TENANT}`).digest('hex'),
    typetags: ['cowrie', 'sighting', 'openphish_feed', 'email'],
    envelope: 'any',
    retentionDays: 30,
  };
  const store = new FsObjectStore(runDir);
  const deps: ProcessDeps = {
    store,
    ledger: LocalLedger.atPath(join(runDir, 'ledger')),
    events: new FileEventPublisher(join(runDir, 'events.jsonl')),
    tenants: new MemoryTenantDirectory([settings]),
    unwrapper: new LocalKeyUnwrapper([privatePem]),
    allowedKeyArns: [keyArn],
    enabledTypetags: new Set(DEFAULT_FILTERS.keys()),
    buckets: { curated: BUCKETS.curated, quarantine: BUCKETS.quarantine },
    limits: { rowsPerPart: 100_000, maxRecordBytes: 1024 * 1024, maxAttempts: 3, leaseMs: 10 * 60 * 1000 },
    workDir: join(runDir, '.work'),
    owner: `demo-${randomUUID()}`,
    clock: () => opts.now,
  };

  const files: DemoFileResult[] = [];
  for (const u of uploads(opts)) {
    const sealed = await seal(u, keyArn, publicPem);
    const key = rawKey({
      tenant: TENANT,
      typetag: u.typetag,
      receivedAt: opts.now,
      uploadId: deterministicUploadId(opts.now, createHash('sha256').update(sealed).digest()),
      envelope: u.envelope,
      gzip: u.gzip,
    });
    await store.putIfAbsent(BUCKETS.raw, key, sealed, { metadata: { timezone: 'UTC' } });
    const outcome = await processObject(
      { ref: { bucket: BUCKETS.raw, key, versionId: 'null' }, size: sealed.length, eventTime: opts.now },
      deps,
    );
    if (outcome.status === 'busy') throw new Error(`object unexpectedly busy: ${key}`);
    files.push({ name: u.name, key, item: outcome.item });
  }

  const warehouse = await PgliteWarehouse.open({ dataDir: join(runDir, 'warehouse'), store });
  try {
    const loader = await runLoader({
      store,
      warehouse,
      ledger: deps.ledger,
      buckets: { curated: BUCKETS.curated, manifests: BUCKETS.manifests },
      clock: () => opts.now,
    });
    const loaded: DemoFileResult[] = [];
    for (const f of files) {
      const item = await deps.ledger.get(f.item.ref);
      if (!item) throw new Error(`ledger item vanished: ${f.key}`);
      loaded.push({ ...f, item });
    }
    const totals = await warehouseTotals(warehouse);
    checkTotals(ledgerTotals(loaded.map((f) => f.item)), totals);
    const answers = await ask(warehouse, new Map(files.map((f) => [f.key, f.name])));
    return { runDir, files: loaded, totals, loader, answers };
  } finally {
    await warehouse.close();
  }
}

/** The ledger's counts, summed over its items. */
export function ledgerTotals(items: readonly LedgerItem[]): OutcomeTotals {
  const sum = (pick: (c: NonNullable<LedgerItem['counts']>) => number) =>
    items.reduce((n, i) => n + (i.counts ? pick(i.counts) : 0), 0);
  return {
    files: items.length,
    recordsIn: sum((c) => c.recordsIn),
    success: sum((c) => c.success),
    successInvalid: sum((c) => c.successInvalid),
    error: sum((c) => c.error),
    badData: sum((c) => c.badData),
    notSupported: sum((c) => c.notSupported),
    quarantined: sum((c) => c.quarantined),
  };
}

/**
 * The warehouse's ingest_file is the ledger as a table, written by the loader from the same items: any difference
 * is a bug in the loader or an adapter, and a report built on either would be wrong, so the run stops.
 */
export function checkTotals(ledger: OutcomeTotals, warehouse: OutcomeTotals): void {
  const diffs = (Object.keys(ledger) as (keyof OutcomeTotals)[])
    .filter((k) => ledger[k] !== warehouse[k])
    .map((k) => `${k}: ledger ${ledger[k]}, warehouse ${warehouse[k]}`);
  if (diffs.length > 0) throw new Error(`the warehouse's ingest audit disagrees with the ledger: ${diffs.join('; ')}`);
}

async function rows(w: Warehouse, sql: string, params: readonly unknown[] = []) {
  return (await w.query(sql, params)).rows;
}

/** BIGINT and NUMERIC arrive as text; NULL stays null where the caller allows it. */
const num = (v: unknown): number => Number(v ?? 0);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
/** Timestamps to the second, UTC, as a reader writes them. */
const time = (v: unknown): string =>
  v instanceof Date ? `${v.toISOString().slice(0, 19).replace('T', ' ')}` : v == null ? '' : String(v);

async function warehouseTotals(w: Warehouse): Promise<OutcomeTotals> {
  const [r] = await rows(
    w,
    `SELECT COUNT(*) AS files, SUM(records_in) AS records_in, SUM(success) AS success,
            SUM(success_invalid) AS success_invalid, SUM(error) AS error, SUM(bad_data) AS bad_data,
            SUM(not_supported) AS not_supported, SUM(quarantined) AS quarantined
       FROM v_ingest_audit WHERE tenant = $1`,
    [TENANT],
  );
  return {
    files: num(r?.files),
    recordsIn: num(r?.records_in),
    success: num(r?.success),
    successInvalid: num(r?.success_invalid),
    error: num(r?.error),
    badData: num(r?.bad_data),
    notSupported: num(r?.not_supported),
    quarantined: num(r?.quarantined),
  };
}

/** Asks the analyst views the demo's questions; `names` gives each raw key the upload's name. */
async function ask(w: Warehouse, names: ReadonlyMap<string, string>): Promise<DemoAnswers> {
  const topAttackers = (
    await rows(
      w,
      `SELECT day, attacker_rank, ip, events FROM v_top_attacker_ip_daily
        WHERE tenant = $1 AND attacker_rank <= $2 ORDER BY day, attacker_rank`,
      [TENANT, SHOW.topPerDay],
    )
  ).map((r) => ({ day: String(r.day), rank: num(r.attacker_rank), ip: String(r.ip), events: num(r.events) }));

  const hourly = (
    await rows(
      w,
      `SELECT hour, event_type, events, distinct_attackers FROM v_event_hourly
        WHERE tenant = $1 ORDER BY hour, event_type`,
      [TENANT],
    )
  ).map((r) => ({
    hour: time(r.hour),
    eventType: String(r.event_type),
    events: num(r.events),
    distinctAttackers: num(r.distinct_attackers),
  }));

  let attribute: DemoAnswers['attribute'];
  let event: DemoAnswers['event'];
  const top = topAttackers[0];
  if (top) {
    // Events naming the address in any role (source, destination, indicator), not only as the attacker.
    const named = await rows(
      w,
      `SELECT event_time, event_type, category, malicious, event_hash FROM v_event_attribute
        WHERE tenant = $1 AND attribute_type IN ('ipv4', 'ipv6') AND attribute_value = $2
        ORDER BY event_time, event_type, event_hash`,
      [TENANT, top.ip],
    );
    const events = named.map((r) => ({
      time: time(r.event_time),
      eventType: String(r.event_type),
      category: String(r.category ?? ''),
      malicious: r.malicious === true,
      eventHash: String(r.event_hash),
    }));
    attribute = { ip: top.ip, total: events.length, events: events.slice(0, SHOW.attributeEvents) };
    const first = events[0];
    if (first) {
      const sessions = (
        await rows(
          w,
          `SELECT session_hash, session_type, session_start, session_end, duration FROM v_event_session
            WHERE tenant = $1 AND event_hash = $2 ORDER BY session_start, session_hash`,
          [TENANT, first.eventHash],
        )
      ).map((r) => ({
        sessionHash: String(r.session_hash),
        sessionType: String(r.session_type),
        start: time(r.session_start),
        end: time(r.session_end),
        duration: numOrNull(r.duration),
      }));
      const children = (
        await rows(
          w,
          `SELECT relation, child_itype, child_type, child_json FROM v_event_child
            WHERE tenant = $1 AND event_hash = $2 ORDER BY relation, child_itype, child_type, child_json`,
          [TENANT, first.eventHash],
        )
      ).map((r) => ({
        relation: String(r.relation),
        itype: String(r.child_itype),
        type: String(r.child_type),
        json: String(r.child_json ?? ''),
      }));
      event = { hash: first.eventHash, type: first.eventType, sessions, children };
    }
  }

  // seconds_since_load is left out: it reads the wall clock, and the demo's report depends on its own clock only.
  const freshness = (
    await rows(
      w,
      `SELECT tenant, last_loaded_at, last_event_hour, files_loaded, files_rejected, rows_loaded
         FROM v_warehouse_freshness ORDER BY tenant`,
    )
  ).map((r) => ({
    tenant: String(r.tenant),
    lastLoadedAt: time(r.last_loaded_at),
    lastEventHour: time(r.last_event_hour),
    filesLoaded: num(r.files_loaded),
    filesRejected: num(r.files_rejected),
    rowsLoaded: num(r.rows_loaded),
  }));

  const audit = (
    await rows(
      w,
      `SELECT object_key, typetag, status, outcome, records_in, success, success_invalid, quarantined,
              raws + instances + edges AS rows_written,
              raw_rows_loaded + instance_rows_loaded + edge_rows_loaded AS rows_loaded,
              counts_add_up, rows_match, fully_loaded
         FROM v_ingest_audit WHERE tenant = $1 ORDER BY received_at, object_key`,
      [TENANT],
    )
  ).map((r) => ({
    name: names.get(String(r.object_key)) ?? String(r.object_key),
    typetag: String(r.typetag),
    status: String(r.status),
    outcome: String(r.outcome ?? ''),
    recordsIn: num(r.records_in),
    success: num(r.success),
    successInvalid: num(r.success_invalid),
    quarantined: num(r.quarantined),
    rowsWritten: num(r.rows_written),
    rowsLoaded: num(r.rows_loaded),
    countsAddUp: r.counts_add_up === true,
    rowsMatch: r.rows_match === true,
    fullyLoaded: r.fully_loaded === true,
  }));
  // Every upload of the demo is received at the same instant: show them in the order they were made.
  const order = [...names.values()];
  audit.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));

  return { topAttackers, hourly, attribute, event, freshness, audit };
}

/** Whether the run did everything it should: every file loaded whole, its records and rows accounted for. */
export function demoSucceeded(r: DemoResult): boolean {
  return (
    r.loader.filesRejected.length === 0 &&
    r.answers.audit.length === r.files.length &&
    r.answers.audit.every((a) => a.status === 'LOADED' && a.countsAddUp && a.rowsMatch && a.fullyLoaded)
  );
}

type Cell = string | number;

/** An aligned table, numbers to the right, indented under its heading. */
function table(header: readonly string[], body: readonly (readonly Cell[])[], indent = '  '): string[] {
  const numeric = header.map((_, i) => body.length > 0 && body.every((r) => typeof r[i] === 'number'));
  const text = [header, ...body].map((r) => header.map((_, i) => String(r[i] ?? '')));
  const widths = header.map((_, i) => Math.max(...text.map((r) => (r[i] as string).length)));
  const line = (r: readonly string[]) =>
    indent +
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return text.map(line);
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const short = (hash: string) => hash.slice(0, 12);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A path as a shell word (quoted only when it must be). */
function shellWord(s: string): string {
  return /^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ReportOptions {
  /** The run folder as the user should type it (relative to their working folder); default: the absolute path. */
  readonly runDir?: string;
}

/** The human-readable report of a demo run. */
export function demoReport(r: DemoResult, options: ReportOptions = {}): string {
  const runDir = options.runDir ?? r.runDir;
  const t = r.totals;
  const out: string[] = [
    '',
    `records by outcome, ${plural(t.files, 'file')} (the warehouse's ingest audit, equal to the ledger's counts):`,
    ...table(
      ['outcome', 'records', ''],
      [
        ['records in', t.recordsIn, ''],
        ['SUCCESS', t.success, 'read by a filter'],
        ['SUCCESS_INVALID', t.successInvalid, 'kept, flagged invalid: no filter could read it'],
        ['ERROR', t.error, 'its filter raised: raw kept, record quarantined'],
        ['BAD_DATA', t.badData, 'quarantined: invalid UTF-8 or too long'],
        ['NOT_SUPPORTED', t.notSupported, 'quarantined: typetag not supported'],
        ['quarantined', t.quarantined, 'records in the quarantine files, with their reasons'],
      ],
    ),
  ];

  const l = r.loader;
  out.push(
    '',
    `loader: ${plural(l.filesLoaded, 'Parquet file')} loaded in ${plural(l.loads.length, 'transaction')}, ` +
      `${l.filesRejected.length} rejected; ${plural(l.objectsMarkedLoaded, 'raw object')} marked LOADED in the ledger`,
    ...table(
      ['table', 'rows read', 'rows new'],
      (['tahoe_raw', 'tahoe_instance', 'tahoe_edge'] as const).map((k) => [k, l.rowsCopied[k], l.rowsInserted[k]]),
    ),
    '  (an instance seen in several files, e.g. the same address, is stored once)',
  );
  for (const f of l.filesRejected) out.push(`  REJECTED ${f.key}: ${f.error}`);

  const a = r.answers;
  out.push('', 'Which attacker IPs hit us most each day? (v_top_attacker_ip_daily: events naming the IP as malicious)');
  const days = [...new Set(a.topAttackers.map((x) => x.day))];
  const shownDays = new Set(days.slice(0, SHOW.days));
  out.push(
    ...(a.topAttackers.length === 0
      ? ['  (none)']
      : table(
          ['day', 'rank', 'ip', 'events'],
          a.topAttackers.filter((x) => shownDays.has(x.day)).map((x) => [x.day, x.rank, x.ip, x.events]),
        )),
  );
  if (days.length > shownDays.size) out.push(`  … and ${plural(days.length - shownDays.size, 'more day')}`);

  out.push('', 'How many events came in per hour, by kind? (v_event_hourly)');
  const types = [...new Set(a.hourly.map((h) => h.eventType))];
  const totalOf = (type: string) => a.hourly.filter((h) => h.eventType === type).reduce((n, h) => n + h.events, 0);
  types.sort((x, y) => totalOf(y) - totalOf(x) || (x < y ? -1 : 1));
  const hours = [...new Set(a.hourly.map((h) => h.hour))];
  const cell = (hour: string, type: string) =>
    a.hourly.find((h) => h.hour === hour && h.eventType === type)?.events ?? 0;
  out.push(
    ...(hours.length === 0
      ? ['  (none)']
      : table(
          ['hour (UTC)', ...types, 'all'],
          hours.slice(0, SHOW.hours).map((h) => {
            const counts = types.map((type) => cell(h, type));
            return [h.slice(0, 16), ...counts, counts.reduce((n, c) => n + c, 0)];
          }),
        )),
  );
  if (hours.length > SHOW.hours) out.push(`  … and ${plural(hours.length - SHOW.hours, 'more hour')}`);

  if (a.attribute) {
    const x = a.attribute;
    out.push(
      '',
      `Which events name ${x.ip}? (v_event_attribute) ${plural(x.total, 'event')}` +
        `${x.total > x.events.length ? `, the first ${x.events.length}` : ''}:`,
      ...table(
        ['event time', 'event type', 'category', 'malicious', 'event hash'],
        x.events.map((e) => [e.time, e.eventType, e.category, e.malicious ? 'yes' : 'no', `${short(e.eventHash)}…`]),
      ),
    );
  }
  if (a.event) {
    const e = a.event;
    out.push('', `What is the first of them made of? (v_event_session, v_event_child) ${e.type} event ${e.hash}`);
    out.push(
      ...(e.sessions.length === 0
        ? ['  session: none']
        : table(
            ['session', 'type', 'start', 'end', 'seconds'],
            e.sessions.map((s) => [`${short(s.sessionHash)}…`, s.sessionType, s.start, s.end, s.duration ?? '']),
          )),
    );
    out.push(
      ...table(
        ['relation', 'child', 'type', 'value'],
        e.children.slice(0, SHOW.children).map((c) => [c.relation, c.itype, c.type, cut(c.json, 70)]),
      ),
    );
    if (e.children.length > SHOW.children) {
      out.push(`  … and ${plural(e.children.length - SHOW.children, 'more child')}`.replace('childs', 'children'));
    }
  }

  out.push(
    '',
    'How current is the warehouse? (v_warehouse_freshness)',
    ...table(
      ['tenant', 'last load', 'latest event hour', 'files loaded', 'rejected', 'rows loaded'],
      a.freshness.map((f) => [
        f.tenant,
        f.lastLoadedAt,
        f.lastEventHour.slice(0, 16),
        f.filesLoaded,
        f.filesRejected,
        f.rowsLoaded,
      ]),
    ),
  );

  const yes = (b: boolean) => (b ? 'yes' : 'NO');
  out.push(
    '',
    'Did every upload arrive whole? (v_ingest_audit: counts add up, rows loaded = rows written, every file loaded)',
    ...table(
      ['file', 'status', 'records', 'success', 'invalid', 'quarantined', 'rows loaded', 'adds up', 'rows', 'loaded'],
      a.audit.map((x) => [
        x.name,
        x.status,
        x.recordsIn,
        x.success,
        x.successInvalid,
        x.quarantined,
        x.rowsLoaded,
        yes(x.countsAddUp),
        yes(x.rowsMatch),
        yes(x.fullyLoaded),
      ]),
    ),
  );

  const dir = shellWord(runDir);
  out.push('', 'explore further (the warehouse stays in the run folder until the next run):');
  if (a.attribute) {
    out.push(
      `  npx tsx bin/cyberactive.ts sql --data ${dir} 'SELECT event_time, event_type, event_hash FROM v_event_attribute` +
        ` WHERE attribute_value = $1 ORDER BY event_time' --param ${a.attribute.ip}`,
    );
  }
  out.push(
    `  npx tsx bin/cyberactive.ts sql --data ${dir} 'SELECT * FROM v_top_attacker_ip_daily WHERE attacker_rank <= 10'`,
  );
  return `${out.join('\n')}\n`;
}
