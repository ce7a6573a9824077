/**
 * Charsets and transfer encodings against /usr/bin/python3: charset names resolve to the codec Python picks,
 * single-byte codecs map every byte as Python does, multi-byte codecs decode valid text as Python does, and the
 * quoted-printable / base64 / uuencode decoders reproduce CPython's leniency on arbitrary input.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lookupCodec } from '../../../lambdas/tahoe/email/charsets';
import { decodeBase64Header, decodeQuotedPrintable, decodeUuencode } from '../../../lambdas/tahoe/email/transfer';

const PYTHON = '/usr/bin/python3';

function python<T>(program: string, input: unknown): T {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is required for the differential email tests`);
  const out = execFileSync(PYTHON, ['-W', 'ignore', '-c', program], {
    input: JSON.stringify(input),
    maxBuffer: 1 << 28,
    env: { PATH: '/usr/bin:/bin', PYTHONIOENCODING: 'utf-8' },
  });
  return JSON.parse(out.toString('utf8')) as T;
}

const NAMES = [
  'utf-8',
  'UTF8',
  'utf_8',
  'u8',
  'utf-8-sig',
  'us-ascii',
  'ASCII',
  'ANSI_X3.4-1968',
  'iso-8859-1',
  'ISO_8859-1',
  'latin1',
  'latin-1',
  'l1',
  'cp819',
  'windows-1250',
  'windows-1251',
  'windows-1252',
  'Windows-1253',
  'windows-1254',
  'windows-1255',
  'windows-1256',
  'windows-1257',
  'windows-1258',
  'cp1252',
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-4',
  'iso-8859-5',
  'iso-8859-6',
  'iso-8859-7',
  'iso-8859-8',
  'iso-8859-9',
  'iso-8859-10',
  'iso-8859-11',
  'iso-8859-13',
  'iso-8859-14',
  'iso-8859-15',
  'iso-8859-16',
  'latin2',
  'latin9',
  'greek',
  'hebrew',
  'cyrillic',
  'koi8-r',
  'KOI8-U',
  'koi8_t',
  'ibm866',
  'cp866',
  'cp437',
  'IBM850',
  'cp852',
  'cp1125',
  'macintosh',
  'mac-roman',
  'maccyrillic',
  'mac_greek',
  'mac_iceland',
  'mac_turkish',
  'mac_croatian',
  'tis-620',
  'cp874',
  'hp-roman8',
  'utf-16',
  'utf-16le',
  'UTF-16BE',
  'utf-32',
  'utf-32le',
  'utf-32be',
  'utf-7',
  'shift_jis',
  'Shift-JIS',
  'sjis',
  'cp932',
  'euc-jp',
  'EUC-JP',
  'iso-2022-jp',
  'gb2312',
  'GB2312',
  'gbk',
  'cp936',
  'gb18030',
  'big5',
  'Big5',
  'big5-hkscs',
  'cp950',
  'euc-kr',
  'ks_c_5601-1987',
  'cp949',
  'x-unknown',
  'unknown-8bit',
  'utf-8 ',
  ' utf-8',
  'utf 8',
  'utf--8',
  '',
  'base64',
  'rot13',
  'zlib',
  'windows-1252x',
  'x-mac-roman',
];

const SINGLE_BYTE = new Set([
  'ascii',
  'latin_1',
  'cp1125',
  'cp1250',
  'cp1251',
  'cp1252',
  'cp1253',
  'cp1254',
  'cp1255',
  'cp1256',
  'cp1257',
  'cp1258',
  'cp437',
  'cp850',
  'cp852',
  'cp866',
  'cp874',
  'hp_roman8',
  'koi8_r',
  'koi8_t',
  'koi8_u',
  'mac_roman',
  'mac_cyrillic',
  'mac_greek',
  'mac_iceland',
  'mac_turkish',
  'mac_croatian',
  'tis_620',
  'iso8859_2',
  'iso8859_3',
  'iso8859_4',
  'iso8859_5',
  'iso8859_6',
  'iso8859_7',
  'iso8859_8',
  'iso8859_9',
  'iso8859_10',
  'iso8859_11',
  'iso8859_13',
  'iso8859_14',
  'iso8859_15',
  'iso8859_16',
]);

const LOOKUP = `
import codecs, json, sys
out = {}
for name in json.load(sys.stdin):
    try:
        info = codecs.lookup(name)
        if not info._is_text_encoding:
            raise LookupError('not a text encoding')
        out[name] = {'name': info.name.replace('-', '_'), 'bytes': [ord(c) for c in bytes(range(256)).decode(name, 'replace')]}
    except LookupError:
        out[name] = None
json.dump(out, sys.stdout)
`;

const canonical = (pythonName: string) => (pythonName === 'iso8859_1' ? 'latin_1' : pythonName);

describe('charset names', () => {
  const py = python<Record<string, { name: string; bytes: number[] } | null>>(LOOKUP, NAMES);

  it.each(NAMES)('%j resolves as in Python', (name) => {
    const found = lookupCodec(name);
    const want = py[name];
    if (want === null || want === undefined) {
      expect(found.kind).toBe('unknown');
      return;
    }
    expect(found.kind).toBe('codec');
    if (found.kind !== 'codec') return;
    expect(found.codec.name).toBe(canonical(want.name));
    if (SINGLE_BYTE.has(found.codec.name)) {
      const got = found.codec.decode(
        Uint8Array.from({ length: 256 }, (_, b) => b),
        'replace',
      ) as string;
      expect(Array.from(got, (c) => c.codePointAt(0))).toEqual(want.bytes);
    }
  });
});

describe('multi-byte charsets', () => {
  const SAMPLES: Record<string, string> = {
    shift_jis: 'こんにちは、世界！テスト〜ｶﾀｶﾅ−＼¬‖…ー',
    cp932: 'こんにちは～①',
    euc_jp: 'こんにちは世界〜−ｶﾀ',
    iso2022_jp: 'こんにちは世界〜',
    gb2312: '你好，世界！测试',
    gbk: '你好，世界！測試镕',
    gb18030: '你好€𠀀世界',
    big5: '你好，世界！測試',
    big5hkscs: '你好測試',
    cp950: '你好測試€',
    euc_kr: '안녕하세요 세계',
    cp949: '안녕하세요 똠방각하',
    utf_7: 'Hi Mom -☺-! A≢Α. 日本語 +-',
    utf_16: 'UTF-16 𝟘 text',
    utf_32: 'UTF-32 𝟘 text',
  };
  const encoded = python<Record<string, number[]>>(
    'import json, sys\njson.dump({k: list(v.encode(k)) for k, v in json.load(sys.stdin).items()}, sys.stdout)',
    SAMPLES,
  );

  it.each(Object.keys(SAMPLES))('%s decodes text Python encoded back to the same text', (name) => {
    const found = lookupCodec(name);
    if (found.kind !== 'codec') throw new Error(`${name} is not supported`);
    expect(found.codec.decode(Uint8Array.from(encoded[name] as number[]), 'strict')).toBe(SAMPLES[name]);
  });

  it('decodes ill-formed UTF-8, UTF-16 and ASCII with the replacements Python makes', () => {
    const inputs = [
      [0x61, 0xe2, 0x82, 0x41, 0xed, 0xa0, 0x80, 0xc0, 0xaf, 0xf4, 0x90, 0x80, 0x80, 0xf0, 0x9f, 0x98],
      [0x00, 0xd8, 0x41, 0x00, 0x41, 0x00, 0x00, 0xdc, 0x00],
      [0x41, 0x80, 0xff, 0x7f],
    ];
    const codecs = ['utf_8', 'utf_16_le', 'ascii'];
    const want = python<string[]>(
      'import json, sys\njson.dump([bytes(b).decode(c, "replace") for c, b in json.load(sys.stdin)], sys.stdout)',
      codecs.map((c, i) => [c, inputs[i]]),
    );
    codecs.forEach((c, i) => {
      const found = lookupCodec(c);
      if (found.kind !== 'codec') throw new Error(c);
      expect(found.codec.decode(Uint8Array.from(inputs[i] as number[]), 'replace')).toBe(want[i]);
    });
  });
});

/** Deterministic byte strings drawn mostly from the characters these decoders treat specially. */
function samples(seed: number, count: number, alphabet: string): number[][] {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x;
  };
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const bytes: number[] = [];
    for (let n = next() % 24; n > 0; n--)
      bytes.push(next() % 5 === 0 ? next() % 256 : alphabet.charCodeAt(next() % alphabet.length));
    out.push(bytes);
  }
  return out;
}

