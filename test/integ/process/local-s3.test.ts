/**
 * The process core end to end against the local S3 twin (signed requests, create-only writes, S3 event records)
 * and the file ledger: uploads go in as a shipper's would, notifications come out of the twin, and the Parquet it
 * writes is read back by DuckDB, an independent reader, with the reference implementation's hashes expected.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { S3EventRecord } from 'aws-lambda';
import { localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import type { ObjectStore, PutOptions } from '../../../lambdas/adapters/object-store';
import { S3ObjectStore } from '../../../lambdas/adapters/s3-object-store';
import { sealEnvelope } from '../../../lambdas/envelope/envelope';
import type { LedgerItem } from '../../../lambdas/ledger/model';
import { type AsyncQueue, type LocalS3, startLocalS3 } from '../../../lambdas/local/local-s3';
import type { ProcessDeps, ProcessOutcome, ProcessRequest } from '../../../lambdas/process/ports';
import { processObject } from '../../../lambdas/process/process-object';
import { decodeS3EventKey, type Envelope, rawKey } from '../../../lambdas/shared/s3-keys';
import { goldenCowrieLines } from '../../unit/process/golden-lines';
import {
  ListEvents,
  MapTenants,
  ORGID,
  seal,
  TENANT,
  TestClock,
  tenantSettings,
  testKey,
  testUlid,
  text,
} from '../../unit/process/helpers';
import { listKeys, parseQuarantine, readObject } from '../../unit/process/outputs';

const RAW = 'raw';
const CURATED = 'curated';
const QUARANTINE = 'quarantine';
const ROWS_PER_PART = 7;

let dir: string;
let s3: LocalS3;
let store: S3ObjectStore;
let notifications: AsyncQueue<S3EventRecord>;
let duck: DuckDBInstance;
let db: DuckDBConnection;
let seq = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cyberactive-process-integ-'));
  s3 = await startLocalS3({ dataDir: join(dir, 's3'), buckets: [RAW, CURATED, QUARANTINE] });
  store = new S3ObjectStore(s3.client());
  notifications = s3.objectCreated({ bucket: RAW, prefix: 'raw/' });
  duck = await DuckDBInstance.create(':memory:');
  db = await duck.connect();
  await db.run("SET TimeZone = 'UTC'");
});

afterAll(async () => {
  notifications?.close();
  db?.closeSync();
  duck?.closeSync();
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface World {
  readonly clock: TestClock;
  readonly ledger: LocalLedger;
  readonly events: ListEvents;
  deps(owner: string, overrides?: Partial<ProcessDeps>): ProcessDeps;
}

function world(): World {
  const clock = new TestClock();
  const ledger = LocalLedger.atPath(join(dir, 'ledger'));
  const events = new ListEvents();
  const key = testKey();
  const tenants = new MapTenants([tenantSettings()]);
  return {
    clock,
    ledger,
    events,
    deps: (owner, overrides = {}) => ({
      store,
      ledger,
      events,
      tenants,
      unwrapper: key.unwrapper,
      allowedKeyArns: [key.arn],
      rsaModulusBytes: 256,
      enabledTypetags: new Set(['cowrie', 'sighting', 'email']),
      buckets: { curated: CURATED, quarantine: QUARANTINE },
      limits: { rowsPerPart: ROWS_PER_PART, maxRecordBytes: 64 * 1024, maxAttempts: 3, leaseMs: 120_000 },
      workDir: join(dir, 'work', owner),
      owner,
      clock: clock.read,
      ...overrides,
    }),
  };
}

/** Uploads as a shipper does (signed PUT, create-only, timezone metadata) and returns the notification's request. */
async function upload(
  plaintext: Buffer,
  options: { typetag?: string; envelope?: Envelope; gzip?: boolean; stored?: Buffer } = {},
): Promise<{ req: ProcessRequest; stored: Buffer; sha256: string }> {
  const typetag = options.typetag ?? 'cowrie';
  const envelope = options.envelope ?? 'esdk';
  const gzip = options.gzip ?? true;
  const receivedAt = new Date('2026-11-22T10:00:00.000Z');
  const key = rawKey({ tenant: TENANT, typetag, receivedAt, uploadId: testUlid(receivedAt, ++seq), envelope, gzip });
  const stored = options.stored ?? (await seal(plaintext, envelope, gzip, { tenant: TENANT, typetag }));
  await s3.client().send(
    new PutObjectCommand({
      Bucket: RAW,
      Key: key,
      Body: stored,
      IfNoneMatch: '*',
      Metadata: { timezone: 'America/New_York' },
    }),
  );
  for (;;) {
    const { value: record } = await notifications.next();
    if (!record) throw new Error('notification queue closed');
    if (decodeS3EventKey(record.s3.object.key) !== key) continue;
    return {
      req: {
        ref: { bucket: record.s3.bucket.name, key, versionId: record.s3.object.versionId ?? 'null' },
        size: record.s3.object.size,
        eventTime: new Date(record.eventTime),
      },
      stored,
      sha256: createHash('sha256').update(stored).digest('hex'),
    };
  }
}

