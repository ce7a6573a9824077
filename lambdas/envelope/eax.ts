/**
 * AES in EAX mode (Bellare, Rogaway, Wagner, "The EAX Mode of Operation", FSE 2004), the mode PyCryptodome's
 * `AES.MODE_EAX` implements and Cybex-P producers use.
 *
 * Written here because neither Node's crypto nor any maintained npm package offers a streaming EAX built on
 * OpenSSL: the pure-JavaScript AES packages are one to two orders of magnitude slower than OpenSSL's AES-NI, and
 * the envelope must decrypt gigabyte files at disk speed. EAX is only composition, so it is built from OpenSSL
 * primitives: CTR mode for the keystream and OMAC1 (= CMAC, NIST SP 800-38B) as CBC-MAC over AES-CBC.
 *
 *   N' = OMAC_K^0(nonce)   H' = OMAC_K^1(header)   C = CTR_K^{N'}(M)   C' = OMAC_K^2(C)   tag = N' ⊕ H' ⊕ C'
 *
 * where OMAC^t(X) = CMAC(⟨t⟩₁₂₈ ‖ X). The counter is N' incremented as one 128-bit big-endian integer, which is
 * what OpenSSL's CTR mode does with an IV of N'.
 */
import { type Cipher, createCipheriv, timingSafeEqual } from 'node:crypto';

const BLOCK = 16;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

function aesBits(key: Uint8Array): 128 | 192 | 256 {
  if (key.length === 16) return 128;
  if (key.length === 24) return 192;
  if (key.length === 32) return 256;
  throw new RangeError(`AES key must be 16, 24 or 32 bytes, not ${key.length}`);
}

/** Multiplication by x in GF(2^128) (the CMAC subkey derivation, SP 800-38B §6.1). */
function double(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i] ?? 0) << 1) | ((block[i + 1] ?? 0) >>> 7);
  if ((block[0] ?? 0) & 0x80) out[BLOCK - 1] = (out[BLOCK - 1] ?? 0) ^ 0x87;
  return out;
}

function xorInto(target: Buffer, other: Uint8Array): Buffer {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) ^ (other[i] ?? 0);
  return target;
}

/** A key prepared for EAX: the AES key and its two CMAC subkeys. */
export class EaxKey {
  private readonly bits: 128 | 192 | 256;
  readonly k1: Buffer;
  readonly k2: Buffer;

  constructor(private readonly key: Uint8Array) {
    this.bits = aesBits(key);
    const ecb = createCipheriv(`aes-${this.bits}-ecb`, key, null).setAutoPadding(false);
    const l = ecb.update(ZERO_BLOCK);
    this.k1 = double(l);
    this.k2 = double(this.k1);
  }

  /** A streaming OMAC^t. */
  omac(tweak: 0 | 1 | 2): Omac {
    return new Omac(createCipheriv(`aes-${this.bits}-cbc`, this.key, ZERO_BLOCK).setAutoPadding(false), this, tweak);
  }

  ctr(counter: Buffer): Cipher {
    return createCipheriv(`aes-${this.bits}-ctr`, this.key, counter);
  }
}

/**
 * Streaming CMAC over ⟨t⟩ ‖ data. CMAC treats the last block specially (XOR with K1 if complete, else pad and XOR
 * with K2), so 1 to 16 bytes are always held back until `digest()`; since the tweak block comes first the message
 * is never empty.
 */
export class Omac {
  private pending: Buffer;
  private done = false;

  constructor(
    private readonly cbc: Cipher,
    private readonly key: EaxKey,
    tweak: number,
  ) {
    this.pending = Buffer.alloc(BLOCK);
    this.pending[BLOCK - 1] = tweak;
  }

