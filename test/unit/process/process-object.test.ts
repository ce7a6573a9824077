/**
 * The process core on a folder object store and the in-memory ledger: outcomes and counts, the quarantine file,
 * objects refused as a whole, duplicates, and byte-identical output across runs.
 */
import { createHash } from 'node:crypto';
import { phishingEmail } from '../../../lambdas/local/sample-logs';
import type { ProcessOutcome } from '../../../lambdas/process/ports';
import { processObject } from '../../../lambdas/process/process-object';
import { PermanentError } from '../../../lambdas/shared/errors';
import { parseRawKey, parseTahoeKey, quarantineKey, rawKey } from '../../../lambdas/shared/s3-keys';
import { goldenCowrieLines } from './golden-lines';
import {
  CURATED,
  makeWorld,
  ORGID,
  putRaw,
  QUARANTINE,
  RAW,
  TENANT,
  tenantSettings,
  testUlid,
  text,
  type World,
} from './helpers';
import { listKeys, readQuarantineFile, readRows, snapshot } from './outputs';

const golden = goldenCowrieLines();
const byId = (id: string) => {
  const g = golden.find((l) => l.id === id);
  if (!g) throw new Error(`no golden line ${id}`);
  return g;
};
const ok1 = byId('r0033');
const failing = byId('r0296');
const ok2 = byId('r0036');
const OVERSIZE = `{"x":"${'a'.repeat(70_000)}"}`;

/** Six records over seven lines, one of each fate. */
const MIXED = text([
  ok1.input, // 1: SUCCESS
  failing.input, // 2: the filter raises (username is a list): ERROR, raw kept
  '', // 3: blank, not a record
  'not json at all', // 4: kept as {"data": …}, flagged invalid
  Buffer.from([0xff, 0xfe, 0x41]), // 5: not UTF-8: BAD_DATA
  OVERSIZE, // 6: over the 64 KiB limit of the test deployment: BAD_DATA
  ok2.input, // 7: SUCCESS
]);

function processed(outcome: ProcessOutcome) {
  if (outcome.status !== 'processed' && outcome.status !== 'quarantined' && outcome.status !== 'duplicate') {
    throw new Error(`expected a finished object, got ${outcome.status}`);
  }
  return outcome.item;
}

let world: World;
beforeEach(() => {
  world = makeWorld({ rowsPerPart: 4 });
});
afterEach(() => world.cleanup());

