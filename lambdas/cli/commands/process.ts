/**
 * `cyberactive process`: runs the process core (lambdas/process/process-object.ts) on a local file, offline, with
 * the same code the process Lambda runs. The file is stored as a raw object with a proper raw key in a folder
 * object store under --out, then processed into that folder: Parquet parts, the quarantine file, the ledger item
 * (a JSON file under <out>/ledger) and the ObjectProcessed event (<out>/events.jsonl).
 *
 * The upload id is derived from --received-at and the file's SHA-256, so running the command again on the same
 * file with the same --received-at and --out is a duplicate delivery: nothing is written twice.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FsObjectStore } from '../../adapters/fs-object-store';
import { LocalKeyUnwrapper, localKeyArn } from '../../adapters/local-key-unwrapper';
import { LocalLedger } from '../../adapters/local-ledger';
import type { KeyUnwrapper } from '../../envelope/ports';
import type { LedgerItem } from '../../ledger/model';
import type { ProcessDeps, ProcessOutcome, TenantSettings } from '../../process/ports';
import { processObject } from '../../process/process-object';
import { ConfigError, PermanentError } from '../../shared/errors';
import { InvalidIdentifierError, TENANT_ID, TYPETAG } from '../../shared/ids';
import { deterministicUploadId, ENVELOPES, type Envelope, rawKey } from '../../shared/s3-keys';
import { DEFAULT_FILTERS } from '../../tahoe/filters';
import { type CliIo, type Command, UsageError } from '../io';

const USAGE =
  'cyberactive process <file> --tenant T --typetag TT --out DIR [--orgid O] [--timezone Z] [--received-at ISO]' +
  ' [--envelope esdk|cybexp|none] [--gzip] [--key PEM [--key-arn ARN]] [--rows-per-part N] [--max-record-bytes N]' +
  ' [--json]';

const HELP = `${USAGE}

Processes <file> (the bytes exactly as a shipper would upload them) as one raw object of tenant T, typetag TT:
decrypts it, splits and parses its records into TAHOE rows, and writes into DIR:
  DIR/raw/raw/tenant=T/…             the raw object (copied, under its raw key)
  DIR/curated/tahoe/<table>/…        Parquet parts of tahoe_raw, tahoe_instance, tahoe_edge
  DIR/quarantine/quarantine/…        gzip JSON lines: every record that failed, with line and reason
  DIR/ledger/                        the ledger item (JSON), with outcome and counts
  DIR/events.jsonl                   the ObjectProcessed event

Options:
  --orgid O             the tenant's 64-hex org hash used in event hashes
                        (default: hex SHA-256 of "tenant:" + T)
  --timezone Z          IANA time zone the records were written in (default: UTC)
  --received-at ISO     when the upload arrived (default: now); with the same file and DIR, the same value
                        makes a rerun a duplicate that changes nothing
  --envelope E          esdk, cybexp or none (default: none); esdk and cybexp need --key
  --gzip                the plaintext inside the envelope is gzip
  --key PEM             the envelope's RSA private key; its key id is derived as for \`cyberactive decrypt\`
  --key-arn ARN         the key id the file was sealed with, if not the derived one
  --rows-per-part N     rows per Parquet part (default: 100000)
  --max-record-bytes N  longest NDJSON record (default: 1048576); longer ones are quarantined
  --json                print the summary as one JSON object

Exit status: 0 the object was processed (some records may be quarantined; see the counts), 3 the object was
refused as a whole (QUARANTINED: not supported, undecryptable, tampered, …; the reason is printed and recorded),
1 on other errors (I/O, key problems), 2 on usage errors.`;

const BUCKETS = { raw: 'raw', curated: 'curated', quarantine: 'quarantine' } as const;
const DEFAULT_ROWS_PER_PART = 100_000;
const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
/** Long enough that a big local file never loses its lease to nobody. */
const LEASE_MS = 60 * 60 * 1000;
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export const EXIT_PROCESSED = 0;
export const EXIT_REFUSED = 3;

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        tenant: { type: 'string' },
        typetag: { type: 'string' },
        out: { type: 'string' },
        orgid: { type: 'string' },
        timezone: { type: 'string' },
        'received-at': { type: 'string' },
        envelope: { type: 'string' },
        gzip: { type: 'boolean' },
        key: { type: 'string' },
        'key-arn': { type: 'string' },
        'rows-per-part': { type: 'string' },
        'max-record-bytes': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^[1-9]\d{0,9}$/.test(text)) throw new UsageError(`--${name}: expected a positive integer, got ${text}`);
  return Number(text);
}

