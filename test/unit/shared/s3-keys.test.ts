import fc from 'fast-check';
import { InvalidIdentifierError } from '../../../lambdas/shared/ids';
import {
  decodeS3EventKey,
  deterministicUploadId,
  ENVELOPES,
  manifestKey,
  parseManifestKey,
  parseProofKey,
  parsePurgeRecordKey,
  parseQuarantineKey,
  parseRawKey,
  parseTahoeKey,
  proofKey,
  purgeRecordKey,
  quarantineKey,
  rawKey,
  rawKeyHour,
  TAHOE_TABLES,
  tahoeKey,
  tenantPrefixes,
} from '../../../lambdas/shared/s3-keys';

const tenantArb = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,62}$/);
const typetagArb = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/);
const ulidArb = fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
const shaArb = fc.stringMatching(/^[0-9a-f]{64}$/);
const hourArb = fc.date({
  min: new Date('1970-01-01T00:00:00Z'),
  max: new Date('2999-12-31T23:59:59Z'),
  noInvalidDate: true,
});
const dayArb = hourArb.map((d) => d.toISOString().slice(0, 10));

const ULID = '01JD7Q2M3N4P5Q6R7S8T9V0W1X';
const SHA = 'a'.repeat(64);
const AT = new Date('2026-11-22T09:41:07.123Z');

describe('raw keys', () => {
  it('lays out tenant, typetag, day and hour partitions with an extension naming the layers', () => {
    expect(
      rawKey({ tenant: 'acme', typetag: 'cowrie', receivedAt: AT, uploadId: ULID, envelope: 'esdk', gzip: true }),
    ).toBe(`raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=09/${ULID}.gz.esdk`);
    expect(
      rawKey({ tenant: 'acme', typetag: 'email', receivedAt: AT, uploadId: ULID, envelope: 'none', gzip: false }),
    ).toBe(`raw/tenant=acme/typetag=email/dt=2026-11-22/hour=09/${ULID}.raw`);
  });

  it('round-trips key → fields → key for any valid fields', () => {
    fc.assert(
      fc.property(
        tenantArb,
        typetagArb,
        hourArb,
        ulidArb,
        fc.constantFrom(...ENVELOPES),
        fc.boolean(),
        (tenant, typetag, at, id, env, gz) => {
          const key = rawKey({ tenant, typetag, receivedAt: at, uploadId: id, envelope: env, gzip: gz });
          const p = parseRawKey(key);
          expect(p).toMatchObject({ tenant, typetag, uploadId: id, envelope: env, gzip: gz });
          expect(rawKey({ ...p, receivedAt: rawKeyHour(p) })).toBe(key);
        },
      ),
    );
  });

  it.each([
    ['path traversal in the tenant', `raw/tenant=../x/typetag=cowrie/dt=2026-11-22/hour=09/${ULID}.raw`],
    ['an extra path segment', `raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=09/x/${ULID}.raw`],
    ['a Cyrillic look-alike in the tenant', `raw/tenant=\u0430cme/typetag=cowrie/dt=2026-11-22/hour=09/${ULID}.raw`],
    ['a zero-width space in the typetag', `raw/tenant=acme/typetag=cow\u200brie/dt=2026-11-22/hour=09/${ULID}.raw`],
    ['a fullwidth letter in the typetag', `raw/tenant=acme/typetag=\uff43owrie/dt=2026-11-22/hour=09/${ULID}.raw`],
    ['a hyphen in the typetag', `raw/tenant=acme/typetag=unr-honeypot/dt=2026-11-22/hour=09/${ULID}.raw`],
    ['an impossible day', `raw/tenant=acme/typetag=cowrie/dt=2026-02-30/hour=09/${ULID}.raw`],
    ['hour 24', `raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=24/${ULID}.raw`],
    ['an unknown extension', `raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=09/${ULID}.zip`],
    ['a lower-case upload id', `raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=09/${ULID.toLowerCase()}.raw`],
    ['an oversized tenant', `raw/tenant=${'a'.repeat(64)}/typetag=cowrie/dt=2026-11-22/hour=09/${ULID}.raw`],
    ['an oversized typetag', `raw/tenant=acme/typetag=${'t'.repeat(65)}/dt=2026-11-22/hour=09/${ULID}.raw`],
    ['a percent-encoded slash', `raw/tenant=acme%2Fx/typetag=cowrie/dt=2026-11-22/hour=09/${ULID}.raw`],
  ])('rejects %s', (_what, key) => {
    expect(() => parseRawKey(key)).toThrow(InvalidIdentifierError);
  });

  it.each([
    ['a tenant with a slash', { tenant: 'a/b' }],
    ['a tenant of one character', { tenant: 'a' }],
    ['an upper-case tenant', { tenant: 'Acme' }],
    ['a tenant starting with a hyphen', { tenant: '-acme' }],
    ['a typetag with a dot', { typetag: 'cowrie.v2' }],
    ['a typetag with an accent', { typetag: 'donn\u00e9es' }],
    ['a typetag starting with a digit', { typetag: '1abc' }],
  ])('refuses to build a key from %s, naming the value', (_what, override) => {
    const f = {
      tenant: 'acme',
      typetag: 'cowrie',
      receivedAt: AT,
      uploadId: ULID,
      envelope: 'none' as const,
      gzip: false,
      ...override,
    };
    const value = Object.values(override)[0] as string;
    expect(() => rawKey(f)).toThrow(JSON.stringify(value));
  });

  it('refuses dates outside the partitionable range', () => {
    expect(() =>
      rawKey({
        tenant: 'acme',
        typetag: 'cowrie',
        receivedAt: new Date(Number.NaN),
        uploadId: ULID,
        envelope: 'none',
        gzip: false,
      }),
    ).toThrow(InvalidIdentifierError);
  });
});

