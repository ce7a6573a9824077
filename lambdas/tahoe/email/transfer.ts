/**
 * Content-Transfer-Encoding decoders with CPython's exact leniency (binascii.a2b_qp, binascii.a2b_base64 in
 * non-strict mode with `email._encoded_words.decode_b`'s retries, and Python 3.8's `uu.decode`). Generic base64 /
 * quoted-printable libraries differ on malformed input (stray '=', bad padding, soft breaks after '\r'), and those
 * differences would change the decoded body, so these are written against CPython's documented behaviour.
 */
import { pythonCrash } from './py-text';

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((ch, i) => {
  B64[ch.charCodeAt(0)] = i;
});

/** binascii.a2b_base64(data, strict_mode=False); undefined where it raises binascii.Error. */
function a2bBase64(data: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((data.length * 3) / 4) + 3);
  let o = 0;
  let quad = 0;
  let left = 0;
  let pads = 0;
  for (let i = 0; i < data.length; i++) {
    const ch = data[i] as number;
    if (ch === 0x3d) {
      if (quad >= 2 && quad + ++pads >= 4) return out.slice(0, o);
      continue;
    }
    const v = B64[ch] as number;
    if (v < 0) continue;
    pads = 0;
    switch (quad) {
      case 0:
        quad = 1;
        left = v;
        break;
      case 1:
        quad = 2;
        out[o++] = (left << 2) | (v >> 4);
        left = v & 0x0f;
        break;
      case 2:
        quad = 3;
        out[o++] = ((left << 4) | (v >> 2)) & 0xff;
        left = v & 0x03;
        break;
      default:
        quad = 0;
        out[o++] = ((left << 6) | v) & 0xff;
        left = 0;
    }
  }
  return quad === 0 ? out.slice(0, o) : undefined;
}

const STRICT_B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function concat(a: Uint8Array, tail: string): Uint8Array {
  const out = new Uint8Array(a.length + tail.length);
  out.set(a);
  for (let i = 0; i < tail.length; i++) out[a.length + i] = tail.charCodeAt(i);
  return out;
}

/**
 * `_encoded_words.decode_b`: pad and decode strictly; else decode leniently; else with '==' added; else give
 * the input back unchanged (the bpo-27397 fallback).
 */
export function decodeBase64Header(encoded: Uint8Array): Uint8Array {
  const padErr = encoded.length % 4;
  const padded = padErr ? concat(encoded, '==='.slice(0, 4 - padErr)) : encoded;
  if (STRICT_B64.test(Buffer.from(padded).toString('latin1'))) {
    const r = a2bBase64(padded);
    if (r) return r;
  }
  return a2bBase64(encoded) ?? a2bBase64(concat(encoded, '==')) ?? encoded;
}

/** bytes.splitlines() joined back together: drops \r\n, \r and \n. */
function joinLines(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let o = 0;
  for (const b of bytes) if (b !== 0x0a && b !== 0x0d) out[o++] = b;
  return out.slice(0, o);
}

/** Message.get_payload(decode=True) for Content-Transfer-Encoding: base64. */
export function decodeBase64Body(payload: Uint8Array): Uint8Array {
  return decodeBase64Header(joinLines(payload));
}

const HEX_VALUE = (b: number): number => {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
};

/** binascii.a2b_qp(data, header=False), which quopri.decodestring uses. */
export function decodeQuotedPrintable(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  let o = 0;
  let i = 0;
  const n = data.length;
  while (i < n) {
    const b = data[i] as number;
    if (b !== 0x3d) {
      out[o++] = b;
      i++;
      continue;
    }
    i++;
    if (i >= n) break;
    const next = data[i] as number;
    if (next === 0x0a || next === 0x0d) {
      // Soft line break: after '=\r' everything up to the next '\n' is skipped too.
      if (next !== 0x0a) while (i < n && data[i] !== 0x0a) i++;
      if (i < n) i++;
    } else if (next === 0x3d) {
      out[o++] = 0x3d;
      i++;
    } else if (i + 1 < n && HEX_VALUE(next) >= 0 && HEX_VALUE(data[i + 1] as number) >= 0) {
      out[o++] = (HEX_VALUE(next) << 4) | HEX_VALUE(data[i + 1] as number);
      i += 2;
    } else {
      out[o++] = 0x3d;
    }
  }
  return out.slice(0, o);
}

class UuError extends Error {}

/** binascii.a2b_uu; throws UuError where binascii.Error is raised. */
function a2bUu(line: Uint8Array): Uint8Array {
  // CPython reads the terminating NUL of an empty bytes object as the length byte.
  let binLen = (((line[0] ?? 0) - 0x20) & 0o77) >>> 0;
  const out: number[] = [];
  let i = 1;
  let left = 0;
  let leftBits = 0;
  let remaining = line.length - 1;
  for (; binLen > 0; remaining--, i++) {
    let ch = remaining > 0 ? (line[i] as number) : 0;
    if (ch === 0x0a || ch === 0x0d || remaining <= 0) ch = 0;
    else {
      if (ch < 0x20 || ch > 0x60) throw new UuError('Illegal char');
      ch = (ch - 0x20) & 0o77;
    }
    left = ((left << 6) | ch) & 0xffff;
    leftBits += 6;
    if (leftBits >= 8) {
      leftBits -= 8;
      out.push((left >> leftBits) & 0xff);
      left &= (1 << leftBits) - 1;
      binLen--;
    }
  }
  for (; remaining > 0; remaining--, i++) {
    const ch = line[i] as number;
    if (ch !== 0x20 && ch !== 0x60 && ch !== 0x0a && ch !== 0x0d) throw new UuError('Trailing garbage');
  }
  return Uint8Array.from(out);
}

