/**
 * The local twin of KMS for envelopes: RSA-OAEP with a PEM private key held in this process (the seed's
 * `priv.pem`, under the local runtime's data folder). Behaves like `KmsKeyUnwrapper` from the caller's side:
 * same algorithms, same error classes.
 */
import { constants, createHash, createPrivateKey, createPublicKey, KeyObject, privateDecrypt } from 'node:crypto';
import type { KeyUnwrapper, UnwrapAlgorithm } from '../envelope/ports';
import { rsaModulusBits } from '../envelope/rsa';
import { badData, ConfigError } from '../shared/errors';

/**
 * The stable local identifier of a key, shaped like a KMS key ARN so that the same envelope code and allow-lists
 * work: `arn:local:kms:local:000000000000:key/<first 32 hex digits of SHA-256 of the public key's DER (SPKI)>`.
 * Encrypting and decrypting sides derive it independently from their half of the key pair.
 */
export function localKeyArn(key: string | Buffer | KeyObject): string {
  const publicKey = key instanceof KeyObject && key.type === 'public' ? key : createPublicKey(key);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `arn:local:kms:local:000000000000:key/${createHash('sha256').update(der).digest('hex').slice(0, 32)}`;
}

const OAEP_HASH: Readonly<Record<UnwrapAlgorithm, string>> = {
  RSAES_OAEP_SHA_256: 'sha256',
  RSAES_OAEP_SHA_1: 'sha1',
};

type PrivateKeySource = string | Buffer | KeyObject;

export interface LocalKey {
  readonly keyArn: string;
  readonly privateKey: KeyObject;
  /** Public half as SPKI PEM, for `GET /v1/public-key` and shippers. */
  readonly publicKeyPem: string;
  readonly modulusBytes: number;
}

export class LocalKeyUnwrapper implements KeyUnwrapper {
  private readonly keys: ReadonlyMap<string, LocalKey>;

  /**
   * @param privateKeys PEM private keys (PKCS#8 or PKCS#1). Each is known under its `localKeyArn` unless
   *   `keyArn` names it otherwise (e.g. to stand in for a real KMS ARN in tests).
   */
  constructor(privateKeys: readonly (PrivateKeySource | { pem: PrivateKeySource; keyArn: string })[]) {
    const keys = new Map<string, LocalKey>();
    for (const entry of privateKeys) {
      const named = typeof entry === 'object' && 'pem' in entry ? entry : undefined;
      const source = named ? named.pem : (entry as PrivateKeySource);
      let privateKey: KeyObject;
      try {
        privateKey = source instanceof KeyObject ? source : createPrivateKey(source);
      } catch (err) {
        throw new ConfigError('local envelope key is not a readable PEM private key', { cause: err });
      }
      const bits = privateKey.type === 'private' ? rsaModulusBits(privateKey) : undefined;
      if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa' || bits === undefined) {
        throw new ConfigError('local envelope key must be an RSA private key');
      }
      const keyArn = named ? named.keyArn : localKeyArn(privateKey);
      const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
      keys.set(keyArn, { keyArn, privateKey, publicKeyPem, modulusBytes: Math.ceil(bits / 8) });
    }
    if (keys.size === 0) throw new ConfigError('no local envelope key given');
    this.keys = keys;
  }

  /** The keys held, in the order given. */
  list(): LocalKey[] {
    return [...this.keys.values()];
  }

  async unwrap(keyArn: string, algorithm: UnwrapAlgorithm, ciphertext: Uint8Array): Promise<Buffer> {
    const key = this.keys.get(keyArn);
    // KMS would answer NotFound; locally an unknown key can only be a mistake in how the runtime was set up.
    if (!key) throw new ConfigError(`no local envelope key ${keyArn}`);
    const oaepHash = OAEP_HASH[algorithm];
    if (!oaepHash) throw new ConfigError(`unsupported unwrap algorithm ${String(algorithm)}`);
    if (ciphertext.length !== key.modulusBytes) {
      throw badData(`wrapped key is ${ciphertext.length} bytes; key ${keyArn} takes ${key.modulusBytes}`);
    }
    try {
      return privateDecrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, ciphertext);
    } catch (err) {
      // Same meaning as KMS's InvalidCiphertextException: this key did not wrap these bytes, or they were altered.
      throw badData(`wrapped key does not decrypt with ${keyArn} (${algorithm})`, err);
    }
  }
}
