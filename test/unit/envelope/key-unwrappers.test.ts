import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  DecryptCommand,
  DependencyTimeoutException,
  DisabledException,
  IncorrectKeyException,
  InvalidCiphertextException,
  InvalidKeyUsageException,
  KeyUnavailableException,
  KMSClient,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { KmsKeyUnwrapper } from '../../../lambdas/adapters/kms-key-unwrapper';
import { LocalKeyUnwrapper, localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import { sealCybexp } from '../../../lambdas/envelope/cybexp';
import { openEnvelope, sealEnvelope } from '../../../lambdas/envelope/envelope';
import { rsaModulusBits } from '../../../lambdas/envelope/rsa';
import { ConfigError, PermanentError, TransientError } from '../../../lambdas/shared/errors';
import { expectBadData, newKey, pattern } from './helpers';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const key = newKey(2048);
const kms = mockClient(KMSClient);

afterEach(() => kms.reset());

const meta = { httpStatusCode: 400, requestId: 'r' };
const serverMeta = { httpStatusCode: 500, requestId: 'r' };
const generic = (name: string, fault: 'client' | 'server', status: number) =>
  new KMSServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message: name });

/** A stand-in for KMS that really decrypts, with the local key, as the request's EncryptionAlgorithm says. */
function kmsBackedByLocalKey() {
  kms
    .on(DecryptCommand)
    .callsFake((input: { KeyId: string; EncryptionAlgorithm: string; CiphertextBlob: Uint8Array }) => {
      if (input.KeyId !== ARN) throw new NotFoundException({ message: 'no such key', $metadata: meta });
      const oaepHash = input.EncryptionAlgorithm === 'RSAES_OAEP_SHA_256' ? 'sha256' : 'sha1';
      try {
        const Plaintext = privateDecrypt(
          { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
          input.CiphertextBlob,
        );
        return { KeyId: ARN, Plaintext, EncryptionAlgorithm: input.EncryptionAlgorithm };
      } catch {
        throw new InvalidCiphertextException({ message: 'invalid', $metadata: meta });
      }
    });
}

describe('KmsKeyUnwrapper', () => {
  it('calls Decrypt with the key ARN, the requested EncryptionAlgorithm and the grant tokens', async () => {
    kms.on(DecryptCommand).resolves({ KeyId: ARN, Plaintext: new Uint8Array([1, 2, 3]) });
    const unwrapper = new KmsKeyUnwrapper(new KMSClient({ region: 'eu-west-1' }), { grantTokens: ['g1'] });
    const blob = randomBytes(512);
    const out = await unwrapper.unwrap(ARN, 'RSAES_OAEP_SHA_256', blob);
    expect([...out]).toEqual([1, 2, 3]);
    await unwrapper.unwrap(ARN, 'RSAES_OAEP_SHA_1', blob);
    const calls = kms.commandCalls(DecryptCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { KeyId: ARN, CiphertextBlob: blob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', GrantTokens: ['g1'] },
      { KeyId: ARN, CiphertextBlob: blob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1', GrantTokens: ['g1'] },
    ]);
  });

  it('refuses an answer for another key than the one asked for', async () => {
    kms.on(DecryptCommand).resolves({ KeyId: `${ARN}-other`, Plaintext: new Uint8Array([1]) });
    const unwrapper = new KmsKeyUnwrapper(new KMSClient({ region: 'eu-west-1' }));
    await expect(unwrapper.unwrap(ARN, 'RSAES_OAEP_SHA_256', randomBytes(512))).rejects.toBeInstanceOf(ConfigError);
  });

  it.each([
    ['InvalidCiphertextException', new InvalidCiphertextException({ message: 'x', $metadata: meta }), 'BAD_DATA'],
    ['IncorrectKeyException', new IncorrectKeyException({ message: 'x', $metadata: meta }), 'BAD_DATA'],
    ['ThrottlingException', generic('ThrottlingException', 'client', 400), 'transient'],
    ['KMSInternalException', new KMSInternalException({ message: 'x', $metadata: serverMeta }), 'transient'],
    [
      'DependencyTimeoutException',
      new DependencyTimeoutException({ message: 'x', $metadata: serverMeta }),
      'transient',
    ],
    ['KeyUnavailableException', new KeyUnavailableException({ message: 'x', $metadata: serverMeta }), 'transient'],
    ['an unmodelled 503', generic('ServiceUnavailable', 'server', 503), 'transient'],
    ['a socket reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'transient'],
    ['AccessDeniedException', generic('AccessDeniedException', 'client', 400), 'transient'],
    ['NotFoundException', new NotFoundException({ message: 'x', $metadata: meta }), 'transient'],
    ['DisabledException', new DisabledException({ message: 'x', $metadata: meta }), 'transient'],
    ['KMSInvalidStateException', new KMSInvalidStateException({ message: 'x', $metadata: meta }), 'transient'],
    ['InvalidKeyUsageException', new InvalidKeyUsageException({ message: 'x', $metadata: meta }), 'config'],
    ['ValidationException', generic('ValidationException', 'client', 400), 'config'],
  ] as const)('classifies %s', async (_name, error, expected) => {
    kms.on(DecryptCommand).rejects(error);
    const unwrapper = new KmsKeyUnwrapper(new KMSClient({ region: 'eu-west-1' }));
    const err = await unwrapper.unwrap(ARN, 'RSAES_OAEP_SHA_256', randomBytes(512)).catch((e: unknown) => e);
    if (expected === 'BAD_DATA') {
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as PermanentError).outcome).toBe('BAD_DATA');
    } else {
      expect(err).toBeInstanceOf(expected === 'transient' ? TransientError : ConfigError);
    }
    expect((err as Error).message).toContain(ARN);
    expect((err as Error).cause).toBe(error);
  });

  it('opens esdk and cybexp envelopes through a KMS that decrypts with a real key', async () => {
    kmsBackedByLocalKey();
    const unwrapper = new KmsKeyUnwrapper(new KMSClient({ region: 'eu-west-1' }));
    const plaintext = pattern(100_000);
    const sealed = await buffer(
      sealEnvelope('esdk', Readable.from([plaintext]), {
        keyArn: ARN,
        publicKey: key.publicKey,
        context: { tenant: 't' },
      }),
    );
    const opts = { unwrapper, allowedKeyArns: [ARN], expectedContext: { tenant: 't' }, rsaModulusBytes: 256 };
    expect((await buffer(openEnvelope('esdk', Readable.from([sealed]), opts))).equals(plaintext)).toBe(true);
    const blob = sealCybexp(plaintext, key.publicKey);
    expect((await buffer(openEnvelope('cybexp', Readable.from([blob]), opts))).equals(plaintext)).toBe(true);
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input.EncryptionAlgorithm)).toEqual([
      'RSAES_OAEP_SHA_256',
      'RSAES_OAEP_SHA_1',
    ]);
  });

  it('turns a blob sealed for another key into BAD_DATA through KMS InvalidCiphertextException', async () => {
    kmsBackedByLocalKey();
    const unwrapper = new KmsKeyUnwrapper(new KMSClient({ region: 'eu-west-1' }));
    const blob = sealCybexp(pattern(10), newKey(2048).publicKey);
    await expectBadData(
      buffer(openEnvelope('cybexp', Readable.from([blob]), { unwrapper, allowedKeyArns: [ARN], rsaModulusBytes: 256 })),
      /InvalidCiphertextException/,
    );
  });
});

