import fc from 'fast-check';
import {
  assertResult,
  clampReason,
  countsViolations,
  LedgerInvariantError,
  MAX_REASON_LENGTH,
  type RecordCounts,
  resultViolations,
  ZERO_COUNTS,
} from '../../../lambdas/ledger';
import { tahoeKey } from '../../../lambdas/shared/s3-keys';
import { COUNTS, outputsFor, refused, sha, success } from './fixtures';

const H = sha('raw');

/** Counts of a consistent object: every record in one outcome, raws and quarantine following from them. */
const consistentCounts = fc
  .record({
    success: fc.nat(1000),
    successInvalid: fc.nat(1000),
    notSupported: fc.nat(1000),
    error: fc.nat(1000),
    badData: fc.nat(1000),
    instances: fc.nat(10_000),
    edges: fc.nat(10_000),
    errorRaws: fc.nat(1000),
  })
  .map(
    (c): RecordCounts => ({
      recordsIn: c.success + c.successInvalid + c.notSupported + c.error + c.badData,
      raws: c.success + c.successInvalid + Math.min(c.errorRaws, c.error),
      instances: c.instances,
      edges: c.edges,
      quarantined: c.notSupported + c.error + c.badData,
      success: c.success,
      successInvalid: c.successInvalid,
      notSupported: c.notSupported,
      error: c.error,
      badData: c.badData,
    }),
  );

describe('counts invariant', () => {
  it('accepts the counts of any object whose records each ended in one outcome', () => {
    fc.assert(fc.property(consistentCounts, (c) => expect(countsViolations(c)).toEqual([])));
  });

  it('refuses counts where any single figure is off by one', () => {
    const fields = [
      'recordsIn',
      'quarantined',
      'success',
      'successInvalid',
      'notSupported',
      'error',
      'badData',
    ] as const;
    fc.assert(
      fc.property(consistentCounts, fc.constantFrom(...fields), fc.constantFrom(1, -1), (c, field, delta) => {
        fc.pre(c[field] + delta >= 0);
        expect(countsViolations({ ...c, [field]: c[field] + delta }).length).toBeGreaterThan(0);
      }),
    );
  });

  it.each<[string, Partial<RecordCounts>, RegExp]>([
    ['records lost', { recordsIn: 11 }, /add up to 10 .* not recordsIn 11/],
    ['quarantine not matching the refused records', { quarantined: 1 }, /quarantined 1 differs from .* = 2/],
    ['a raw missing for a kept record', { raws: 7 }, /raws 7 outside \[.*\] = \[8, 9\]/],
    ['a raw for a record that could not become one', { raws: 10 }, /raws 10 outside/],
    ['a negative count', { edges: -1 }, /counts.edges must be a non-negative integer/],
    ['a fraction', { instances: 1.5 }, /counts.instances must be a non-negative integer/],
  ])('names the broken rule: %s', (_, change, message) => {
    expect(countsViolations({ ...COUNTS, ...change }).join('; ')).toMatch(message);
  });

  it('accepts an empty object', () => {
    expect(countsViolations(ZERO_COUNTS)).toEqual([]);
  });
});

describe('processing result checks', () => {
  it('accepts a full success and a file-level refusal', () => {
    expect(resultViolations(success(H))).toEqual([]);
    expect(resultViolations(refused('NOT_SUPPORTED', 'no filter for typetag'))).toEqual([]);
  });

  it.each<[string, ReturnType<typeof success>, RegExp]>([
    ['a success without the raw hash', success(H, { sha256: undefined }), /needs the sha256/],
    ['a refusal without a reason', { ...refused('BAD_DATA', 'x'), reason: ' ' }, /BAD_DATA needs a reason/],
    ['an unknown outcome', success(H, { outcome: 'MAYBE' as never }), /unknown outcome/],
    [
      'outputs of another raw object',
      success(H, { outputs: outputsFor(sha('other')) }),
      /belongs to another raw object/,
    ],
    [
      'outputs of two tenants',
      success(H, { outputs: { ...outputsFor(H), quarantine: outputsFor(H, 'globex').quarantine } }),
      /several tenants: acme, globex/,
    ],
    [
      'raws counted but no tahoe_raw file',
      success(H, { outputs: { ...outputsFor(H), curated: outputsFor(H).curated.slice(1) } }),
      /9 raws but no tahoe_raw output/,
    ],
    [
      'quarantined records but no quarantine file',
      success(H, { outputs: { curated: outputsFor(H).curated } }),
      /2 records quarantined but no quarantine file/,
    ],
    [
      'an output that is not a TAHOE key',
      success(H, { outputs: { ...outputsFor(H), curated: ['tahoe/../../etc/passwd'] } }),
      /not a TAHOE Parquet key/,
    ],
    [
      'the same output twice',
      success(H, {
        outputs: {
          ...outputsFor(H),
          curated: [
            ...outputsFor(H).curated,
            tahoeKey({ table: 'tahoe_raw', tenant: 'acme', dt: '2024-05-01', rawSha256: H, part: 0 }),
          ],
        },
      }),
      /listed twice/,
    ],
  ])('refuses %s', (_, result, message) => {
    expect(resultViolations(result).join('; ')).toMatch(message);
    expect(() => assertResult(result)).toThrow(LedgerInvariantError);
  });
});

describe('reasons', () => {
  it('keeps short reasons and cuts long ones without splitting a character', () => {
    expect(clampReason('bad gzip header')).toBe('bad gzip header');
    const long = clampReason('x'.repeat(MAX_REASON_LENGTH - 2) + '😀'.repeat(10)) as string;
    expect(long.length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
    expect(long.endsWith('…')).toBe(true);
    expect(Buffer.from(long, 'utf8').toString('utf8')).toBe(long);
  });
});
