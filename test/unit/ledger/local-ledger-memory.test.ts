import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { ledgerContract } from './ledger-contract';

ledgerContract('in-memory twin', async () => ({ ledger: LocalLedger.inMemory() }));
