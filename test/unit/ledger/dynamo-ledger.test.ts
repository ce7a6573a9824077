/**
 * The DynamoDB adapter's requests, parameter by parameter, and how it maps DynamoDB's errors. Whether the
 * expressions mean the right thing is checked by the contract and model suites over the expression evaluator.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CONDITIONS, DynamoLedger, LedgerRequestError } from '../../../lambdas/adapters/dynamo-ledger';
import { ATTR, CorruptLedgerItemError, LEDGER_TABLE, type LedgerItem, toRecord } from '../../../lambdas/ledger';
import { TransientError } from '../../../lambdas/shared/errors';
import { LEDGER_SCHEMA } from '../../../lib/stacks/storage-stack';
import { at, COUNTS, LEASE_MS, LOAD_A, meta, outputsFor, ref, sha, success, T0 } from './fixtures';

const TABLE = 'cyberactive-ledger';
const H = sha('object');
const PK = `${ref(1).bucket}/${ref(1).key}`;

const doc = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
);
const ddb = mockClient(doc);
const ledger = new DynamoLedger(doc, { tableName: TABLE });

beforeEach(() => ddb.reset());

function processing(owner: string, overrides: Partial<LedgerItem> = {}): LedgerItem {
  return {
    ref: ref(1),
    status: 'PROCESSING',
    tenant: 'acme',
    typetag: 'cowrie',
    size: 1234,
    receivedAt: T0,
    attempts: 1,
    owner,
    leaseExpiresAt: at(LEASE_MS),
    createdAt: T0,
    updatedAt: T0,
    startedAt: T0,
    ...overrides,
  };
}

/** What DynamoDB throws when the condition fails, with the old item as the document client hands it over. */
function conditionFailed(old?: LedgerItem) {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(old ? { Item: marshall(toRecord(old)) } : {}),
  });
}

const beginOptions = { owner: 'w1', now: T0, leaseMs: LEASE_MS, meta: meta({ sha256: H }) };

