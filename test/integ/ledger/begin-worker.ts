/**
 * A worker process for the file-ledger integration test (run as `node --import tsx begin-worker.ts …`):
 * - `<ledger dir> <owner> <objects> <now ms> race`: waits for "go" on stdin, then begins objects 0..n-1 as fast as
 *   it can, printing one JSON line per answer;
 * - `<ledger dir> <owner> <object> <now ms> crash`: begins one object and dies by SIGKILL, as a worker would that
 *   runs out of memory mid-object.
 */
import { createInterface } from 'node:readline';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';

const [dir, owner, n, nowMs, mode] = process.argv.slice(2) as [string, string, string, string, string];
const ledger = LocalLedger.atPath(dir);
const now = new Date(Number(nowMs));
const meta = { tenant: 'acme', typetag: 'cowrie', size: 1, receivedAt: new Date('2024-05-01T10:00:00.000Z') };
const ref = (i: number) => ({ bucket: 'raw-bucket', key: `raw/object-${i}`, versionId: 'v1' });

async function main(): Promise<void> {
  if (mode === 'crash') {
    const r = await ledger.begin(ref(Number(n)), { owner, now, leaseMs: 60_000, meta });
    process.stdout.write(`${JSON.stringify(r)}\n`, () => process.kill(process.pid, 'SIGKILL'));
    return;
  }
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line === 'go') break;
  for (let i = 0; i < Number(n); i++) {
    const r = await ledger.begin(ref(i), { owner, now, leaseMs: 60_000, meta });
    process.stdout.write(`${JSON.stringify({ i, kind: r.kind })}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