function receivedAt(text: string | undefined, io: CliIo): Date {
  if (text === undefined) return io.now();
  const at = new Date(text);
  if (!ISO.test(text) || Number.isNaN(at.getTime())) {
    throw new UsageError(`--received-at: not an ISO 8601 time: ${text}`);
  }
  return at;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

async function sha256File(path: string): Promise<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}

/** Stands in where no envelope key is needed (`--envelope none`). */
const NO_KEYS: KeyUnwrapper = {
  unwrap: () => Promise.reject(new ConfigError('this object needs an envelope key: pass --key')),
};

interface Summary {
  readonly status: string;
  readonly outcome?: string | undefined;
  readonly reason?: string | undefined;
  readonly sha256?: string | undefined;
  readonly rawObject: string;
  readonly counts?: LedgerItem['counts'];
  readonly parts: string[];
  readonly quarantine?: string | undefined;
  readonly ledger: string;
}

function summaryText(s: Summary): string {
  const lines = [`${s.status}${s.outcome ? `: ${s.outcome}` : ''}${s.reason ? ` (${s.reason})` : ''}`];
  lines.push(`raw object: ${s.rawObject}${s.sha256 ? ` (sha256 ${s.sha256})` : ''}`);
  const c = s.counts;
  // An object refused as a whole has no records to speak of: its reason says it all.
  if (c && s.outcome === 'SUCCESS') {
    lines.push(
      `records: ${c.recordsIn} in; ${c.success} success, ${c.successInvalid} kept invalid, ${c.quarantined} quarantined` +
        ` (error ${c.error}, bad data ${c.badData}, not supported ${c.notSupported})`,
      `rows: ${c.raws} tahoe_raw, ${c.instances} tahoe_instance, ${c.edges} tahoe_edge in ${s.parts.length} Parquet parts`,
    );
  }
  for (const p of s.parts) lines.push(`  ${p}`);
  if (s.quarantine) lines.push(`quarantine: ${s.quarantine}`);
  lines.push(`ledger: ${s.ledger}`);
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: 'process a local file into TAHOE Parquet, quarantine and ledger (offline)',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    if (values.help) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('expected exactly one input <file>');
    const { tenant, typetag, out } = values;
    if (tenant === undefined || !TENANT_ID.test(tenant)) {
      throw new UsageError('--tenant T is required: 2-63 of [a-z0-9-], starting with a letter or digit');
    }
    if (typetag === undefined || !TYPETAG.test(typetag)) {
      throw new UsageError('--typetag TT is required: an ASCII identifier of at most 64 characters');
    }
    if (out === undefined) throw new UsageError('--out DIR is required');
    const envelope = (values.envelope ?? 'none') as Envelope;
    if (!(ENVELOPES as readonly string[]).includes(envelope)) {
      throw new UsageError('--envelope must be esdk, cybexp or none');
    }
    if (envelope !== 'none' && !values.key) throw new UsageError(`--envelope ${envelope} needs --key PEM`);
    if (values['key-arn'] && !values.key) throw new UsageError('--key-arn needs --key');
    const orgid = values.orgid ?? createHash('sha256').update(`tenant:${tenant}`).digest('hex');
    if (!/^[0-9a-f]{64}$/.test(orgid)) throw new UsageError('--orgid must be 64 lower-case hex digits');
    const timezone = values.timezone ?? 'UTC';
    if (!isTimeZone(timezone)) throw new UsageError(`--timezone: not an IANA time zone: ${timezone}`);
    const at = receivedAt(values['received-at'], io);
    const rowsPerPart = positiveInt('rows-per-part', values['rows-per-part'], DEFAULT_ROWS_PER_PART);
    const maxRecordBytes = positiveInt('max-record-bytes', values['max-record-bytes'], DEFAULT_MAX_RECORD_BYTES);

    let unwrapper: KeyUnwrapper = NO_KEYS;
    let allowedKeyArns: string[] = [];
    let rsaModulusBytes: number | undefined;
    if (values.key) {
      try {
        const pem = await readFile(resolve(io.cwd, values.key));
        const local = new LocalKeyUnwrapper([{ pem, keyArn: values['key-arn'] ?? localKeyArn(pem) }]);
        const [held] = local.list();
        unwrapper = local;
        allowedKeyArns = held ? [held.keyArn] : [];
        rsaModulusBytes = held?.modulusBytes;
      } catch (err) {
        io.stderr.write(`cyberactive process: cannot read the private key: ${(err as Error).message}\n`);
        return 1;
      }
    }

    const input = resolve(io.cwd, positionals[0] as string);
    const dir = resolve(io.cwd, out);
    await mkdir(dir, { recursive: true });
    const store = new FsObjectStore(dir);
    const ledgerDir = join(dir, 'ledger');
    let key: string;
    try {
      key = rawKey({
        tenant,
        typetag,
        receivedAt: at,
        uploadId: deterministicUploadId(at, await sha256File(input)),
        envelope,
        gzip: values.gzip ?? false,
      });
    } catch (err) {
      if (err instanceof InvalidIdentifierError) throw new UsageError(err.message);
      throw err;
    }
    await store.putIfAbsent(BUCKETS.raw, key, createReadStream(input), { metadata: { timezone } });
    const info = await store.head(BUCKETS.raw, key);

    const settings: TenantSettings = { tenant, orgid, typetags: [typetag], envelope: 'any', retentionDays: 0 };
    const eventsFile = join(dir, 'events.jsonl');
    const deps: ProcessDeps = {
      store,
      ledger: LocalLedger.atPath(ledgerDir),
      events: { publish: (event) => appendFile(eventsFile, `${JSON.stringify(event)}\n`) },
      tenants: { get: async (t) => (t === tenant ? settings : undefined) },
      unwrapper,
      allowedKeyArns,
      rsaModulusBytes,
      // The typetags a deployment can read: an unknown one is refused as NOT_SUPPORTED, as it would be on AWS.
      enabledTypetags: new Set(DEFAULT_FILTERS.keys()),
      buckets: { curated: BUCKETS.curated, quarantine: BUCKETS.quarantine },
      limits: { rowsPerPart, maxRecordBytes, maxAttempts: 3, leaseMs: LEASE_MS },
      workDir: join(dir, '.work'),
      owner: `cli-${process.pid}-${randomUUID()}`,
      clock: io.now,
    };
    let outcome: ProcessOutcome;
    try {
      outcome = await processObject(
        { ref: { bucket: BUCKETS.raw, key, versionId: 'null' }, size: info?.size, eventTime: at },
        deps,
      );
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      io.stderr.write(`cyberactive process: ${err.outcome}: ${err.message}\n`);
      return 1;
    } finally {
      // Each attempt removes its own staging folder; the parent is left empty.
      await rm(deps.workDir, { recursive: true, force: true });
    }
    if (outcome.status === 'busy') {
      io.stderr.write(
        `cyberactive process: another process holds the object until ${outcome.leaseExpiresAt.toISOString()}\n`,
      );
      return 1;
    }
    const item = outcome.item;
    const summary: Summary = {
      status: outcome.status === 'duplicate' ? `duplicate (already ${item.status.toLowerCase()})` : outcome.status,
      outcome: item.outcome,
      reason: item.reason,
      sha256: item.sha256,
      rawObject: store.path(BUCKETS.raw, key),
      counts: item.counts,
      parts: (item.outputs?.curated ?? []).map((k) => store.path(BUCKETS.curated, k)),
      quarantine: item.outputs?.quarantine && store.path(BUCKETS.quarantine, item.outputs.quarantine),
      ledger: ledgerDir,
    };
    io.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : summaryText(summary));
    return item.status === 'QUARANTINED' ? EXIT_REFUSED : EXIT_PROCESSED;
  },
};
