import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { ledgerContract } from './ledger-contract';

ledgerContract('file twin', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cyberactive-ledger-'));
  return { ledger: LocalLedger.atPath(dir), close: async () => rmSync(dir, { recursive: true, force: true }) };
});
