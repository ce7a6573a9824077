/**
 * `bytes.decode(charset, errors)` as CPython resolves and applies charset names.
 *
 * Single- and multi-byte tables come from iconv-lite (its tables are built from the same Unicode mapping files
 * as Python's codecs); the few code points where the two disagree are corrected below, and the test suite checks
 * every byte of every single-byte codec against /usr/bin/python3. UTF-8/16/32 and ASCII are decoded here because
 * their error semantics (which bytes form one error, what 'surrogateescape' does) are part of the result.
 */
import iconv from 'iconv-lite';
import { type DecodeErrors, decodeUtf8 } from './py-text';

/** What `bytes.decode(name)` finds: a codec we implement, a codec Python has but we do not, or none (LookupError). */
export type CodecLookup =
  | { kind: 'codec'; codec: Codec }
  | { kind: 'unsupported'; name: string }
  | { kind: 'unknown'; name: string };

export interface Codec {
  /** Python's canonical codec name (module name in the `encodings` package). */
  readonly name: string;
  /** undefined when errors='strict' and the input is invalid. */
  decode(bytes: Uint8Array, errors: DecodeErrors): string | undefined;
}

type ByteError = (start: number, end: number) => string | undefined;

/** Python's surrogateescape handler re-raising UnicodeDecodeError: it cannot stand for bytes below 0x80. */
export class SurrogateEscapeError extends Error {}

/** The error handler Python applies to the bytes [start, end) of one invalid sequence. */
function errorHandler(bytes: Uint8Array, errors: DecodeErrors): ByteError {
  return (start, end) => {
    if (errors === 'strict') return undefined;
    if (errors === 'replace') return '\ufffd';
    let out = '';
    for (let k = start; k < end; k++) {
      const b = bytes[k] as number;
      // surrogateescape can only stand for bytes >= 0x80; otherwise Python re-raises the decode error.
      if (b < 0x80) throw new SurrogateEscapeError('UnicodeDecodeError: surrogateescape cannot escape an ASCII byte');
      out += String.fromCharCode(0xdc00 + b);
    }
    return out;
  };
}

const ascii: Codec = {
  name: 'ascii',
  decode(bytes, errors) {
    const onError = errorHandler(bytes, errors);
    const parts: string[] = [];
    let run = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number;
      if (b >= 0x80) {
        if (i > run) parts.push(latin1(bytes.subarray(run, i)));
        const r = onError(i, i + 1);
        if (r === undefined) return undefined;
        parts.push(r);
        run = i + 1;
      }
    }
    if (run < bytes.length) parts.push(latin1(bytes.subarray(run)));
    return parts.join('');
  },
};

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
  }
  return s;
}

const latin1Codec: Codec = { name: 'latin_1', decode: (bytes) => latin1(bytes) };

const utf8: Codec = { name: 'utf_8', decode: (bytes, errors) => decodeUtf8(bytes, errors) };

const utf8Sig: Codec = {
  name: 'utf_8_sig',
  decode(bytes, errors) {
    const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    return decodeUtf8(bom ? bytes.subarray(3) : bytes, errors);
  },
};

function utf16(name: string, endian: 'le' | 'be' | 'bom'): Codec {
  return {
    name,
    decode(bytes, errors) {
      const onError = errorHandler(bytes, errors);
      let little = endian !== 'be';
      let i = 0;
      if (endian === 'bom' && bytes.length >= 2) {
        if (bytes[0] === 0xff && bytes[1] === 0xfe) i = 2;
        else if (bytes[0] === 0xfe && bytes[1] === 0xff) {
          little = false;
          i = 2;
        }
      }
      const unit = (k: number) =>
        little
          ? (bytes[k] as number) | ((bytes[k + 1] as number) << 8)
          : ((bytes[k] as number) << 8) | (bytes[k + 1] as number);
      const out: string[] = [];
      const n = bytes.length;
      while (i < n) {
        if (i + 1 >= n) {
          const r = onError(i, n);
          if (r === undefined) return undefined;
          out.push(r);
          break;
        }
        const u = unit(i);
        if (u < 0xd800 || u > 0xdfff) {
          out.push(String.fromCharCode(u));
          i += 2;
        } else if (u <= 0xdbff) {
          if (i + 3 >= n) {
            const r = onError(i, n);
            if (r === undefined) return undefined;
            out.push(r);
            break;
          }
          const v = unit(i + 2);
          if (v >= 0xdc00 && v <= 0xdfff) {
            out.push(String.fromCharCode(u, v));
            i += 4;
          } else {
            const r = onError(i, i + 2);
            if (r === undefined) return undefined;
            out.push(r);
            i += 2;
          }
        } else {
          const r = onError(i, i + 2);
          if (r === undefined) return undefined;
          out.push(r);
          i += 2;
        }
      }
      return out.join('');
    },
  };
}

