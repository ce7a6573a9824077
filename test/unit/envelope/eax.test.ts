import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { EaxKey, EaxStream, eaxDecrypt, eaxEncrypt } from '../../../lambdas/envelope/eax';
import { runPyCryptodome } from './pycryptodome';

const hex = (s: string) => Buffer.from(s, 'hex');

// Bellare, Rogaway, Wagner, "The EAX Mode of Operation" (FSE 2004), appendix test vectors (AES-128).
// CIPHER is ciphertext ‖ 16-byte tag.
const PAPER_VECTORS = [
  [
    '',
    '233952DEE4D5ED5F9B9C6D6FF80FF478',
    '62EC67F9C3A4A407FCB2A8C49031A8B3',
    '6BFB914FD07EAE6B',
    'E037830E8389F27B025A2D6527E79D01',
  ],
  [
    'F7FB',
    '91945D3F4DCBEE0BF45EF52255F095A4',
    'BECAF043B0A23D843194BA972C66DEBD',
    'FA3BFD4806EB53FA',
    '19DD5C4C9331049D0BDAB0277408F67967E5',
  ],
  [
    '1A47CB4933',
    '01F74AD64077F2E704C0F60ADA3DD523',
    '70C3DB4F0D26368400A10ED05D2BFF5E',
    '234A3463C1264AC6',
    'D851D5BAE03A59F238A23E39199DC9266626C40F80',
  ],
  [
    '481C9E39B1',
    'D07CF6CBB7F313BDDE66B727AFD3C5E8',
    '8408DFFF3C1A2B1292DC199E46B7D617',
    '33CCE2EABFF5A79D',
    '632A9D131AD4C168A4225D8E1FF755939974A7BEDE',
  ],
  [
    '40D0C07DA5E4',
    '35B6D0580005BBC12B0587124557D2C2',
    'FDB6B06676EEDC5C61D74276E1F8E816',
    'AEB96EAEBE2970E9',
    '071DFE16C675CB0677E536F73AFE6A14B74EE49844DD',
  ],
  [
    '4DE3B35C3FC039245BD1FB7D',
    'BD8E6E11475E60B268784C38C62FEB22',
    '6EAC5C93072D8E8513F750935E46DA1B',
    'D4482D1CA78DCE0F',
    '835BB4F15D743E350E728414ABB8644FD6CCB86947C5E10590210A4F',
  ],
  [
    '8B0A79306C9CE7ED99DAE4F87F8DD61636',
    '7C77D6E813BED5AC98BAA417477A2E7D',
    '1A8C98DCD73D38393B2BF1569DEEFC19',
    '65D2017990D62528',
    '02083E3979DA014812F59F11D52630DA30137327D10649B0AA6E1C181DB617D7F2',
  ],
  [
    '1BDA122BCE8A8DBAF1877D962B8592DD2D56',
    '5FFF20CAFAB119CA2FC73549E20F5B0D',
    'DDE59B97D722156D4D9AFF2BC7559826',
    '54B9F04E6A09189A',
    '2EC47B2C4954A489AFC7BA4897EDCDAE8CC33B60450599BD02C96382902AEF7F832A',
  ],
  [
    '6CF36720872B8513F6EAB1A8A44438D5EF11',
    'A4A4782BCFFD3EC5E7EF6D8C34A56123',
    'B781FCF2F75FA5A8DE97A9CA48E522EC',
    '899A175897561D7E',
    '0DE18FD0FDD91E7AF19F1D8EE8733938B1E8E7F6D2231618102FDB7FE55FF1991700',
  ],
  [
    'CA40D7446E545FFAED3BD12A740A659FFBBB3CEAB7',
    '8395FCF1E95BEBD697BD010BC766AAC3',
    '22E7ADD93CFC6393C57EC0B3C17D6B44',
    '126735FCC320D25A',
    'CB8920F87A6C75CFF39627B56E3ED197C552D295A7CFC46AFC253B4652B1AF3795B124AB6E',
  ],
] as const;