describe('DynamoLedger requests', () => {
  it('uses the key and index names the storage stack declares', () => {
    expect(LEDGER_TABLE).toEqual(LEDGER_SCHEMA);
  });

  it('begins with one conditional UpdateItem that returns the old item whether or not the condition holds', async () => {
    ddb.on(UpdateCommand).resolves({});
    await expect(ledger.begin(ref(1), beginOptions)).resolves.toMatchObject({ kind: 'acquired', attempt: 1 });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: PK, sk: 'v1' },
      UpdateExpression:
        'SET #bucket = :bucket, #object_key = :object_key, #version_id = :version_id, ' +
        '#tenant = if_not_exists(#tenant, :tenant), #typetag = if_not_exists(#typetag, :typetag), ' +
        '#size = if_not_exists(#size, :size), #received_at = if_not_exists(#received_at, :received_at), ' +
        '#status = :processing, #attempts = if_not_exists(#attempts, :zero) + :one, #lease_owner = :owner, ' +
        '#lease_expires_at = :lease_expires_at, #created_at = if_not_exists(#created_at, :now), ' +
        '#started_at = :now, #updated_at = :now, #sha256 = if_not_exists(#sha256, :sha256)',
      ConditionExpression:
        'attribute_not_exists(#pk) OR #status = :received OR (#status = :processing AND #lease_expires_at <= :now_ms)',
      ExpressionAttributeNames: Object.fromEntries(
        [
          'bucket',
          'object_key',
          'version_id',
          'tenant',
          'typetag',
          'size',
          'received_at',
          'status',
          'attempts',
          'lease_owner',
          'lease_expires_at',
          'created_at',
          'started_at',
          'updated_at',
          'sha256',
          'pk',
        ].map((n) => [`#${n}`, n]),
      ),
      ExpressionAttributeValues: {
        ':bucket': 'raw-bucket',
        ':object_key': ref(1).key,
        ':version_id': 'v1',
        ':tenant': 'acme',
        ':typetag': 'cowrie',
        ':size': 1234,
        ':received_at': '2024-05-01T10:00:00.000Z',
        ':processing': 'PROCESSING',
        ':received': 'RECEIVED',
        ':zero': 0,
        ':one': 1,
        ':owner': 'w1',
        ':lease_expires_at': T0.getTime() + LEASE_MS,
        ':now': '2024-05-01T10:00:00.000Z',
        ':now_ms': T0.getTime(),
        ':sha256': H,
      },
      ReturnValues: 'ALL_OLD',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('names only attributes of the ledger item in its expressions', () => {
    const known = new Set<string>(Object.values(ATTR));
    for (const expression of Object.values(CONDITIONS)) {
      for (const m of expression.matchAll(/#(\w+)/g)) expect(known).toContain(m[1]);
    }
  });

  it('counts a takeover from the old item returned by a successful begin', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: toRecord(processing('w0', { attempts: 2 })) });
    await expect(ledger.begin(ref(1), { ...beginOptions, now: at(LEASE_MS) })).resolves.toEqual({
      kind: 'acquired',
      attempt: 3,
      takenOver: true,
      leaseExpiresAt: at(2 * LEASE_MS),
    });
  });

  it('tells busy from finished with the item returned by the failed condition, in one round trip', async () => {
    const finished = processing('w0', { status: 'PROCESSED', leaseExpiresAt: undefined, sha256: H });
    ddb
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed(processing('w0')))
      .rejectsOnce(conditionFailed(finished));
    await expect(ledger.begin(ref(1), { ...beginOptions, now: at(10) })).resolves.toEqual({
      kind: 'busy',
      leaseExpiresAt: at(LEASE_MS),
      attempt: 1,
    });
    await expect(ledger.begin(ref(1), beginOptions)).resolves.toMatchObject({
      kind: 'finished',
      item: { status: 'PROCESSED', owner: 'w0' },
    });
    expect(ddb.calls()).toHaveLength(2);
  });

  it('reads the item with a consistent GetItem when a failed condition carries no item', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: toRecord(processing('w0')) });
    await expect(ledger.heartbeat(ref(1), 'w1', at(1), LEASE_MS)).resolves.toMatchObject({ kind: 'lost' });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: PK, sk: 'v1' },
      ConsistentRead: true,
    });
  });

  it('completes only as the lease holder, with the hash and tenant guarded, and returns the new item', async () => {
    const done = processing('w1', {
      status: 'PROCESSED',
      leaseExpiresAt: undefined,
      sha256: H,
      outcome: 'SUCCESS',
      counts: COUNTS,
      outputs: outputsFor(H),
      finishedAt: at(5),
      updatedAt: at(5),
    });
    ddb.on(UpdateCommand).resolves({ Attributes: toRecord(done) });
    await expect(ledger.complete(ref(1), 'w1', success(H), at(5))).resolves.toEqual(done);
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe(
      '#status = :processing AND #lease_owner = :owner AND (attribute_not_exists(#sha256) OR #sha256 = :sha256) AND #tenant = :tenant',
    );
    expect(input?.UpdateExpression).toMatch(/ REMOVE #lease_expires_at$/);
    expect(input?.ReturnValues).toBe('ALL_NEW');
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':status': 'PROCESSED',
      ':owner': 'w1',
      ':tenant': 'acme',
      ':counts': { records_in: 10, success_invalid: 1, not_supported: 0, bad_data: 1, quarantined: 2 },
    });
  });

  it('marks each distinct object loaded with its own conditional update', async () => {
    ddb.on(UpdateCommand).resolves({});
    const r = await ledger.markLoaded([ref(1), ref(2), ref(1)], LOAD_A, T0);
    expect(r.marked).toEqual([ref(1), ref(2)]);
    const inputs = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => i.Key)).toEqual([
      { pk: PK, sk: 'v1' },
      { pk: `${ref(2).bucket}/${ref(2).key}`, sk: 'v2' },
    ]);
    expect(inputs[0]?.ConditionExpression).toBe('#status IN (:processed, :quarantined)');
  });

  it('lists through the tenant index with an exclusive upper bound and hands back an opaque cursor', async () => {
    const lastKey = { pk: PK, sk: 'v1', tenant: 'acme', received_at: '2024-05-01T10:00:00.000Z' };
    ddb.on(QueryCommand).resolves({ Items: [toRecord(processing('w1'))], LastEvaluatedKey: lastKey });
    const page = await ledger.listByTenant('acme', { from: T0, to: at(60_000), limit: 1 });
    expect(page.items).toHaveLength(1);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      IndexName: 'byTenantReceivedAt',
      KeyConditionExpression: '#tenant = :tenant AND #received_at BETWEEN :from AND :last',
      ExpressionAttributeNames: { '#tenant': 'tenant', '#received_at': 'received_at' },
      ExpressionAttributeValues: {
        ':tenant': 'acme',
        ':from': '2024-05-01T10:00:00.000Z',
        ':last': '2024-05-01T10:00:59.999Z',
      },
      Limit: 1,
      ScanIndexForward: true,
    });
    await ledger.listByTenant('acme', { cursor: page.cursor });
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual(lastKey);
  });

  it('finds by content through the hash index, across pages', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [toRecord(processing('w1', { sha256: H }))], LastEvaluatedKey: { pk: 'x' } })
      .resolvesOnce({ Items: [] });
    expect(await ledger.findBySha256('acme', H)).toHaveLength(1);
    const inputs = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(inputs[0]).toMatchObject({
      IndexName: 'bySha256',
      KeyConditionExpression: '#sha256 = :sha256 AND #tenant = :tenant',
      ExpressionAttributeValues: { ':sha256': H, ':tenant': 'acme' },
    });
    expect(inputs[1]?.ExclusiveStartKey).toEqual({ pk: 'x' });
  });
});

