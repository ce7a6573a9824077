/**
 * The "AWS KMS RSA keyring" of the AWS Encryption SDK specification (framework/aws-kms/aws-kms-rsa-keyring.md),
 * on the Encryption SDK for JavaScript's keyring interface, which has no such keyring of its own. The Python, Java
 * and .NET SDKs (through the Material Providers Library) do, so their shippers interoperate with this one.
 *
 * Encrypted data key (EDK):
 *   provider id   "aws-kms-rsa"
 *   provider info the KMS key ARN (UTF-8)
 *   ciphertext    RSA-OAEP(SHA-256, MGF1-SHA-256) of  SHA-384(canonical encryption context) ‖ plaintext data key
 *
 * The canonical encryption context is the message header's "key value pairs" serialization: a uint16 pair count,
 * then for each pair sorted by the UTF-8 bytes of its key, uint16 key length, key, uint16 value length, value; an
 * empty context serializes to zero bytes. Encrypting needs only the public key; decrypting goes through the
 * `KeyUnwrapper` port (KMS `Decrypt` on AWS), after which the 48-byte digest is compared in constant time with the
 * digest of the context the message header carries. That binds the (otherwise only header-authenticated) context
 * to the key holder: asymmetric KMS keys take no encryption context of their own.
 */
import {
  constants,
  createHash,
  createPublicKey,
  type KeyObject,
  publicEncrypt,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import {
  EncryptedDataKey,
  KeyringNode,
  KeyringTraceFlag,
  type NodeDecryptionMaterial,
  type NodeEncryptionMaterial,
  unwrapDataKey,
} from '@aws-crypto/client-node';
import { badData, ConfigError, PermanentError, TransientError } from '../shared/errors';
import { mrkMatchForDecrypt, parseKmsKeyArn } from './kms-arn';
import type { EncryptionContext, KeyUnwrapper } from './ports';
import { rsaModulusBits } from './rsa';

export const KMS_RSA_PROVIDER_ID = 'aws-kms-rsa';
/** SHA-384 output: the spec forbids truncating it, which is why 1024-bit RSA keys cannot carry it. */
export const CONTEXT_DIGEST_BYTES = 48;
const MIN_MODULUS_BITS = 2048;

/** The spec's canonical serialization of an encryption context (see the module comment). */
export function canonicalEncryptionContext(context: EncryptionContext): Buffer {
  const pairs = Object.entries(context).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  if (pairs.length === 0) return Buffer.alloc(0);
  if (pairs.length > 0xffff) throw new RangeError('encryption context has too many pairs');
  pairs.sort(([a], [b]) => Buffer.compare(a, b));
  const parts: Buffer[] = [u16(pairs.length)];
  for (const [k, v] of pairs) {
    if (k.length > 0xffff || v.length > 0xffff) throw new RangeError('encryption context entry too long');
    parts.push(u16(k.length), k, u16(v.length), v);
  }
  return Buffer.concat(parts);
}

export function encryptionContextDigest(context: EncryptionContext): Buffer {
  return createHash('sha384').update(canonicalEncryptionContext(context)).digest();
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export interface KmsRsaEncryptConfig {
  /** The KMS key ARN written as provider info; the shipper gets it with the public key (`GET /v1/public-key`). */
  readonly keyArn: string;
  /** PEM (SPKI) or KeyObject of the KMS key's public half. */
  readonly publicKey: string | KeyObject;
}

export interface KmsRsaDecryptConfig {
  readonly unwrapper: KeyUnwrapper;
  /** Only EDKs naming one of these ARNs (or a replica of one, for multi-Region keys) are ever sent to the port. */
  readonly allowedKeyArns: readonly string[];
}

/**
 * Either side of the keyring; build it with `forEncrypt` (shippers, tests) or `forDecrypt` (the pipeline).
 * The wrapping padding is always RSAES_OAEP_SHA_256: the EDK does not record it, so both sides must agree.
 */
export class KmsRsaKeyringNode extends KeyringNode {
  private constructor(
    private readonly encryptConfig: { keyArn: string; publicKey: KeyObject } | undefined,
    private readonly decryptConfig: KmsRsaDecryptConfig | undefined,
  ) {
    super();
  }

  static forEncrypt(config: KmsRsaEncryptConfig): KmsRsaKeyringNode {
    if (!parseKmsKeyArn(config.keyArn)) {
      throw new ConfigError(`not a KMS key ARN (aliases and bare key ids are not allowed): ${config.keyArn}`);
    }
    const publicKey = typeof config.publicKey === 'string' ? createPublicKey(config.publicKey) : config.publicKey;
    const bits = rsaModulusBits(publicKey);
    if (publicKey.asymmetricKeyType !== 'rsa' || bits === undefined || bits < MIN_MODULUS_BITS) {
      throw new ConfigError(`the envelope key must be RSA with at least ${MIN_MODULUS_BITS} bits`);
    }
    return new KmsRsaKeyringNode({ keyArn: config.keyArn, publicKey }, undefined);
  }

  static forDecrypt(config: KmsRsaDecryptConfig): KmsRsaKeyringNode {
    if (config.allowedKeyArns.length === 0) throw new ConfigError('no KMS key ARN is allowed for decryption');
    for (const arn of config.allowedKeyArns) {
      if (!parseKmsKeyArn(arn)) throw new ConfigError(`allowed key is not a KMS key ARN: ${arn}`);
    }
    return new KmsRsaKeyringNode(undefined, {
      unwrapper: config.unwrapper,
      allowedKeyArns: [...config.allowedKeyArns],
    });
  }

  async _onEncrypt(material: NodeEncryptionMaterial): Promise<NodeEncryptionMaterial> {
    const config = this.encryptConfig;
    if (!config) throw new ConfigError('this keyring has no public key: it can only decrypt');
    if (material.suite.signatureCurve) {
      // A signing suite would put the signer's public key in the context after our digest could bind it.
      throw new ConfigError('the AWS KMS RSA keyring cannot be used with a signing algorithm suite');
    }
    const trace = { keyName: config.keyArn, keyNamespace: KMS_RSA_PROVIDER_ID };
    if (!material.hasUnencryptedDataKey) {
      material.setUnencryptedDataKey(new Uint8Array(randomBytes(material.suite.keyLengthBytes)), {
        ...trace,
        flags: KeyringTraceFlag.WRAPPING_KEY_GENERATED_DATA_KEY,
      });
    }
    const dataKey = unwrapDataKey(material.getUnencryptedDataKey());
    const wrapped = publicEncrypt(
      { key: config.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.concat([encryptionContextDigest(material.encryptionContext), dataKey]),
    );
    return material.addEncryptedDataKey(
      new EncryptedDataKey({ providerId: KMS_RSA_PROVIDER_ID, providerInfo: config.keyArn, encryptedDataKey: wrapped }),
      KeyringTraceFlag.WRAPPING_KEY_ENCRYPTED_DATA_KEY | KeyringTraceFlag.WRAPPING_KEY_SIGNED_ENC_CTX,
    );
  }

  async _onDecrypt(material: NodeDecryptionMaterial, edks: EncryptedDataKey[]): Promise<NodeDecryptionMaterial> {
    const config = this.decryptConfig;
    if (!config) throw new ConfigError('this keyring has no key unwrapper: it can only encrypt');
    if (material.suite.signatureCurve) {
      throw badData('esdk: the message uses a signing algorithm suite, which the AWS KMS RSA keyring refuses');
    }
    const candidates: { edk: EncryptedDataKey; keyArn: string }[] = [];
    for (const edk of edks) {
      if (edk.providerId !== KMS_RSA_PROVIDER_ID) continue;
      if (!parseKmsKeyArn(edk.providerInfo)) {
        throw badData(`esdk: an ${KMS_RSA_PROVIDER_ID} data key names something that is not a KMS key ARN`);
      }
      const keyArn = config.allowedKeyArns.find((allowed) => mrkMatchForDecrypt(allowed, edk.providerInfo));
      if (keyArn) candidates.push({ edk, keyArn });
    }
    if (candidates.length === 0) {
      const found = edks.map((e) => `${JSON.stringify(e.providerId)} ${JSON.stringify(e.providerInfo)}`).join(', ');
      throw badData(`esdk: no data key is wrapped for an allowed KMS key (found: ${found || 'none'})`);
    }

    const expectedDigest = encryptionContextDigest(material.encryptionContext);
    const keyLength = material.suite.keyLengthBytes;
    const failures: Error[] = [];
    for (const { edk, keyArn } of candidates) {
      let plaintext: Buffer;
      try {
        plaintext = await config.unwrapper.unwrap(keyArn, 'RSAES_OAEP_SHA_256', edk.encryptedDataKey);
      } catch (err) {
        failures.push(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      try {
        if (plaintext.length !== CONTEXT_DIGEST_BYTES + keyLength) {
          failures.push(badData(`unwrapped key material is ${plaintext.length} bytes, not digest + data key`));
          continue;
        }
        if (!timingSafeEqual(plaintext.subarray(0, CONTEXT_DIGEST_BYTES), expectedDigest)) {
          failures.push(badData('the encryption context digest inside the data key does not match the header'));
          continue;
        }
        return material.setUnencryptedDataKey(new Uint8Array(plaintext.subarray(CONTEXT_DIGEST_BYTES)), {
          keyName: keyArn,
          keyNamespace: KMS_RSA_PROVIDER_ID,
          flags: KeyringTraceFlag.WRAPPING_KEY_DECRYPTED_DATA_KEY | KeyringTraceFlag.WRAPPING_KEY_VERIFIED_ENC_CTX,
        });
      } finally {
        plaintext.fill(0);
      }
    }
    throw summarise(failures);
  }
}

/**
 * One error for all failed attempts, keeping the most actionable class: a retry may succeed where any attempt was
 * transient; a deployment problem outranks bad data; only when every attempt says the data is bad is the file bad.
 */
function summarise(failures: readonly Error[]): Error {
  const reasons = `esdk: data key not unwrapped: ${failures.map((f) => f.message).join('; ')}`;
  const transient = failures.find((f) => f instanceof TransientError);
  if (transient) return failures.length === 1 ? transient : new TransientError(reasons, { cause: transient });
  const config = failures.find((f) => f instanceof ConfigError);
  if (config) return config;
  const other = failures.find((f) => !(f instanceof PermanentError && f.outcome === 'BAD_DATA'));
  if (other) return other;
  return badData(reasons, failures[0]);
}