function utf32(name: string, endian: 'le' | 'be' | 'bom'): Codec {
  return {
    name,
    decode(bytes, errors) {
      const onError = errorHandler(bytes, errors);
      let little = endian !== 'be';
      let i = 0;
      if (endian === 'bom' && bytes.length >= 4) {
        if (bytes[0] === 0xff && bytes[1] === 0xfe && bytes[2] === 0 && bytes[3] === 0) i = 4;
        else if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0xfe && bytes[3] === 0xff) {
          little = false;
          i = 4;
        }
      }
      const out: string[] = [];
      const n = bytes.length;
      while (i < n) {
        if (i + 3 >= n) {
          const r = onError(i, n);
          if (r === undefined) return undefined;
          out.push(r);
          break;
        }
        const b0 = bytes[i] as number;
        const b1 = bytes[i + 1] as number;
        const b2 = bytes[i + 2] as number;
        const b3 = bytes[i + 3] as number;
        const cp = little ? b3 * 0x1000000 + (b2 << 16) + (b1 << 8) + b0 : b0 * 0x1000000 + (b1 << 16) + (b2 << 8) + b3;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          const r = onError(i, i + 4);
          if (r === undefined) return undefined;
          out.push(r);
        } else {
          out.push(String.fromCodePoint(cp));
        }
        i += 4;
      }
      return out.join('');
    },
  };
}

/**
 * A single-byte codec: a 256-entry table (undefined = byte not mapped, a one-byte error in Python).
 * `fixes` lists the bytes whose mapping differs between iconv-lite's table and Python's.
 */
function singleByte(name: string, iconvName: string, fixes: Record<number, number | null> = {}): () => Codec {
  let table: Array<string | undefined> | undefined;
  return () => {
    if (!table) {
      const built: Array<string | undefined> = [];
      for (let b = 0; b < 256; b++) {
        const ch = iconv.decode(Buffer.from([b]), iconvName);
        built.push(ch === '\ufffd' ? undefined : ch);
      }
      for (const [k, v] of Object.entries(fixes)) built[Number(k)] = v === null ? undefined : String.fromCodePoint(v);
      table = built;
    }
    const t = table;
    return {
      name,
      decode(bytes, errors) {
        const onError = errorHandler(bytes, errors);
        const out: string[] = [];
        for (let i = 0; i < bytes.length; i++) {
          const ch = t[bytes[i] as number];
          if (ch !== undefined) out.push(ch);
          else {
            const r = onError(i, i + 1);
            if (r === undefined) return undefined;
            out.push(r);
          }
        }
        return out.join('');
      },
    };
  };
}

/**
 * A multi-byte codec decoded by iconv-lite. For valid text the result is Python's; for ill-formed input the
 * number and place of replacement characters can differ from Python's CJK codecs, and 'surrogateescape' falls
 * back to replacement characters (the reader then sanitises them the same way).
 */
function multiByte(name: string, iconvName: string, post?: (s: string) => string): () => Codec {
  return () => ({
    name,
    decode(bytes) {
      const s = iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), iconvName);
      return post ? post(s) : s;
    },
  });
}

/**
 * A strict multi-byte codec (Python's gb2312, euc_kr, big5, shift_jis, euc_jp reject what their Microsoft
 * supersets accept). `sequence` gives the length of a structurally valid sequence at i (0 if none); iconv-lite
 * then maps it, and a sequence it cannot map, or maps into the private use area, is invalid. As in Python, an
 * invalid byte is one error and decoding resumes at the next byte.
 */
