/**
 * Redshift COPY manifests (https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html):
 * a JSON object whose `entries` list the exact files to load. Every entry is `mandatory` (a missing file fails the
 * COPY instead of being skipped silently), and each carries `meta.content_length`, which COPY requires when it
 * loads a columnar format such as Parquet from a manifest.
 *
 * COPY loads one table from one manifest, so a load attempt writes one manifest per table it touches, next to the
 * attempt's whole manifest (every file of every table, kept for audit under `manifestKey(loadId)`).
 */
import { assertUlid } from '../shared/ids';
import { manifestKey, TAHOE_TABLES, type TahoeTable } from '../shared/s3-keys';
import type { LoadFile } from './port';

export interface ManifestEntry {
  readonly url: string;
  readonly mandatory: true;
  readonly meta: { readonly content_length: number };
}

export interface Manifest {
  readonly entries: readonly ManifestEntry[];
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function buildManifest(bucket: string, files: readonly LoadFile[]): Manifest {
  if (!BUCKET.test(bucket)) throw new TypeError(`invalid bucket name ${JSON.stringify(bucket)}`);
  return {
    entries: files.map((f) => {
      if (!Number.isSafeInteger(f.bytes) || f.bytes < 0) throw new TypeError(`${f.key}: invalid size ${f.bytes}`);
      return { url: `s3://${bucket}/${f.key}`, mandatory: true, meta: { content_length: f.bytes } };
    }),
  };
}

export function manifestBytes(manifest: Manifest): Uint8Array {
  return Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`, 'utf8');
}

/**
 * The manifest of one table of a load attempt: `manifests/<loadId>.<table>.manifest`, beside the attempt's whole
 * manifest `manifests/<loadId>.manifest` (lambdas/shared/s3-keys.ts `manifestKey`).
 */
export function tableManifestKey(loadId: string, table: TahoeTable): string {
  if (!(TAHOE_TABLES as readonly string[]).includes(table)) throw new TypeError(`unknown table ${String(table)}`);
  return `manifests/${assertUlid(loadId)}.${table}.manifest`;
}

/** The manifests of one load attempt: the whole one, and one per table that has files. */
export function attemptManifests(
  loadId: string,
  bucket: string,
  files: readonly LoadFile[],
): { key: string; table?: TahoeTable; manifest: Manifest }[] {
  const out: { key: string; table?: TahoeTable; manifest: Manifest }[] = [
    { key: manifestKey(loadId), manifest: buildManifest(bucket, files) },
  ];
  for (const table of TAHOE_TABLES) {
    const own = files.filter((f) => f.table === table);
    if (own.length > 0) out.push({ key: tableManifestKey(loadId, table), table, manifest: buildManifest(bucket, own) });
  }
  return out;
}