describe('TAHOE Parquet keys', () => {
  it('round-trips for every table and part number', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TAHOE_TABLES),
        tenantArb,
        dayArb,
        shaArb,
        fc.integer({ min: 0, max: 99_999 }),
        (table, tenant, dt, sha, part) => {
          const key = tahoeKey({ table, tenant, dt, rawSha256: sha, part });
          expect(parseTahoeKey(key)).toEqual({ table, tenant, dt, rawSha256: sha, part });
        },
      ),
    );
  });

  it('is deterministic, so re-processing a file targets the same objects', () => {
    const f = { table: 'tahoe_edge' as const, tenant: 'acme', dt: '2026-11-22', rawSha256: SHA, part: 3 };
    expect(tahoeKey(f)).toBe(`tahoe/tahoe_edge/tenant=acme/dt=2026-11-22/${SHA}-00003.parquet`);
    expect(tahoeKey({ ...f })).toBe(tahoeKey(f));
  });

  it('rejects unknown tables, negative or fractional parts and upper-case hashes', () => {
    expect(() =>
      tahoeKey({ table: 'users' as never, tenant: 'acme', dt: '2026-11-22', rawSha256: SHA, part: 0 }),
    ).toThrow('unknown table');
    expect(() => tahoeKey({ table: 'tahoe_raw', tenant: 'acme', dt: '2026-11-22', rawSha256: SHA, part: -1 })).toThrow(
      'part number',
    );
    expect(() => tahoeKey({ table: 'tahoe_raw', tenant: 'acme', dt: '2026-11-22', rawSha256: SHA, part: 1.5 })).toThrow(
      'part number',
    );
    expect(() => parseTahoeKey(`tahoe/tahoe_raw/tenant=acme/dt=2026-11-22/${SHA.toUpperCase()}-00000.parquet`)).toThrow(
      InvalidIdentifierError,
    );
    expect(() => parseTahoeKey(`tahoe/secrets/tenant=acme/dt=2026-11-22/${SHA}-00000.parquet`)).toThrow(
      'unknown table',
    );
  });
});

