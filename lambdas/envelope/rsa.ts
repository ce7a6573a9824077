import type { KeyObject } from 'node:crypto';

/**
 * The modulus length in bits of an RSA KeyObject (public or private), or undefined for any other key.
 *
 * Read from the key's JWK export rather than `KeyObject.asymmetricKeyDetails`: on Node 20.20 that getter can block
 * forever (main thread parked on a futex) when a large buffer — 32 MiB or more — is alive and no garbage collection
 * has run yet, which is exactly the state of a process sealing or opening a big file.
 */
export function rsaModulusBits(key: KeyObject): number | undefined {
  if (key.asymmetricKeyType !== 'rsa') return undefined;
  const { n } = key.export({ format: 'jwk' });
  if (typeof n !== 'string' || n.length === 0) return undefined;
  const modulus = Buffer.from(n, 'base64url');
  let bits = modulus.length * 8;
  for (let i = 0; i < modulus.length && modulus[i] === 0; i++) bits -= 8;
  const top = modulus.find((b) => b !== 0) ?? 0;
  return top === 0 ? 0 : bits - Math.clz32(top) + 24;
}
