/**
 * A process-core world for tests: a folder object store, the in-memory ledger, a tenant map, a list of published
 * events, a local RSA key and a settable clock. `putRaw` seals and stores a raw object the way a shipper's upload
 * ends up in the raw bucket, and returns the request the notification would carry.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { LocalKeyUnwrapper, localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { sealCybexp } from '../../../lambdas/envelope/cybexp';
import { sealEnvelope } from '../../../lambdas/envelope/envelope';
import type {
  EventPublisher,
  ObjectProcessedEvent,
  ProcessDeps,
  ProcessRequest,
  TenantDirectory,
  TenantSettings,
} from '../../../lambdas/process/ports';
import { type Envelope, rawKey } from '../../../lambdas/shared/s3-keys';

export const RAW = 'raw-bucket';
export const CURATED = 'curated-bucket';
export const QUARANTINE = 'quarantine-bucket';
export const TENANT = 'acme';
/** The golden vectors' orgid convention, so that event hashes match the reference's. */
export const ORGID = createHash('sha256').update('synthetic-org:demo_public').digest('hex');

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly arn: string;
  readonly unwrapper: LocalKeyUnwrapper;
}

let sharedKey: TestKey | undefined;

/** One RSA-2048 key per test file (generated at run time; no key is stored in the repository). */
export function testKey(): TestKey {
  if (!sharedKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    sharedKey = { privateKey, publicKey, arn: localKeyArn(publicKey), unwrapper: new LocalKeyUnwrapper([privateKey]) };
  }
  return sharedKey;
}

export class MapTenants implements TenantDirectory {
  readonly tenants = new Map<string, TenantSettings>();
  lookups = 0;

  constructor(list: readonly TenantSettings[]) {
    for (const t of list) this.tenants.set(t.tenant, t);
  }

  async get(tenant: string): Promise<TenantSettings | undefined> {
    this.lookups++;
    return this.tenants.get(tenant);
  }
}

export class ListEvents implements EventPublisher {
  readonly events: ObjectProcessedEvent[] = [];

  async publish(event: ObjectProcessedEvent): Promise<void> {
    this.events.push(structuredClone(event));
  }
}

export function tenantSettings(overrides: Partial<TenantSettings> = {}): TenantSettings {
  return {
    tenant: TENANT,
    orgid: ORGID,
    typetags: ['cowrie', 'sighting', 'email', 'unr_honeypot', 'openphish_feed', 'phishtank_feed'],
    envelope: 'any',
    retentionDays: 30,
    ...overrides,
  };
}

/** A settable clock, so that tests move time past a lease without waiting. */
export class TestClock {
  constructor(public now = new Date('2026-11-22T10:00:00.000Z')) {}
  readonly read = () => new Date(this.now.getTime());
  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }
}

export interface World {
  readonly dir: string;
  readonly store: FsObjectStore;
  readonly ledger: LocalLedger;
  readonly tenants: MapTenants;
  readonly events: ListEvents;
  readonly clock: TestClock;
  readonly key: TestKey;
  deps(overrides?: Partial<ProcessDeps>): ProcessDeps;
  cleanup(): void;
}

export function makeWorld(options: { tenants?: TenantSettings[]; rowsPerPart?: number } = {}): World {
  const dir = mkdtempSync(join(tmpdir(), 'cyberactive-process-'));
  const store = new FsObjectStore(join(dir, 'objects'));
  const ledger = LocalLedger.inMemory();
  const tenants = new MapTenants(options.tenants ?? [tenantSettings()]);
  const events = new ListEvents();
  const clock = new TestClock();
  const key = testKey();
  return {
    dir,
    store,
    ledger,
    tenants,
    events,
    clock,
    key,
    deps: (overrides = {}) => ({
      store,
      ledger,
      events,
      tenants,
      unwrapper: key.unwrapper,
      allowedKeyArns: [key.arn],
      rsaModulusBytes: 256,
      enabledTypetags: new Set(['cowrie', 'sighting', 'email', 'unr_honeypot', 'openphish_feed', 'phishtank_feed']),
      buckets: { curated: CURATED, quarantine: QUARANTINE },
      limits: {
        rowsPerPart: options.rowsPerPart ?? 1000,
        maxRecordBytes: 64 * 1024,
        maxAttempts: 3,
        leaseMs: 60_000,
      },
      workDir: join(dir, 'work'),
      owner: 'worker-a',
      clock: clock.read,
      ...overrides,
    }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface RawOptions {
  readonly tenant?: string;
  readonly typetag?: string;
  readonly envelope?: Envelope;
  readonly gzip?: boolean;
  readonly timezone?: string;
  /** The upload id's time part and the key's hour partition. */
  readonly receivedAt?: Date;
  /** Distinguishes uploads made at the same time. */
  readonly seq?: number;
  /** Encryption context to seal with (esdk); defaults to the key's tenant and typetag. */
  readonly context?: Record<string, string>;
  /** Store these bytes as they are (e.g. a tampered envelope) instead of sealing the plaintext. */
  readonly stored?: Buffer;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A valid ULID whose time is `at` and whose random part is `seq`, so test keys are reproducible. */
export function testUlid(at: Date, seq: number): string {
  let time = '';
  let t = at.getTime();
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rnd = '';
  let s = seq;
  for (let i = 0; i < 16; i++) {
    rnd = CROCKFORD[s % 32] + rnd;
    s = Math.floor(s / 32);
  }
  return time + rnd;
}

/** The stored bytes of a raw object holding `plaintext` in the given envelope. */
export async function seal(
  plaintext: Buffer,
  envelope: Envelope,
  gzip: boolean,
  context: Record<string, string>,
): Promise<Buffer> {
  const key = testKey();
  if (envelope === 'cybexp') return sealCybexp(gzip ? gzipSync(plaintext) : plaintext, key.publicKey);
  return buffer(
    sealEnvelope(envelope, Readable.from([plaintext]), { keyArn: key.arn, publicKey: key.publicKey, context, gzip }),
  );
}

export function text(lines: readonly (string | Buffer)[]): Buffer {
  return Buffer.concat(lines.flatMap((l) => [typeof l === 'string' ? Buffer.from(l) : l, Buffer.from('\n')]));
}

/** Stores a raw object and returns the request its notification would carry. */
export async function putRaw(
  world: Pick<World, 'store' | 'clock'>,
  plaintext: Buffer,
  options: RawOptions = {},
): Promise<{ req: ProcessRequest; stored: Buffer; sha256: string }> {
  const tenant = options.tenant ?? TENANT;
  const typetag = options.typetag ?? 'cowrie';
  const envelope = options.envelope ?? 'none';
  const gzip = options.gzip ?? false;
  const receivedAt = options.receivedAt ?? world.clock.now;
  const key = rawKey({ tenant, typetag, receivedAt, uploadId: testUlid(receivedAt, options.seq ?? 1), envelope, gzip });
  const stored =
    options.stored ??
    (envelope === 'none' && !gzip
      ? plaintext
      : await seal(plaintext, envelope, gzip, options.context ?? { tenant, typetag }));
  await world.store.putIfAbsent(RAW, key, stored, {
    metadata: options.timezone ? { timezone: options.timezone } : {},
  });
  return {
    req: { ref: { bucket: RAW, key, versionId: 'null' }, size: stored.length, eventTime: receivedAt },
    stored,
    sha256: createHash('sha256').update(stored).digest('hex'),
  };
}