function finished(outcome: ProcessOutcome): LedgerItem {
  if (!('item' in outcome)) throw new Error(`expected a finished object, got ${outcome.status}`);
  return outcome.item;
}

/** Every object under the outputs' prefixes that belongs to the raw object `sha256`. */
async function outputsOf(sha256: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const bucket of [CURATED, QUARANTINE]) {
    for (const key of await listKeys(store, bucket)) {
      if (key.includes(sha256)) out.set(`${bucket}/${key}`, await readObject(store, bucket, key));
    }
  }
  return out;
}

/** Rows of the given Parquet keys, read by DuckDB from local copies. */
async function query(keys: readonly string[], table: string, sql: string): Promise<Record<string, unknown>[]> {
  const files: string[] = [];
  const local = mkdtempSync(join(dir, 'duck-'));
  for (const key of keys.filter((k) => k.startsWith(`tahoe/${table}/`))) {
    const file = join(local, key.replaceAll('/', '_'));
    writeFileSync(file, await readObject(store, CURATED, key));
    files.push(file);
  }
  if (files.length === 0) return [];
  const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
  const rows = (await db.runAndReadAll(sql.replace('$PARTS', `read_parquet([${list}])`))).getRowObjectsJS();
  return rows as Record<string, unknown>[];
}

const golden = goldenCowrieLines();
const OVERSIZE = `{"pad":"${'z'.repeat(70_000)}"}`;
const NOT_UTF8 = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]);

/** The golden lines with bad lines between them: line numbers of each kind, and the file. */
function mixedFile() {
  const lines: (string | Buffer)[] = [];
  const at = new Map<string, number>();
  golden.forEach((g, i) => {
    lines.push(g.input);
    at.set(g.id, lines.length);
    if (i === 3) lines.push('');
    if (i === 5) lines.push(NOT_UTF8);
    if (i === 9) lines.push('this line is not json');
    if (i === 14) lines.push(OVERSIZE);
  });
  const lineOf = (x: string | Buffer) => lines.indexOf(x) + 1;
  return {
    plaintext: text(lines),
    at,
    notUtf8: lineOf(NOT_UTF8),
    notJson: lineOf('this line is not json'),
    oversize: lineOf(OVERSIZE),
  };
}

const MIXED = mixedFile();
const GOOD = golden.filter((g) => g.outcome === 'SUCCESS');
const FAILING = golden.filter((g) => g.outcome === 'ERROR');

