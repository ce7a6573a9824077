import { attemptManifests, buildManifest, manifestBytes, tableManifestKey } from '../../../lambdas/warehouse/manifest';
import type { LoadFile } from '../../../lambdas/warehouse/port';

const LOAD_ID = '01JD3K8Z6Q2V9X4T7B5N1M0C8R';
const sha = (c: string) => c.repeat(64);
const files: LoadFile[] = [
  { key: `tahoe/tahoe_raw/tenant=acme/dt=2026-11-02/${sha('a')}-00000.parquet`, table: 'tahoe_raw', bytes: 1200 },
  { key: `tahoe/tahoe_edge/tenant=acme/dt=2026-11-02/${sha('a')}-00000.parquet`, table: 'tahoe_edge', bytes: 5 },
  { key: `tahoe/tahoe_edge/tenant=beta/dt=2026-11-03/${sha('b')}-00001.parquet`, table: 'tahoe_edge', bytes: 0 },
];

describe('Redshift manifests', () => {
  it('lists every file as a mandatory s3 URL with its content length, as COPY of Parquet requires', () => {
    const m = buildManifest('curated-bucket', files);
    expect(m.entries).toEqual(
      files.map((f) => ({ url: `s3://curated-bucket/${f.key}`, mandatory: true, meta: { content_length: f.bytes } })),
    );
    expect(JSON.parse(Buffer.from(manifestBytes(m)).toString('utf8'))).toEqual(m);
  });

  it('refuses a bucket name or a size that would make a wrong manifest', () => {
    expect(() => buildManifest('s3://x', files)).toThrow(/bucket/);
    expect(() => buildManifest('curated', [{ ...files[0], bytes: -1 } as LoadFile])).toThrow(/size/);
    expect(() => buildManifest('curated', [{ ...files[0], bytes: 1.5 } as LoadFile])).toThrow(/size/);
  });

  it('writes the whole manifest and one per table that has files, since COPY loads one table per manifest', () => {
    const all = attemptManifests(LOAD_ID, 'curated', files);
    expect(all.map((m) => [m.key, m.table, m.manifest.entries.length])).toEqual([
      [`manifests/${LOAD_ID}.manifest`, undefined, 3],
      [`manifests/${LOAD_ID}.tahoe_raw.manifest`, 'tahoe_raw', 1],
      [`manifests/${LOAD_ID}.tahoe_edge.manifest`, 'tahoe_edge', 2],
    ]);
    expect(attemptManifests(LOAD_ID, 'curated', []).map((m) => m.manifest.entries.length)).toEqual([0]);
  });

  it('names table manifests by a valid load id and table only', () => {
    expect(tableManifestKey(LOAD_ID, 'tahoe_instance')).toBe(`manifests/${LOAD_ID}.tahoe_instance.manifest`);
    expect(() => tableManifestKey('../x', 'tahoe_raw')).toThrow();
    expect(() => tableManifestKey(LOAD_ID, 'users' as never)).toThrow(/unknown table/);
  });
});
