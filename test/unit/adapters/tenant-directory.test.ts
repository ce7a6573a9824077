/**
 * Tenant settings: the DynamoDB adapter (DynamoDB is mocked at the SDK seam: it has no local twin), the validation of
 * stored items both adapters share, and the local file and memory twins.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DynamoTenantDirectory,
  parseTenantItem,
  TENANTS_TABLE_KEYS,
} from '../../../lambdas/adapters/dynamo-tenant-directory';
import { FileTenantDirectory, MemoryTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import type { TenantSettings } from '../../../lambdas/process/ports';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';
import { TENANTS_SCHEMA } from '../../../lib/stacks/storage-stack';

const TABLE = 'cyberactive-tenants';
const ORGID = 'c0ffee'.padEnd(64, '0');
const doc = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
);
const ddb = mockClient(doc);

beforeEach(() => ddb.reset());

const ACME: TenantSettings = {
  tenant: 'acme',
  orgid: ORGID,
  typetags: ['cowrie', 'email'],
  envelope: 'esdk',
  retentionDays: 400,
};

/** A settings item as the document client returns it: a string set arrives as a JS Set. */
function item(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenant: 'acme',
    sk: 'TENANT',
    orgid: ORGID,
    typetags: new Set(['email', 'cowrie']),
    envelope: 'esdk',
    retention_days: 400,
    ...overrides,
  };
}

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('DynamoTenantDirectory', () => {
  test('reads the settings item of the tenant, strongly consistent, by the key the storage stack defines', async () => {
    ddb.on(GetCommand).resolves({ Item: item() });
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE });
    expect(await directory.get('acme')).toEqual(ACME);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { tenant: 'acme', sk: 'TENANT' },
      ConsistentRead: true,
    });
    expect(TENANTS_TABLE_KEYS.partitionKey).toBe(TENANTS_SCHEMA.partitionKey);
    expect(TENANTS_TABLE_KEYS.sortKey).toBe(TENANTS_SCHEMA.sortKey);
  });

  test('accepts typetags stored as a list as well as a string set', async () => {
    ddb.on(GetCommand).resolves({ Item: item({ typetags: ['cowrie', 'email'], envelope: 'any' }) });
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE });
    expect(await directory.get('acme')).toEqual({ ...ACME, envelope: 'any' });
  });

  test('answers undefined for an unknown tenant and asks again next time (a tenant may be created any moment)', async () => {
    const clock = manualClock();
    ddb.on(GetCommand).resolvesOnce({}).resolves({ Item: item() });
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE, now: clock.now });
    expect(await directory.get('acme')).toBeUndefined();
    expect(await directory.get('acme')).toEqual(ACME);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
  });

  test('reuses settings within the cache period and reads them again after it', async () => {
    const clock = manualClock();
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: item() })
      .resolves({ Item: item({ typetags: new Set(['cowrie']) }) });
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE, ttlMs: 60_000, now: clock.now });
    expect((await directory.get('acme'))?.typetags).toEqual(['cowrie', 'email']);
    clock.advance(59_999);
    expect((await directory.get('acme'))?.typetags).toEqual(['cowrie', 'email']);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    clock.advance(1);
    expect((await directory.get('acme'))?.typetags).toEqual(['cowrie']);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
  });

  test('objects of one tenant arriving together share one read', async () => {
    ddb.on(GetCommand).resolves({ Item: item() });
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE });
    const answers = await Promise.all([directory.get('acme'), directory.get('acme'), directory.get('acme')]);
    expect(answers).toEqual([ACME, ACME, ACME]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  test('does not query for something that cannot be a tenant id', async () => {
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE });
    expect(await directory.get('../etc')).toBeUndefined();
    expect(await directory.get('A')).toBeUndefined();
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  test.each([
    ['orgid is not 64 hex', { orgid: 'not-hex' }, 'orgid'],
    ['envelope is unknown', { envelope: 'cybexp' }, 'envelope'],
    ['retention_days is missing', { retention_days: undefined }, 'retention_days'],
    ['a typetag is not an identifier', { typetags: new Set(['cow rie']) }, 'typetags'],
    ['typetags is a string', { typetags: 'cowrie' }, 'typetags'],
  ])('a malformed item (%s) is a ConfigError naming the tenant and the attribute', async (_what, overrides, attr) => {
    ddb.on(GetCommand).resolves({ Item: item(overrides) });
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE });
    const thrown = await directory.get('acme').catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain('tenant acme');
    expect((thrown as Error).message).toContain(attr);
  });

  test.each([
    ['ProvisionedThroughputExceededException', 400, 'TransientError'],
    ['InternalServerError', 500, 'TransientError'],
    ['ValidationException', 400, 'ConfigError'],
  ])('a GetItem failing with %s (HTTP %d) becomes a %s', async (name, status, expected) => {
    ddb.on(GetCommand).rejects(
      new DynamoDBServiceException({
        name,
        $fault: status >= 500 ? 'server' : 'client',
        $metadata: { httpStatusCode: status },
        message: name,
      }),
    );
    const directory = new DynamoTenantDirectory(doc, { tableName: TABLE });
    await expect(directory.get('acme')).rejects.toBeInstanceOf(
      expected === 'ConfigError' ? ConfigError : TransientError,
    );
  });
});