describe('LocalKeyUnwrapper', () => {
  it('names a key by the same identifier from its private and its public half', () => {
    expect(localKeyArn(key.privatePem)).toBe(key.arn);
    expect(localKeyArn(key.publicPem)).toBe(key.arn);
    expect(key.arn).toMatch(/^arn:local:kms:local:000000000000:key\/[0-9a-f]{32}$/);
    expect(localKeyArn(newKey(2048).publicKey)).not.toBe(key.arn);
  });

  it('unwraps with OAEP SHA-256 or SHA-1 as asked, and only as asked', async () => {
    const unwrapper = new LocalKeyUnwrapper([key.privatePem]);
    const secret = randomBytes(32);
    for (const [algorithm, oaepHash] of [
      ['RSAES_OAEP_SHA_256', 'sha256'],
      ['RSAES_OAEP_SHA_1', 'sha1'],
    ] as const) {
      const wrapped = publicEncrypt(
        { key: key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
        secret,
      );
      expect((await unwrapper.unwrap(key.arn, algorithm, wrapped)).equals(secret)).toBe(true);
      const otherAlgorithm = algorithm === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
      await expectBadData(unwrapper.unwrap(key.arn, otherAlgorithm, wrapped), /does not decrypt/);
    }
  });

  it('reports an unknown key as a configuration mistake and a short blob as bad data', async () => {
    const unwrapper = new LocalKeyUnwrapper([key.privateKey]);
    await expect(unwrapper.unwrap(ARN, 'RSAES_OAEP_SHA_256', randomBytes(256))).rejects.toBeInstanceOf(ConfigError);
    await expectBadData(unwrapper.unwrap(key.arn, 'RSAES_OAEP_SHA_256', randomBytes(255)), /255 bytes/);
    expect(() => new LocalKeyUnwrapper(['not a pem'])).toThrow(ConfigError);
    expect(() => new LocalKeyUnwrapper([key.publicPem])).toThrow(ConfigError);
  });

  it('lists its keys with their public halves and sizes', () => {
    const [only] = new LocalKeyUnwrapper([key.privatePem]).list();
    expect(only?.keyArn).toBe(key.arn);
    expect(only?.publicKeyPem).toBe(key.publicPem);
    expect(only?.modulusBytes).toBe(256);
  });
});

describe('rsaModulusBits', () => {
  it.each([2048, 3072])('reads %i bits from either half of a key', (bits) => {
    const k = newKey(bits);
    expect(rsaModulusBits(k.publicKey)).toBe(bits);
    expect(rsaModulusBits(k.privateKey)).toBe(bits);
  });

  it('answers while a large buffer is alive (where KeyObject.asymmetricKeyDetails can block on Node 20)', () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 1);
    expect(rsaModulusBits(key.publicKey)).toBe(2048);
    expect(new LocalKeyUnwrapper([key.privateKey]).list()[0]?.modulusBytes).toBe(256);
    expect(big.length).toBe(64 * 1024 * 1024);
  }, 20_000);

  it('returns undefined for keys that are not RSA', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(rsaModulusBits(publicKey)).toBeUndefined();
  });
});