describe('EAX (AES)', () => {
  it.each(PAPER_VECTORS.map((v, i) => [i + 1, ...v] as const))(
    'reproduces the EAX paper vector %i and decrypts it back',
    (_n, msg, key, nonce, header, cipher) => {
      const { ciphertext, tag } = eaxEncrypt(hex(key), hex(nonce), hex(msg), hex(header));
      expect(Buffer.concat([ciphertext, tag]).toString('hex').toUpperCase()).toBe(cipher);
      const whole = hex(cipher);
      const ct = whole.subarray(0, whole.length - 16);
      const t = whole.subarray(whole.length - 16);
      expect(eaxDecrypt(hex(key), hex(nonce), ct, t, hex(header))?.toString('hex').toUpperCase()).toBe(msg);
    },
  );

  it('rejects every paper vector with any single bit of ciphertext or tag flipped', () => {
    for (const [, key, nonce, header, cipher] of PAPER_VECTORS) {
      const whole = hex(cipher);
      for (let i = 0; i < whole.length; i++) {
        const bad = Buffer.from(whole);
        bad[i] = (bad[i] ?? 0) ^ (1 << (i % 8));
        const ct = bad.subarray(0, bad.length - 16);
        expect(eaxDecrypt(hex(key), hex(nonce), ct, bad.subarray(bad.length - 16), hex(header))).toBeUndefined();
      }
    }
  });

  it('gives the same ciphertext and tag whatever the chunking of the input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
        fc.constantFrom(16, 24, 32),
        (msg, cuts, keyBytes) => {
          const key = randomBytes(keyBytes);
          const nonce = randomBytes(16);
          const whole = eaxEncrypt(key, nonce, msg);
          const enc = new EaxStream(new EaxKey(key), nonce, 'encrypt');
          const dec = new EaxStream(new EaxKey(key), nonce, 'decrypt');
          const parts: Buffer[] = [];
          const plain: Buffer[] = [];
          let pos = 0;
          let i = 0;
          while (pos < msg.length) {
            const piece = msg.subarray(pos, pos + (cuts[i++ % cuts.length] ?? 1));
            const c = enc.update(piece);
            parts.push(c);
            plain.push(dec.update(c));
            pos += piece.length;
          }
          expect(Buffer.concat(parts).equals(whole.ciphertext)).toBe(true);
          expect(enc.tag().equals(whole.tag)).toBe(true);
          expect(dec.verify(whole.tag)).toBe(true);
          expect(Buffer.concat(plain).equals(Buffer.from(msg))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('accepts truncated tags as EAX allows but never an empty or over-long one', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(16);
    const { ciphertext, tag } = eaxEncrypt(key, nonce, Buffer.from('hello'));
    expect(eaxDecrypt(key, nonce, ciphertext, tag.subarray(0, 8))?.toString()).toBe('hello');
    expect(eaxDecrypt(key, nonce, ciphertext, Buffer.alloc(0))).toBeUndefined();
    expect(eaxDecrypt(key, nonce, ciphertext, Buffer.concat([tag, Buffer.alloc(1)]))).toBeUndefined();
  });

  it('refuses AES keys of the wrong length', () => {
    expect(() => new EaxKey(Buffer.alloc(20))).toThrow(/16, 24 or 32/);
  });
});

interface Vector {
  key: string;
  nonce: string;
  header: string;
  msg: string;
  ct: string;
  tag: string;
}

describe('EAX (AES-256) against PyCryptodome', () => {
  it('decrypts what PyCryptodome AES.MODE_EAX produced, and reproduces it, across block boundaries', () => {
    const vectors = runPyCryptodome<Vector[]>(
      `
import json, sys
from Cryptodome.Cipher import AES
from Cryptodome.Random import get_random_bytes
out = []
for ln in [0, 1, 15, 16, 17, 31, 32, 33, 64, 1000, 65537]:
    for hl in [0, 1, 16, 17]:
        k = get_random_bytes(32); n = get_random_bytes(16); h = get_random_bytes(hl); m = get_random_bytes(ln)
        c = AES.new(k, AES.MODE_EAX, nonce=n); c.update(h); ct, tag = c.encrypt_and_digest(m)
        out.append(dict(key=k.hex(), nonce=n.hex(), header=h.hex(), msg=m.hex(), ct=ct.hex(), tag=tag.hex()))
print(json.dumps(out))
`,
      null,
    );
    expect(vectors).toHaveLength(44);
    for (const v of vectors) {
      const ours = eaxEncrypt(hex(v.key), hex(v.nonce), hex(v.msg), hex(v.header));
      expect(ours.ciphertext.toString('hex')).toBe(v.ct);
      expect(ours.tag.toString('hex')).toBe(v.tag);
      expect(eaxDecrypt(hex(v.key), hex(v.nonce), hex(v.ct), hex(v.tag), hex(v.header))?.toString('hex')).toBe(v.msg);
    }
  });

  it('produces ciphertexts that PyCryptodome decrypt_and_verify accepts', () => {
    const cases = [0, 1, 16, 17, 4096, 100_001].map((n) => {
      const key = randomBytes(32);
      const nonce = randomBytes(16);
      const msg = randomBytes(n);
      const { ciphertext, tag } = eaxEncrypt(key, nonce, msg);
      return {
        key: key.toString('hex'),
        nonce: nonce.toString('hex'),
        ct: ciphertext.toString('hex'),
        tag: tag.toString('hex'),
        msg: msg.toString('hex'),
      };
    });
    const results = runPyCryptodome<string[]>(
      `
import json, sys
from Cryptodome.Cipher import AES
out = []
for c in json.load(sys.stdin):
    cipher = AES.new(bytes.fromhex(c['key']), AES.MODE_EAX, nonce=bytes.fromhex(c['nonce']))
    out.append(cipher.decrypt_and_verify(bytes.fromhex(c['ct']), bytes.fromhex(c['tag'])).hex())
print(json.dumps(out))
`,
      cases,
    );
    expect(results).toEqual(cases.map((c) => c.msg));
  });
});