  update(data: Uint8Array): this {
    if (this.done) throw new Error('OMAC already finalised');
    const total = this.pending.length + data.length;
    if (total <= BLOCK) {
      this.pending = Buffer.concat([this.pending, data]);
      return this;
    }
    // Feed every whole block except the last (1..16 bytes stay pending). The CBC output is not needed: the chaining
    // value lives inside the cipher, and digest() gets the tag by pushing the final block through it.
    let feed = Math.floor((total - 1) / BLOCK) * BLOCK;
    let rest = data;
    if (this.pending.length > 0) {
      const need = BLOCK - this.pending.length;
      this.cbc.update(Buffer.concat([this.pending, rest.subarray(0, need)]));
      rest = rest.subarray(need);
      feed -= BLOCK;
    }
    if (feed > 0) this.cbc.update(rest.subarray(0, feed));
    // Copy so that the held-back bytes do not pin the caller's (possibly large) chunk in memory.
    this.pending = Buffer.from(rest.subarray(feed));
    return this;
  }

  digest(): Buffer {
    if (this.done) throw new Error('OMAC already finalised');
    this.done = true;
    const last = Buffer.alloc(BLOCK);
    this.pending.copy(last);
    if (this.pending.length === BLOCK) {
      xorInto(last, this.key.k1);
    } else {
      last[this.pending.length] = 0x80;
      xorInto(last, this.key.k2);
    }
    const tag = this.cbc.update(last);
    this.cbc.final();
    return tag;
  }
}

/**
 * One EAX message in progress, encrypting or decrypting chunk by chunk. Decryption output is unauthenticated until
 * `verify()` returns: callers must not let it escape before then (see envelope.ts for the stream contract).
 */
export class EaxStream {
  private readonly nonceMac: Buffer;
  private readonly headerMac: Buffer;
  private readonly ctr: Cipher;
  private readonly cmac: Omac;
  private finished = false;

  constructor(
    key: EaxKey,
    nonce: Uint8Array,
    private readonly direction: 'encrypt' | 'decrypt',
    header: Uint8Array = Buffer.alloc(0),
  ) {
    this.nonceMac = key.omac(0).update(nonce).digest();
    this.headerMac = key.omac(1).update(header).digest();
    this.ctr = key.ctr(this.nonceMac);
    this.cmac = key.omac(2);
  }

  update(chunk: Uint8Array): Buffer {
    if (this.finished) throw new Error('EAX stream already finalised');
    if (this.direction === 'decrypt') {
      this.cmac.update(chunk);
      return this.ctr.update(chunk);
    }
    const out = this.ctr.update(chunk);
    this.cmac.update(out);
    return out;
  }

  /** The full 16-byte tag (after the last `update`). */
  tag(): Buffer {
    if (this.finished) throw new Error('EAX stream already finalised');
    this.finished = true;
    this.ctr.final();
    return xorInto(xorInto(this.cmac.digest(), this.nonceMac), this.headerMac);
  }

  /** Constant-time comparison of the computed tag (truncated to `expected.length`, 1..16 bytes) with `expected`. */
  verify(expected: Uint8Array): boolean {
    const computed = this.tag();
    if (expected.length < 1 || expected.length > BLOCK) return false;
    return timingSafeEqual(computed.subarray(0, expected.length), expected);
  }
}

/** One-shot EAX encryption; `tagLength` truncates the tag as EAX allows (PyCryptodome's `mac_len`). */
export function eaxEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  header: Uint8Array = Buffer.alloc(0),
  tagLength = BLOCK,
): { ciphertext: Buffer; tag: Buffer } {
  const s = new EaxStream(new EaxKey(key), nonce, 'encrypt', header);
  const ciphertext = s.update(plaintext);
  return { ciphertext, tag: s.tag().subarray(0, tagLength) };
}

/** One-shot EAX decryption: the plaintext, or undefined when the tag does not verify. */
export function eaxDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  header: Uint8Array = Buffer.alloc(0),
): Buffer | undefined {
  const s = new EaxStream(new EaxKey(key), nonce, 'decrypt', header);
  const plaintext = s.update(ciphertext);
  return s.verify(tag) ? plaintext : undefined;
}