function strictMultiByte(
  name: string,
  iconvName: string,
  sequence: (bytes: Uint8Array, i: number) => number,
  post: (s: string) => string = (x) => x,
): () => Codec {
  return () => ({
    name,
    decode(bytes, errors) {
      const onError = errorHandler(bytes, errors);
      const out: string[] = [];
      let i = 0;
      while (i < bytes.length) {
        const b = bytes[i] as number;
        if (b < 0x80) {
          out.push(String.fromCharCode(b));
          i++;
          continue;
        }
        const n = sequence(bytes, i);
        if (n > 0) {
          const ch = post(iconv.decode(Buffer.from(bytes.subarray(i, i + n)), iconvName));
          if (ch.length > 0 && !/[\ufffd\ue000-\uf8ff]/.test(ch)) {
            out.push(ch);
            i += n;
            continue;
          }
        }
        const r = onError(i, i + 1);
        if (r === undefined) return undefined;
        out.push(r);
        i++;
      }
      return out.join('');
    },
  });
}

const inRange = (b: number | undefined, lo: number, hi: number) => b !== undefined && b >= lo && b <= hi;

const gb2312Sequence = (bytes: Uint8Array, i: number) => {
  const lead = bytes[i] as number;
  const validLead = inRange(lead, 0xa1, 0xa9) || inRange(lead, 0xb0, 0xf7);
  return validLead && inRange(bytes[i + 1], 0xa1, 0xfe) ? 2 : 0;
};

const eucKrSequence = (bytes: Uint8Array, i: number) =>
  inRange(bytes[i], 0xa1, 0xfe) && inRange(bytes[i + 1], 0xa1, 0xfe) ? 2 : 0;

const big5Sequence = (bytes: Uint8Array, i: number) => {
  const lead = bytes[i] as number;
  const trail = bytes[i + 1];
  if (!inRange(lead, 0xa1, 0xf9) || !(inRange(trail, 0x40, 0x7e) || inRange(trail, 0xa1, 0xfe))) return 0;
  // Microsoft's and ETEN's additions (the euro sign, the F9D6.. block) are not in Python's big5.
  const code = (lead << 8) | (trail as number);
  if (code === 0xa3e1 || code >= 0xf9d6) return 0;
  return 2;
};

const shiftJisSequence = (bytes: Uint8Array, i: number) => {
  const lead = bytes[i] as number;
  if (inRange(lead, 0xa1, 0xdf)) return 1;
  const validLead = (inRange(lead, 0x81, 0x9f) && lead !== 0x87) || inRange(lead, 0xe0, 0xea);
  const trail = bytes[i + 1];
  return validLead && (inRange(trail, 0x40, 0x7e) || inRange(trail, 0x80, 0xfc)) ? 2 : 0;
};

const eucJpSequence = (bytes: Uint8Array, i: number) => {
  const lead = bytes[i] as number;
  if (lead === 0x8e) return inRange(bytes[i + 1], 0xa1, 0xdf) ? 2 : 0;
  if (lead === 0x8f) return inRange(bytes[i + 1], 0xa1, 0xfe) && inRange(bytes[i + 2], 0xa1, 0xfe) ? 3 : 0;
  return lead !== 0xad && inRange(lead, 0xa1, 0xfe) && inRange(bytes[i + 1], 0xa1, 0xfe) ? 2 : 0;
};

/**
 * ISO-2022-JP (RFC 1468) as Python's `iso2022_jp` reads it: escape sequences switch between ASCII, JIS X 0201
 * Roman and JIS X 0208; a JIS X 0208 pair is the EUC-JP pair with the high bits cleared, so it is decoded
 * through the EUC-JP table. Line breaks do not reset the character set. Ill-formed input gives U+FFFD.
 */
function iso2022jp(): Codec {
  const euc = strictMultiByte('euc_jp', 'euc-jp', eucJpSequence, toJis)();
  return {
    name: 'iso2022_jp',
    decode(bytes) {
      const out: string[] = [];
      let mode: 'ascii' | 'roman' | 'jis' = 'ascii';
      let i = 0;
      while (i < bytes.length) {
        const b = bytes[i] as number;
        if (b === 0x1b) {
          const b1 = bytes[i + 1];
          const b2 = bytes[i + 2];
          if (b1 === 0x28 && b2 === 0x42) mode = 'ascii';
          else if (b1 === 0x28 && b2 === 0x4a) mode = 'roman';
          else if (b1 === 0x24 && (b2 === 0x40 || b2 === 0x42)) mode = 'jis';
          else {
            out.push('\ufffd');
            i += b1 === undefined ? 1 : b2 === undefined ? 2 : 3;
            continue;
          }
          i += 3;
        } else if (b >= 0x80) {
          out.push('\ufffd');
          i++;
        } else if (mode === 'jis' && b !== 0x0a && b !== 0x0d) {
          const b1 = bytes[i + 1];
          if (b >= 0x21 && b <= 0x7e && b1 !== undefined && b1 >= 0x21 && b1 <= 0x7e) {
            out.push(euc.decode(Uint8Array.of(b | 0x80, b1 | 0x80), 'replace') as string);
            i += 2;
          } else {
            out.push('\ufffd');
            i += b1 === undefined || b1 === 0x1b ? 1 : 2;
          }
        } else if (mode === 'roman' && (b === 0x5c || b === 0x7e)) {
          out.push(b === 0x5c ? '\u00a5' : '\u203e');
          i++;
        } else {
          out.push(String.fromCharCode(b));
          i++;
        }
      }
      return out.join('');
    },
  };
}

