import fc from 'fast-check';
import { CorruptLedgerItemError, fromRecord, type LedgerItem, toRecord } from '../../../lambdas/ledger';
import { COUNTS, LOAD_A, outputsFor, ref, sha, T0 } from './fixtures';

const date = fc.date({
  min: new Date('1970-01-01T00:00:00Z'),
  max: new Date('9999-12-31T23:59:59.999Z'),
  noInvalidDate: true,
});

const item: fc.Arbitrary<LedgerItem> = fc
  .record({
    n: fc.nat(999),
    status: fc.constantFrom('RECEIVED', 'PROCESSING', 'PROCESSED', 'QUARANTINED', 'LOADED' as const),
    size: fc.nat(),
    receivedAt: date,
    createdAt: date,
    attempts: fc.nat(10),
    hashed: fc.boolean(),
    lease: date,
    notarised: fc.boolean(),
  })
  .map(({ n, status, size, receivedAt, createdAt, attempts, hashed, lease, notarised }) => {
    const h = sha(String(n));
    const finished = status !== 'RECEIVED' && status !== 'PROCESSING';
    return {
      ref: ref(n),
      status,
      tenant: 'acme',
      typetag: 'cowrie',
      size,
      receivedAt,
      ...(hashed ? { sha256: h } : {}),
      attempts,
      ...(status === 'PROCESSING' ? { owner: 'w1', leaseExpiresAt: lease } : {}),
      ...(finished
        ? { owner: 'w1', outcome: 'SUCCESS' as const, counts: COUNTS, outputs: outputsFor(h), finishedAt: createdAt }
        : {}),
      ...(status === 'LOADED' ? { loadId: LOAD_A, loadedAt: createdAt } : {}),
      ...(notarised ? { proofBatch: '20240501T1000Z-9f86d081884c7d65', notarisedAt: createdAt } : {}),
      createdAt,
      updatedAt: createdAt,
    } as LedgerItem;
  });

describe('ledger record codec', () => {
  it('reads back every item it stores', () => {
    fc.assert(fc.property(item, (i) => expect(fromRecord(toRecord(i))).toEqual(i)));
  });

  it('stores arrival times as ISO strings that sort as the times do (the tenant index relies on it)', () => {
    fc.assert(
      fc.property(date, date, (a, b) => {
        const [x, y] = [a.toISOString(), b.toISOString()];
        expect(Math.sign(x < y ? -1 : x > y ? 1 : 0)).toBe(Math.sign(a.getTime() - b.getTime()));
      }),
    );
  });

  it('stores counts under the warehouse’s column names', () => {
    const r = toRecord({
      ref: ref(1),
      status: 'PROCESSED',
      tenant: 'acme',
      typetag: 'cowrie',
      size: 1,
      receivedAt: T0,
      attempts: 1,
      counts: COUNTS,
      createdAt: T0,
      updatedAt: T0,
    });
    expect(r.counts).toEqual({
      records_in: 10,
      raws: 9,
      instances: 20,
      edges: 15,
      quarantined: 2,
      success: 7,
      success_invalid: 1,
      not_supported: 0,
      error: 1,
      bad_data: 1,
    });
    expect(r).toMatchObject({ pk: `raw-bucket/${ref(1).key}`, sk: 'v1', received_at: '2024-05-01T10:00:00.000Z' });
  });

  it.each<[string, (r: Record<string, unknown>) => void]>([
    ['an unknown status', (r) => Object.assign(r, { status: 'DONE' })],
    ['a missing tenant', (r) => delete r.tenant],
    ['a key that does not match bucket and key', (r) => Object.assign(r, { pk: 'other/key' })],
    ['a PROCESSING item without a lease', (r) => Object.assign(r, { status: 'PROCESSING' })],
    ['a time without milliseconds', (r) => Object.assign(r, { received_at: '2024-05-01T10:00:00Z' })],
  ])('refuses a stored item with %s', (_, damage) => {
    const r = toRecord({
      ref: ref(1),
      status: 'RECEIVED',
      tenant: 'acme',
      typetag: 'cowrie',
      size: 1,
      receivedAt: T0,
      attempts: 0,
      createdAt: T0,
      updatedAt: T0,
    });
    damage(r);
    expect(() => fromRecord(r)).toThrow(CorruptLedgerItemError);
  });
});
