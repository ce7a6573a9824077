import { createHash } from 'node:crypto';
import type { ObjectMeta, ObjectRef, ProcessingResult, RecordCounts } from '../../../lambdas/ledger';
import { quarantineKey, tahoeKey } from '../../../lambdas/shared/s3-keys';

export const T0 = new Date('2024-05-01T10:00:00.000Z');
export const LEASE_MS = 60_000;

export const at = (ms: number) => new Date(T0.getTime() + ms);

export const sha = (label: string) => createHash('sha256').update(label).digest('hex');

export function ref(n: number, bucket = 'raw-bucket'): ObjectRef {
  return {
    bucket,
    key: `raw/tenant=acme/typetag=cowrie/dt=2024-05-01/hour=10/01HX0000000000000000000${String(n).padStart(3, '0')}.gz.esdk`,
    versionId: `v${n}`,
  };
}

export function meta(overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return { tenant: 'acme', typetag: 'cowrie', size: 1234, receivedAt: T0, ...overrides };
}

/** Ten records: 7 read, 1 kept invalid, 1 filter error (raw kept), 1 bad UTF-8. */
export const COUNTS: RecordCounts = {
  recordsIn: 10,
  raws: 9,
  instances: 20,
  edges: 15,
  quarantined: 2,
  success: 7,
  successInvalid: 1,
  notSupported: 0,
  error: 1,
  badData: 1,
};

export function outputsFor(rawSha: string, tenant = 'acme') {
  const dt = '2024-05-01';
  return {
    curated: (['tahoe_raw', 'tahoe_instance', 'tahoe_edge'] as const).map((table) =>
      tahoeKey({ table, tenant, dt, rawSha256: rawSha, part: 0 }),
    ),
    quarantine: quarantineKey({ tenant, dt, rawSha256: rawSha }),
  };
}

export function success(rawSha: string, overrides: Partial<ProcessingResult> = {}): ProcessingResult {
  return { outcome: 'SUCCESS', sha256: rawSha, counts: COUNTS, outputs: outputsFor(rawSha), ...overrides };
}

/** The whole object refused at file level: nothing produced. */
export function refused(outcome: 'BAD_DATA' | 'NOT_SUPPORTED' | 'ERROR', reason: string): ProcessingResult {
  return {
    outcome,
    reason,
    counts: {
      recordsIn: 0,
      raws: 0,
      instances: 0,
      edges: 0,
      quarantined: 0,
      success: 0,
      successInvalid: 0,
      notSupported: 0,
      error: 0,
      badData: 0,
    },
    outputs: { curated: [] },
  };
}

/** ULIDs for load ids. */
export const LOAD_A = '01HX000000000000000000AAAA';
export const LOAD_B = '01HX000000000000000000BBBB';
export const BATCH_A = '20240501T1000Z-9f86d081884c7d65';
export const BATCH_B = '20240501T1100Z-0123456789abcdef';
