/**
 * The behaviour every `Ledger` must have, run against each implementation (in-memory twin, file twin, and the
 * DynamoDB adapter over an expression evaluator). The clock is whatever each call says: nothing here waits.
 */
import {
  exhaustedResult,
  InvalidCursorError,
  LeaseLostError,
  type Ledger,
  LedgerInvariantError,
} from '../../../lambdas/ledger';
import {
  at,
  BATCH_A,
  BATCH_B,
  COUNTS,
  LEASE_MS,
  LOAD_A,
  LOAD_B,
  meta,
  outputsFor,
  ref,
  refused,
  sha,
  success,
  T0,
} from './fixtures';

export interface LedgerUnderTest {
  readonly ledger: Ledger;
  readonly close?: () => Promise<void>;
}

export function ledgerContract(name: string, open: () => Promise<LedgerUnderTest>): void {
  describe(`Ledger contract: ${name}`, () => {
    let ledger: Ledger;
    let close: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ ledger, close } = await open());
    });
    afterEach(async () => {
      await close?.();
    });

    const H = sha('object one');
    const begin = (n: number, owner: string, ms: number, extra: { maxAttempts?: number; sha256?: string } = {}) =>
      ledger.begin(ref(n), {
        owner,
        now: at(ms),
        leaseMs: LEASE_MS,
        meta: meta(extra.sha256 ? { sha256: extra.sha256 } : {}),
        maxAttempts: extra.maxAttempts,
      });

    describe('begin', () => {
      it('acquires a new object as attempt 1 and records what is known of it', async () => {
        const r = await begin(1, 'w1', 0, { sha256: H });
        expect(r).toEqual({ kind: 'acquired', attempt: 1, takenOver: false, leaseExpiresAt: at(LEASE_MS) });
        expect(await ledger.get(ref(1))).toEqual({
          ref: ref(1),
          status: 'PROCESSING',
          tenant: 'acme',
          typetag: 'cowrie',
          size: 1234,
          receivedAt: T0,
          sha256: H,
          attempts: 1,
          owner: 'w1',
          leaseExpiresAt: at(LEASE_MS),
          createdAt: T0,
          updatedAt: T0,
          startedAt: T0,
        });
      });

      it('acquires a RECEIVED object, and receive does not disturb an object already known', async () => {
        const received = await ledger.receive(ref(1), meta(), at(-5000));
        expect(received.kind).toBe('created');
        expect(received.item).toMatchObject({ status: 'RECEIVED', attempts: 0, createdAt: at(-5000) });
        expect(await begin(1, 'w1', 0)).toMatchObject({ kind: 'acquired', attempt: 1, takenOver: false });
        const again = await ledger.receive(ref(1), meta(), at(1000));
        expect(again).toMatchObject({ kind: 'exists', item: { status: 'PROCESSING', owner: 'w1' } });
        expect(await ledger.get(ref(1))).toMatchObject({ createdAt: at(-5000), startedAt: T0 });
      });

      it('keeps what was recorded on arrival when a later begin says otherwise', async () => {
        await ledger.receive(ref(1), meta({ size: 10, sha256: H }), T0);
        await ledger.begin(ref(1), {
          owner: 'w1',
          now: at(1),
          leaseMs: LEASE_MS,
          meta: meta({ tenant: 'globex', typetag: 'email', size: 99, receivedAt: at(5), sha256: sha('other') }),
        });
        expect(await ledger.get(ref(1))).toMatchObject({
          tenant: 'acme',
          typetag: 'cowrie',
          size: 10,
          receivedAt: T0,
          sha256: H,
          createdAt: T0,
          startedAt: at(1),
        });
      });

      it('treats a duplicate notification of a finished object as a no-op', async () => {
        await begin(1, 'w1', 0);
        const done = await ledger.complete(ref(1), 'w1', success(H), at(1000));
        const dup = await begin(1, 'w2', 2000);
        expect(dup).toEqual({ kind: 'finished', item: done });
        expect(await ledger.get(ref(1))).toEqual(done);
      });

      it('answers busy with the holder’s lease expiry while a lease is live', async () => {
        await begin(1, 'w1', 0);
        expect(await begin(1, 'w2', LEASE_MS - 1)).toEqual({
          kind: 'busy',
          leaseExpiresAt: at(LEASE_MS),
          attempt: 1,
        });
        expect(await ledger.get(ref(1))).toMatchObject({ owner: 'w1', attempts: 1 });
      });

      it('lets exactly one of several concurrent begins acquire', async () => {
        const owners = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'];
        const results = await Promise.all(owners.map((o) => begin(1, o, 0)));
        const acquired = results.filter((r) => r.kind === 'acquired');
        expect(acquired).toHaveLength(1);
        expect(results.filter((r) => r.kind === 'busy')).toHaveLength(owners.length - 1);
        const winner = owners[results.findIndex((r) => r.kind === 'acquired')];
        expect(await ledger.get(ref(1))).toMatchObject({ owner: winner, attempts: 1 });
      });

      it('answers acquired again, without counting an attempt, when the holder repeats its begin', async () => {
        await begin(1, 'w1', 0);
        expect(await begin(1, 'w1', 10)).toEqual({
          kind: 'acquired',
          attempt: 1,
          takenOver: false,
          leaseExpiresAt: at(LEASE_MS),
        });
        expect(await ledger.get(ref(1))).toMatchObject({ attempts: 1, updatedAt: T0 });
      });
    });

    describe('leases', () => {
      it('hands a crashed worker’s object to the next worker once the lease expires, and refuses the old owner’s result', async () => {
        await begin(1, 'w1', 0);
        const takeover = await begin(1, 'w2', LEASE_MS);
        expect(takeover).toEqual({ kind: 'acquired', attempt: 2, takenOver: true, leaseExpiresAt: at(2 * LEASE_MS) });
        const before = await ledger.get(ref(1));

        const stale = ledger.complete(ref(1), 'w1', success(H), at(LEASE_MS + 1));
        await expect(stale).rejects.toBeInstanceOf(LeaseLostError);
        await expect(stale).rejects.toMatchObject({ current: { owner: 'w2', status: 'PROCESSING' } });
        expect(await ledger.heartbeat(ref(1), 'w1', at(LEASE_MS + 2), LEASE_MS)).toMatchObject({ kind: 'lost' });
        expect(await ledger.get(ref(1))).toEqual(before);

        const done = await ledger.complete(ref(1), 'w2', success(H), at(LEASE_MS + 3));
        expect(done).toMatchObject({ status: 'PROCESSED', owner: 'w2', attempts: 2 });
      });

      it('extends a lease on heartbeat so that the object is not taken over', async () => {
        await begin(1, 'w1', 0);
        const hb = await ledger.heartbeat(ref(1), 'w1', at(50_000), LEASE_MS);
        expect(hb).toEqual({ kind: 'extended', leaseExpiresAt: at(50_000 + LEASE_MS) });
        expect(await begin(1, 'w2', LEASE_MS + 1)).toMatchObject({
          kind: 'busy',
          leaseExpiresAt: at(50_000 + LEASE_MS),
        });
        expect(await ledger.get(ref(1))).toMatchObject({
          leaseExpiresAt: at(50_000 + LEASE_MS),
          updatedAt: at(50_000),
        });
      });

      it('does not extend a lease the caller does not hold, nor one of an unknown or finished object', async () => {
        expect(await ledger.heartbeat(ref(9), 'w1', T0, LEASE_MS)).toEqual({ kind: 'lost' });
        await begin(1, 'w1', 0);
        expect(await ledger.heartbeat(ref(1), 'w2', at(1), LEASE_MS)).toMatchObject({
          kind: 'lost',
          item: { owner: 'w1' },
        });
        await ledger.complete(ref(1), 'w1', success(H), at(2));
        expect(await ledger.heartbeat(ref(1), 'w1', at(3), LEASE_MS)).toMatchObject({
          kind: 'lost',
          item: { status: 'PROCESSED' },
        });
      });

      it('lets a holder whose lease ran out finish while nobody took the object over', async () => {
        await begin(1, 'w1', 0);
        const done = await ledger.complete(ref(1), 'w1', success(H), at(LEASE_MS * 3));
        expect(done).toMatchObject({ status: 'PROCESSED', owner: 'w1' });
      });

      it('answers exhausted past maxAttempts, still granting the lease so that one worker records the ERROR', async () => {
        await begin(1, 'w1', 0, { maxAttempts: 2 });
        await begin(1, 'w2', LEASE_MS, { maxAttempts: 2 });
        const third = await begin(1, 'w3', 2 * LEASE_MS, { maxAttempts: 2 });
        expect(third).toEqual({ kind: 'exhausted', attempt: 3, maxAttempts: 2, leaseExpiresAt: at(3 * LEASE_MS) });
        expect(await begin(1, 'w4', 2 * LEASE_MS + 1, { maxAttempts: 2 })).toMatchObject({ kind: 'busy' });

        const failed = await ledger.complete(ref(1), 'w3', exhaustedResult(2, 'timed out'), at(2 * LEASE_MS + 2));
        expect(failed).toMatchObject({
          status: 'QUARANTINED',
          outcome: 'ERROR',
          reason: 'gave up after 2 attempts; last error: timed out',
          attempts: 3,
        });
        expect(await begin(1, 'w5', 10 * LEASE_MS, { maxAttempts: 2 })).toMatchObject({ kind: 'finished' });
      });
    });

    describe('complete', () => {
      it('records a processed object with its outcome, counts, hash and outputs, and ends the lease', async () => {
        await begin(1, 'w1', 0);
        const done = await ledger.complete(ref(1), 'w1', success(H), at(5000));
        const expected = {
          ref: ref(1),
          status: 'PROCESSED',
          tenant: 'acme',
          typetag: 'cowrie',
          size: 1234,
          receivedAt: T0,
          sha256: H,
          attempts: 1,
          owner: 'w1',
          outcome: 'SUCCESS',
          counts: COUNTS,
          outputs: outputsFor(H),
          createdAt: T0,
          updatedAt: at(5000),
          startedAt: T0,
          finishedAt: at(5000),
        };
        expect(done).toEqual(expected);
        expect(await ledger.get(ref(1))).toEqual(expected);
      });

      it('quarantines an object refused at file level, with the reason', async () => {
        await begin(1, 'w1', 0);
        const done = await ledger.complete(ref(1), 'w1', refused('BAD_DATA', 'not an ESDK message'), at(1));
        expect(done).toMatchObject({ status: 'QUARANTINED', outcome: 'BAD_DATA', reason: 'not an ESDK message' });
        expect(done.sha256).toBeUndefined();
      });

      it('refuses counts that do not add up to records_in and leaves the item as it was', async () => {
        await begin(1, 'w1', 0);
        const before = await ledger.get(ref(1));
        const bad = success(H, { counts: { ...COUNTS, success: COUNTS.success + 1 } });
        const err = await ledger.complete(ref(1), 'w1', bad, at(1)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LedgerInvariantError);
        expect((err as LedgerInvariantError).message).toMatch(/add up to 11 .* not recordsIn 10/);
        expect(await ledger.get(ref(1))).toEqual(before);
      });

      it('refuses outputs of another tenant than the object’s', async () => {
        await begin(1, 'w1', 0);
        const wrong = success(H, { outputs: outputsFor(H, 'other-tenant') });
        await expect(ledger.complete(ref(1), 'w1', wrong, at(1))).rejects.toThrow(
          /tenant other-tenant, the object to acme/,
        );
        expect(await ledger.get(ref(1))).toMatchObject({ status: 'PROCESSING' });
      });

      it('refuses a hash that differs from the one recorded on arrival', async () => {
        await begin(1, 'w1', 0, { sha256: H });
        const other = sha('other bytes');
        await expect(ledger.complete(ref(1), 'w1', success(other), at(1))).rejects.toBeInstanceOf(LedgerInvariantError);
        expect(await ledger.get(ref(1))).toMatchObject({ status: 'PROCESSING', sha256: H });
      });

      it('returns the stored item when the holder repeats its completion, and changes nothing', async () => {
        await begin(1, 'w1', 0);
        const done = await ledger.complete(ref(1), 'w1', success(H), at(1));
        expect(await ledger.complete(ref(1), 'w1', success(H), at(2))).toEqual(done);
        expect(await ledger.get(ref(1))).toEqual(done);
      });

      it('refuses a completion of an object never begun, or finished by another worker', async () => {
        await expect(ledger.complete(ref(7), 'w1', success(H), T0)).rejects.toBeInstanceOf(LeaseLostError);
        expect(await ledger.get(ref(7))).toBeUndefined();
        await ledger.receive(ref(8), meta(), T0);
        await expect(ledger.complete(ref(8), 'w1', success(H), T0)).rejects.toBeInstanceOf(LeaseLostError);
        await begin(1, 'w1', 0);
        await begin(1, 'w2', LEASE_MS);
        await ledger.complete(ref(1), 'w2', success(H), at(LEASE_MS + 1));
        await expect(ledger.complete(ref(1), 'w1', success(H), at(LEASE_MS + 2))).rejects.toBeInstanceOf(
          LeaseLostError,
        );
      });
    });

    describe('markLoaded', () => {
      it('moves finished objects to LOADED once, and repeating it changes nothing', async () => {
        await begin(1, 'w1', 0);
        await ledger.complete(ref(1), 'w1', success(H), at(1));
        await begin(2, 'w1', 0);
        await ledger.complete(ref(2), 'w1', refused('NOT_SUPPORTED', 'typetag retired'), at(1));

        const first = await ledger.markLoaded([ref(1), ref(2), ref(1)], LOAD_A, at(10));
        expect(first).toEqual({ marked: [ref(1), ref(2)], alreadyLoaded: [], refused: [] });
        const loaded = await ledger.get(ref(1));
        expect(loaded).toMatchObject({ status: 'LOADED', loadId: LOAD_A, loadedAt: at(10), outcome: 'SUCCESS' });
        expect(await ledger.get(ref(2))).toMatchObject({ status: 'LOADED', outcome: 'NOT_SUPPORTED' });

        const again = await ledger.markLoaded([ref(1), ref(2)], LOAD_A, at(20));
        expect(again).toEqual({ marked: [], alreadyLoaded: [ref(1), ref(2)], refused: [] });
        expect(await ledger.get(ref(1))).toEqual(loaded);
        expect(await begin(1, 'w9', 100 * LEASE_MS)).toMatchObject({ kind: 'finished', item: { status: 'LOADED' } });
      });

      it('refuses objects that are unknown, unfinished, or loaded by another load', async () => {
        await begin(1, 'w1', 0);
        await ledger.complete(ref(1), 'w1', success(H), at(1));
        await ledger.markLoaded([ref(1)], LOAD_A, at(2));
        await begin(2, 'w1', 0);
        const r = await ledger.markLoaded([ref(1), ref(2), ref(3)], LOAD_B, at(3));
        expect(r).toEqual({
          marked: [],
          alreadyLoaded: [],
          refused: [
            { ref: ref(1), reason: 'other_load', status: 'LOADED', loadId: LOAD_A },
            { ref: ref(2), reason: 'not_finished', status: 'PROCESSING', loadId: undefined },
            { ref: ref(3), reason: 'missing', status: undefined, loadId: undefined },
          ],
        });
        expect(await ledger.get(ref(1))).toMatchObject({ loadId: LOAD_A });
        expect(await ledger.get(ref(2))).toMatchObject({ status: 'PROCESSING' });
      });

      it('refuses a load id that is not a ULID', async () => {
        await expect(ledger.markLoaded([ref(1)], 'load-1', T0)).rejects.toBeInstanceOf(LedgerInvariantError);
      });
    });

    describe('markNotarised', () => {
      it('sets the NOTARISED flag once; the first batch stands', async () => {
        await begin(1, 'w1', 0);
        await ledger.complete(ref(1), 'w1', success(H), at(1));
        expect(await ledger.markNotarised(ref(1), BATCH_A, at(2))).toEqual({ kind: 'notarised' });
        expect(await ledger.get(ref(1))).toMatchObject({
          proofBatch: BATCH_A,
          notarisedAt: at(2),
          status: 'PROCESSED',
        });
        expect(await ledger.markNotarised(ref(1), BATCH_A, at(3))).toEqual({ kind: 'already' });
        expect(await ledger.markNotarised(ref(1), BATCH_B, at(4))).toEqual({ kind: 'conflict', proofBatch: BATCH_A });
        expect(await ledger.get(ref(1))).toMatchObject({ proofBatch: BATCH_A, notarisedAt: at(2) });
      });

      it('notarises nothing for an unknown object or one whose hash is not recorded yet', async () => {
        expect(await ledger.markNotarised(ref(5), BATCH_A, T0)).toEqual({ kind: 'missing' });
        await begin(1, 'w1', 0);
        expect(await ledger.markNotarised(ref(1), BATCH_A, at(1))).toEqual({ kind: 'unhashed' });
        await begin(2, 'w1', 0, { sha256: H });
        expect(await ledger.markNotarised(ref(2), BATCH_A, at(1))).toEqual({ kind: 'notarised' });
      });
    });

    describe('queries', () => {
      it('finds a tenant’s objects by content hash, never another tenant’s', async () => {
        await ledger.receive(ref(1), meta({ sha256: H }), T0);
        await ledger.receive(ref(2), meta({ sha256: H, receivedAt: at(-1000) }), T0);
        await ledger.receive(ref(3), meta({ sha256: H, tenant: 'globex' }), T0);
        await ledger.receive(ref(4), meta({ sha256: sha('x') }), T0);
        await ledger.receive(ref(5), meta(), T0);
        const found = await ledger.findBySha256('acme', H);
        expect(found.map((i) => i.ref)).toEqual([ref(2), ref(1)]);
        expect((await ledger.findBySha256('globex', H)).map((i) => i.ref)).toEqual([ref(3)]);
        expect(await ledger.findBySha256('initech', H)).toEqual([]);
      });

      it('lists a tenant’s objects by arrival, from inclusive to exclusive, a page at a time', async () => {
        for (let n = 1; n <= 7; n++) await ledger.receive(ref(n), meta({ receivedAt: at(n * 1000) }), T0);
        await ledger.receive(ref(20), meta({ tenant: 'globex', receivedAt: at(3000) }), T0);

        const seen: number[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await ledger.listByTenant('acme', { from: at(2000), to: at(7000), limit: 2, cursor });
          expect(page.items.length).toBeLessThanOrEqual(2);
          seen.push(...page.items.map((i) => i.receivedAt.getTime() - T0.getTime()));
          cursor = page.cursor;
          pages++;
        } while (cursor && pages < 10);
        expect(seen).toEqual([2000, 3000, 4000, 5000, 6000]);

        const all = await ledger.listByTenant('acme');
        expect(all.items.map((i) => i.ref.versionId)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7']);
        expect((await ledger.listByTenant('acme', { to: at(2000) })).items.map((i) => i.ref)).toEqual([ref(1)]);
        expect((await ledger.listByTenant('acme', { from: at(7000) })).items.map((i) => i.ref)).toEqual([ref(7)]);
        expect(await ledger.listByTenant('acme', { from: at(5000), to: at(5000) })).toEqual({ items: [] });
        expect((await ledger.listByTenant('globex')).items.map((i) => i.ref)).toEqual([ref(20)]);
      });

      it('refuses a cursor of another tenant or one it did not issue', async () => {
        for (let n = 1; n <= 3; n++) await ledger.receive(ref(n), meta({ receivedAt: at(n) }), T0);
        const page = await ledger.listByTenant('acme', { limit: 1 });
        expect(page.cursor).toBeDefined();
        await expect(ledger.listByTenant('globex', { cursor: page.cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(ledger.listByTenant('acme', { cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(
          InvalidCursorError,
        );
      });
    });

    describe('input checks', () => {
      it('refuses malformed references, owners, leases and metadata before writing anything', async () => {
        const cases: Promise<unknown>[] = [
          ledger.begin({ ...ref(1), bucket: 'a/b' }, { owner: 'w', now: T0, leaseMs: LEASE_MS, meta: meta() }),
          ledger.begin({ ...ref(1), versionId: '' }, { owner: 'w', now: T0, leaseMs: LEASE_MS, meta: meta() }),
          ledger.begin(ref(1), { owner: '', now: T0, leaseMs: LEASE_MS, meta: meta() }),
          ledger.begin(ref(1), { owner: 'w', now: T0, leaseMs: 0, meta: meta() }),
          ledger.begin(ref(1), { owner: 'w', now: new Date(Number.NaN), leaseMs: LEASE_MS, meta: meta() }),
          ledger.begin(ref(1), { owner: 'w', now: T0, leaseMs: LEASE_MS, meta: meta({ tenant: 'ACME' }) }),
          ledger.begin(ref(1), { owner: 'w', now: T0, leaseMs: LEASE_MS, meta: meta({ sha256: 'abc' }) }),
          ledger.begin(ref(1), { owner: 'w', now: T0, leaseMs: LEASE_MS, meta: meta(), maxAttempts: 0 }),
        ];
        for (const c of cases) await expect(c).rejects.toBeInstanceOf(LedgerInvariantError);
        expect(await ledger.get(ref(1))).toBeUndefined();
      });
    });
  });
}