describe('processing a mixed cowrie upload', () => {
  let item: LedgerItem;
  let sha256: string;
  let req: ProcessRequest;
  let w: World;

  beforeAll(async () => {
    w = world();
    ({ req, sha256 } = await upload(MIXED.plaintext));
    item = finished(await processObject(req, w.deps('worker-1')));
  });

  test('records a ledger item whose counts add up to the records read', async () => {
    const stored = await w.ledger.get(req.ref);
    expect(stored).toEqual(item);
    const records = golden.length + 3;
    expect(item).toMatchObject({ status: 'PROCESSED', outcome: 'SUCCESS', sha256, attempts: 1 });
    expect(item.counts).toMatchObject({
      recordsIn: records,
      success: GOOD.length,
      successInvalid: 1,
      error: FAILING.length,
      badData: 2,
      notSupported: 0,
      quarantined: FAILING.length + 2,
      raws: GOOD.length + 1 + FAILING.length,
    });
    const c = item.counts as NonNullable<LedgerItem['counts']>;
    expect(c.success + c.successInvalid + c.error + c.badData + c.notSupported).toBe(c.recordsIn);
    // The ledger lists exactly the objects stored for this raw object.
    expect([...(await outputsOf(sha256)).keys()].sort()).toEqual(
      [
        ...(item.outputs?.curated ?? []).map((k) => `${CURATED}/${k}`),
        `${QUARANTINE}/${item.outputs?.quarantine}`,
      ].sort(),
    );
    expect(item.outputs?.curated.length).toBeGreaterThan(3);
  });

  test('writes tahoe_raw rows DuckDB reads back exactly, with the reference’s raw hashes', async () => {
    const rows = await query(
      item.outputs?.curated ?? [],
      'tahoe_raw',
      `SELECT record_no, _hash, tenant, object_sha256, sub_type, timezone, strftime(received_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS received_at, object_key, data
       FROM $PARTS ORDER BY record_no`,
    );
    const expected: [number, string][] = [];
    let recordNo = 0;
    for (const line of MIXED.plaintext.toString('latin1').split('\n').slice(0, -1)) {
      if (line === '') continue;
      recordNo++;
      const g = golden.find((x) => x.input.toString('latin1') === line);
      if (g) expected.push([recordNo, g.rawHash]);
      else if (line === 'this line is not json') expected.push([recordNo, 'NOT_JSON']);
    }
    expect(
      rows.map((r) => [Number(r.record_no), r.data === '{"data":"this line is not json"}' ? 'NOT_JSON' : r._hash]),
    ).toEqual(expected);
    for (const r of rows) {
      expect(r).toMatchObject({
        tenant: TENANT,
        object_sha256: sha256,
        sub_type: 'cowrie',
        timezone: 'America/New_York',
        received_at: `${req.eventTime?.toISOString().slice(0, -1)}000Z`,
        object_key: req.ref.key,
      });
    }
  });

  test('writes each instance once, with the reference’s hashes, kinds and event times', async () => {
    const rows = await query(
      item.outputs?.curated ?? [],
      'tahoe_instance',
      'SELECT _hash, itype, sub_type, orgid, event_ts, start_time, end_time, duration, category FROM $PARTS',
    );
    const expected = new Map<string, { kind: string; timestamp?: number }>();
    for (const g of GOOD) for (const [h, v] of g.views) expected.set(h, v);
    expect(new Set(rows.map((r) => r._hash))).toEqual(new Set(expected.keys()));
    for (const r of rows) {
      const want = expected.get(r._hash as string);
      expect(`${r.itype} ${r.sub_type}`).toBe(want?.kind);
      if (r.itype === 'event') {
        expect(r.orgid).toBe(ORGID);
        expect(r.event_ts).toBe(want?.timestamp);
      }
    }
    // Repeated only where the content differs (a session's times), never as an identical row.
    const distinct = new Set(rows.map((r) => JSON.stringify(r)));
    expect(distinct.size).toBe(rows.length);
    expect(item.counts?.instances).toBe(rows.length);
  });

  test('writes each edge once, exactly the reference’s edges', async () => {
    const rows = await query(
      item.outputs?.curated ?? [],
      'tahoe_edge',
      'SELECT parent_hash, relation, child_hash FROM $PARTS',
    );
    const edges = rows.map((e) => `${e.parent_hash} ${e.relation} ${e.child_hash}`);
    expect(new Set(edges)).toEqual(new Set(GOOD.flatMap((g) => [...g.edges])));
    expect(edges.length).toBe(new Set(edges).size);
    expect(item.counts?.edges).toBe(edges.length);
  });

  test('quarantines exactly the failed records, each with its line number and reason', async () => {
    const entries = parseQuarantine(await readObject(store, QUARANTINE, item.outputs?.quarantine as string));
    const expected = [
      ...FAILING.map((g) => [MIXED.at.get(g.id), 'ERROR', 'filter', g.rawHash]),
      [MIXED.notUtf8, 'BAD_DATA', 'decode', null],
      [MIXED.oversize, 'BAD_DATA', 'decode', null],
    ].sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(entries.map((e) => [e.line, e.outcome, e.stage, e.raw_hash])).toEqual(expected);
    for (const e of entries) expect(e.reason.length).toBeGreaterThan(0);
    expect(entries.find((e) => e.line === MIXED.notUtf8)).toMatchObject({
      reason: 'record is not valid UTF-8',
      record: { encoding: 'base64', data: NOT_UTF8.toString('base64') },
    });
    expect(entries.find((e) => e.line === MIXED.oversize)?.reason).toBe(
      `record is ${OVERSIZE.length} bytes, over the 65536-byte limit`,
    );
  });

  test('the same notification delivered twice and three times changes nothing', async () => {
    const before = await outputsOf(sha256);
    for (const owner of ['worker-2', 'worker-3']) {
      w.clock.advance(1000);
      const again = await processObject(req, w.deps(owner));
      expect(again.status).toBe('duplicate');
      expect(finished(again)).toEqual(item);
      expect(await outputsOf(sha256)).toEqual(before);
    }
    expect(await w.ledger.get(req.ref)).toEqual(item);
    expect(w.events.events).toHaveLength(3);
    expect(new Set(w.events.events.map((e) => JSON.stringify(e))).size).toBe(1);
  });
});

