/**
 * The main job on the embedded local runtime: everything a tenant and the pipeline do, offline, with the same
 * cores that run on AWS. A shipper's logs are generated, sealed with the tenant's envelope, stored under
 * server-chosen raw keys, processed (decrypt → split → parsemain → TAHOE filters → Parquet + quarantine +
 * ledger), and read back from the Parquet the pipeline wrote.
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
import { sealCybexp, sealEnvelope } from '../envelope';
import type { LedgerItem } from '../ledger/model';
import type { ProcessDeps, TenantSettings } from '../process/ports';
import { processObject } from '../process/process-object';
import { deterministicUploadId, type Envelope, rawKey } from '../shared/s3-keys';
import { DEFAULT_FILTERS } from '../tahoe/filters';
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
  readonly item: LedgerItem;
}

export interface DemoResult {
  readonly files: DemoFileResult[];
  readonly eventsBySubType: Record<string, number>;
  readonly distinctAttributes: Record<string, number>;
}

const TENANT = 'demo';
const BUCKETS = { raw: 'raw', curated: 'curated', quarantine: 'quarantine' } as const;

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

/** Reads rows of a table from the Parquet parts the pipeline wrote (hyparquet: the same reader family as ours). */
async function readParts(
  store: FsObjectStore,
  keys: readonly string[],
  table: string,
): Promise<Record<string, unknown>[]> {
  const { parquetReadObjects } = await import('hyparquet');
  const rows: Record<string, unknown>[] = [];
  for (const key of keys.filter((k) => k.startsWith(`tahoe/${table}/`))) {
    const bytes = await readFile(store.path(BUCKETS.curated, key));
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    rows.push(...(await parquetReadObjects({ file })));
  }
  return rows;
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

  const curated = files.flatMap((f) => f.item.outputs?.curated ?? []);
  const instances = await readParts(store, curated, 'tahoe_instance');
  const eventsBySubType: Record<string, number> = {};
  const distinct: Record<string, Set<string>> = {};
  for (const row of instances) {
    const subType = String(row.sub_type);
    if (row.itype === 'event') eventsBySubType[subType] = (eventsBySubType[subType] ?? 0) + 1;
    if (row.itype !== 'attribute') continue;
    const seen = distinct[subType] ?? new Set<string>();
    seen.add(String(row._hash));
    distinct[subType] = seen;
  }
  const distinctAttributes = Object.fromEntries(Object.entries(distinct).map(([k, v]) => [k, v.size]));
  return { files, eventsBySubType, distinctAttributes };
}

/** The human-readable report of a demo run. */
export function demoReport(r: DemoResult): string {
  const out: string[] = ['', 'per file (records in = success + kept invalid + quarantined):'];
  for (const f of r.files) {
    const c = f.item.counts;
    out.push(`  ${f.name}: ${f.item.status} ${f.item.outcome ?? ''}${f.item.reason ? ` (${f.item.reason})` : ''}`);
    if (c) {
      out.push(
        `    records ${c.recordsIn}: success ${c.success}, kept invalid ${c.successInvalid}, quarantined ${c.quarantined}` +
          ` (error ${c.error}, bad data ${c.badData}, not supported ${c.notSupported})`,
        `    rows: tahoe_raw ${c.raws}, tahoe_instance ${c.instances}, tahoe_edge ${c.edges}`,
      );
    }
  }
  const sorted = (o: Record<string, number>) => Object.entries(o).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  out.push('', 'events by kind (read back from the Parquet written):');
  for (const [k, n] of sorted(r.eventsBySubType)) out.push(`  ${k.padEnd(20)} ${n}`);
  out.push('', 'distinct indicators by kind:');
  for (const [k, n] of sorted(r.distinctAttributes).slice(0, 12)) out.push(`  ${k.padEnd(20)} ${n}`);
  return `${out.join('\n')}\n`;
}
