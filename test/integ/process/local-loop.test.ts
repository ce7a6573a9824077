/**
 * The local processing loop end to end: objects uploaded to the local S3 twin are announced as S3 event records,
 * queued, and processed by the real core with local parts (file ledger, PEM key, tenants.json, events file). A
 * message that keeps failing is retried with the seed's backoff and dead-lettered after maxReceiveCount receives;
 * once the cause is fixed, a redrive processes it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { FileEventPublisher } from '../../../lambdas/adapters/local-event-publisher';
import { LocalKeyUnwrapper, localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { FileTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import { S3ObjectStore } from '../../../lambdas/adapters/s3-object-store';
import { sealEnvelope } from '../../../lambdas/envelope/envelope';
import type { LedgerItem, ObjectRef } from '../../../lambdas/ledger/model';
import { type LocalS3, startLocalS3 } from '../../../lambdas/local/local-s3';
import { ProcessingLoop, type ProcessingLoopOptions } from '../../../lambdas/local/processing-loop';
import type { TenantSettings } from '../../../lambdas/process/ports';
import { rawKey } from '../../../lambdas/shared/s3-keys';

const RAW = 'raw-bucket';
const CURATED = 'curated-bucket';
const QUARANTINE = 'quarantine-bucket';
const MAX_RECEIVES = 3;

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const KEY_ARN = localKeyArn(publicKey);

const tenant = (id: string): TenantSettings => ({
  tenant: id,
  orgid: id.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
  typetags: ['cowrie'],
  envelope: 'esdk',
  retentionDays: 30,
});

let dataDir: string;
let s3: LocalS3;
let store: S3ObjectStore;
let ledger: LocalLedger;
let tenants: FileTenantDirectory;
let events: FileEventPublisher;
let loop: ProcessingLoop;
const delays: number[] = [];

/** The core's dependencies on the local parts, as the local runtime builds them. */
function localDeps(): ProcessingLoopOptions['deps'] {
  return {
    store,
    ledger,
    events,
    tenants,
    unwrapper: new LocalKeyUnwrapper([privateKey]),
    allowedKeyArns: [KEY_ARN],
    enabledTypetags: new Set(['cowrie']),
    buckets: { curated: CURATED, quarantine: QUARANTINE },
    limits: { rowsPerPart: 1000, maxRecordBytes: 64 * 1024, maxAttempts: 10, leaseMs: 60_000 },
    clock: () => new Date(),
  };
}

function newLoop(): ProcessingLoop {
  return new ProcessingLoop({
    dataDir,
    rawBucket: RAW,
    maxReceiveCount: MAX_RECEIVES,
    backoffCapSeconds: 3,
    // No real waiting in a test: record the delays the loop asks for.
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0,
    deps: localDeps(),
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'local-loop-'));
  s3 = await startLocalS3({ dataDir: join(dataDir, 's3'), buckets: [RAW, CURATED, QUARANTINE] });
  store = new S3ObjectStore(s3.client());
  ledger = LocalLedger.atPath(join(dataDir, 'ledger'));
  tenants = new FileTenantDirectory(join(dataDir, 'tenants.json'));
  events = new FileEventPublisher(join(dataDir, 'events.jsonl'));
  await tenants.put(tenant('acme'));
  loop = newLoop();
  loop.subscribe(s3.objectCreated({ bucket: RAW, prefix: 'raw/' }));
  loop.start();
});

