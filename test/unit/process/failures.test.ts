/**
 * How the process core fails: objects that cannot be opened are recorded as BAD_DATA with nothing visible;
 * transient and configuration errors propagate with nothing visible and the lease left to expire; a later attempt
 * takes over and finishes with the same bytes; a lost lease stops a worker.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import type { ObjectBody } from '../../../lambdas/adapters/object-store';
import { sealCybexp } from '../../../lambdas/envelope/cybexp';
import { sealEnvelope } from '../../../lambdas/envelope/envelope';
import { cowrieLines } from '../../../lambdas/local/sample-logs';
import type { ProcessOutcome } from '../../../lambdas/process/ports';
import { processObject } from '../../../lambdas/process/process-object';
import { RowSink } from '../../../lambdas/process/row-sink';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';
import { CURATED, makeWorld, putRaw, QUARANTINE, TENANT, testKey, text, type World } from './helpers';
import { listKeys, snapshot } from './outputs';

const LINES = [...cowrieLines({ lines: 120, seed: 11, badShare: 0.05 })];
const PLAIN = text(LINES);

let world: World;
beforeEach(() => {
  world = makeWorld({ rowsPerPart: 16 });
});
afterEach(() => {
  jest.restoreAllMocks();
  world.cleanup();
});

function finished(outcome: ProcessOutcome) {
  if (!('item' in outcome)) throw new Error(`expected a finished object, got ${outcome.status}`);
  return outcome.item;
}

/** Nothing of the object reached the output buckets, and the work folder holds nothing of it. */
async function expectNothingVisible(w: World): Promise<void> {
  expect(await listKeys(w.store, CURATED)).toEqual([]);
  expect(await listKeys(w.store, QUARANTINE)).toEqual([]);
  let left: string[] = [];
  try {
    left = readdirSync(w.deps().workDir);
  } catch {
    left = [];
  }
  expect(left).toEqual([]);
}

/** Lets `script` replace the n-th call to `get` (1-based); other calls go to the real store. */
function scriptGet(w: World, script: (call: number, real: () => Promise<ObjectBody>) => Promise<ObjectBody>): void {
  const real = w.store.get.bind(w.store);
  let calls = 0;
  jest.spyOn(w.store, 'get').mockImplementation((bucket, key, options) => {
    calls++;
    return script(calls, () => real(bucket, key, options));
  });
}

async function esdk(plaintext: Buffer, context: Record<string, string>, frameLength = 1024): Promise<Buffer> {
  const key = testKey();
  return buffer(
    sealEnvelope('esdk', Readable.from([plaintext]), {
      keyArn: key.arn,
      publicKey: key.publicKey,
      context,
      frameLength,
    }),
  );
}

