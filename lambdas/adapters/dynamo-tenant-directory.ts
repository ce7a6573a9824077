/**
 * `TenantDirectory` on DynamoDB: the tenants table of the storage stack (TENANTS_TABLE; partition key `tenant`,
 * sort key `sk`). A tenant's settings are the item `{tenant: <id>, sk: "TENANT"}`; its API keys live under the same
 * partition with other sort keys and are not read here.
 *
 * Item attributes: `orgid` (64 hex), `typetags` (a string set, or a list as written by tools that cannot write
 * sets), `envelope` (`esdk` | `any`), `retention_days` (number). An item that does not match is a ConfigError naming
 * the tenant: the registry is ours, so a bad item is a deployment mistake to fix, not a reason to refuse the
 * tenant's uploads as bad data. The message is retried, dead-lettered if the fix takes long, and redriven.
 *
 * Settings change rarely and every object of a batch asks for them, so they are cached per container for a short
 * time (a changed setting is seen within `ttlMs`). Unknown tenants are not cached: a tenant created a moment ago is
 * found on the next message. Reads are strongly consistent for the same reason: an upload can follow the tenant's
 * creation within a second, and an eventually consistent miss would refuse its object for good.
 */
import { type DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { TenantDirectory, TenantSettings } from '../process/ports';
import { ConfigError } from '../shared/errors';
import { isTenantId, TYPETAG } from '../shared/ids';
import { classifyDynamoError, LedgerRequestError } from './dynamo-ledger';

/** Key attributes of the tenants table (lib/stacks/storage-stack.ts TENANTS_SCHEMA) and the settings item's sort key. */
export const TENANTS_TABLE_KEYS = { partitionKey: 'tenant', sortKey: 'sk', settingsSortKey: 'TENANT' } as const;

/**
 * The attributes `list()` reads: the keys and the settings, never an API key item's other attributes (key hashes).
 * The loader's IAM grant allows a Scan of exactly these (lib/stacks/warehouse-stack.ts), so the names are shared.
 */
export const TENANT_SETTINGS_ATTRIBUTES = ['tenant', 'sk', 'orgid', 'typetags', 'envelope', 'retention_days'] as const;

/** How long settings are reused before they are read again. */
export const DEFAULT_TENANT_CACHE_MS = 60_000;

/** The settings item as stored (DynamoDB attribute names), shared with the local twin's JSON file. */
export const tenantItemSchema = z.object({
  orgid: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
  typetags: z
    .union([z.set(z.string()), z.array(z.string())], { error: 'must be a string set or a list of strings' })
    .transform((v) => [...v].sort())
    .pipe(z.array(z.string().regex(TYPETAG, 'must be a typetag'))),
  envelope: z.enum(['esdk', 'any']),
  retention_days: z.number().int().positive(),
});

export type TenantItem = z.input<typeof tenantItemSchema>;

/** Validates a stored settings item; a ConfigError names the tenant and every bad attribute. */
export function parseTenantItem(tenant: string, item: unknown): TenantSettings {
  const parsed = tenantItemSchema.safeParse(item);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(item)'}: ${i.message}`);
    throw new ConfigError(`tenant ${tenant}: malformed settings item in the tenant registry: ${problems.join('; ')}`);
  }
  const { orgid, typetags, envelope, retention_days } = parsed.data;
  return { tenant, orgid, typetags, envelope, retentionDays: retention_days };
}

/** The stored form of settings (for tools and the local twin). */
export function toTenantItem(settings: TenantSettings): z.output<typeof tenantItemSchema> {
  return {
    orgid: settings.orgid,
    typetags: [...settings.typetags],
    envelope: settings.envelope,
    retention_days: settings.retentionDays,
  };
}

export interface DynamoTenantDirectoryOptions {
  readonly tableName: string;
  /** @default DEFAULT_TENANT_CACHE_MS */
  readonly ttlMs?: number;
  /** Milliseconds since the epoch; injected by tests. @default Date.now */
  readonly now?: () => number;
}

export class DynamoTenantDirectory implements TenantDirectory {
  private readonly cache = new Map<string, { settings: TenantSettings; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<TenantSettings | undefined>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  /** @param doc built once per container by the handler. */
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly options: DynamoTenantDirectoryOptions,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TENANT_CACHE_MS;
    this.now = options.now ?? Date.now;
  }

  async get(tenant: string): Promise<TenantSettings | undefined> {
    // Ids come from parsed raw keys; anything else cannot name a tenant and is not worth a request.
    if (!isTenantId(tenant)) return undefined;
    const cached = this.cache.get(tenant);
    if (cached && cached.expiresAt > this.now()) return cached.settings;
    // Objects of one tenant often arrive together: they share one read.
    let pending = this.inFlight.get(tenant);
    if (!pending) {
      pending = this.read(tenant).finally(() => this.inFlight.delete(tenant));
      this.inFlight.set(tenant, pending);
    }
    return pending;
  }

  /**
   * Every tenant's settings (age-off visits each tenant): a Scan of the settings items, page by page, projected to
   * TENANT_SETTINGS_ATTRIBUTES. Strongly consistent, like `get`. A malformed item is a ConfigError naming the tenant.
   */
  async list(): Promise<TenantSettings[]> {
    const { partitionKey, sortKey, settingsSortKey } = TENANTS_TABLE_KEYS;
    const names = Object.fromEntries(TENANT_SETTINGS_ATTRIBUTES.map((a, i) => [`#a${i}`, a]));
    const settings: TenantSettings[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      let out: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> };
      try {
        out = await this.doc.send(
          new ScanCommand({
            TableName: this.options.tableName,
            // Said explicitly: the grant requires it, so that no request without a projection can read whole items.
            Select: 'SPECIFIC_ATTRIBUTES',
            ProjectionExpression: Object.keys(names).join(', '),
            FilterExpression: `#a${TENANT_SETTINGS_ATTRIBUTES.indexOf(sortKey)} = :settings`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':settings': settingsSortKey },
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
      } catch (err) {
        const mapped = classifyDynamoError(err, 'Scan tenants');
        if (mapped instanceof LedgerRequestError) {
          throw new ConfigError(`${mapped.message} (is TENANTS_TABLE the tenants table?)`, { cause: err });
        }
        throw mapped;
      }
      for (const item of out.Items ?? []) {
        const tenant = item[partitionKey];
        // Only ids of the grammar name a tenant; anything else in the table is not ours to interpret.
        if (!isTenantId(tenant)) continue;
        settings.push(parseTenantItem(tenant, item));
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return settings.sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));
  }

  private async read(tenant: string): Promise<TenantSettings | undefined> {
    const { partitionKey, sortKey, settingsSortKey } = TENANTS_TABLE_KEYS;
    let item: Record<string, unknown> | undefined;
    try {
      const out = await this.doc.send(
        new GetCommand({
          TableName: this.options.tableName,
          Key: { [partitionKey]: tenant, [sortKey]: settingsSortKey },
          ConsistentRead: true,
        }),
      );
      item = out.Item;
    } catch (err) {
      const mapped = classifyDynamoError(err, `GetItem tenant ${tenant}`);
      // A request DynamoDB calls malformed is a table whose key schema is not the one we expect: a wrong table.
      if (mapped instanceof LedgerRequestError) {
        throw new ConfigError(`${mapped.message} (is TENANTS_TABLE the tenants table?)`, { cause: err });
      }
      throw mapped;
    }
    if (!item) {
      this.cache.delete(tenant);
      return undefined;
    }
    const settings = parseTenantItem(tenant, item);
    this.cache.set(tenant, { settings, expiresAt: this.now() + this.ttlMs });
    return settings;
  }
}