/** Wraps a replace-only decoder so that 'strict' reports failure when a replacement character appears. */
function strictByReplacement(make: () => Codec): () => Codec {
  return () => {
    const inner = make();
    return {
      name: inner.name,
      decode(bytes, errors) {
        const s = inner.decode(bytes, 'replace') as string;
        if (errors === 'strict' && s.includes('\ufffd')) return undefined;
        return s;
      },
    };
  };
}

// iconv-lite's Shift_JIS and EUC-JP follow Microsoft's mapping of six JIS X 0208 symbols; Python's codecs keep
// the JIS mapping.
const JIS_SYMBOLS: Record<string, string> = {
  '\uff5e': '\u301c',
  '\u2225': '\u2016',
  '\uff0d': '\u2212',
  '\uffe0': '\u00a2',
  '\uffe1': '\u00a3',
  '\uffe2': '\u00ac',
};
const toJis = (s: string) => s.replace(/[\uff5e\u2225\uff0d\uffe0\uffe1\uffe2]/g, (c) => JIS_SYMBOLS[c] ?? c);

const MAC_FIXES: Record<string, Record<number, number | null>> = {
  mac_roman: { 189: 0x3a9, 219: 0x20ac, 240: 0xf8ff },
  mac_cyrillic: { 162: 0x490, 182: 0x491, 255: 0x20ac },
  mac_croatian: { 189: 0x3a9, 216: 0xf8ff, 219: 0x20ac },
  mac_greek: { 156: 0x20ac, 175: 0xb7, 255: 0xad },
  mac_iceland: { 189: 0x3a9, 219: 0x20ac, 240: 0xf8ff },
  mac_turkish: { 189: 0x3a9, 240: 0xf8ff, 245: 0xf8a0 },
};

const C1: Record<number, number> = {};
for (let b = 0x80; b <= 0x9f; b++) C1[b] = b;

const FACTORIES: Record<string, () => Codec> = {
  ascii: () => ascii,
  latin_1: () => latin1Codec,
  utf_8: () => utf8,
  utf_8_sig: () => utf8Sig,
  utf_16: () => utf16('utf_16', 'bom'),
  utf_16_le: () => utf16('utf_16_le', 'le'),
  utf_16_be: () => utf16('utf_16_be', 'be'),
  utf_32: () => utf32('utf_32', 'bom'),
  utf_32_le: () => utf32('utf_32_le', 'le'),
  utf_32_be: () => utf32('utf_32_be', 'be'),
  utf_7: strictByReplacement(multiByte('utf_7', 'utf7')),
  cp1255: singleByte('cp1255', 'cp1255', { 202: null }),
  tis_620: singleByte('tis_620', 'tis620', C1),
  mac_roman: singleByte('mac_roman', 'macroman', MAC_FIXES.mac_roman),
  mac_cyrillic: singleByte('mac_cyrillic', 'maccyrillic', MAC_FIXES.mac_cyrillic),
  shift_jis: strictMultiByte('shift_jis', 'shift_jis', shiftJisSequence, toJis),
  euc_jp: strictMultiByte('euc_jp', 'euc-jp', eucJpSequence, toJis),
  cp932: strictByReplacement(multiByte('cp932', 'cp932')),
  gb2312: strictMultiByte('gb2312', 'gb2312', gb2312Sequence),
  gbk: strictByReplacement(multiByte('gbk', 'gbk')),
  gb18030: strictByReplacement(multiByte('gb18030', 'gb18030')),
  big5: strictMultiByte('big5', 'big5', big5Sequence),
  big5hkscs: strictByReplacement(multiByte('big5hkscs', 'big5hkscs')),
  cp950: strictByReplacement(multiByte('cp950', 'cp950')),
  euc_kr: strictMultiByte('euc_kr', 'euc-kr', eucKrSequence),
  cp949: strictByReplacement(multiByte('cp949', 'cp949')),
  iso2022_jp: strictByReplacement(iso2022jp),
};

