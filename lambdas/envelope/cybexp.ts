/**
 * The `cybexp` envelope, byte for byte what Cybex-P producers write (PyCryptodome) and its archiver reads:
 *
 *   RSA-OAEP(SHA-1, MGF1-SHA-1) wrapped 32-byte AES key   (exactly the RSA modulus length, e.g. 512 bytes)
 *   ‖ 16-byte EAX nonce ‖ 16-byte EAX tag ‖ AES-256-EAX ciphertext (no associated data)
 *
 * The tag precedes the ciphertext but covers all of it, so decryption is one pass — CTR decryption while the OMAC
 * runs over the ciphertext — with the tag checked at the end: the plaintext is untrusted until the stream ends, and
 * the stream fails (BAD_DATA) at the end on a mismatch. Encryption, conversely, learns the tag only at the end:
 * `CybexpSealer` streams the ciphertext and hands out the header afterwards, for a writer that can seek back.
 */
import { constants, createPublicKey, type KeyObject, publicEncrypt, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { badData, ConfigError, PermanentError } from '../shared/errors';
import { EaxKey, EaxStream } from './eax';
import type { KeyUnwrapper } from './ports';
import { rsaModulusBits } from './rsa';

export const CYBEXP_KEY_BYTES = 32;
export const CYBEXP_NONCE_BYTES = 16;
export const CYBEXP_TAG_BYTES = 16;
/** Wrapped-key length for the RSA-4096 keys the deployment uses (KMS key spec RSA_4096). */
export const CYBEXP_DEFAULT_MODULUS_BYTES = 512;

export interface CybexpOpenOptions {
  readonly unwrapper: KeyUnwrapper;
  /**
   * Keys to try, in order: the format names no key, so during a rotation each allowed key is tried until one
   * unwraps. Only a BAD_DATA refusal moves on to the next key; any other failure ends the attempt.
   */
  readonly keyArns: readonly string[];
  /** RSA modulus length in bytes, which is the wrapped key's length. @default CYBEXP_DEFAULT_MODULUS_BYTES */
  readonly modulusBytes?: number;
}

/** A Transform from a cybexp blob to its plaintext. */
export function cybexpDecryptStream(options: CybexpOpenOptions): Transform {
  if (options.keyArns.length === 0) throw new ConfigError('cybexp: no key is allowed for decryption');
  return new CybexpDecryptStream(options);
}

class CybexpDecryptStream extends Transform {
  private readonly headerBytes: number;
  private head: Buffer[] = [];
  private headLength = 0;
  private eax: EaxStream | undefined;
  private tag: Buffer | undefined;

  constructor(private readonly options: CybexpOpenOptions) {
    super();
    this.headerBytes = (options.modulusBytes ?? CYBEXP_DEFAULT_MODULUS_BYTES) + CYBEXP_NONCE_BYTES + CYBEXP_TAG_BYTES;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.eax) {
      callback(null, this.eax.update(chunk));
      return;
    }
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < this.headerBytes) {
      callback();
      return;
    }
    const all = Buffer.concat(this.head);
    this.head = [];
    this.start(all.subarray(0, this.headerBytes)).then(
      (eax) => {
        this.eax = eax;
        const rest = all.subarray(this.headerBytes);
        callback(null, rest.length > 0 ? eax.update(rest) : undefined);
      },
      (err: unknown) => callback(err as Error),
    );
  }

  override _flush(callback: TransformCallback): void {
    if (!this.eax || !this.tag) {
      callback(
        badData(
          `cybexp: truncated: ${this.headLength} bytes, but the key, nonce and tag alone take ${this.headerBytes}`,
        ),
      );
      return;
    }
    if (!this.eax.verify(this.tag)) {
      callback(
        badData('cybexp: EAX tag mismatch: the file was altered, truncated, extended or sealed with another key'),
      );
      return;
    }
    callback();
  }

  private async start(header: Buffer): Promise<EaxStream> {
    const modulusBytes = this.headerBytes - CYBEXP_NONCE_BYTES - CYBEXP_TAG_BYTES;
    const wrapped = header.subarray(0, modulusBytes);
    const nonce = header.subarray(modulusBytes, modulusBytes + CYBEXP_NONCE_BYTES);
    this.tag = Buffer.from(header.subarray(modulusBytes + CYBEXP_NONCE_BYTES));
    const key = await unwrapWithAny(this.options, wrapped);
    try {
      if (key.length !== CYBEXP_KEY_BYTES) {
        throw badData(`cybexp: unwrapped key is ${key.length} bytes, not ${CYBEXP_KEY_BYTES}`);
      }
      return new EaxStream(new EaxKey(key), nonce, 'decrypt');
    } finally {
      key.fill(0);
    }
  }
}

