import { constants, createHash, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  EncryptedDataKey,
  KeyringNode,
  KeyringTraceFlag,
  NodeAlgorithmSuite,
  NodeDecryptionMaterial,
  type NodeEncryptionMaterial,
  unwrapDataKey,
} from '@aws-crypto/client-node';
import { openEnvelope, sealEnvelope } from '../../../lambdas/envelope/envelope';
import { ESDK_SUITE_ID } from '../../../lambdas/envelope/esdk';
import { mrkMatchForDecrypt, parseKmsKeyArn } from '../../../lambdas/envelope/kms-arn';
import {
  canonicalEncryptionContext,
  encryptionContextDigest,
  KmsRsaKeyringNode,
} from '../../../lambdas/envelope/kms-rsa-keyring';
import type { KeyUnwrapper, UnwrapAlgorithm } from '../../../lambdas/envelope/ports';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';
import { expectBadData, newKey, openOptions } from './helpers';
import { runPyCryptodome } from './pycryptodome';

const key = newKey(2048);
const CONTEXT = { tenant: 'acme', typetag: 'cowrie' };

// --- An independent reading of the specification, written for the test only. ---

/** uint16 big-endian. */
const be16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
/** Hand-serialized {tenant: acme, typetag: cowrie}: count, then pairs sorted by key bytes. */
const CONTEXT_BYTES = Buffer.concat([
  be16(2),
  be16(6),
  Buffer.from('tenant'),
  be16(4),
  Buffer.from('acme'),
  be16(7),
  Buffer.from('typetag'),
  be16(6),
  Buffer.from('cowrie'),
]);
const sha384 = (b: Buffer) => createHash('sha384').update(b).digest();

/** Parses an ESDK v2 message header (data-format/message-header.md) as far as the EDKs. */
function parseHeader(message: Buffer) {
  let p = 0;
  const u8 = () => message.readUInt8(p++);
  const u16 = () => {
    const v = message.readUInt16BE(p);
    p += 2;
    return v;
  };
  const bytes = (n: number) => {
    const b = message.subarray(p, p + n);
    p += n;
    return b;
  };
  const version = u8();
  const suite = u16();
  bytes(32);
  const aad = bytes(u16());
  const edks: { providerId: string; providerInfo: string; ciphertext: Buffer }[] = [];
  for (let n = u16(); n > 0; n--) {
    edks.push({ providerId: bytes(u16()).toString(), providerInfo: bytes(u16()).toString(), ciphertext: bytes(u16()) });
  }
  const contentType = u8();
  const frameLength = message.readUInt32BE(p);
  return { version, suite, aad, edks, contentType, frameLength };
}