afterAll(async () => {
  await loop?.stop();
  await s3?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function cowrieFile(session: string): Buffer {
  const lines = [
    {
      eventid: 'cowrie.session.connect',
      session,
      src_ip: '198.51.100.23',
      src_port: 50522,
      dst_ip: '10.0.0.5',
      dst_port: 22,
      protocol: 'ssh',
      sensor: 'honeypot-1',
      timestamp: '2026-11-22T09:10:00.000000Z',
    },
    {
      eventid: 'cowrie.login.failed',
      session,
      src_ip: '198.51.100.23',
      username: 'root',
      password: '123456',
      sensor: 'honeypot-1',
      timestamp: '2026-11-22T09:10:01.000000Z',
    },
  ].map((l) => JSON.stringify(l));
  return Buffer.from(`${[...lines, 'not json at all'].join('\n')}\n`);
}

let uploads = 0;

/** Seals a cowrie log as a shipper would and stores it in the raw bucket; the twin announces it. */
async function upload(tenantId: string, session: string): Promise<ObjectRef> {
  uploads += 1;
  const key = rawKey({
    tenant: tenantId,
    typetag: 'cowrie',
    receivedAt: new Date('2026-11-22T09:15:00Z'),
    uploadId: `01JD5Z3M8Q00000000000000${String(uploads).padStart(2, '0')}`,
    envelope: 'esdk',
    gzip: true,
  });
  const sealed = await buffer(
    sealEnvelope('esdk', Readable.from([cowrieFile(session)]), {
      keyArn: KEY_ARN,
      publicKey,
      context: { tenant: tenantId, typetag: 'cowrie' },
      gzip: true,
    }),
  );
  expect(await store.putIfAbsent(RAW, key, sealed)).toBe('created');
  // The twin's bucket is not versioned: S3 calls the only version "null".
  return { bucket: RAW, key, versionId: 'null' };
}

/** Polls until `check` holds; the bound only keeps a broken run from hanging. */
async function until<T>(what: string, probe: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const finished = (item: LedgerItem | undefined) => item?.status === 'PROCESSED' || item?.status === 'QUARANTINED';

test('an esdk-sealed cowrie upload is processed from its S3 event to a PROCESSED ledger item with counts', async () => {
  const ref = await upload('acme', 'a1b2c3d4e5f6');
  const item = await until('the upload to be processed', () => ledger.get(ref), finished);
  await loop.idle();

  expect(item).toMatchObject({
    status: 'PROCESSED',
    outcome: 'SUCCESS',
    tenant: 'acme',
    typetag: 'cowrie',
    attempts: 1,
  });
  expect(item?.counts?.recordsIn).toBe(3);
  expect(item?.sha256).toMatch(/^[0-9a-f]{64}$/);
  const curated: string[] = [];
  for await (const o of store.list(CURATED, 'tahoe/')) curated.push(o.key);
  expect(curated.sort()).toEqual([...(item?.outputs?.curated ?? [])].sort());
  expect(curated.length).toBeGreaterThan(0);
  expect((await events.read()).map((e) => [e['detail-type'], e.detail.key, e.detail.status])).toContainEqual([
    'ObjectProcessed',
    ref.key,
    'PROCESSED',
  ]);
  expect(loop.counters).toMatchObject({ processed: 1, deadLettered: 0, inFlight: 0, queued: 0, delayed: 0 });
  // Work folders are removed after each attempt.
  expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
});

test('a message that keeps failing is retried with backoff and dead-lettered after maxReceiveCount receives', async () => {
  // An operator mistake in the registry: globex's entry has no orgid. Its objects cannot be processed until fixed.
  const path = join(dataDir, 'tenants.json');
  const file = JSON.parse(readFileSync(path, 'utf8'));
  file.tenants.globex = { typetags: ['cowrie'], envelope: 'esdk', retention_days: 30 };
  writeFileSync(path, JSON.stringify(file));
  delays.length = 0;
  const before = loop.counters;

  const ref = await upload('globex', 'ffeeddccbbaa');
  const letters = await until(
    'the message to be dead-lettered',
    () => loop.deadLetters(),
    (l) => l.length === 1,
  );
  await loop.idle();

  expect(letters[0]).toMatchObject({ receiveCount: MAX_RECEIVES, error: { name: 'ConfigError' } });
  expect(letters[0]?.error.message).toContain('tenant globex');
  expect(JSON.parse(letters[0]?.body ?? '{}').Records[0].s3.object.key).toContain('tenant%3Dglobex');
  // min(cap, 2^receives + jitter) seconds with no jitter and a 3 s cap: 2 s after the first receive, then 3 s.
  expect(delays).toEqual([2000, 3000]);
  expect(loop.counters.received - before.received).toBe(MAX_RECEIVES);
  expect(loop.counters.retried - before.retried).toBe(MAX_RECEIVES - 1);
  expect(finished(await ledger.get(ref))).toBe(false);

  // A body that is not a notification at all can never succeed: it is dead-lettered on its first receive.
  loop.send('{"Type":"Notification","Message":"not an S3 event"}');
  await until(
    'the malformed message to be dead-lettered',
    () => loop.deadLetters(),
    (l) => l.length === 2,
  );
  await loop.idle();
  expect((await loop.deadLetters())[1]).toMatchObject({ receiveCount: 1, error: { name: 'PermanentError' } });

  // Fixed: the redrive processes the object (the malformed message goes back to the list).
  await tenants.put(tenant('globex'));
  expect(await loop.redrive()).toHaveLength(2);
  const item = await until('the redriven object to be processed', () => ledger.get(ref), finished);
  await loop.idle();
  expect(item).toMatchObject({ status: 'PROCESSED', outcome: 'SUCCESS', tenant: 'globex' });
  expect((await loop.deadLetters()).map((l) => l.receiveCount)).toEqual([1]);
  expect(readdirSync(dataDir).some((f) => f.startsWith('raw-events-dlq.jsonl.redriven-'))).toBe(true);
});

test('after a restart, reconcile queues the raw objects whose processing never finished', async () => {
  await loop.stop();
  // Uploaded while nothing listens: its event is lost, as queued messages of a stopped runtime are.
  const missed = await upload('acme', '0a0b0c0d0e0f');
  loop = newLoop();
  expect(await loop.reconcile()).toBe(1);
  loop.start();
  const item = await until('the missed upload to be processed', () => ledger.get(missed), finished);
  await loop.idle();
  expect(item).toMatchObject({ status: 'PROCESSED', attempts: 1 });
  expect(await loop.reconcile()).toBe(0);
});

describe('the queue on its own (stand-in core)', () => {
  const body = (versionId: string) =>
    JSON.stringify({
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          eventTime: '2026-11-22T09:15:00.000Z',
          s3: {
            bucket: { name: RAW },
            object: { key: 'raw/tenant%3Dacme/x', size: 1, versionId, sequencer: '0A' },
          },
        },
      ],
    });

  function standalone(
    core: ConstructorParameters<typeof ProcessingLoop>[0]['core'],
    sleep: (ms: number) => Promise<void>,
  ) {
    const now = new Date('2026-11-22T10:00:00Z');
    return new ProcessingLoop({
      dataDir: mkdtempSync(join(dataDir, 'standalone-')),
      rawBucket: RAW,
      maxReceiveCount: 2,
      backoffCapSeconds: 5,
      random: () => 0,
      sleep,
      core,
      deps: { ...localDeps(), clock: () => now },
    });
  }

  test('retries a busy object only once its lease has run out, as SQS does after the visibility timeout', async () => {
    const asked: number[] = [];
    const q = standalone(
      async (_req, deps) => ({ status: 'busy', leaseExpiresAt: new Date(deps.clock().getTime() + 30_000) }),
      async (ms) => {
        asked.push(ms);
      },
    );
    q.start();
    q.send(body('v1'));
    await until(
      'the busy message to be dead-lettered',
      () => q.deadLetters(),
      (l) => l.length === 1,
    );
    await q.idle();
    await q.stop();
    expect(asked).toEqual([30_001]);
    expect((await q.deadLetters())[0]).toMatchObject({ receiveCount: 2, error: { name: 'TransientError' } });
  });

  test('stopping puts messages waiting for a retry back in the queue: nothing pending, nothing lost', async () => {
    let received = 0;
    const q = standalone(
      async () => {
        received += 1;
        throw new Error('a bug');
      },
      () => new Promise<void>(() => undefined),
    );
    q.start();
    q.send(body('v1'));
    await until(
      'the first receive',
      async () => received,
      (n) => n === 1,
    );
    await until(
      'the retry to be scheduled',
      async () => q.counters.delayed,
      (n) => n === 1,
    );
    await q.stop();
    expect(q.counters).toMatchObject({ queued: 1, delayed: 0, inFlight: 0, deadLettered: 0, retried: 1 });
  });
});
