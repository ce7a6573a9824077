import { assertSha256, assertTenantId, assertTypetag, assertUlid, InvalidIdentifierError } from './ids';

/**
 * Builders and parsers for every S3 key of DESIGN.md §3.3. Keys are chosen by the server, never by a client,
 * and every parser is the exact inverse of its builder: parse(build(f)) = f and build(parse(k)) = k, and a key
 * that is not byte-for-byte what the builder would produce is rejected. Partition names follow the Hive
 * convention (`name=value`) so that Athena/Redshift Spectrum can prune on them.
 */

export const ENVELOPES = ['esdk', 'cybexp', 'none'] as const;
export type Envelope = (typeof ENVELOPES)[number];
export const TAHOE_TABLES = ['tahoe_raw', 'tahoe_instance', 'tahoe_edge'] as const;
export type TahoeTable = (typeof TAHOE_TABLES)[number];

/** Longest key S3 accepts (1,024 bytes of UTF-8); ours are ASCII and far shorter, but the check is cheap. */
const MAX_KEY_BYTES = 1024;
const MAX_PART = 99_999;

export interface RawKeyFields {
  tenant: string;
  typetag: string;
  /** When the upload was granted; chooses the dt/hour partition (UTC). */
  receivedAt: Date;
  uploadId: string;
  envelope: Envelope;
  /** True when the plaintext inside the envelope is gzip-compressed. */
  gzip: boolean;
}

export interface TahoeKeyFields {
  table: TahoeTable;
  tenant: string;
  /** Partition day (UTC) of the raw object the rows came from. */
  dt: string;
  rawSha256: string;
  part: number;
}

export interface DatedKeyFields {
  tenant: string;
  dt: string;
}

/**
 * The raw object's extension names its layers, innermost first (as in `.tar.gz`): `gz.esdk` is a gzip stream
 * sealed in an Encryption SDK message; `gz` alone is plain gzip; `raw` is plain text.
 */
export function rawExtension(envelope: Envelope, gzip: boolean): string {
  if (envelope === 'none') return gzip ? 'gz' : 'raw';
  return gzip ? `gz.${envelope}` : envelope;
}