describe('quarantine, proof and manifest keys', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(tenantArb, dayArb, shaArb, (tenant, dt, sha) => {
        expect(parseQuarantineKey(quarantineKey({ tenant, dt, rawSha256: sha }))).toEqual({
          tenant,
          dt,
          rawSha256: sha,
        });
        const batchId = `${dt.replace(/-/g, '')}T1000Z-${sha.slice(0, 16)}`;
        for (const part of ['json', 'tsr'] as const) {
          expect(parseProofKey(proofKey({ tenant, dt, batchId, part }))).toEqual({ tenant, dt, batchId, part });
        }
      }),
    );
    expect(parseManifestKey(manifestKey(ULID))).toEqual({ loadId: ULID });
  });

  it('rejects proof batch ids and parts outside the grammar', () => {
    expect(() => proofKey({ tenant: 'acme', dt: '2026-11-22', batchId: '../../etc', part: 'json' })).toThrow(
      'batch id',
    );
    expect(() =>
      proofKey({ tenant: 'acme', dt: '2026-11-22', batchId: '20261122T1000Z-0123456789abcdef', part: 'exe' as never }),
    ).toThrow('proof part');
    expect(() => parseQuarantineKey(`quarantine/tenant=acme/dt=2026-11-22/${SHA}.jsonl`)).toThrow(
      InvalidIdentifierError,
    );
  });
});

describe('purge record keys', () => {
  it('round-trip through the purge id', () => {
    fc.assert(
      fc.property(ulidArb, (id) => {
        expect(purgeRecordKey(id)).toBe(`purges/${id}.json`);
        expect(parsePurgeRecordKey(purgeRecordKey(id))).toEqual({ purgeId: id });
      }),
    );
  });

  it('refuse ids that are not ULIDs and keys that are not purge records', () => {
    expect(() => purgeRecordKey('../manifests/x')).toThrow(InvalidIdentifierError);
    expect(() => parsePurgeRecordKey(`purges/${ULID}.manifest`)).toThrow('not a purge record key');
    expect(() => parsePurgeRecordKey(`manifests/${ULID}.json`)).toThrow('not a purge record key');
    expect(() => parsePurgeRecordKey('purges/01jd7q2m3n4p5q6r7s8t9v0w1x.json')).toThrow(InvalidIdentifierError);
  });
});

describe('tenant prefixes', () => {
  it('hold every raw, Parquet and quarantine key of the tenant and no key of another tenant', () => {
    fc.assert(
      fc.property(tenantArb, tenantArb, dayArb, shaArb, (tenant, other, dt, sha) => {
        const p = tenantPrefixes(tenant);
        const raw = rawKey({
          tenant,
          typetag: 'cowrie',
          receivedAt: new Date(`${dt}T10:00:00Z`),
          uploadId: ULID,
          envelope: 'none',
          gzip: false,
        });
        expect(raw.startsWith(p.raw)).toBe(true);
        for (const table of TAHOE_TABLES) {
          expect(tahoeKey({ table, tenant, dt, rawSha256: sha, part: 0 }).startsWith(p.tahoe[table])).toBe(true);
        }
        expect(quarantineKey({ tenant, dt, rawSha256: sha }).startsWith(p.quarantine)).toBe(true);
        if (other !== tenant) {
          const q = tenantPrefixes(other);
          expect(raw.startsWith(q.raw)).toBe(false);
          expect(quarantineKey({ tenant, dt, rawSha256: sha }).startsWith(q.quarantine)).toBe(false);
        }
      }),
    );
  });

  it('refuse a tenant id outside the grammar', () => {
    expect(() => tenantPrefixes('acme/../beta')).toThrow(InvalidIdentifierError);
  });
});

describe('S3 event keys', () => {
  it('decodes form-encoded keys from S3 and leaves verbatim keys unchanged', () => {
    const key = `raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=09/${ULID}.gz.esdk`;
    expect(decodeS3EventKey(key.replace(/=/g, '%3D'))).toBe(key);
    expect(decodeS3EventKey(key)).toBe(key);
    expect(() => decodeS3EventKey('raw/%E0%A4%A')).toThrow('malformed');
  });
});

describe('deterministicUploadId', () => {
  it('is a valid ULID that sorts by time and repeats for the same time and digest', () => {
    const digest = new Uint8Array(32).fill(7);
    const a = deterministicUploadId(new Date('2026-11-22T10:00:00Z'), digest);
    const b = deterministicUploadId(new Date('2026-11-22T10:00:01Z'), digest);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(deterministicUploadId(new Date('2026-11-22T10:00:00Z'), digest)).toBe(a);
    expect(a < b).toBe(true);
    expect(deterministicUploadId(new Date('2026-11-22T10:00:00Z'), new Uint8Array(32).fill(8))).not.toBe(a);
    expect(() => deterministicUploadId(new Date(-1), digest)).toThrow('ULID range');
  });
});