describe('processObject on a mixed cowrie file', () => {
  test('ends every record in exactly one outcome, and the counts add up to the records read', async () => {
    const { req, sha256 } = await putRaw(world, MIXED, { timezone: 'America/New_York' });
    const outcome = await processObject(req, world.deps());

    expect(outcome.status).toBe('processed');
    const item = processed(outcome);
    expect(item).toMatchObject({ status: 'PROCESSED', outcome: 'SUCCESS', sha256, attempts: 1 });
    expect(item.counts).toEqual({
      recordsIn: 6,
      success: 2,
      successInvalid: 1,
      error: 1,
      badData: 2,
      notSupported: 0,
      quarantined: 3,
      raws: 4,
      instances: expect.any(Number),
      edges: expect.any(Number),
    });
    expect(item.reason).toBe(
      '3 of 6 records quarantined (not supported 0, error 1, bad data 2); first at line 2 (ERROR)',
    );
    // The ledger holds exactly the objects written, and nothing else was.
    const curated = await listKeys(world.store, CURATED);
    expect([...(item.outputs?.curated ?? [])].sort()).toEqual(curated);
    expect(item.outputs?.quarantine).toBe(
      quarantineKey({ tenant: TENANT, dt: parseRawKey(req.ref.key).dt, rawSha256: sha256 }),
    );
    expect(await listKeys(world.store, QUARANTINE)).toEqual([item.outputs?.quarantine]);
    for (const key of curated) expect(parseTahoeKey(key)).toMatchObject({ tenant: TENANT, rawSha256: sha256 });
  });

  test('writes rows whose hashes are the reference implementation’s', async () => {
    expect(ORGID).toBe(ok1.orgid);
    const { req, sha256 } = await putRaw(world, MIXED, { timezone: 'America/New_York' });
    const item = processed(await processObject(req, world.deps()));
    const rows = await readRows(world.store, CURATED, item.outputs?.curated ?? []);

    expect(rows.tahoe_raw.map((r) => [r.record_no, r._hash])).toEqual([
      [1, ok1.rawHash],
      [2, failing.rawHash],
      [3, expect.any(String)],
      [6, ok2.rawHash],
    ]);
    for (const r of rows.tahoe_raw) {
      expect(r).toMatchObject({
        tenant: TENANT,
        object_sha256: sha256,
        sub_type: 'cowrie',
        timezone: 'America/New_York',
        received_at: '2026-11-22T10:00:00.000000Z',
        object_key: req.ref.key,
      });
    }
    expect(JSON.parse(rows.tahoe_raw[2]?.data as string)).toEqual({ data: 'not json at all' });

    const instances = new Set(rows.tahoe_instance.map((r) => r._hash as string));
    expect(instances).toEqual(new Set([...ok1.instances, ...ok2.instances]));
    const edges = rows.tahoe_edge.map((e) => `${e.parent_hash} ${e.relation} ${e.child_hash}`);
    expect(new Set(edges)).toEqual(new Set([...ok1.edges, ...ok2.edges]));
    // No row twice: edges by their natural key, instances by hash and content.
    expect(edges.length).toBe(new Set(edges).size);
    expect(item.counts?.edges).toBe(edges.length);
    expect(item.counts?.instances).toBe(rows.tahoe_instance.length);
  });

  test('quarantines the failed records with their line numbers, outcomes and reasons', async () => {
    const { req } = await putRaw(world, MIXED);
    const item = processed(await processObject(req, world.deps()));
    const entries = readQuarantineFile(world.store, QUARANTINE, item.outputs?.quarantine as string);

    expect(entries.map((e) => [e.line, e.record_no, e.outcome, e.stage, e.error_type])).toEqual([
      [2, 2, 'ERROR', 'filter', 'TypeError'],
      [5, 4, 'BAD_DATA', 'decode', 'UnicodeDecodeError'],
      [6, 5, 'BAD_DATA', 'decode', 'RecordTooLarge'],
    ]);
    const [filterError, notUtf8, tooLarge] = entries;
    // A filter error keeps its raw, and says which.
    expect(filterError?.raw_hash).toBe(failing.rawHash);
    expect(filterError?.record).toEqual({
      encoding: 'utf8',
      data: failing.input.toString('utf8'),
      bytes: failing.input.length,
      sha256: createHash('sha256').update(failing.input).digest('hex'),
      truncated: false,
    });
    expect(notUtf8?.reason).toBe('record is not valid UTF-8');
    expect(notUtf8?.raw_hash).toBeNull();
    expect(notUtf8?.record).toMatchObject({ encoding: 'base64', data: '//5B', bytes: 3, truncated: false });
    expect(tooLarge?.reason).toBe(`record is ${OVERSIZE.length} bytes, over the 65536-byte limit`);
    expect(tooLarge?.record).toEqual({
      encoding: null,
      data: null,
      bytes: OVERSIZE.length,
      sha256: null,
      truncated: true,
    });
  });

  test('keeps records no filter can read as invalid raws, without quarantining them', async () => {
    const { req } = await putRaw(world, text(['not json', '{}', '[1, 2]']));
    const item = processed(await processObject(req, world.deps()));
    expect(item.counts).toMatchObject({ recordsIn: 3, successInvalid: 3, raws: 3, quarantined: 0 });
    expect(item.reason).toBeUndefined();
    expect(item.outputs?.quarantine).toBeUndefined();
    expect(await listKeys(world.store, QUARANTINE)).toEqual([]);
  });

  test('publishes one ObjectProcessed event describing the ledger item', async () => {
    const { req, sha256 } = await putRaw(world, MIXED);
    const item = processed(await processObject(req, world.deps()));
    expect(world.events.events).toEqual([
      {
        tenant: TENANT,
        typetag: 'cowrie',
        bucket: RAW,
        key: req.ref.key,
        versionId: 'null',
        sha256,
        status: 'PROCESSED',
        outcome: 'SUCCESS',
        reason: item.reason,
        counts: item.counts,
        outputs: [...(item.outputs?.curated ?? []), item.outputs?.quarantine],
        processedAt: '2026-11-22T10:00:00.000Z',
      },
    ]);
  });

  test('reads a whole-file typetag (an e-mail) as one record', async () => {
    const { req } = await putRaw(world, Buffer.from(phishingEmail()), { typetag: 'email', timezone: 'Europe/London' });
    const item = processed(await processObject(req, world.deps()));
    expect(item.counts).toMatchObject({ recordsIn: 1, success: 1, raws: 1, quarantined: 0 });
    const rows = await readRows(world.store, CURATED, item.outputs?.curated ?? []);
    expect(rows.tahoe_raw).toHaveLength(1);
    expect(rows.tahoe_instance.some((r) => r.itype === 'event' && r.sub_type === 'email')).toBe(true);
  });

  test('an empty object is processed with no records and no output', async () => {
    const { req } = await putRaw(world, Buffer.alloc(0));
    const item = processed(await processObject(req, world.deps()));
    expect(item.counts).toMatchObject({ recordsIn: 0, raws: 0, quarantined: 0 });
    expect(item.outputs).toEqual({ curated: [] });
  });
});