// Single-byte codecs whose iconv-lite table equals Python's byte for byte.
for (const n of [
  'cp1125 cp1250 cp1251 cp1252 cp1253 cp1254 cp1256 cp1257 cp1258 cp437 cp720 cp737 cp775 cp850 cp852 cp855',
  'cp856 cp857 cp858 cp860 cp861 cp862 cp863 cp864 cp865 cp866 cp869 cp874 hp_roman8 koi8_r koi8_t koi8_u',
  'iso8859_2 iso8859_3 iso8859_4 iso8859_5 iso8859_6 iso8859_7 iso8859_8 iso8859_9 iso8859_10 iso8859_11',
  'iso8859_13 iso8859_14 iso8859_15 iso8859_16',
]
  .join(' ')
  .split(' ')) {
  FACTORIES[n] = singleByte(n, n.replace(/_/g, '').replace('iso8859', 'iso-8859-'));
}
for (const n of ['mac_croatian', 'mac_greek', 'mac_iceland', 'mac_turkish']) {
  FACTORIES[n] = singleByte(n, n.replace('_', ''), MAC_FIXES[n]);
}

/** Text codecs CPython has that this reader does not decode: a message using one is reported, not guessed. */
const UNSUPPORTED = new Set(
  (
    'cp037 cp1006 cp1026 cp1140 cp273 cp424 cp500 cp875 kz1048 mac_arabic mac_farsi mac_latin2 mac_romanian ' +
    'palmos ptcp154 iso2022_jp_1 iso2022_jp_2 iso2022_jp_2004 iso2022_jp_3 iso2022_jp_ext iso2022_kr ' +
    'hz johab euc_jis_2004 euc_jisx0213 shift_jis_2004 shift_jisx0213 big5hkscs_unused unicode_escape ' +
    'raw_unicode_escape idna punycode charmap undefined'
  ).split(' '),
);

/**
 * Aliases, in the normalised form Python's `encodings.search_function` looks up (lower case; every run of
 * characters other than letters, digits and '.' turned into one '_').
 */
