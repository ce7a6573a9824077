/**
 * Compatibility with Cybex-P producers and consumers, checked against the real library they use (PyCryptodome):
 * blobs sealed the way Cybex-P's API encrypts uploads (`PKCS1_OAEP.new(pubkey)`, `AES.new(key, AES.MODE_EAX)`,
 * `enc_session_key + nonce + tag + ciphertext`) open here, and what we seal opens with the archiver's
 * `decrypt_file` logic (read modulus-size bytes, 16, 16, rest; `decrypt_and_verify`).
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { sealCybexp } from '../../../lambdas/envelope/cybexp';
import { openEnvelope } from '../../../lambdas/envelope/envelope';
import { openEnvelopeToFile, sealEnvelopeToFile } from '../../../lambdas/envelope/files';
import { chunked, expectBadData, MiB, newKey, openOptions, pattern } from '../../unit/envelope/helpers';
import { runPyCryptodome } from '../../unit/envelope/pycryptodome';

const key = newKey(4096);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cyberactive-cybexp-'));
  writeFileSync(join(dir, 'pub.pem'), key.publicPem);
  writeFileSync(join(dir, 'priv.pem'), key.privatePem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIZES = [0, 1, 16, 17, MiB - 1, MiB + 1, 3 * MiB + 7];

describe('cybexp blobs sealed by PyCryptodome as Cybex-P does', () => {
  it('decrypt to the exact plaintext for every size', async () => {
    const made = runPyCryptodome<{ file: string; sha256: string; size: number }[]>(
      `
import hashlib, json, os, sys
from Cryptodome.PublicKey import RSA
from Cryptodome.Random import get_random_bytes
from Cryptodome.Cipher import AES, PKCS1_OAEP

def encrypt_file(fbytes, fpub_name):
    with open(fpub_name) as f:
        pubkey = RSA.import_key(f.read())
    session_key = get_random_bytes(32)
    cipher_rsa = PKCS1_OAEP.new(pubkey)
    enc_session_key = cipher_rsa.encrypt(session_key)
    cipher_aes = AES.new(session_key, AES.MODE_EAX)
    ciphertext, tag = cipher_aes.encrypt_and_digest(fbytes)
    return enc_session_key + cipher_aes.nonce + tag + ciphertext

a = json.load(sys.stdin)
out = []
for size in a['sizes']:
    data = os.urandom(size)
    path = os.path.join(a['dir'], 'py-%d.bin' % size)
    with open(path, 'wb') as f:
        f.write(encrypt_file(data, os.path.join(a['dir'], 'pub.pem')))
    out.append(dict(file=path, sha256=hashlib.sha256(data).hexdigest(), size=size))
print(json.dumps(out))
`,
      { dir, sizes: SIZES },
    );
    expect(made).toHaveLength(SIZES.length);
    for (const blob of made) {
      const sealed = readFileSync(blob.file);
      expect(sealed.length).toBe(512 + 16 + 16 + blob.size);
      const plaintext = await buffer(openEnvelope('cybexp', chunked(sealed, [65536, 7]), openOptions(key)));
      expect(plaintext.length).toBe(blob.size);
      expect(sha256(plaintext)).toBe(blob.sha256);
    }
  });

  it('reject a PyCryptodome blob with one ciphertext byte altered', async () => {
    const [blob] = runPyCryptodome<{ file: string }[]>(
      `
import json, os, sys
from Cryptodome.PublicKey import RSA
from Cryptodome.Cipher import AES, PKCS1_OAEP
from Cryptodome.Random import get_random_bytes
a = json.load(sys.stdin)
k = get_random_bytes(32)
c = AES.new(k, AES.MODE_EAX)
ct, tag = c.encrypt_and_digest(b'x' * 1000)
blob = PKCS1_OAEP.new(RSA.import_key(open(os.path.join(a['dir'], 'pub.pem')).read())).encrypt(k) + c.nonce + tag + ct
p = os.path.join(a['dir'], 'py-tamper.bin')
open(p, 'wb').write(blob)
print(json.dumps([dict(file=p)]))
`,
      { dir },
    );
    const sealed = readFileSync(blob?.file ?? '');
    sealed[sealed.length - 500] = (sealed[sealed.length - 500] ?? 0) ^ 1;
    await expectBadData(buffer(openEnvelope('cybexp', chunked(sealed), openOptions(key))), /EAX tag mismatch/);
  });
});

describe('cybexp blobs we seal, opened by the Cybex-P archiver logic', () => {
  it('decrypt with decrypt_file (in memory and streamed-to-file sealing, with gzip)', async () => {
    const inputs = SIZES.map((size) => pattern(size, size + 3));
    const files: string[] = [];
    for (const [i, plaintext] of inputs.entries()) {
      const inMemory = join(dir, `ours-${i}.bin`);
      writeFileSync(inMemory, sealCybexp(plaintext, key.publicKey));
      const streamed = join(dir, `ours-${i}.stream.bin`);
      writeFileSync(join(dir, 'plain.tmp'), plaintext);
      await sealEnvelopeToFile('cybexp', createReadStream(join(dir, 'plain.tmp')), streamed, {
        keyArn: key.arn,
        publicKey: key.publicKey,
        context: {},
      });
      files.push(inMemory, streamed);
    }
    const gz = join(dir, 'ours-gzip.bin');
    await sealEnvelopeToFile('cybexp', chunked(Buffer.from('gzip inside\n'.repeat(1000))), gz, {
      keyArn: key.arn,
      publicKey: key.publicKey,
      context: {},
      gzip: true,
    });
    const digests = runPyCryptodome<string[]>(
      `
import gzip, hashlib, io, json, os, sys
from Cryptodome.PublicKey import RSA
from Cryptodome.Cipher import AES, PKCS1_OAEP

def decrypt_file(file_in, fpriv_name):
    if isinstance(file_in, bytes):
        file_in = io.BytesIO(file_in)
    private_key = RSA.import_key(open(fpriv_name).read())
    enc_session_key, nonce, tag, ciphertext = [file_in.read(x) for x in (private_key.size_in_bytes(), 16, 16, -1)]
    session_key = PKCS1_OAEP.new(private_key).decrypt(enc_session_key)
    return AES.new(session_key, AES.MODE_EAX, nonce).decrypt_and_verify(ciphertext, tag)

a = json.load(sys.stdin)
priv = os.path.join(a['dir'], 'priv.pem')
out = [hashlib.sha256(decrypt_file(open(f, 'rb').read(), priv)).hexdigest() for f in a['files']]
out.append(hashlib.sha256(gzip.decompress(decrypt_file(open(a['gz'], 'rb').read(), priv))).hexdigest())
print(json.dumps(out))
`,
      { dir, files, gz },
    );
    const expected = inputs.flatMap((p) => [sha256(p), sha256(p)]);
    expected.push(sha256(Buffer.from('gzip inside\n'.repeat(1000))));
    expect(digests).toEqual(expected);
  });
});

describe('envelope files are all-or-nothing', () => {
  it('leaves neither the target nor a temporary file when authentication fails at the very end', async () => {
    const work = mkdtempSync(join(dir, 'files-'));
    const blob = sealCybexp(pattern(2 * MiB), key.publicKey);
    blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 1;
    await expectBadData(openEnvelopeToFile('cybexp', chunked(blob), join(work, 'out.log'), openOptions(key)));
    expect(readdirSync(work)).toEqual([]);
  });

  it('replaces the target only once the new content verified', async () => {
    const work = mkdtempSync(join(dir, 'files-'));
    const target = join(work, 'out.log');
    writeFileSync(target, 'previous');
    const bad = sealCybexp(Buffer.from('new'), key.publicKey);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    await expectBadData(openEnvelopeToFile('cybexp', chunked(bad), target, openOptions(key)));
    expect(readFileSync(target, 'utf8')).toBe('previous');
    await openEnvelopeToFile(
      'cybexp',
      chunked(sealCybexp(Buffer.from('new'), key.publicKey)),
      target,
      openOptions(key),
    );
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(readdirSync(work)).toEqual(['out.log']);
  });
});
