/** Reading back what the process core wrote: keys under a bucket, Parquet rows, quarantine lines. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import type { ObjectStore } from '../../../lambdas/adapters/object-store';
import type { QuarantineEntry } from '../../../lambdas/process/quarantine';
import { parseTahoeKey, type TahoeTable } from '../../../lambdas/shared/s3-keys';
import { readHyparquet } from '../parquet/helpers';

export async function listKeys(store: ObjectStore, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(bucket, prefix)) keys.push(o.key);
  return keys;
}

export async function readObject(store: ObjectStore, bucket: string, key: string): Promise<Buffer> {
  const o = await store.get(bucket, key);
  return Buffer.concat(await o.body.toArray());
}

/** Every object of a bucket with its bytes, by key. */
export async function snapshot(store: ObjectStore, bucket: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const key of await listKeys(store, bucket)) out.set(key, await readObject(store, bucket, key));
  return out;
}

export type Rows = Record<TahoeTable, Record<string, unknown>[]>;

/** The rows of the given Parquet keys, by table, in key order. */
export async function readRows(store: ObjectStore, bucket: string, keys: readonly string[]): Promise<Rows> {
  const rows: Rows = { tahoe_raw: [], tahoe_instance: [], tahoe_edge: [] };
  for (const key of [...keys].sort()) {
    const { table } = parseTahoeKey(key);
    rows[table].push(...(await readHyparquet(await readObject(store, bucket, key))));
  }
  return rows;
}

export function parseQuarantine(gz: Buffer): QuarantineEntry[] {
  return gunzipSync(gz)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as QuarantineEntry);
}

export function readQuarantineFile(store: FsObjectStore, bucket: string, key: string): QuarantineEntry[] {
  return parseQuarantine(readFileSync(store.path(bucket, key)));
}
