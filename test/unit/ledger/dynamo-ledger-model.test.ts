/**
 * Model-based check that the DynamoDB adapter's condition and update expressions say exactly what the pure
 * transitions say: random sequences of ledger calls go to the adapter (over the expression evaluator) and to the
 * in-memory twin (which applies transitions.ts directly); every answer, every error and every stored item must
 * match.
 */
import fc from 'fast-check';
import { DynamoLedger } from '../../../lambdas/adapters/dynamo-ledger';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { exhaustedResult, type Ledger, type ProcessingResult } from '../../../lambdas/ledger';
import { ledgerTable } from './dynamo-evaluator';
import { BATCH_A, BATCH_B, COUNTS, LOAD_A, LOAD_B, meta, outputsFor, ref, refused, sha, success, T0 } from './fixtures';

const LEASE = 60_000;
const SHAS = [sha('a'), sha('b')];
const TENANTS = ['acme', 'globex'];

const refIndex = fc.integer({ min: 0, max: 2 });
const owner = fc.constantFrom('w1', 'w2', 'w3');
// Steps that land exactly on lease expiries often, so the `<=` of the takeover condition is exercised.
const dt = fc.oneof(fc.constantFrom(0, 30_000, 60_000), fc.integer({ min: 0, max: 90_000 }));

const op = fc.oneof(
  fc.record({
    type: fc.constant('receive' as const),
    r: refIndex,
    tenant: fc.nat(1),
    sha: fc.option(fc.nat(1)),
    dt,
  }),
  fc.record({
    type: fc.constant('begin' as const),
    r: refIndex,
    owner,
    tenant: fc.nat(1),
    size: fc.nat(5),
    sha: fc.option(fc.nat(1)),
    maxAttempts: fc.integer({ min: 1, max: 3 }),
    dt,
  }),
  fc.record({ type: fc.constant('heartbeat' as const), r: refIndex, owner, dt }),
  fc.record({
    type: fc.constant('complete' as const),
    r: refIndex,
    owner,
    result: fc.constantFrom('success', 'otherSha', 'otherTenant', 'badData', 'exhausted', 'badCounts'),
    dt,
  }),
  fc.record({ type: fc.constant('markLoaded' as const), rs: fc.subarray([0, 1, 2, 0]), load: fc.nat(1), dt }),
  fc.record({ type: fc.constant('markNotarised' as const), r: refIndex, batch: fc.nat(1), dt }),
  fc.record({ type: fc.constant('get' as const), r: refIndex }),
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function resultOf(kind: string): ProcessingResult {
  const h = SHAS[0] as string;
  switch (kind) {
    case 'otherSha':
      return success(SHAS[1] as string);
    case 'otherTenant':
      return success(h, { outputs: outputsFor(h, 'globex') });
    case 'badData':
      return refused('BAD_DATA', 'not a gzip stream');
    case 'exhausted':
      return exhaustedResult(2);
    case 'badCounts':
      return success(h, { counts: { ...COUNTS, recordsIn: 11 } });
    default:
      return success(h);
  }
}

async function apply(ledger: Ledger, o: Op, now: Date): Promise<unknown> {
  switch (o.type) {
    case 'receive':
      return ledger.receive(
        ref(o.r),
        meta({ tenant: TENANTS[o.tenant], sha256: o.sha === null ? undefined : SHAS[o.sha] }),
        now,
      );
    case 'begin':
      return ledger.begin(ref(o.r), {
        owner: o.owner,
        now,
        leaseMs: LEASE,
        maxAttempts: o.maxAttempts,
        meta: meta({ tenant: TENANTS[o.tenant], size: o.size, sha256: o.sha === null ? undefined : SHAS[o.sha] }),
      });
    case 'heartbeat':
      return ledger.heartbeat(ref(o.r), o.owner, now, LEASE);
    case 'complete':
      return ledger.complete(ref(o.r), o.owner, resultOf(o.result), now);
    case 'markLoaded':
      return ledger.markLoaded(
        o.rs.map((i) => ref(i)),
        o.load ? LOAD_B : LOAD_A,
        now,
      );
    case 'markNotarised':
      return ledger.markNotarised(ref(o.r), o.batch ? BATCH_B : BATCH_A, now);
    case 'get':
      return ledger.get(ref(o.r));
  }
}

async function outcome(ledger: Ledger, o: Op, now: Date): Promise<unknown> {
  try {
    return { ok: await apply(ledger, o, now) };
  } catch (err) {
    return { error: (err as Error).name, message: (err as Error).message };
  }
}

describe('DynamoDB adapter against the pure transitions', () => {
  it('answers every sequence of calls exactly as the twin does and stores the same items', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const dynamo = new DynamoLedger(ledgerTable().wireClient(), { tableName: 'ledger' });
        const twin = LocalLedger.inMemory();
        let now = T0.getTime();
        for (const o of ops) {
          now += 'dt' in o ? o.dt : 0;
          const [a, b] = [await outcome(dynamo, o, new Date(now)), await outcome(twin, o, new Date(now))];
          expect({ op: o, answer: a }).toEqual({ op: o, answer: b });
        }
        for (const i of [0, 1, 2]) expect(await dynamo.get(ref(i))).toEqual(await twin.get(ref(i)));
        for (const tenant of TENANTS) {
          expect((await dynamo.listByTenant(tenant, { limit: 1000 })).items).toEqual(
            (await twin.listByTenant(tenant, { limit: 1000 })).items,
          );
          for (const h of SHAS)
            expect(await dynamo.findBySha256(tenant, h)).toEqual(await twin.findBySha256(tenant, h));
        }
      }),
      { numRuns: 200 },
    );
  });
});