describe('determinism and duplicates', () => {
  test('the same stored bytes processed twice from scratch give identical outputs, byte for byte', async () => {
    const other = makeWorld({ rowsPerPart: 4 });
    try {
      const { stored, req } = await putRaw(world, MIXED, { envelope: 'esdk', gzip: true });
      // The second world stores the very same bytes under the same key (a redrive after the ledger was lost).
      await other.store.putIfAbsent(RAW, req.ref.key, stored);
      await processObject(req, world.deps({ owner: 'first' }));
      await processObject(req, other.deps({ owner: 'second' }));
      for (const bucket of [CURATED, QUARANTINE]) {
        const a = await snapshot(world.store, bucket);
        expect(a.size).toBeGreaterThan(0);
        expect(await snapshot(other.store, bucket)).toEqual(a);
      }
    } finally {
      other.cleanup();
    }
  });

  test('a second delivery of a finished object is a no-op that re-announces it', async () => {
    const { req } = await putRaw(world, MIXED);
    const first = processed(await processObject(req, world.deps()));
    const before = await snapshot(world.store, CURATED);
    world.clock.advance(60_000);

    const again = await processObject(req, world.deps({ owner: 'worker-b' }));
    expect(again.status).toBe('duplicate');
    expect(processed(again)).toEqual(first);
    expect(await snapshot(world.store, CURATED)).toEqual(before);
    // Events are at-least-once: the repeat is identical, so consumers de-duplicate it trivially.
    expect(world.events.events).toHaveLength(2);
    expect(world.events.events[1]).toEqual(world.events.events[0]);
  });

  test('an object another worker holds is busy, and is not read', async () => {
    const { req } = await putRaw(world, MIXED);
    await world.ledger.begin(req.ref, {
      owner: 'someone-else',
      now: world.clock.read(),
      leaseMs: 30_000,
      meta: { tenant: TENANT, typetag: 'cowrie', size: 1, receivedAt: world.clock.read() },
    });
    const get = jest.spyOn(world.store, 'get');
    const outcome = await processObject(req, world.deps());
    expect(outcome).toEqual({ status: 'busy', leaseExpiresAt: new Date('2026-11-22T10:00:30.000Z') });
    expect(get).not.toHaveBeenCalled();
  });

  test('a tiny de-duplication bound repeats rows but loses none', async () => {
    const lines = golden.filter((g) => g.outcome === 'SUCCESS').map((g) => g.input);
    const big = makeWorld({ rowsPerPart: 50 });
    try {
      const { req } = await putRaw(world, text(lines));
      const { req: req2 } = await putRaw(big, text(lines));
      const tiny = processed(
        await processObject(req, world.deps({ limits: { ...world.deps().limits, dedupeKeys: 1 } })),
      );
      const normal = processed(await processObject(req2, big.deps()));
      const a = await readRows(world.store, CURATED, tiny.outputs?.curated ?? []);
      const b = await readRows(big.store, CURATED, normal.outputs?.curated ?? []);
      expect(a.tahoe_instance.length).toBeGreaterThan(b.tahoe_instance.length);
      const hashes = (rows: Record<string, unknown>[]) => new Set(rows.map((r) => r._hash));
      expect(hashes(a.tahoe_instance)).toEqual(hashes(b.tahoe_instance));
      const edgeKeys = (rows: Record<string, unknown>[]) =>
        new Set(rows.map((e) => `${e.parent_hash} ${e.relation} ${e.child_hash}`));
      expect(edgeKeys(a.tahoe_edge)).toEqual(edgeKeys(b.tahoe_edge));
      expect(a.tahoe_raw).toEqual(b.tahoe_raw);
    } finally {
      big.cleanup();
    }
  });
});