describe('concurrency and crashes', () => {
  test('two workers on one object at once: one processes, the other is told it is busy, nothing is doubled', async () => {
    const w = world();
    const { req, sha256 } = await upload(MIXED.plaintext);
    const [a, b] = await Promise.all([processObject(req, w.deps('twin-a')), processObject(req, w.deps('twin-b'))]);
    expect([a.status, b.status].sort()).toEqual(['busy', 'processed']);
    const item = finished(a.status === 'processed' ? a : b);
    // The busy one's message comes back and finds the object finished.
    const late = await processObject(req, w.deps(a.status === 'busy' ? 'twin-a' : 'twin-b'));
    expect(late.status).toBe('duplicate');
    const edges = await query(item.outputs?.curated ?? [], 'tahoe_edge', 'SELECT count(*) AS n FROM $PARTS');
    expect(Number(edges[0]?.n)).toBe(item.counts?.edges);
    const raws = await query(
      item.outputs?.curated ?? [],
      'tahoe_raw',
      'SELECT count(*) AS n, count(DISTINCT record_no) AS d FROM $PARTS',
    );
    expect(raws[0]).toEqual({ n: BigInt(item.counts?.raws ?? 0), d: BigInt(item.counts?.raws ?? 0) });
    expect([...(await outputsOf(sha256)).keys()]).toHaveLength((item.outputs?.curated.length ?? 0) + 1);
  });

  test('a worker killed mid-file is recovered by another after its lease, with no loss and no duplicate', async () => {
    const w = world();
    const { req, sha256 } = await upload(MIXED.plaintext);
    // Worker A dies after two of its uploads: its process is gone, its lease stays in the ledger.
    let uploads = 0;
    const dying: ObjectStore = {
      get: (bucket, key, options) => store.get(bucket, key, options),
      head: (bucket, key, options) => store.head(bucket, key, options),
      list: (bucket, prefix) => store.list(bucket, prefix),
      delete: (bucket, key, options) => store.delete(bucket, key, options),
      putIfAbsent: async (bucket: string, key: string, body: Uint8Array | Readable, options?: PutOptions) => {
        if (++uploads > 2) throw new Error('worker A was killed');
        return store.putIfAbsent(bucket, key, body, options);
      },
    };
    await expect(processObject(req, w.deps('doomed', { store: dying }))).rejects.toThrow(/killed/);
    expect(await w.ledger.get(req.ref)).toMatchObject({ status: 'PROCESSING', owner: 'doomed' });
    const leftBehind = await outputsOf(sha256);
    expect(leftBehind.size).toBe(2);

    // Within the lease the object is busy; once it has run out, worker B takes it over.
    expect((await processObject(req, w.deps('rescuer'))).status).toBe('busy');
    w.clock.advance(120_001);
    const item = finished(await processObject(req, w.deps('rescuer')));
    expect(item).toMatchObject({ status: 'PROCESSED', owner: 'rescuer', attempts: 2 });
    const after = await outputsOf(sha256);
    for (const [key, bytes] of leftBehind) expect(after.get(key)).toEqual(bytes);
    expect(after.size).toBe((item.outputs?.curated.length ?? 0) + 1);

    const edges = await query(
      item.outputs?.curated ?? [],
      'tahoe_edge',
      'SELECT parent_hash, relation, child_hash FROM $PARTS',
    );
    const keys = edges.map((e) => `${e.parent_hash} ${e.relation} ${e.child_hash}`);
    expect(new Set(keys)).toEqual(new Set(GOOD.flatMap((g) => [...g.edges])));
    expect(keys.length).toBe(new Set(keys).size);
    const raws = await query(item.outputs?.curated ?? [], 'tahoe_raw', 'SELECT record_no FROM $PARTS ORDER BY 1');
    expect(raws.map((r) => Number(r.record_no))).toHaveLength(item.counts?.raws ?? -1);
  });
});