/** BytesIO.readline(): lines end after b'\n' only. */
function byteLines(data: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0a) {
      lines.push(data.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < data.length) lines.push(data.subarray(start));
  return lines;
}

const OCTAL = /^[ \t\n\v\f\r]*[+-]?(0[oO])?_?[0-7](_?[0-7])*[ \t\n\v\f\r]*$/;

function isBeginLine(line: Uint8Array): boolean {
  const text = Buffer.from(line).toString('latin1');
  if (!text.startsWith('begin')) return false;
  const fields = splitN(text, ' ', 2);
  return fields.length === 3 && fields[0] === 'begin' && OCTAL.test(fields[1] as string);
}

function splitN(s: string, sep: string, max: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < max) {
    const k = rest.indexOf(sep);
    if (k < 0) break;
    out.push(rest.slice(0, k));
    rest = rest.slice(k + sep.length);
  }
  out.push(rest);
  return out;
}

const UU_END_STRIP = new Set([0x20, 0x09, 0x0d, 0x0a, 0x0c]);

function isEndLine(line: Uint8Array): boolean {
  let a = 0;
  let b = line.length;
  while (a < b && UU_END_STRIP.has(line[a] as number)) a++;
  while (b > a && UU_END_STRIP.has(line[b - 1] as number)) b--;
  return b - a === 3 && line[a] === 0x65 && line[a + 1] === 0x6e && line[a + 2] === 0x64;
}

/**
 * Python 3.8's get_payload for x-uuencode: `uu.decode(..., quiet=True)`; a uu.Error (no begin line, truncated
 * input) returns the payload undecoded, while a binascii.Error from the broken-encoder retry escapes.
 */
export function decodeUuencode(payload: Uint8Array): Uint8Array {
  const lines = byteLines(payload);
  let k = 0;
  for (;;) {
    const line = lines[k++];
    if (line === undefined) return payload;
    if (isBeginLine(line)) break;
  }
  const chunks: Uint8Array[] = [];
  let line = lines[k++];
  while (line !== undefined && !isEndLine(line)) {
    try {
      chunks.push(a2bUu(line));
    } catch (e) {
      if (!(e instanceof UuError)) throw e;
      const nbytes = Math.floor(((((line[0] as number) - 32) & 63) * 4 + 5) / 3);
      try {
        chunks.push(a2bUu(line.subarray(0, nbytes)));
      } catch (e2) {
        if (e2 instanceof UuError) throw pythonCrash(`binascii.Error: ${e2.message}`);
        throw e2;
      }
    }
    line = lines[k++];
  }
  if (line === undefined) return payload;
  return Buffer.concat(chunks);
}

/**
 * How get_payload(decode=True) turns a str payload into bytes: ASCII as is; otherwise `raw-unicode-escape`
 * (Latin-1 for code points below 256, a literal `\uXXXX` / `\UXXXXXXXX` escape above). A payload holding lone
 * surrogates goes through `encode('ascii', 'surrogateescape')` instead, which fails on any other non-ASCII text.
 */
export function payloadBytes(payload: string): Uint8Array {
  let lone = false;
  let ascii = true;
  let size = 0;
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i);
    if (c < 0x80) size++;
    else {
      ascii = false;
      if (c < 0x100) size++;
      else if (c >= 0xd800 && c <= 0xdbff && (payload.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        size += 10;
        i++;
      } else {
        size += 6;
        if (c >= 0xd800 && c <= 0xdfff) lone = true;
      }
    }
  }
  if (ascii) return Uint8Array.from(Buffer.from(payload, 'latin1'));
  if (lone) {
    const out = new Uint8Array(payload.length);
    for (let i = 0; i < payload.length; i++) {
      const c = payload.charCodeAt(i);
      if (c < 0x80) out[i] = c;
      else if (c >= 0xdc80 && c <= 0xdcff) out[i] = c - 0xdc00;
      else throw pythonCrash("UnicodeEncodeError: 'ascii' codec can't encode character");
    }
    return out;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i);
    if (c < 0x100) {
      out[o++] = c;
      continue;
    }
    let esc: string;
    if (c >= 0xd800 && c <= 0xdbff) {
      const cp = ((c - 0xd800) << 10) + (payload.charCodeAt(i + 1) - 0xdc00) + 0x10000;
      esc = `\\U${cp.toString(16).padStart(8, '0')}`;
      i++;
    } else esc = `\\u${c.toString(16).padStart(4, '0')}`;
    for (let k = 0; k < esc.length; k++) out[o++] = esc.charCodeAt(k);
  }
  return out;
}