describe('objects refused as a whole', () => {
  const cases: [string, Parameters<typeof makeWorld>[0], { typetag?: string; envelope?: 'none' | 'cybexp' }, RegExp][] =
    [
      ['an unknown tenant', { tenants: [] }, {}, /^tenant acme is not registered$/],
      ['a typetag the deployment does not route', {}, { typetag: 'syslog' }, /not enabled in this deployment/],
      [
        'a typetag the tenant may not upload',
        { tenants: [tenantSettings({ typetags: ['sighting'] })] },
        {},
        /^typetag cowrie is not allowed for tenant acme$/,
      ],
      [
        'an envelope the tenant’s policy refuses',
        { tenants: [tenantSettings({ envelope: 'esdk' })] },
        { envelope: 'cybexp' },
        /accepts only esdk envelopes, not cybexp/,
      ],
    ];

  test.each(cases)('records %s as NOT_SUPPORTED without reading it, and keeps the file', async (_, w, raw, reason) => {
    const local = makeWorld(w);
    try {
      const { req } = await putRaw(local, text([ok1.input]), raw);
      const get = jest.spyOn(local.store, 'get');
      const outcome = await processObject(req, local.deps());

      expect(outcome.status).toBe('quarantined');
      const item = processed(outcome);
      expect(item).toMatchObject({ status: 'QUARANTINED', outcome: 'NOT_SUPPORTED', outputs: { curated: [] } });
      expect(item.reason).toMatch(reason);
      expect(item.counts?.recordsIn).toBe(0);
      expect(get).not.toHaveBeenCalled();
      expect(await listKeys(local.store, CURATED)).toEqual([]);
      expect(await local.store.head(RAW, req.ref.key)).toBeDefined();
      // Nothing is retried: the next delivery finds it finished.
      expect((await processObject(req, local.deps({ owner: 'worker-b' }))).status).toBe('duplicate');
      expect(local.events.events.map((e) => e.status)).toEqual(['QUARANTINED', 'QUARANTINED']);
    } finally {
      local.cleanup();
    }
  });

  test('a key that is not a raw object key is a PermanentError and leaves no ledger item', async () => {
    const ref = { bucket: RAW, key: 'raw/tenant=acme/not-a-raw-key.txt', versionId: 'null' };
    const error = await processObject({ ref }, world.deps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ outcome: 'NOT_SUPPORTED' });
    expect(await world.ledger.get(ref)).toBeUndefined();
  });

  test('records an invalid timezone in the object metadata as BAD_DATA', async () => {
    const { req } = await putRaw(world, text([ok1.input]), { timezone: 'Mars/Olympus_Mons' });
    const item = processed(await processObject(req, world.deps()));
    expect(item).toMatchObject({ status: 'QUARANTINED', outcome: 'BAD_DATA' });
    expect(item.reason).toMatch(/timezone "Mars\/Olympus_Mons" is not an IANA time zone/);
    expect(await listKeys(world.store, CURATED)).toEqual([]);
  });

  test('uses UTC when the object carries no timezone', async () => {
    const { req } = await putRaw(world, text([ok1.input]));
    const item = processed(await processObject(req, world.deps()));
    const rows = await readRows(world.store, CURATED, item.outputs?.curated ?? []);
    expect(rows.tahoe_raw.map((r) => r.timezone)).toEqual(['UTC']);
  });

  test('takes the receipt time from the object when the notification has none', async () => {
    const at = new Date('2026-11-22T10:00:00.000Z');
    const key = rawKey({
      tenant: TENANT,
      typetag: 'cowrie',
      receivedAt: at,
      uploadId: testUlid(at, 9),
      envelope: 'none',
      gzip: false,
    });
    await world.store.putIfAbsent(RAW, key, text([ok1.input]));
    const stat = await world.store.head(RAW, key);
    const item = processed(await processObject({ ref: { bucket: RAW, key, versionId: 'null' } }, world.deps()));
    expect(item.receivedAt).toEqual(stat?.lastModified);
    expect(item.size).toBe(stat?.size);
  });
});