async function unwrapWithAny(options: CybexpOpenOptions, wrapped: Buffer): Promise<Buffer> {
  const reasons: string[] = [];
  for (const keyArn of options.keyArns) {
    try {
      return await options.unwrapper.unwrap(keyArn, 'RSAES_OAEP_SHA_1', wrapped);
    } catch (err) {
      if (!(err instanceof PermanentError && err.outcome === 'BAD_DATA')) throw err;
      reasons.push(err.message);
    }
  }
  throw badData(`cybexp: the wrapped key did not unwrap with any allowed key: ${reasons.join('; ')}`);
}

function rsaPublicKey(publicKey: string | KeyObject): { key: KeyObject; modulusBytes: number } {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const bits = rsaModulusBits(key);
  if (key.asymmetricKeyType !== 'rsa' || bits === undefined) throw new ConfigError('cybexp needs an RSA public key');
  return { key, modulusBytes: Math.ceil(bits / 8) };
}

/** A fresh data key and nonce, the key wrapped for `publicKey`, and the EAX stream that uses them. */
function freshSeal(publicKey: string | KeyObject): { prefix: Buffer; headerBytes: number; eax: EaxStream } {
  const { key: rsa, modulusBytes } = rsaPublicKey(publicKey);
  const key = randomBytes(CYBEXP_KEY_BYTES);
  const nonce = randomBytes(CYBEXP_NONCE_BYTES);
  try {
    const wrapped = publicEncrypt({ key: rsa, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, key);
    return {
      prefix: Buffer.concat([wrapped, nonce]),
      headerBytes: modulusBytes + CYBEXP_NONCE_BYTES + CYBEXP_TAG_BYTES,
      eax: new EaxStream(new EaxKey(key), nonce, 'encrypt'),
    };
  } finally {
    key.fill(0);
  }
}

/**
 * Seals one blob as a stream: pipe the plaintext through `ciphertext`, and once it has ended, write `header()`
 * (wrapped key ‖ nonce ‖ tag, `headerBytes` long) in front of what came out.
 */
export class CybexpSealer {
  readonly headerBytes: number;
  readonly ciphertext: Transform;
  private readonly prefix: Buffer;
  private tag: Buffer | undefined;

  constructor(publicKey: string | KeyObject) {
    const { prefix, headerBytes, eax } = freshSeal(publicKey);
    this.prefix = prefix;
    this.headerBytes = headerBytes;
    this.ciphertext = new Transform({
      transform: (chunk: Buffer, _enc, callback) => callback(null, eax.update(chunk)),
      flush: (callback) => {
        this.tag = eax.tag();
        callback();
      },
    });
  }

  header(): Buffer {
    if (!this.tag) throw new Error('cybexp: the header is known only after all plaintext went through');
    return Buffer.concat([this.prefix, this.tag]);
  }
}

/** Seals a whole in-memory payload (small files, tests, the demo shipper). */
export function sealCybexp(plaintext: Uint8Array, publicKey: string | KeyObject): Buffer {
  const { prefix, eax } = freshSeal(publicKey);
  const body = eax.update(plaintext);
  return Buffer.concat([prefix, eax.tag(), body]);
}
