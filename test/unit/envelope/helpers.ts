import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { LocalKeyUnwrapper, localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import type { Envelope, OpenEnvelopeOptions } from '../../../lambdas/envelope/envelope';
import { openEnvelope } from '../../../lambdas/envelope/envelope';
import { PermanentError } from '../../../lambdas/shared/errors';

export const MiB = 1024 * 1024;

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
  readonly privatePem: string;
  readonly arn: string;
  readonly modulusBytes: number;
  readonly unwrapper: LocalKeyUnwrapper;
}

/** A fresh RSA key pair (generated at run time; no key is ever stored in the repository). */
export function newKey(bits = 2048): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    arn: localKeyArn(publicKey),
    modulusBytes: bits / 8,
    unwrapper: new LocalKeyUnwrapper([privateKey]),
  };
}

/** Deterministic, incompressible-enough test data without paying for randomBytes on large sizes. */
export function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (let i = size - (size % 4); i < size; i++) out[i] = i & 0xff;
  return out;
}

/** A stream yielding `data` in chunks of the given sizes, cycling through them. */
export function chunked(data: Buffer, sizes: readonly number[] = [64 * 1024]): Readable {
  const chunks: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < data.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    chunks.push(data.subarray(pos, pos + n));
    pos += n;
  }
  return Readable.from(chunks, { objectMode: false });
}

export function openOptions(key: TestKey, extra: Partial<OpenEnvelopeOptions> = {}): OpenEnvelopeOptions {
  return {
    unwrapper: key.unwrapper,
    allowedKeyArns: [key.arn],
    expectedContext: {},
    rsaModulusBytes: key.modulusBytes,
    ...extra,
  };
}

export function decrypt(
  kind: Envelope,
  sealed: Buffer,
  options: OpenEnvelopeOptions,
  sizes?: number[],
): Promise<Buffer> {
  return buffer(openEnvelope(kind, chunked(sealed, sizes), options));
}

/** Awaits a rejection and checks it is BAD_DATA with a reason matching `reason`; returns the message. */
export async function expectBadData(promise: Promise<unknown>, reason?: RegExp): Promise<string> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PermanentError);
  const err = caught as PermanentError;
  expect(err.outcome).toBe('BAD_DATA');
  expect(err.message.length).toBeGreaterThan(10);
  if (reason) expect(err.message).toMatch(reason);
  return err.message;
}
