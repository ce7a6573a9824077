/**
 * The evaluator stands in for DynamoDB in the ledger's contract and model suites, so it must itself behave as
 * DynamoDB's documentation says on the points those suites rely on.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { ledgerTable } from './dynamo-evaluator';

const key = { pk: 'b/k', sk: 'v1' };
const table = () => {
  const t = ledgerTable();
  t.put({ TableName: 'ledger', Item: { ...key, tenant: 't1', received_at: '2024-01-01T00:00:00.000Z', n: 1 } });
  return t;
};
const update = (t: ReturnType<typeof ledgerTable>, input: Record<string, unknown>) =>
  t.update({ TableName: 'ledger', Key: key, ...input } as never);

describe('DynamoDB expression evaluator', () => {
  it('refuses placeholders that are defined but unused', () => {
    expect(() =>
      update(table(), {
        UpdateExpression: 'SET #n = :n',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':n': 2, ':spare': 3 },
      }),
    ).toThrow(/unused in expressions: keys: \{:spare\}/);
  });

  it('refuses an update of a key attribute', () => {
    expect(() =>
      update(table(), {
        UpdateExpression: 'SET #pk = :v',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':v': 'x' },
      }),
    ).toThrow(/part of the key/);
  });

  it('evaluates every right-hand side against the item as it was before the update', () => {
    const t = table();
    update(t, {
      UpdateExpression: 'SET #n = #n + :one, #m = #n, #o = if_not_exists(#o, :one) + :one',
      ExpressionAttributeNames: { '#n': 'n', '#m': 'm', '#o': 'o' },
      ExpressionAttributeValues: { ':one': 1 },
    });
    expect(t.get({ TableName: 'ledger', Key: key }).Item).toMatchObject({ n: 2, m: 1, o: 2 });
  });

  it('treats comparisons with a missing attribute as false and returns the old item only when asked', () => {
    const t = table();
    const attempt = (returnOld?: 'ALL_OLD') => {
      try {
        update(t, {
          UpdateExpression: 'SET #n = :v',
          ConditionExpression: '#missing <= :v OR #missing = :v',
          ExpressionAttributeNames: { '#n': 'n', '#missing': 'missing' },
          ExpressionAttributeValues: { ':v': 5 },
          ...(returnOld ? { ReturnValuesOnConditionCheckFailure: returnOld } : {}),
        });
      } catch (err) {
        return err as ConditionalCheckFailedException;
      }
      throw new Error('condition held');
    };
    expect(attempt().Item).toBeUndefined();
    const err = attempt('ALL_OLD');
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect(err.Item).toMatchObject({ pk: { S: 'b/k' }, n: { N: '1' } });
  });

  it('pages a query like DynamoDB: a key after a full page, consistent reads and reversed ranges refused', () => {
    const t = table();
    const q = (extra: Record<string, unknown>) =>
      t.query({
        TableName: 'ledger',
        IndexName: 'byTenantReceivedAt',
        KeyConditionExpression: '#t = :t',
        ExpressionAttributeNames: { '#t': 'tenant' },
        ExpressionAttributeValues: { ':t': 't1' },
        ...extra,
      } as never);
    expect(q({ Limit: 1 }).LastEvaluatedKey).toEqual({ ...key, tenant: 't1', received_at: '2024-01-01T00:00:00.000Z' });
    expect(q({ Limit: 2 }).LastEvaluatedKey).toBeUndefined();
    expect(() => q({ ConsistentRead: true })).toThrow(/Consistent reads are not supported/);
    expect(() =>
      t.query({
        TableName: 'ledger',
        IndexName: 'byTenantReceivedAt',
        KeyConditionExpression: '#t = :t AND #r BETWEEN :b AND :a',
        ExpressionAttributeNames: { '#t': 'tenant', '#r': 'received_at' },
        ExpressionAttributeValues: { ':t': 't1', ':a': 'a', ':b': 'b' },
      }),
    ).toThrow(/BETWEEN/);
  });
});