describe('objects that cannot be opened are BAD_DATA, with no Parquet visible', () => {
  const context = { tenant: TENANT, typetag: 'cowrie' };
  const cases: [
    string,
    () => Promise<{ stored: Buffer; envelope: 'esdk' | 'cybexp' | 'none'; gzip: boolean }>,
    RegExp,
  ][] = [
    [
      'an esdk message altered in its last frame (after earlier records were parsed and staged)',
      async () => {
        // Over 1 MiB, so that decryption (which reads ahead by 1 MiB) releases records before the last frame.
        const sealed = await esdk(Buffer.concat(Array.from({ length: 60 }, () => PLAIN)), context, 4096);
        sealed[sealed.length - 40] = (sealed[sealed.length - 40] ?? 0) ^ 0x01;
        return { stored: sealed, envelope: 'esdk', gzip: false };
      },
      /authentication failed/,
    ],
    [
      'an esdk message cut short',
      async () => ({ stored: (await esdk(PLAIN, context)).subarray(0, 20_000), envelope: 'esdk', gzip: false }),
      /truncated|Incomplete|final frame/i,
    ],
    [
      'an esdk message sealed for another tenant',
      async () => ({
        stored: await esdk(PLAIN, { tenant: 'other', typetag: 'cowrie' }),
        envelope: 'esdk',
        gzip: false,
      }),
      /context/i,
    ],
    [
      'a cybexp blob with a wrong tag',
      async () => {
        const sealed = sealCybexp(PLAIN, testKey().publicKey);
        sealed[300] = (sealed[300] ?? 0) ^ 0x80;
        return { stored: sealed, envelope: 'cybexp', gzip: false };
      },
      /cybexp/,
    ],
    [
      'gzip that is not gzip',
      async () => ({
        stored: Buffer.concat([gzipSync(PLAIN).subarray(0, 500), Buffer.alloc(64, 7)]),
        envelope: 'none',
        gzip: true,
      }),
      /gzip/,
    ],
  ];

  test.each(cases)('%s', async (_, make, reason) => {
    const { stored, envelope, gzip } = await make();
    const { req } = await putRaw(world, Buffer.alloc(0), { stored, envelope, gzip });
    const records = jest.spyOn(RowSink.prototype, 'record');
    const outcome = await processObject(req, world.deps());
    if (reason.source.includes('authentication')) {
      // The records before the altered frame went all the way to staged parts before the tag was found bad.
      expect(records.mock.calls.length).toBeGreaterThan(100);
    }

    expect(outcome.status).toBe('quarantined');
    const item = finished(outcome);
    expect(item).toMatchObject({ status: 'QUARANTINED', outcome: 'BAD_DATA', outputs: { curated: [] } });
    expect(item.reason).toMatch(reason);
    expect(item.counts?.recordsIn).toBe(0);
    // The stored bytes' hash is still recorded (evidence of what was received).
    expect(item.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    await expectNothingVisible(world);
    expect(world.events.events.map((e) => [e.status, e.outcome])).toEqual([['QUARANTINED', 'BAD_DATA']]);
  });

  test('an object whose bytes contradict the hash recorded on arrival', async () => {
    const { req } = await putRaw(world, PLAIN);
    const wrong = 'f'.repeat(64);
    await world.ledger.receive(
      req.ref,
      { tenant: TENANT, typetag: 'cowrie', size: PLAIN.length, receivedAt: world.clock.read(), sha256: wrong },
      world.clock.read(),
    );
    const item = finished(await processObject(req, world.deps()));
    expect(item).toMatchObject({ status: 'QUARANTINED', outcome: 'BAD_DATA', sha256: wrong });
    expect(item.reason).toMatch(/hash to [0-9a-f]{64}, not the f{64} recorded/);
    await expectNothingVisible(world);
  });
});

describe('transient and configuration errors propagate, and a later attempt finishes the object', () => {
  test('a failed read propagates as TransientError, leaving the lease to expire and nothing visible', async () => {
    const { req } = await putRaw(world, PLAIN, { envelope: 'esdk', gzip: true });
    scriptGet(world, async (call, real) => {
      if (call === 2) throw new TransientError('SlowDown (HTTP 503)');
      return real();
    });
    await expect(processObject(req, world.deps())).rejects.toThrow(TransientError);
    expect(await world.ledger.get(req.ref)).toMatchObject({ status: 'PROCESSING', owner: 'worker-a' });
    await expectNothingVisible(world);
    expect(world.events.events).toEqual([]);

    // The redelivery within the lease finds it busy; after the lease another worker takes over.
    jest.restoreAllMocks();
    expect((await processObject(req, world.deps({ owner: 'worker-b' }))).status).toBe('busy');
    world.clock.advance(60_001);
    const item = finished(await processObject(req, world.deps({ owner: 'worker-b' })));
    expect(item).toMatchObject({ status: 'PROCESSED', owner: 'worker-b', attempts: 2 });
  });

  test('a body that breaks half-way propagates its TransientError after records were staged', async () => {
    const { req, stored } = await putRaw(world, PLAIN);
    scriptGet(world, async (call, real) => {
      const object = await real();
      if (call !== 2) return object;
      object.body.destroy();
      const half = stored.subarray(0, stored.length >> 1);
      const body = new Readable({ read() {} });
      body.push(half);
      setImmediate(() => body.destroy(new TransientError('ECONNRESET while reading the body')));
      return { ...object, body };
    });
    await expect(processObject(req, world.deps())).rejects.toThrow(/ECONNRESET/);
    await expectNothingVisible(world);
  });

  test('an upload that fails half-way is finished by the next attempt with the same bytes', async () => {
    const { req } = await putRaw(world, PLAIN, { envelope: 'esdk', gzip: true });
    const real = world.store.putIfAbsent.bind(world.store);
    let puts = 0;
    jest.spyOn(world.store, 'putIfAbsent').mockImplementation(async (bucket, key, body, options) => {
      if (++puts === 3) throw new TransientError('InternalError (HTTP 500)');
      return real(bucket, key, body, options);
    });
    await expect(processObject(req, world.deps())).rejects.toThrow(TransientError);
    const partial = await snapshot(world.store, CURATED);
    expect(partial.size).toBeGreaterThan(0);

    jest.restoreAllMocks();
    world.clock.advance(60_001);
    const item = finished(await processObject(req, world.deps({ owner: 'worker-b' })));
    expect(item).toMatchObject({ status: 'PROCESSED', attempts: 2, owner: 'worker-b' });
    const all = await snapshot(world.store, CURATED);
    expect([...all.keys()].sort()).toEqual([...(item.outputs?.curated ?? [])].sort());
    // What the crashed attempt stored is exactly what the second attempt produced for those keys.
    for (const [key, bytes] of partial) expect(all.get(key)).toEqual(bytes);
  });

  test('a configuration error propagates and is not recorded as a verdict on the object', async () => {
    const { req } = await putRaw(world, PLAIN, { envelope: 'esdk' });
    await expect(processObject(req, world.deps({ allowedKeyArns: [] }))).rejects.toThrow(ConfigError);
    expect(await world.ledger.get(req.ref)).toMatchObject({ status: 'PROCESSING' });
    await expectNothingVisible(world);
  });

  test('after the last allowed attempt the object is recorded as ERROR', async () => {
    const { req } = await putRaw(world, PLAIN);
    const deps = world.deps({ limits: { ...world.deps().limits, maxAttempts: 1 } });
    scriptGet(world, async () => {
      throw new TransientError('RequestTimeout');
    });
    await expect(processObject(req, deps)).rejects.toThrow(TransientError);
    world.clock.advance(60_001);
    const outcome = await processObject(req, { ...deps, owner: 'worker-b' });
    expect(outcome.status).toBe('quarantined');
    expect(finished(outcome)).toMatchObject({ outcome: 'ERROR', reason: 'gave up after 1 attempts', attempts: 2 });
  });

  test('an attempt the caller aborts throws a TransientError and leaves nothing visible', async () => {
    const { req } = await putRaw(world, PLAIN);
    const abort = new AbortController();
    abort.abort();
    await expect(processObject({ ...req, signal: abort.signal }, world.deps())).rejects.toThrow(TransientError);
    await expectNothingVisible(world);
  });
});

describe('leases', () => {
  /** A `get` whose body delivers all but the last byte, then waits for `release()`. */
  function stallProcessingRead(w: World) {
    let release: () => void = () => {};
    let stalled: () => void = () => {};
    const isStalled = new Promise<void>((resolve) => {
      stalled = resolve;
    });
    scriptGet(w, async (call, real) => {
      const object = await real();
      if (call !== 2) return object;
      const bytes = Buffer.concat(await object.body.toArray());
      const body = new Readable({ read() {} });
      body.push(bytes.subarray(0, bytes.length - 1));
      release = () => {
        body.push(bytes.subarray(bytes.length - 1));
        body.push(null);
      };
      stalled();
      return { ...object, body };
    });
    return { isStalled, release: () => release() };
  }

  async function until(check: () => Promise<boolean>): Promise<void> {
    while (!(await check())) await new Promise((r) => setTimeout(r, 5));
  }

  test('heartbeats keep the lease of a worker reading a slow object', async () => {
    const { req } = await putRaw(world, PLAIN);
    const stall = stallProcessingRead(world);
    const deps = world.deps({ limits: { ...world.deps().limits, leaseMs: 90 } });
    const running = processObject(req, deps);
    await stall.isStalled;
    const first = (await world.ledger.get(req.ref))?.leaseExpiresAt?.getTime() ?? 0;
    world.clock.advance(60);
    await until(async () => ((await world.ledger.get(req.ref))?.leaseExpiresAt?.getTime() ?? 0) > first);
    // Past the first lease's end, yet still held.
    world.clock.advance(60);
    await until(async () => ((await world.ledger.get(req.ref))?.leaseExpiresAt?.getTime() ?? 0) > first + 60);
    const other = await processObject(req, world.deps({ owner: 'worker-b' }));
    expect(other.status).toBe('busy');
    stall.release();
    expect(finished(await running)).toMatchObject({ status: 'PROCESSED', owner: 'worker-a', attempts: 1 });
  });

  test('a worker whose lease was taken over stops, discards its work and publishes nothing', async () => {
    const { req } = await putRaw(world, PLAIN);
    const stall = stallProcessingRead(world);
    const running = processObject(req, world.deps({ limits: { ...world.deps().limits, leaseMs: 90 } }));
    await stall.isStalled;
    world.clock.advance(1000);
    const taken = await world.ledger.begin(req.ref, {
      owner: 'worker-b',
      now: world.clock.read(),
      leaseMs: 60_000,
      meta: { tenant: TENANT, typetag: 'cowrie', size: 1, receivedAt: world.clock.read() },
    });
    expect(taken).toMatchObject({ kind: 'acquired', takenOver: true });

    const outcome = await running;
    expect(outcome).toEqual({ status: 'busy', leaseExpiresAt: new Date(world.clock.now.getTime() + 60_000) });
    await expectNothingVisible(world);
    expect(world.events.events).toEqual([]);
  });
});