describe('objects refused as a whole', () => {
  test('an unsupported typetag is recorded as NOT_SUPPORTED, the file kept, nothing retried', async () => {
    const w = world();
    const { req } = await upload(text(['<13>Nov 22 10:00:00 host sshd[1]: Accepted']), { typetag: 'syslog' });
    const item = finished(await processObject(req, w.deps('worker-1')));
    expect(item).toMatchObject({ status: 'QUARANTINED', outcome: 'NOT_SUPPORTED', outputs: { curated: [] } });
    expect(item.reason).toMatch(/syslog/);
    expect(await store.head(RAW, req.ref.key)).toBeDefined();
    expect((await processObject(req, w.deps('worker-2'))).status).toBe('duplicate');
    expect(await w.ledger.get(req.ref)).toMatchObject({ attempts: 1 });
  });

  test('a file sealed with a key this deployment cannot use is recorded as BAD_DATA, with no Parquet', async () => {
    const w = world();
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const stored = await buffer(
      sealEnvelope('esdk', Readable.from([MIXED.plaintext]), {
        keyArn: localKeyArn(stranger.publicKey),
        publicKey: stranger.publicKey,
        context: { tenant: TENANT, typetag: 'cowrie' },
        gzip: true,
      }),
    );
    const { req, sha256 } = await upload(Buffer.alloc(0), { stored });
    const item = finished(await processObject(req, w.deps('worker-1')));
    expect(item).toMatchObject({ status: 'QUARANTINED', outcome: 'BAD_DATA', sha256, outputs: { curated: [] } });
    expect(item.reason).toMatch(/esdk/);
    expect((await outputsOf(sha256)).size).toBe(0);
    expect(w.events.events.map((e) => e.outcome)).toEqual(['BAD_DATA']);
  });
});