/** A shipper's keyring written from the specification alone: SHA-384(context) ‖ key under RSA-OAEP-SHA-256. */
class HandMadeShipperKeyring extends KeyringNode {
  constructor(
    private readonly arn: string,
    private readonly contextBytes: (m: NodeEncryptionMaterial) => Buffer,
  ) {
    super();
  }
  async _onEncrypt(material: NodeEncryptionMaterial): Promise<NodeEncryptionMaterial> {
    const trace = { keyName: this.arn, keyNamespace: 'aws-kms-rsa' };
    const dataKey = randomBytes(32);
    material.setUnencryptedDataKey(new Uint8Array(dataKey), {
      ...trace,
      flags: KeyringTraceFlag.WRAPPING_KEY_GENERATED_DATA_KEY,
    });
    const wrapped = publicEncrypt(
      { key: key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.concat([sha384(this.contextBytes(material)), dataKey]),
    );
    return material.addEncryptedDataKey(
      new EncryptedDataKey({ providerId: 'aws-kms-rsa', providerInfo: this.arn, encryptedDataKey: wrapped }),
      KeyringTraceFlag.WRAPPING_KEY_ENCRYPTED_DATA_KEY,
    );
  }
  async _onDecrypt(): Promise<never> {
    throw new Error('encrypt only');
  }
}

async function shipWithHandMadeKeyring(
  plaintext: Buffer,
  contextBytes: (m: NodeEncryptionMaterial) => Buffer,
): Promise<Buffer> {
  const { encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const { result } = await encrypt(new HandMadeShipperKeyring(key.arn, contextBytes), plaintext, {
    suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
    encryptionContext: CONTEXT,
    frameLength: 4096,
  });
  return Buffer.from(result);
}

/** Records calls and forwards them to the local key. */
function recording(inner: KeyUnwrapper = key.unwrapper) {
  const calls: { keyArn: string; algorithm: UnwrapAlgorithm }[] = [];
  const unwrapper: KeyUnwrapper = {
    unwrap: (keyArn, algorithm, ciphertext) => {
      calls.push({ keyArn, algorithm });
      return inner.unwrap(keyArn, algorithm, ciphertext);
    },
  };
  return { calls, unwrapper };
}

function decryptionMaterial(context: Record<string, string> = CONTEXT) {
  return new NodeDecryptionMaterial(new NodeAlgorithmSuite(ESDK_SUITE_ID), context);
}

function handEdk(context: Buffer, dataKey: Buffer, arn = key.arn): EncryptedDataKey {
  const wrapped = publicEncrypt(
    { key: key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.concat([sha384(context), dataKey]),
  );
  return new EncryptedDataKey({ providerId: 'aws-kms-rsa', providerInfo: arn, encryptedDataKey: wrapped });
}

describe('encryption context serialization', () => {
  it('matches the hand-built header key/value pairs', () => {
    expect(canonicalEncryptionContext({ typetag: 'cowrie', tenant: 'acme' }).equals(CONTEXT_BYTES)).toBe(true);
    expect(encryptionContextDigest(CONTEXT).equals(sha384(CONTEXT_BYTES))).toBe(true);
  });

  it('serializes an empty context as no bytes at all (digest = SHA-384 of the empty string)', () => {
    expect(canonicalEncryptionContext({})).toHaveLength(0);
    expect(encryptionContextDigest({}).toString('hex')).toBe(
      '38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b',
    );
  });

  it('sorts keys by their UTF-8 bytes, not by UTF-16 code units', () => {
    // UTF-16 puts U+1F600 (surrogate D83D) before U+FF5A; UTF-8 puts EF BC 9A before F0 9F 98 80.
    const bytes = canonicalEncryptionContext({ '\u{1F600}': '1', ｚ: '2', é: '3', z: '4' });
    const keys: string[] = [];
    let p = 2;
    while (p < bytes.length) {
      const kl = bytes.readUInt16BE(p);
      keys.push(bytes.subarray(p + 2, p + 2 + kl).toString());
      p += 2 + kl;
      p += 2 + bytes.readUInt16BE(p);
    }
    expect(keys).toEqual(['z', 'é', 'ｚ', '\u{1F600}']);
  });
});

describe('AWS KMS RSA keyring: messages we seal, read by the specification', () => {
  it('writes one aws-kms-rsa EDK naming the key ARN, wrapping SHA-384(header context) ‖ 32-byte key', async () => {
    const sealed = await buffer(
      sealEnvelope('esdk', Readable.from([Buffer.from('x')]), {
        keyArn: key.arn,
        publicKey: key.publicPem,
        context: CONTEXT,
      }),
    );
    const header = parseHeader(sealed);
    expect(header.version).toBe(2);
    expect(header.suite).toBe(0x0478);
    expect(header.contentType).toBe(2);
    expect(header.frameLength).toBe(1024 * 1024);
    expect(header.aad.equals(CONTEXT_BYTES)).toBe(true);
    expect(header.edks).toHaveLength(1);
    const [edk] = header.edks;
    expect(edk?.providerId).toBe('aws-kms-rsa');
    expect(edk?.providerInfo).toBe(key.arn);
    expect(edk?.ciphertext).toHaveLength(256);
    const inner = privateDecrypt(
      { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      edk?.ciphertext ?? Buffer.alloc(0),
    );
    expect(inner).toHaveLength(48 + 32);
    expect(inner.subarray(0, 48).equals(sha384(header.aad))).toBe(true);
    // RSAES_OAEP_SHA_1 must not open it: the padding really is SHA-256.
    expect(() =>
      privateDecrypt(
        { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
        edk?.ciphertext ?? Buffer.alloc(0),
      ),
    ).toThrow();
  });

  it('wraps with OAEP SHA-256 and MGF1-SHA-256 as PyCryptodome understands them', async () => {
    const sealed = await buffer(
      sealEnvelope('esdk', Readable.from([Buffer.from('x')]), {
        keyArn: key.arn,
        publicKey: key.publicPem,
        context: CONTEXT,
      }),
    );
    const edk = parseHeader(sealed).edks[0]?.ciphertext ?? Buffer.alloc(0);
    const inner = runPyCryptodome<string>(
      `
import json, sys
from Cryptodome.PublicKey import RSA
from Cryptodome.Cipher import PKCS1_OAEP
from Cryptodome.Hash import SHA256
from Cryptodome.Signature.pss import MGF1
a = json.load(sys.stdin)
k = RSA.import_key(a['pem'])
c = PKCS1_OAEP.new(k, hashAlgo=SHA256, mgfunc=lambda x, y: MGF1(x, y, SHA256))
print(json.dumps(c.decrypt(bytes.fromhex(a['edk'])).hex()))
`,
      { pem: key.privatePem, edk: edk.toString('hex') },
    );
    expect(Buffer.from(inner, 'hex').subarray(0, 48).equals(sha384(CONTEXT_BYTES))).toBe(true);
  });
});

describe('AWS KMS RSA keyring: messages from a shipper that follows the specification', () => {
  it('decrypts a message whose EDK was built by hand', async () => {
    const plaintext = randomBytes(10_000);
    const sealed = await shipWithHandMadeKeyring(plaintext, () => CONTEXT_BYTES);
    const { calls, unwrapper } = recording();
    const out = await buffer(
      openEnvelope('esdk', Readable.from([sealed]), openOptions(key, { unwrapper, expectedContext: CONTEXT })),
    );
    expect(out.equals(plaintext)).toBe(true);
    expect(calls).toEqual([{ keyArn: key.arn, algorithm: 'RSAES_OAEP_SHA_256' }]);
  });

  it('refuses a hand-built EDK whose digest covers another context', async () => {
    const other = Buffer.concat([be16(1), be16(6), Buffer.from('tenant'), be16(5), Buffer.from('other')]);
    const sealed = await shipWithHandMadeKeyring(Buffer.from('hello'), () => other);
    await expectBadData(
      buffer(openEnvelope('esdk', Readable.from([sealed]), openOptions(key))),
      /encryption context digest inside the data key does not match/,
    );
  });

  it('unwraps a hand-built EDK straight through onDecrypt', async () => {
    const dataKey = randomBytes(32);
    const keyring = KmsRsaKeyringNode.forDecrypt({ unwrapper: key.unwrapper, allowedKeyArns: [key.arn] });
    const material = await keyring.onDecrypt(decryptionMaterial(), [handEdk(CONTEXT_BYTES, dataKey)]);
    expect(Buffer.from(unwrapDataKey(material.getUnencryptedDataKey())).equals(dataKey)).toBe(true);
  });

  it('refuses unwrapped material of the wrong length', async () => {
    const keyring = KmsRsaKeyringNode.forDecrypt({ unwrapper: key.unwrapper, allowedKeyArns: [key.arn] });
    await expectBadData(
      keyring.onDecrypt(decryptionMaterial(), [handEdk(CONTEXT_BYTES, randomBytes(31))]),
      /81 bytes|79 bytes|not digest \+ data key/,
    );
  });
});

describe('AWS KMS RSA keyring: which EDKs are tried', () => {
  it('skips EDKs of other providers and keys, and tries the allowed ones in order until one works', async () => {
    const dataKey = randomBytes(32);
    const other = newKey(2048);
    const garbage = new EncryptedDataKey({
      providerId: 'aws-kms-rsa',
      providerInfo: key.arn,
      encryptedDataKey: randomBytes(256),
    });
    const foreign = new EncryptedDataKey({
      providerId: 'aws-kms',
      providerInfo: key.arn,
      encryptedDataKey: randomBytes(9),
    });
    const notAllowed = handEdk(CONTEXT_BYTES, dataKey, other.arn);
    const { calls, unwrapper } = recording();
    const keyring = KmsRsaKeyringNode.forDecrypt({ unwrapper, allowedKeyArns: [key.arn] });
    const material = await keyring.onDecrypt(decryptionMaterial(), [
      foreign,
      notAllowed,
      garbage,
      handEdk(CONTEXT_BYTES, dataKey),
    ]);
    expect(Buffer.from(unwrapDataKey(material.getUnencryptedDataKey())).equals(dataKey)).toBe(true);
    expect(calls.map((c) => c.keyArn)).toEqual([key.arn, key.arn]);
  });

  it('reports BAD_DATA listing what it found when no EDK names an allowed key', async () => {
    const other = newKey(2048);
    const keyring = KmsRsaKeyringNode.forDecrypt({ unwrapper: key.unwrapper, allowedKeyArns: [key.arn] });
    await expectBadData(
      keyring.onDecrypt(decryptionMaterial(), [handEdk(CONTEXT_BYTES, randomBytes(32), other.arn)]),
      new RegExp(`no data key is wrapped for an allowed KMS key.*${other.arn.replace(/[/:]/g, '.')}`),
    );
  });

  it('refuses an aws-kms-rsa EDK whose provider info is not a KMS key ARN', async () => {
    const keyring = KmsRsaKeyringNode.forDecrypt({ unwrapper: key.unwrapper, allowedKeyArns: [key.arn] });
    await expectBadData(
      keyring.onDecrypt(decryptionMaterial(), [handEdk(CONTEXT_BYTES, randomBytes(32), 'alias/envelope')]),
      /not a KMS key ARN/,
    );
  });

  it('keeps a transient failure transient even when another EDK was bad', async () => {
    let n = 0;
    const flaky: KeyUnwrapper = {
      unwrap: async (arn, alg, ct) => {
        n++;
        if (n === 2) throw new TransientError('ThrottlingException');
        return key.unwrapper.unwrap(arn, alg, ct);
      },
    };
    const garbage = new EncryptedDataKey({
      providerId: 'aws-kms-rsa',
      providerInfo: key.arn,
      encryptedDataKey: randomBytes(256),
    });
    const keyring = KmsRsaKeyringNode.forDecrypt({ unwrapper: flaky, allowedKeyArns: [key.arn] });
    const err = await keyring
      .onDecrypt(decryptionMaterial(), [garbage, handEdk(CONTEXT_BYTES, randomBytes(32))])
      .catch((e) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/ThrottlingException/);
  });

  it('asks for a multi-Region key through the configured replica ARN', async () => {
    const configured = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd';
    const inEdk = 'arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd';
    const dataKey = randomBytes(32);
    const asked: string[] = [];
    const keyring = KmsRsaKeyringNode.forDecrypt({
      unwrapper: {
        unwrap: (arn, alg, ct) => {
          asked.push(arn);
          return key.unwrapper.unwrap(key.arn, alg, ct);
        },
      },
      allowedKeyArns: [configured],
    });
    await keyring.onDecrypt(decryptionMaterial(), [handEdk(CONTEXT_BYTES, dataKey, inEdk)]);
    expect(asked).toEqual([configured]);
  });
});

describe('KMS ARNs', () => {
  it('parses key ARNs and rejects aliases and bare ids', () => {
    expect(parseKmsKeyArn('arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab')).toEqual({
      partition: 'aws',
      region: 'eu-west-1',
      account: '111122223333',
      keyId: '1234abcd-12ab',
    });
    expect(parseKmsKeyArn('arn:aws:kms:eu-west-1:111122223333:alias/x')).toBeUndefined();
    expect(parseKmsKeyArn('1234abcd-12ab')).toBeUndefined();
    expect(parseKmsKeyArn('arn:aws:s3:eu-west-1:111122223333:key/x')).toBeUndefined();
    expect(parseKmsKeyArn(key.arn)?.partition).toBe('local');
  });

  it('matches multi-Region replicas across regions but never single-Region keys', () => {
    const a = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1';
    expect(mrkMatchForDecrypt(a, 'arn:aws:kms:us-east-1:111122223333:key/mrk-1')).toBe(true);
    expect(mrkMatchForDecrypt(a, 'arn:aws:kms:us-east-1:444455556666:key/mrk-1')).toBe(false);
    expect(
      mrkMatchForDecrypt('arn:aws:kms:eu-west-1:111122223333:key/k-1', 'arn:aws:kms:us-east-1:111122223333:key/k-1'),
    ).toBe(false);
  });
});

describe('AWS KMS RSA keyring: configuration', () => {
  it('refuses RSA keys under 2048 bits, aliases, and empty allow-lists', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => KmsRsaKeyringNode.forEncrypt({ keyArn: key.arn, publicKey })).toThrow(ConfigError);
    expect(() => KmsRsaKeyringNode.forEncrypt({ keyArn: 'alias/envelope', publicKey: key.publicKey })).toThrow(
      ConfigError,
    );
    expect(() => KmsRsaKeyringNode.forDecrypt({ unwrapper: key.unwrapper, allowedKeyArns: [] })).toThrow(ConfigError);
  });

  it('refuses signing algorithm suites on both sides', async () => {
    const signing = new NodeAlgorithmSuite(
      AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    );
    const decrypting = KmsRsaKeyringNode.forDecrypt({ unwrapper: key.unwrapper, allowedKeyArns: [key.arn] });
    await expectBadData(
      decrypting.onDecrypt(new NodeDecryptionMaterial(signing, CONTEXT), [handEdk(CONTEXT_BYTES, randomBytes(32))]),
      /signing algorithm suite/,
    );
    const { encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const encrypting = KmsRsaKeyringNode.forEncrypt({ keyArn: key.arn, publicKey: key.publicKey });
    await expect(
      encrypt(encrypting, Buffer.from('x'), { suiteId: signing.id as AlgorithmSuiteIdentifier }),
    ).rejects.toThrow(/signing/);
  });
});