function parseExtension(ext: string): { envelope: Envelope; gzip: boolean } {
  for (const envelope of ENVELOPES) {
    for (const gzip of [false, true]) if (rawExtension(envelope, gzip) === ext) return { envelope, gzip };
  }
  throw new InvalidIdentifierError(`unknown raw object extension ${JSON.stringify(ext)}`);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DD` of a Date in UTC. */
export function utcDay(at: Date): string {
  if (Number.isNaN(at.getTime())) throw new InvalidIdentifierError('invalid date');
  const year = at.getUTCFullYear();
  if (year < 1970 || year > 9999) throw new InvalidIdentifierError(`date out of range: ${at.toISOString()}`);
  return `${pad(year, 4)}-${pad(at.getUTCMonth() + 1, 2)}-${pad(at.getUTCDate(), 2)}`;
}

/** Validates a `YYYY-MM-DD` partition value as a real calendar day. */
export function assertDay(value: unknown): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw new InvalidIdentifierError(`invalid day ${JSON.stringify(String(value).slice(0, 40))}: expected YYYY-MM-DD`);
  }
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || utcDay(d) !== value) {
    throw new InvalidIdentifierError(`invalid day ${JSON.stringify(value)}: not a calendar date`);
  }
  return value;
}

function finish(key: string): string {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new InvalidIdentifierError('key too long');
  return key;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID whose 48-bit time is `at` and whose 80 "random" bits come from `digest` (e.g. the SHA-256 of the
 * uploaded bytes): the same upload of the same bytes gets the same id, so local tools that store a file under a
 * raw key recognise a rerun as a duplicate delivery. The upload API uses random ULIDs instead.
 */
export function deterministicUploadId(at: Date, digest: Uint8Array): string {
  let t = at.getTime();
  if (!Number.isInteger(t) || t < 0 || t >= 2 ** 48) throw new InvalidIdentifierError('upload time out of ULID range');
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rest = '';
  for (let i = 0; i < 16; i++) rest += CROCKFORD[(digest[i] ?? 0) % 32];
  return time + rest;
}

export function rawKey(f: RawKeyFields): string {
  const day = utcDay(f.receivedAt);
  return finish(
    `raw/tenant=${assertTenantId(f.tenant)}/typetag=${assertTypetag(f.typetag)}/dt=${day}/hour=${pad(
      f.receivedAt.getUTCHours(),
      2,
    )}/${assertUlid(f.uploadId)}.${rawExtension(f.envelope, f.gzip)}`,
  );
}

/** The fields of a raw key. `receivedAt` is the start of the hour partition (the key does not hold more). */
export interface ParsedRawKey extends Omit<RawKeyFields, 'receivedAt'> {
  dt: string;
  hour: number;
}

const RAW_KEY = /^raw\/tenant=([^/]*)\/typetag=([^/]*)\/dt=([^/]*)\/hour=(\d{2})\/([^/.]*)\.([a-z.]+)$/;

export function parseRawKey(key: string): ParsedRawKey {
  const m = RAW_KEY.exec(key);
  if (!m) throw new InvalidIdentifierError(`not a raw object key: ${JSON.stringify(key.slice(0, 200))}`);
  const [, tenant, typetag, dt, hour, uploadId, ext] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const h = Number(hour);
  if (h > 23) throw new InvalidIdentifierError(`invalid hour ${hour}`);
  const parsed: ParsedRawKey = {
    tenant: assertTenantId(tenant),
    typetag: assertTypetag(typetag),
    dt: assertDay(dt),
    hour: h,
    uploadId: assertUlid(uploadId),
    ...parseExtension(ext),
  };
  return parsed;
}

/** The hour partition of a parsed raw key, as a Date. */
export function rawKeyHour(p: ParsedRawKey): Date {
  return new Date(`${p.dt}T${pad(p.hour, 2)}:00:00Z`);
}

export function tahoeKey(f: TahoeKeyFields): string {
  if (!(TAHOE_TABLES as readonly string[]).includes(f.table)) {
    throw new InvalidIdentifierError(`unknown table ${JSON.stringify(f.table)}`);
  }
  if (!Number.isInteger(f.part) || f.part < 0 || f.part > MAX_PART) {
    throw new InvalidIdentifierError(`invalid part number ${f.part}: expected 0-${MAX_PART}`);
  }
  return finish(
    `tahoe/${f.table}/tenant=${assertTenantId(f.tenant)}/dt=${assertDay(f.dt)}/${assertSha256(f.rawSha256)}-${pad(
      f.part,
      5,
    )}.parquet`,
  );
}

const TAHOE_KEY = /^tahoe\/([a-z_]+)\/tenant=([^/]*)\/dt=([^/]*)\/([^/-]*)-(\d{5})\.parquet$/;

export function parseTahoeKey(key: string): TahoeKeyFields {
  const m = TAHOE_KEY.exec(key);
  if (!m) throw new InvalidIdentifierError(`not a TAHOE Parquet key: ${JSON.stringify(key.slice(0, 200))}`);
  const [, table, tenant, dt, sha, part] = m as unknown as [string, string, string, string, string, string];
  if (!(TAHOE_TABLES as readonly string[]).includes(table)) {
    throw new InvalidIdentifierError(`unknown table ${JSON.stringify(table)}`);
  }
  return {
    table: table as TahoeTable,
    tenant: assertTenantId(tenant),
    dt: assertDay(dt),
    rawSha256: assertSha256(sha),
    part: Number(part),
  };
}

export function quarantineKey(f: DatedKeyFields & { rawSha256: string }): string {
  return finish(
    `quarantine/tenant=${assertTenantId(f.tenant)}/dt=${assertDay(f.dt)}/${assertSha256(f.rawSha256)}.jsonl.gz`,
  );
}

const QUARANTINE_KEY = /^quarantine\/tenant=([^/]*)\/dt=([^/]*)\/([^/.]*)\.jsonl\.gz$/;

export function parseQuarantineKey(key: string): DatedKeyFields & { rawSha256: string } {
  const m = QUARANTINE_KEY.exec(key);
  if (!m) throw new InvalidIdentifierError(`not a quarantine key: ${JSON.stringify(key.slice(0, 200))}`);
  const [, tenant, dt, sha] = m as unknown as [string, string, string, string];
  return { tenant: assertTenantId(tenant), dt: assertDay(dt), rawSha256: assertSha256(sha) };
}

/** A proof batch id: the window's start and the Merkle root prefix, e.g. `20261122T1000Z-9f86d081884c7d65`. */
const BATCH_ID = /^\d{8}T\d{4}Z-[0-9a-f]{16}$/;

export function assertBatchId(value: unknown): string {
  if (typeof value !== 'string' || !BATCH_ID.test(value)) {
    throw new InvalidIdentifierError(`invalid proof batch id ${JSON.stringify(String(value).slice(0, 60))}`);
  }
  return value;
}

export type ProofPart = 'json' | 'tsr';

export function proofKey(f: DatedKeyFields & { batchId: string; part: ProofPart }): string {
  if (f.part !== 'json' && f.part !== 'tsr') throw new InvalidIdentifierError(`invalid proof part ${String(f.part)}`);
  return finish(
    `proofs/tenant=${assertTenantId(f.tenant)}/dt=${assertDay(f.dt)}/${assertBatchId(f.batchId)}.${f.part}`,
  );
}

const PROOF_KEY = /^proofs\/tenant=([^/]*)\/dt=([^/]*)\/([^/.]*)\.(json|tsr)$/;

export function parseProofKey(key: string): DatedKeyFields & { batchId: string; part: ProofPart } {
  const m = PROOF_KEY.exec(key);
  if (!m) throw new InvalidIdentifierError(`not a proof key: ${JSON.stringify(key.slice(0, 200))}`);
  const [, tenant, dt, batchId, part] = m as unknown as [string, string, string, string, ProofPart];
  return { tenant: assertTenantId(tenant), dt: assertDay(dt), batchId: assertBatchId(batchId), part };
}

/** Loader manifests (DESIGN.md §3.8): one per load attempt, named by its load id (a ULID). */
export function manifestKey(loadId: string): string {
  return `manifests/${assertUlid(loadId)}.manifest`;
}

const MANIFEST_KEY = /^manifests\/([^/.]*)\.manifest$/;

export function parseManifestKey(key: string): { loadId: string } {
  const m = MANIFEST_KEY.exec(key);
  if (!m) throw new InvalidIdentifierError(`not a manifest key: ${JSON.stringify(key.slice(0, 200))}`);
  return { loadId: assertUlid(m[1]) };
}

/**
 * Purge records (docs/warehouse.md, "Age-off and purge, end to end"): one JSON document per purge run, written
 * create-only to the manifests bucket and named by the run's id (a ULID, also the warehouse's purge_log id).
 */
export function purgeRecordKey(purgeId: string): string {
  return `purges/${assertUlid(purgeId)}.json`;
}

const PURGE_RECORD_KEY = /^purges\/([^/.]*)\.json$/;

export function parsePurgeRecordKey(key: string): { purgeId: string } {
  const m = PURGE_RECORD_KEY.exec(key);
  if (!m) throw new InvalidIdentifierError(`not a purge record key: ${JSON.stringify(key.slice(0, 200))}`);
  return { purgeId: assertUlid(m[1]) };
}

/**
 * Every key prefix that holds one tenant's objects: its raw uploads, its Parquet files of each table and its
 * quarantine files. Each ends with `/`, so that tenant `ab` never matches the keys of tenant `ab-c`. Proofs are
 * not listed: they hold hashes only, and a purge leaves them (they may be under Object Lock).
 */
export function tenantPrefixes(tenant: string): {
  readonly raw: string;
  readonly tahoe: Readonly<Record<TahoeTable, string>>;
  readonly quarantine: string;
} {
  const t = assertTenantId(tenant);
  const tahoe = {} as Record<TahoeTable, string>;
  for (const table of TAHOE_TABLES) tahoe[table] = `tahoe/${table}/tenant=${t}/`;
  return { raw: `raw/tenant=${t}/`, tahoe, quarantine: `quarantine/tenant=${t}/` };
}

/**
 * S3 event notifications carry keys URL-encoded as in an HTML form (space as `+`), while some S3-compatible servers
 * send them verbatim. Our keys never contain `+`, `%` or spaces, so decoding is safe for both.
 */
export function decodeS3EventKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new InvalidIdentifierError(`malformed URL-encoding in event key ${JSON.stringify(key.slice(0, 200))}`);
  }
}
