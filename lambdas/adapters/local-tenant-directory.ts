/**
 * Local twins of the tenant directory. The local runtime keeps tenants in `tenants.json` under its data folder:
 *
 * ```json
 * { "tenants": { "acme": { "orgid": "<64 hex>", "typetags": ["cowrie"], "envelope": "esdk", "retention_days": 400 } } }
 * ```
 *
 * Each entry is the DynamoDB settings item (same attribute names, same validation: a malformed entry is a
 * ConfigError naming the tenant). Other fields of an entry (e.g. API key hashes kept by other tools) are left alone.
 * The file is read again whenever it changed, so tenants created by the CLI in another process are seen at once.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TenantDirectory, TenantSettings } from '../process/ports';
import { ConfigError } from '../shared/errors';
import { assertTenantId, isTenantId } from '../shared/ids';
import { parseTenantItem, toTenantItem } from './dynamo-tenant-directory';

/** The tenants file of a local data folder. */
export const LOCAL_TENANTS_FILE = 'tenants.json';

/** Tenants held in memory, for tests. Settings are validated as stored items are. */
export class MemoryTenantDirectory implements TenantDirectory {
  private readonly tenants = new Map<string, TenantSettings>();

  constructor(tenants: readonly TenantSettings[] = []) {
    for (const t of tenants) this.put(t);
  }

  put(settings: TenantSettings): void {
    const tenant = assertTenantId(settings.tenant);
    this.tenants.set(tenant, parseTenantItem(tenant, toTenantItem(settings)));
  }

  async get(tenant: string): Promise<TenantSettings | undefined> {
    return this.tenants.get(tenant);
  }
}

type TenantsFile = { tenants: Record<string, Record<string, unknown>> };

export class FileTenantDirectory implements TenantDirectory {
  private cached: { ino: number; mtimeMs: number; size: number; file: TenantsFile } | undefined;

  constructor(readonly path: string) {}

  async get(tenant: string): Promise<TenantSettings | undefined> {
    if (!isTenantId(tenant)) return undefined;
    const entry = (await this.load()).tenants[tenant];
    return entry === undefined ? undefined : parseTenantItem(tenant, entry);
  }

  /** Every tenant in the file, by id. */
  async list(): Promise<TenantSettings[]> {
    const file = await this.load();
    return Object.keys(file.tenants)
      .sort()
      .map((tenant) => parseTenantItem(tenant, file.tenants[tenant]));
  }

  /**
   * Creates or replaces a tenant's settings, keeping the entry's other fields. The file is replaced whole (written
   * aside, then renamed) so that a reader never sees half of it. Writers in several processes at once are not
   * coordinated: the local runtime has one writer (the CLI).
   */
  async put(settings: TenantSettings): Promise<void> {
    const tenant = assertTenantId(settings.tenant);
    const item = toTenantItem(settings);
    parseTenantItem(tenant, item);
    const file = await this.load();
    const next: TenantsFile = { tenants: { ...file.tenants, [tenant]: { ...file.tenants[tenant], ...item } } };
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.path);
    this.cached = undefined;
  }

  private async load(): Promise<TenantsFile> {
    let info: { ino: number; mtimeMs: number; size: number };
    try {
      info = await stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tenants: {} };
      throw err;
    }
    // `put` replaces the file by rename, so a new inode tells a rewrite apart even within one mtime tick.
    const c = this.cached;
    if (c && c.ino === info.ino && c.mtimeMs === info.mtimeMs && c.size === info.size) return c.file;
    let json: unknown;
    try {
      json = JSON.parse(await readFile(this.path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${this.path}: not a readable JSON file of tenants`, { cause: err });
    }
    const tenants = (json as { tenants?: unknown } | null)?.tenants;
    if (typeof tenants !== 'object' || tenants === null || Array.isArray(tenants)) {
      throw new ConfigError(`${this.path}: expected {"tenants": {"<tenant id>": {...}}}`);
    }
    const file: TenantsFile = { tenants: tenants as TenantsFile['tenants'] };
    this.cached = { ino: info.ino, mtimeMs: info.mtimeMs, size: info.size, file };
    return file;
  }
}
