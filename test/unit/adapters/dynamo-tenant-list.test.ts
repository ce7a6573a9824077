/**
 * DynamoTenantDirectory.list(), which age-off uses to learn every tenant's retention. DynamoDB is mocked at the
 * SDK seam (it has no local twin); the requests are checked as sent, since the loader's IAM grant allows exactly
 * this Scan (the projected attributes).
 */
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DynamoTenantDirectory,
  TENANT_SETTINGS_ATTRIBUTES,
  TENANTS_TABLE_KEYS,
} from '../../../lambdas/adapters/dynamo-tenant-directory';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';

const TABLE = 'cyberactive-tenants';
const ORGID = 'c0ffee'.padEnd(64, '0');
const doc = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
);
const ddb = mockClient(doc);

beforeEach(() => ddb.reset());

function item(tenant: string, retention: number): Record<string, unknown> {
  return {
    tenant,
    sk: 'TENANT',
    orgid: ORGID,
    typetags: new Set(['cowrie']),
    envelope: 'any',
    retention_days: retention,
  };
}

describe('DynamoTenantDirectory.list', () => {
  test('scans the settings items page by page, projected to the settings, and returns them by tenant id', async () => {
    ddb
      .on(ScanCommand)
      .resolvesOnce({
        Items: [item('zeta', 90), item('acme', 400)],
        LastEvaluatedKey: { tenant: 'acme', sk: 'TENANT' },
      })
      .resolvesOnce({ Items: [item('beta', 30)] });
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE });

    const list = await directory.list();

    expect(list.map((s) => [s.tenant, s.retentionDays])).toEqual([
      ['acme', 400],
      ['beta', 30],
      ['zeta', 90],
    ]);
    expect(list[0]).toEqual({
      tenant: 'acme',
      orgid: ORGID,
      typetags: ['cowrie'],
      envelope: 'any',
      retentionDays: 400,
    });
    const calls = ddb.commandCalls(ScanCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.ExclusiveStartKey).toEqual({ tenant: 'acme', sk: 'TENANT' });
    const first = calls[0];
    expect(first?.TableName).toBe(TABLE);
    expect(first?.ConsistentRead).toBe(true);
    expect(first?.Select).toBe('SPECIFIC_ATTRIBUTES');
    expect(first?.ExclusiveStartKey).toBeUndefined();
    // Exactly the settings attributes are read: never an API key item's hash.
    const names = first?.ExpressionAttributeNames ?? {};
    const projected = (first?.ProjectionExpression ?? '').split(', ').map((n) => names[n]);
    expect(projected.sort()).toEqual([...TENANT_SETTINGS_ATTRIBUTES].sort());
    expect(names[(first?.FilterExpression ?? '').split(' = ')[0] ?? '']).toBe(TENANTS_TABLE_KEYS.sortKey);
    expect(first?.ExpressionAttributeValues).toEqual({ ':settings': TENANTS_TABLE_KEYS.settingsSortKey });
  });

  test('an empty table lists no tenant', async () => {
    ddb.on(ScanCommand).resolves({ Items: [] });
    expect(await new DynamoTenantDirectory(doc, { tableName: TABLE }).list()).toEqual([]);
  });

  test('a malformed settings item is a ConfigError naming the tenant', async () => {
    ddb.on(ScanCommand).resolves({ Items: [item('acme', 400), { ...item('beta', 30), retention_days: 0 }] });
    await expect(new DynamoTenantDirectory(doc, { tableName: TABLE }).list()).rejects.toThrow(
      /tenant beta: malformed settings item.*retention_days/,
    );
  });

  test('throttling is transient; a table of another shape is a deployment mistake', async () => {
    const throttled = new DynamoDBServiceException({
      name: 'ProvisionedThroughputExceededException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'slow down',
    });
    ddb.on(ScanCommand).rejects(throttled);
    await expect(new DynamoTenantDirectory(doc, { tableName: TABLE }).list()).rejects.toBeInstanceOf(TransientError);
    ddb.reset();
    ddb.on(ScanCommand).rejects(
      new DynamoDBServiceException({
        name: 'ValidationException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'The provided key element does not match the schema',
      }),
    );
    await expect(new DynamoTenantDirectory(doc, { tableName: TABLE }).list()).rejects.toBeInstanceOf(ConfigError);
  });
});