describe('transfer encodings', () => {
  const qpInputs = samples(1, 2000, '=\r\n AF09af=g x');
  const b64Inputs = samples(2, 2000, 'QWJjZGVm=+/\r\n!. ');
  const uuInputs = samples(3, 600, '`!"#$%&M \r\n').map((b) => [
    ...Buffer.from(['begin 644 f\n', '', 'no begin\n'][b.length % 3] as string),
    ...b,
    ...Buffer.from(b.length % 4 === 0 ? '' : '`\nend\n'),
  ]);
  const py = python<{ qp: number[][]; b64: number[][]; uu: Array<number[] | string> }>(
    `
import binascii, io, json, quopri, sys, uu
from email._encoded_words import decode_b
data = json.load(sys.stdin)
def uu38(b):
    out = io.BytesIO()
    try:
        uu.decode(io.BytesIO(bytes(b)), out, quiet=True)
    except uu.Error:
        return list(b)
    except binascii.Error:
        return 'binascii.Error'
    return list(out.getvalue())
json.dump({
    'qp': [list(quopri.decodestring(bytes(b))) for b in data['qp']],
    'b64': [list(decode_b(bytes(b))[0]) for b in data['b64']],
    'uu': [uu38(b) for b in data['uu']],
}, sys.stdout)
`,
    { qp: qpInputs, b64: b64Inputs, uu: uuInputs },
  );

  it('decodes quoted-printable like binascii.a2b_qp, including stray "=" and "=\\r" soft breaks', () => {
    const got = qpInputs.map((b) => Array.from(decodeQuotedPrintable(Uint8Array.from(b))));
    expect(got).toEqual(py.qp);
  });

  it('decodes base64 like email._encoded_words.decode_b, including bad padding and stray characters', () => {
    const got = b64Inputs.map((b) => Array.from(decodeBase64Header(Uint8Array.from(b))));
    expect(got).toEqual(py.b64);
  });

  it("decodes uuencode like Python 3.8's uu.decode: undecoded on uu.Error, an error on binascii.Error", () => {
    const got = uuInputs.map((b) => {
      try {
        return Array.from(decodeUuencode(Uint8Array.from(b)));
      } catch (e) {
        return (e as Error).message.includes('binascii.Error') ? 'binascii.Error' : String(e);
      }
    });
    expect(got).toEqual(py.uu);
  });
});
