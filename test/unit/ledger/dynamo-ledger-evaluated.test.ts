import { DynamoLedger } from '../../../lambdas/adapters/dynamo-ledger';
import { ledgerTable } from './dynamo-evaluator';
import { ledgerContract } from './ledger-contract';

ledgerContract('DynamoDB adapter over an expression evaluator', async () => ({
  ledger: new DynamoLedger(ledgerTable().wireClient(), { tableName: 'ledger' }),
}));
