import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoReport, runDemo } from '../../../lambdas/local/demo';

describe('the local demo (the README quick start)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cyberactive-demo-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('processes every sample upload, accounts for every record, and reads events back from the Parquet', async () => {
    const logged: string[] = [];
    const result = await runDemo({
      dir,
      cowrieLines: 400,
      now: new Date('2026-11-22T10:00:00Z'),
      log: (l) => logged.push(l),
    });
    expect(result.files.map((f) => f.item.status)).toEqual(['PROCESSED', 'PROCESSED', 'PROCESSED', 'PROCESSED']);
    for (const f of result.files) {
      const c = f.item.counts;
      expect(c).toBeDefined();
      if (!c) continue;
      expect(c.success + c.successInvalid + c.quarantined).toBe(c.recordsIn);
    }
    const cowrie = result.files[0]?.item.counts;
    expect(cowrie?.recordsIn).toBe(400);
    // 2% of the generated cowrie lines are made bad on purpose: some must have been quarantined or kept invalid.
    expect((cowrie?.quarantined ?? 0) + (cowrie?.successInvalid ?? 0)).toBeGreaterThan(0);
    expect(result.eventsBySubType.login).toBeGreaterThan(0);
    expect(result.eventsBySubType.email).toBe(1);
    expect(result.eventsBySubType.sighting).toBeGreaterThanOrEqual(150);
    expect(logged.some((l) => l.startsWith('envelope key: arn:local:kms:'))).toBe(true);
    expect(demoReport(result)).toContain('cowrie honeypot (esdk, gzip): PROCESSED SUCCESS');
  });

  it('reuses the envelope key across runs and starts each run from a clean folder', async () => {
    const keys: string[] = [];
    const log = (l: string) => {
      if (l.startsWith('envelope key:')) keys.push(l);
    };
    await runDemo({ dir, cowrieLines: 50, now: new Date('2026-11-22T11:00:00Z'), log });
    const second = await runDemo({ dir, cowrieLines: 50, now: new Date('2026-11-22T11:00:00Z'), log });
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    // The previous run's ledger is gone: every object is processed afresh, none is taken for a duplicate.
    expect(second.files.every((f) => f.item.attempts === 1 && f.item.status === 'PROCESSED')).toBe(true);
  });
});