describe('parseTenantItem', () => {
  test('maps stored attribute names to settings and ignores other attributes', () => {
    expect(parseTenantItem('acme', { ...item(), key_hash: 'x', created_at: '2026-01-01' })).toEqual(ACME);
  });
});

describe('local tenant directories', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tenants-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the file directory writes tenants.json with stored attribute names and reads it back', async () => {
    const path = join(dir, 'tenants.json');
    const directory = new FileTenantDirectory(path);
    expect(await directory.get('acme')).toBeUndefined();
    await directory.put(ACME);
    await directory.put({ ...ACME, tenant: 'globex', typetags: ['sighting'], envelope: 'any' });
    expect(JSON.parse(readFileSync(path, 'utf8')).tenants.acme).toEqual({
      orgid: ORGID,
      typetags: ['cowrie', 'email'],
      envelope: 'esdk',
      retention_days: 400,
    });
    expect(await new FileTenantDirectory(path).get('acme')).toEqual(ACME);
    expect((await directory.list()).map((t) => t.tenant)).toEqual(['acme', 'globex']);
  });

  test('sees a change another process made to the file', async () => {
    const path = join(dir, 'tenants.json');
    const reader = new FileTenantDirectory(path);
    await new FileTenantDirectory(path).put(ACME);
    expect((await reader.get('acme'))?.envelope).toBe('esdk');
    await new FileTenantDirectory(path).put({ ...ACME, envelope: 'any' });
    expect((await reader.get('acme'))?.envelope).toBe('any');
  });

  test('keeps fields of an entry that other tools wrote when settings are replaced', async () => {
    const path = join(dir, 'tenants.json');
    writeFileSync(
      path,
      JSON.stringify({
        tenants: {
          acme: { orgid: ORGID, typetags: ['cowrie'], envelope: 'esdk', retention_days: 30, keys: [{ id: 'k1' }] },
        },
      }),
    );
    await new FileTenantDirectory(path).put(ACME);
    expect(JSON.parse(readFileSync(path, 'utf8')).tenants.acme.keys).toEqual([{ id: 'k1' }]);
  });

  test('a malformed entry is a ConfigError naming the tenant; a file that is not JSON is a ConfigError', async () => {
    const path = join(dir, 'tenants.json');
    writeFileSync(
      path,
      JSON.stringify({ tenants: { acme: { orgid: ORGID, typetags: ['cowrie'], envelope: 'none' } } }),
    );
    await expect(new FileTenantDirectory(path).get('acme')).rejects.toThrow(/tenant acme.*envelope/);
    writeFileSync(path, '{"tenants": ');
    await expect(new FileTenantDirectory(path).get('acme')).rejects.toBeInstanceOf(ConfigError);
  });

  test('the memory directory validates settings as stored items are validated', async () => {
    const memory = new MemoryTenantDirectory([ACME]);
    expect(await memory.get('acme')).toEqual(ACME);
    expect(await memory.get('globex')).toBeUndefined();
    expect(() => memory.put({ ...ACME, tenant: 'globex', orgid: 'short' })).toThrow(ConfigError);
  });
});