describe('DynamoLedger errors', () => {
  const awsError = (name: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: 400 }, ...extra });

  it.each([
    ['ProvisionedThroughputExceededException', {}],
    ['ThrottlingException', {}],
    ['RequestLimitExceeded', {}],
    ['InternalServerError', { $fault: 'server', $metadata: { httpStatusCode: 500 } }],
    ['SomeNewServerFault', { $metadata: { httpStatusCode: 503 } }],
    ['TransactionConflictException', {}],
    ['Error', { code: 'ECONNRESET' }],
    ['TimeoutError', {}],
    ['AccessDeniedException', {}],
    ['ResourceNotFoundException', {}],
    ['SomethingNobodyHeardOf', {}],
  ])('maps %s to a TransientError so the message is retried', async (name, extra) => {
    ddb.on(UpdateCommand).rejects(awsError(name, extra));
    const err = await ledger.begin(ref(1), beginOptions).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toContain(name);
    expect((err as Error).cause).toBeDefined();
  });

  it('maps a ValidationException to a LedgerRequestError, not to a retry', async () => {
    ddb.on(UpdateCommand).rejects(awsError('ValidationException'));
    const err = await ledger.complete(ref(1), 'w1', success(H), T0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerRequestError);
    expect(err).not.toBeInstanceOf(TransientError);
  });

  it('maps errors of reads and queries the same way', async () => {
    ddb.on(GetCommand).rejects(awsError('ProvisionedThroughputExceededException'));
    ddb.on(QueryCommand).rejects(awsError('ThrottlingException'));
    await expect(ledger.get(ref(1))).rejects.toBeInstanceOf(TransientError);
    await expect(ledger.listByTenant('acme')).rejects.toBeInstanceOf(TransientError);
    await expect(ledger.findBySha256('acme', H)).rejects.toBeInstanceOf(TransientError);
  });

  it('never turns a failed condition into an exception', async () => {
    const finished = processing('w0', { status: 'LOADED', leaseExpiresAt: undefined, loadId: LOAD_A });
    ddb.on(UpdateCommand).rejects(conditionFailed(finished));
    await expect(ledger.markLoaded([ref(1)], LOAD_A, T0)).resolves.toMatchObject({ alreadyLoaded: [ref(1)] });
    await expect(ledger.markNotarised(ref(1), '20240501T1000Z-9f86d081884c7d65', T0)).resolves.toEqual({
      kind: 'unhashed',
    });
  });

  it('gives up with an error naming the mismatch when the condition keeps failing on an item that allows the change', async () => {
    ddb
      .on(UpdateCommand)
      .rejects(
        conditionFailed(
          processing('w1', { status: 'RECEIVED', owner: undefined, leaseExpiresAt: undefined, attempts: 0 }),
        ),
      );
    await expect(ledger.begin(ref(1), beginOptions)).rejects.toThrow(/out of step/);
  });
});

describe('DynamoLedger stored items', () => {
  it('reports an item that does not match the schema as corruption, not as a passing fault', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { pk: PK, sk: 'v1', status: 'DONE' } });
    await expect(ledger.complete(ref(1), 'w1', success(H), T0)).rejects.toBeInstanceOf(CorruptLedgerItemError);
  });
});