const ALIASES: Record<string, string> = {};
function alias(target: string, names: string): void {
  for (const n of names.split(' ')) ALIASES[n] = target;
}
alias(
  'ascii',
  '646 ansi_x3.4_1968 ansi_x3_4_1968 ansi_x3.4_1986 cp367 csascii ibm367 iso646_us iso_646.irv_1991 iso_ir_6 us us_ascii',
);
alias(
  'latin_1',
  '8859 cp819 csisolatin1 ibm819 iso8859 iso8859_1 iso_8859_1 iso_8859_1_1987 iso_ir_100 l1 latin latin1',
);
alias('utf_8', 'u8 utf utf8 utf8_ucs2 utf8_ucs4 cp65001');
alias('utf_16', 'u16 utf16');
alias('utf_16_le', 'unicodelittleunmarked utf_16le');
alias('utf_16_be', 'unicodebigunmarked utf_16be');
alias('utf_32', 'u32 utf32');
alias('utf_32_le', 'utf_32le');
alias('utf_32_be', 'utf_32be');
alias('utf_7', 'u7 unicode_1_1_utf_7 utf7');
alias('iso8859_2', 'csisolatin2 iso_8859_2 iso_8859_2_1987 iso_ir_101 l2 latin2');
alias('iso8859_3', 'csisolatin3 iso_8859_3 iso_8859_3_1988 iso_ir_109 l3 latin3');
alias('iso8859_4', 'csisolatin4 iso_8859_4 iso_8859_4_1988 iso_ir_110 l4 latin4');
alias('iso8859_5', 'csisolatincyrillic cyrillic iso_8859_5 iso_8859_5_1988 iso_ir_144');
alias('iso8859_6', 'arabic asmo_708 csisolatinarabic ecma_114 iso_8859_6 iso_8859_6_1987 iso_ir_127');
alias('iso8859_7', 'csisolatingreek ecma_118 elot_928 greek greek8 iso_8859_7 iso_8859_7_1987 iso_ir_126');
alias('iso8859_8', 'csisolatinhebrew hebrew iso_8859_8 iso_8859_8_1988 iso_ir_138');
alias('iso8859_9', 'csisolatin5 iso_8859_9 iso_8859_9_1989 iso_ir_148 l5 latin5');
alias('iso8859_10', 'csisolatin6 iso_8859_10 iso_8859_10_1992 iso_ir_157 l6 latin6');
alias('iso8859_11', 'thai iso_8859_11 iso_8859_11_2001');
alias('iso8859_13', 'iso_8859_13 l7 latin7');
alias('iso8859_14', 'iso_8859_14 iso_8859_14_1998 iso_celtic iso_ir_199 l8 latin8');
alias('iso8859_15', 'iso_8859_15 l9 latin9');
alias('iso8859_16', 'iso_8859_16 iso_8859_16_2001 iso_ir_226 l10 latin10');
for (let n = 1250; n <= 1258; n++) alias(`cp${n}`, `windows_${n}`);
alias('cp437', '437 cspc8codepage437 ibm437');
alias('cp850', '850 cspc850multilingual ibm850');
alias('cp852', '852 cspcp852 ibm852');
alias('cp855', '855 csibm855 ibm855');
alias('cp857', '857 csibm857 ibm857');
alias('cp858', '858 csibm858 ibm858');
alias('cp860', '860 csibm860 ibm860');
alias('cp861', '861 cp_is csibm861 ibm861');
alias('cp862', '862 cspc862latinhebrew ibm862');
alias('cp863', '863 csibm863 ibm863');
alias('cp864', '864 csibm864 ibm864');
alias('cp865', '865 csibm865 ibm865');
alias('cp866', '866 csibm866 ibm866');
alias('cp869', '869 cp_gr csibm869 ibm869');
alias('cp775', 'ibm775');
alias('cp1125', '1125 ibm1125 cp866u ruscii');
alias('koi8_r', 'cskoi8r');
alias('mac_roman', 'macintosh macroman');
alias('mac_cyrillic', 'maccyrillic');
alias('mac_greek', 'macgreek');
alias('mac_iceland', 'maciceland');
alias('mac_turkish', 'macturkish');
alias('tis_620', 'tis620 tis_620_0 tis_620_2529_0 tis_620_2529_1 iso_ir_166');
alias('shift_jis', 'csshiftjis shiftjis sjis s_jis');
alias('cp932', '932 ms932 mskanji ms_kanji');
alias('euc_jp', 'eucjp ujis u_jis');
alias('gb2312', 'chinese csiso58gb231280 euc_cn euccn eucgb2312_cn gb2312_1980 gb2312_80 iso_ir_58');
alias('gbk', '936 cp936 ms936');
alias('gb18030', 'gb18030_2000');
alias('big5', 'big5_tw csbig5');
alias('big5hkscs', 'big5_hkscs hkscs');
alias('cp950', '950 ms950');
alias('euc_kr', 'euckr korean ksc5601 ks_c_5601 ks_c_5601_1987 ksx1001 ks_x_1001');
alias('cp949', '949 ms949 uhc');
alias('iso2022_jp', 'csiso2022jp iso2022jp iso_2022_jp');
alias('iso2022_kr', 'csiso2022kr iso2022kr iso_2022_kr');

/** `encodings.normalize_encoding` applied to the lower-cased name. */
function normalizeCodecName(name: string): string {
  let out = '';
  let punct = false;
  for (const ch of name.toLowerCase()) {
    const alnum = /^[\p{L}\p{N}]$/u.test(ch);
    if (alnum || ch === '.') {
      if (punct && out) out += '_';
      if (ch.charCodeAt(0) < 0x80) out += ch;
      punct = false;
    } else {
      punct = true;
    }
  }
  return out;
}

const cache = new Map<string, Codec>();

export function lookupCodec(name: string): CodecLookup {
  if (name.includes('\0')) return { kind: 'unknown', name };
  const norm = normalizeCodecName(name);
  const target = ALIASES[norm] ?? ALIASES[norm.replace(/\./g, '_')] ?? norm;
  const cached = cache.get(target);
  if (cached) return { kind: 'codec', codec: cached };
  const factory = FACTORIES[target];
  if (factory) {
    const codec = factory();
    cache.set(target, codec);
    return { kind: 'codec', codec };
  }
  if (UNSUPPORTED.has(target)) return { kind: 'unsupported', name };
  return { kind: 'unknown', name };
}
