import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { sealCybexp } from '../../../lambdas/envelope/cybexp';
import { type Envelope, openEnvelope, readEnvelope, sealEnvelope } from '../../../lambdas/envelope/envelope';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';
import { chunked, decrypt, expectBadData, MiB, newKey, openOptions, pattern } from './helpers';

const key = newKey(2048);
const CONTEXT = { tenant: 'acme', typetag: 'cowrie' };

async function seal(kind: Envelope, plaintext: Buffer, opts: { gzip?: boolean; frameLength?: number } = {}) {
  if (kind === 'cybexp') return sealCybexp(opts.gzip ? gzipSync(plaintext) : plaintext, key.publicKey);
  return buffer(
    sealEnvelope(kind, chunked(plaintext), {
      keyArn: key.arn,
      publicKey: key.publicPem,
      context: CONTEXT,
      ...opts,
    }),
  );
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('openEnvelope round trips', () => {
  const sizes = [0, 1, MiB - 1, MiB, MiB + 1, 2 * MiB];
  const kinds: Envelope[] = ['esdk', 'cybexp', 'none'];

  it.each(kinds.flatMap((kind) => sizes.map((size) => [kind, size] as const)))(
    'restores %s plaintext of %i bytes exactly',
    async (kind, size) => {
      const plaintext = pattern(size, size + 7);
      const sealed = await seal(kind, plaintext);
      const out = await decrypt(kind, sealed, openOptions(key, { expectedContext: CONTEXT }), [65536, 1000, 3]);
      expect(out.length).toBe(size);
      expect(out.equals(plaintext)).toBe(true);
    },
  );

  it.each(kinds)('restores a 50 MiB %s file', async (kind) => {
    const plaintext = pattern(50 * MiB, 50);
    const sealed = await seal(kind, plaintext);
    const out = await decrypt(kind, sealed, openOptions(key, { expectedContext: CONTEXT }));
    expect(out.length).toBe(plaintext.length);
    expect(sha(out)).toBe(sha(plaintext));
  });

  it.each(kinds)('gunzips after decrypting %s when asked', async (kind) => {
    const plaintext = Buffer.from('{"a":1}\n'.repeat(50_000));
    const sealed = await seal(kind, plaintext, { gzip: true });
    expect(sealed.length).toBeLessThan(plaintext.length / 10);
    const out = await decrypt(kind, sealed, openOptions(key, { gzip: true }));
    expect(out.equals(plaintext)).toBe(true);
  });

  it('restores esdk and cybexp plaintext whatever the chunking of the stored bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom<Envelope>('esdk', 'cybexp'),
        async (bytes, cuts, kind) => {
          const plaintext = Buffer.from(bytes);
          const sealed = await seal(kind, plaintext, { frameLength: 256 });
          const out = await decrypt(kind, sealed, openOptions(key), cuts);
          expect(out.equals(plaintext)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('accepts any frame length up to the limit, and refuses a larger one before unwrapping', async () => {
    const plaintext = pattern(5000);
    const small = await seal('esdk', plaintext, { frameLength: 4096 });
    expect((await decrypt('esdk', small, openOptions(key))).equals(plaintext)).toBe(true);
    const big = await seal('esdk', plaintext, { frameLength: 2 * MiB });
    let called = false;
    const unwrapper = {
      unwrap: async () => {
        called = true;
        return Buffer.alloc(0);
      },
    };
    await expectBadData(decrypt('esdk', big, openOptions(key, { unwrapper })), /frame length 2097152 is not accepted/);
    expect(called).toBe(false);
  });
});

describe('openEnvelope configuration', () => {
  const source = () => Readable.from([Buffer.from('x')]);

  it('throws ConfigError at once when keys or the expected context are missing', () => {
    expect(() => openEnvelope('esdk', source(), { allowedKeyArns: [key.arn], expectedContext: {} })).toThrow(
      ConfigError,
    );
    expect(() => openEnvelope('cybexp', source(), { unwrapper: key.unwrapper, allowedKeyArns: [] })).toThrow(
      ConfigError,
    );
    expect(() => openEnvelope('esdk', source(), { unwrapper: key.unwrapper, allowedKeyArns: [key.arn] })).toThrow(
      /expected encryption context/,
    );
    expect(() => openEnvelope('rot13' as Envelope, source(), {})).toThrow(ConfigError);
  });

  it('passes `none` through untouched and needs no key', async () => {
    const out = await buffer(openEnvelope('none', Readable.from([Buffer.from('plain')]), {}));
    expect(out.toString()).toBe('plain');
  });
});

describe('the untrusted-until-end contract', () => {
  /** A 3-frame esdk message (256-byte frames) with a byte of the last frame's content flipped. */
  async function lateTampered() {
    const plaintext = pattern(700, 3);
    const sealed = await seal('esdk', plaintext, { frameLength: 256 });
    const bad = Buffer.from(sealed);
    const i = bad.length - 16 - 10;
    bad[i] = (bad[i] ?? 0) ^ 0x01;
    return { plaintext, bad };
  }

  it('releases verified earlier frames, then fails the stream: consumers must wait for end', async () => {
    const { plaintext, bad } = await lateTampered();
    const seen: Buffer[] = [];
    const stream = openEnvelope('esdk', chunked(bad, [100]), openOptions(key));
    const done = new Promise<unknown>((resolve) => {
      stream.on('data', (c: Buffer) => seen.push(c));
      stream.on('error', resolve);
      stream.on('end', () => resolve(undefined));
    });
    const err = await done;
    await expectBadData(Promise.reject(err), /authentication failed/);
    const early = Buffer.concat(seen);
    expect(early.length).toBeGreaterThan(0);
    expect(early.equals(plaintext.subarray(0, early.length))).toBe(true);
  });

  it('readEnvelope throws the envelope error even when the consumer succeeded', async () => {
    const { bad } = await lateTampered();
    await expectBadData(
      readEnvelope('esdk', chunked(bad), openOptions(key), async (p) => {
        for await (const _ of p) break;
        return 'committed?';
      }).catch((e) => Promise.reject(e)),
    );
  });

  it('readEnvelope authenticates the part the consumer did not read', async () => {
    const { bad } = await lateTampered();
    await expectBadData(readEnvelope('esdk', chunked(bad), openOptions(key), async () => 'ignored everything'));
  });

  it('readEnvelope returns the consumer result when the envelope authenticated', async () => {
    const plaintext = pattern(3 * MiB);
    const sealed = await seal('cybexp', plaintext);
    const n = await readEnvelope('cybexp', chunked(sealed), openOptions(key), async (p) => (await buffer(p)).length);
    expect(n).toBe(plaintext.length);
  });
});

describe('errors that are not about the data', () => {
  it('passes the source stream error through unchanged', async () => {
    const sealed = await seal('esdk', pattern(3 * MiB));
    const boom = new Error('socket hang up');
    const source = new Readable({
      read() {
        this.push(sealed.subarray(0, MiB));
        this.destroy(boom);
      },
    });
    await expect(buffer(openEnvelope('esdk', source, openOptions(key)))).rejects.toBe(boom);
  });

  it.each(['esdk', 'cybexp'] as const)(
    'fails (%s), never yields an empty success, when the source broke before anyone read',
    async (kind) => {
      const source = createReadStream('/nonexistent/cyberactive-input');
      const plaintext = openEnvelope(kind, source, openOptions(key));
      await new Promise((r) => setTimeout(r, 20));
      await expect(buffer(plaintext)).rejects.toMatchObject({ code: 'ENOENT' });
      const sealed = sealEnvelope('esdk', createReadStream('/nonexistent/x'), {
        keyArn: key.arn,
        publicKey: key.publicKey,
        context: {},
      });
      await new Promise((r) => setTimeout(r, 20));
      await expect(buffer(sealed)).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  it('keeps a transient key-service failure transient', async () => {
    const sealed = await seal('esdk', pattern(10));
    const unwrapper = {
      unwrap: async () => {
        throw new TransientError('ThrottlingException: Rate exceeded');
      },
    };
    await expect(decrypt('esdk', sealed, openOptions(key, { unwrapper }))).rejects.toBeInstanceOf(TransientError);
    const blob = sealCybexp(pattern(10), key.publicKey);
    await expect(decrypt('cybexp', blob, openOptions(key, { unwrapper }))).rejects.toBeInstanceOf(TransientError);
  });

  it('reports a gzip stream that is not gzip as BAD_DATA', async () => {
    const sealed = await seal('esdk', Buffer.from('not gzip at all'));
    await expectBadData(decrypt('esdk', sealed, openOptions(key, { gzip: true })), /^gzip: /);
  });
});
