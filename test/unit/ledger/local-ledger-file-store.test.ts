/** What only the file twin has to get right: durability, version files, and damaged files. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLedgerStore, LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { CorruptLedgerItemError } from '../../../lambdas/ledger';
import { at, LEASE_MS, meta, ref, sha, success, T0 } from './fixtures';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cyberactive-ledger-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const itemDirs = () => readdirSync(join(dir, 'items')).map((d) => join(dir, 'items', d));

describe('file ledger store', () => {
  it('keeps items across processes opening the same folder', async () => {
    await LocalLedger.atPath(dir).begin(ref(1), { owner: 'w1', now: T0, leaseMs: LEASE_MS, meta: meta() });
    const reopened = LocalLedger.atPath(dir);
    expect(await reopened.get(ref(1))).toMatchObject({ status: 'PROCESSING', owner: 'w1' });
    expect(await reopened.begin(ref(1), { owner: 'w2', now: at(1), leaseMs: LEASE_MS, meta: meta() })).toMatchObject({
      kind: 'busy',
    });
  });

  it('keeps at most two versions of an item however often it changes, and no temporary files', async () => {
    const ledger = LocalLedger.atPath(dir);
    await ledger.begin(ref(1), { owner: 'w1', now: T0, leaseMs: LEASE_MS, meta: meta() });
    for (let i = 1; i <= 20; i++) await ledger.heartbeat(ref(1), 'w1', at(i * 1000), LEASE_MS);
    await ledger.complete(ref(1), 'w1', success(sha('x')), at(30_000));
    const [item] = itemDirs();
    expect(readdirSync(item as string).sort()).toEqual(['000000000021.json', '000000000022.json']);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(await ledger.get(ref(1))).toMatchObject({ status: 'PROCESSED' });
  });

  it('refuses a write based on a version that was superseded and collected long ago', async () => {
    const store = new FileLedgerStore(dir);
    const record = (n: number) => ({ n });
    expect(await store.write(ref(1), 0, record(1))).toBe(true);
    expect(await store.write(ref(1), 1, record(2))).toBe(true);
    expect(await store.write(ref(1), 2, record(3))).toBe(true);
    // Version 1 is gone now, so publishing "version 1" again succeeds at the file system; the store must notice.
    expect(readdirSync(itemDirs()[0] as string)).not.toContain('000000000001.json');
    expect(await store.write(ref(1), 0, record(99))).toBe(false);
    expect(await store.read(ref(1))).toEqual({ version: 3, record: record(3) });
    expect(await store.write(ref(1), 2, record(99))).toBe(false);
  });

  it('reports a damaged item file instead of guessing', async () => {
    const ledger = LocalLedger.atPath(dir);
    await ledger.receive(ref(1), meta(), T0);
    const [item] = itemDirs();
    writeFileSync(join(item as string, '000000000001.json'), '{"pk": "raw-bucket/');
    await expect(ledger.get(ref(1))).rejects.toBeInstanceOf(CorruptLedgerItemError);
    writeFileSync(join(item as string, '000000000001.json'), JSON.stringify({ pk: 'x', status: 'DONE' }));
    await expect(ledger.begin(ref(1), { owner: 'w', now: T0, leaseMs: LEASE_MS, meta: meta() })).rejects.toBeInstanceOf(
      CorruptLedgerItemError,
    );
  });
});
