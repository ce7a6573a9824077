/**
 * The parse tree of a header value, with the string forms Python's `email._header_value_parser` gives each node:
 * `str()` (a canonical re-serialisation: quoted strings re-quoted, comments re-escaped, encoded words decoded) and
 * `value` (the semantic form: whitespace and comments count as one space).
 *
 * A node's behaviour follows its class (`cls`), not its `type`: the parser re-labels some nodes (a mailbox
 * followed by junk becomes type 'invalid-mailbox' but keeps behaving as a mailbox), exactly as Python mutates
 * `token_type` on an object whose class stays the same.
 */
import { type Codec, lookupCodec, SurrogateEscapeError } from './charsets';
import { hasLoneSurrogate, pyLstrip, pyRstrip, pySplitWs, pyStrip, pythonCrash } from './py-text';

export type Defect = 'invalid' | 'other';

export type TermKind = 'value' | 'ws' | 'ew-ws' | 'defect-object';

export interface Term {
  readonly term: true;
  readonly kind: TermKind;
  readonly text: string;
  type: string;
  defects: Defect[];
}

export type ListClass =
  | 'TokenList'
  | 'Unstructured'
  | 'Phrase'
  | 'CFWSList'
  | 'Atom'
  | 'Token'
  | 'EncodedWord'
  | 'QuotedString'
  | 'BareQuotedString'
  | 'Comment'
  | 'AddressList'
  | 'Address'
  | 'MailboxList'
  | 'GroupList'
  | 'Group'
  | 'NameAddr'
  | 'AngleAddr'
  | 'ObsRoute'
  | 'Mailbox'
  | 'InvalidMailbox'
  | 'Domain'
  | 'DotAtom'
  | 'DotAtomText'
  | 'NoFoldLiteral'
  | 'AddrSpec'
  | 'ObsLocalPart'
  | 'DisplayName'
  | 'LocalPart'
  | 'DomainLiteral'
  | 'MIMEVersion'
  | 'Parameter'
  | 'InvalidParameter'
  | 'Attribute'
  | 'Section'
  | 'Value'
  | 'MimeParameters'
  | 'ContentType'
  | 'ContentDisposition'
  | 'ContentTransferEncoding'
  | 'MsgID'
  | 'MessageID'
  | 'InvalidMessageID';

export interface List {
  readonly term: false;
  readonly cls: ListClass;
  type: string;
  items: Tok[];
  defects: Defect[];
  /** Parameter: RFC 2231 section number, extended flag and charset; Section: its number. */
  sectioned?: boolean;
  extended?: boolean;
  charset?: string;
  number?: number;
  /** ContentType / ContentDisposition / ContentTransferEncoding results. */
  maintype?: string;
  subtype?: string;
  contentDisposition?: string;
  cte?: string;
}

export type Tok = Term | List;

const DEFAULT_TYPE: Record<ListClass, string> = {
  TokenList: '',
  Unstructured: 'unstructured',
  Phrase: 'phrase',
  CFWSList: 'cfws',
  Atom: 'atom',
  Token: 'token',
  EncodedWord: 'encoded-word',
  QuotedString: 'quoted-string',
  BareQuotedString: 'bare-quoted-string',
  Comment: 'comment',
  AddressList: 'address-list',
  Address: 'address',
  MailboxList: 'mailbox-list',
  GroupList: 'group-list',
  Group: 'group',
  NameAddr: 'name-addr',
  AngleAddr: 'angle-addr',
  ObsRoute: 'obs-route',
  Mailbox: 'mailbox',
  InvalidMailbox: 'invalid-mailbox',
  Domain: 'domain',
  DotAtom: 'dot-atom',
  DotAtomText: 'dot-atom-text',
  NoFoldLiteral: 'no-fold-literal',
  AddrSpec: 'addr-spec',
  ObsLocalPart: 'obs-local-part',
  DisplayName: 'display-name',
  LocalPart: 'local-part',
  DomainLiteral: 'domain-literal',
  MIMEVersion: 'mime-version',
  Parameter: 'parameter',
  InvalidParameter: 'invalid-parameter',
  Attribute: 'attribute',
  Section: 'section',
  Value: 'value',
  MimeParameters: 'mime-parameters',
  ContentType: 'content-type',
  ContentDisposition: 'content-disposition',
  ContentTransferEncoding: 'content-transfer-encoding',
  MsgID: 'msg-id',
  MessageID: 'message-id',
  InvalidMessageID: 'invalid-message-id',
};

export function list(cls: ListClass, items: Tok[] = []): List {
  return { term: false, cls, type: DEFAULT_TYPE[cls], items, defects: [] };
}

export function valueTerm(text: string, type: string): Term {
  return { term: true, kind: 'value', text, type, defects: [] };
}

export function wsTerm(text: string, type: string): Term {
  return { term: true, kind: 'ws', text, type, defects: [] };
}

export function ewWsTerm(from: Term): Term {
  return { term: true, kind: 'ew-ws', text: from.text, type: 'fws', defects: [] };
}

/** Python appends a defect *object* here by mistake; reading its value or defects raises AttributeError. */
export function defectObject(message: string): Term {
  return { term: true, kind: 'defect-object', text: message, type: '', defects: [] };
}

/** The shared '.' terminal: Python compares it by identity in dot-atom-text. */
export const DOT: Term = Object.freeze({ term: true, kind: 'value', text: '.', type: 'dot', defects: [] }) as Term;

/** `tok[i]` with Python's negative indices; indexing a terminal yields a bare character, which has no token type. */
export function child(tok: Tok, i: number): Tok {
  if (tok.term) throw pythonCrash("AttributeError: 'str' object has no attribute 'token_type'");
  const k = i < 0 ? tok.items.length + i : i;
  const x = tok.items[k];
  if (x === undefined) throw pythonCrash('IndexError: list index out of range');
  return x;
}

export function typeOf(tok: Tok): string {
  if (tok.term && tok.kind === 'defect-object') throw pythonCrash("AttributeError: defect has no 'token_type'");
  return tok.type;
}

export function quoteString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `str(token)`. */
export function str(tok: Tok): string {
  if (tok.term) return tok.kind === 'ew-ws' ? '' : tok.text;
  switch (tok.cls) {
    case 'BareQuotedString':
      return quoteString(joinStr(tok.items));
    case 'Comment':
      return `(${tok.items
        .map((x) =>
          !x.term && x.cls === 'Comment'
            ? str(x)
            : str(x).replace(/\\/g, '\\\\').replace(/\(/g, '\\(').replace(/\)/g, '\\)'),
        )
        .join('')})`;
    case 'MimeParameters': {
      const params: string[] = [];
      for (const [name, value] of mimeParams(tok)) params.push(value ? `${name}=${quoteString(value)}` : name);
      const joined = params.join('; ');
      return joined ? ` ${joined}` : '';
    }
    default:
      return joinStr(tok.items);
  }
}

function joinStr(items: Tok[]): string {
  let s = '';
  for (const x of items) s += str(x);
  return s;
}

/** `token.value`. */
export function value(tok: Tok): string {
  if (tok.term) {
    if (tok.kind === 'value') return tok.text;
    if (tok.kind === 'ws') return ' ';
    if (tok.kind === 'ew-ws') return '';
    throw pythonCrash("AttributeError: defect has no 'value'");
  }
  switch (tok.cls) {
    case 'CFWSList':
    case 'Comment':
      return ' ';
    case 'BareQuotedString':
      return joinStr(tok.items);
    case 'AddrSpec':
      return addrSpecValue(tok);
    case 'DisplayName':
      return displayNameValue(tok);
    case 'LocalPart': {
      const first = child(tok, 0);
      if (typeOf(first) === 'quoted-string') return quotedValue(first);
      return value(first);
    }
    default:
      return joinValue(tok.items);
  }
}

export function joinValue(items: Tok[]): string {
  let s = '';
  for (const x of items) s += value(x);
  return s;
}

/** `token.all_defects`. */
export function allDefects(tok: Tok, out: Defect[] = []): Defect[] {
  if (tok.term) {
    if (tok.kind === 'defect-object')
      throw pythonCrash("AttributeError: 'InvalidHeaderDefect' object has no attribute 'all_defects'");
    for (const d of tok.defects) out.push(d);
    return out;
  }
  for (const d of tok.defects) out.push(d);
  for (const x of tok.items) allDefects(x, out);
  return out;
}

function quotedValue(qs: Tok): string {
  // QuotedString.quoted_value: the bare part keeps its quotes, the rest contributes its value.
  if (qs.term) return value(qs);
  let s = '';
  for (const x of qs.items) s += typeOf(x) === 'bare-quoted-string' ? str(x) : value(x);
  return s;
}

/** QuotedString.stripped_value / content: the bare quoted string's value, or undefined (Python's None). */
export function strippedValue(qs: List): string | undefined {
  for (const x of qs.items) if (typeOf(x) === 'bare-quoted-string') return value(x);
  return undefined;
}

function addrSpecValue(tok: List): string {
  if (tok.items.length < 3) return value(child(tok, 0));
  return pyRstrip(value(child(tok, 0))) + value(child(tok, 1)) + pyLstrip(value(child(tok, 2)));
}

function displayNameValue(tok: List): string {
  let quote = tok.defects.length > 0;
  if (!quote) for (const x of tok.items) if (typeOf(x) === 'quoted-string') quote = true;
  if (tok.items.length !== 0 && quote) {
    let pre = '';
    let post = '';
    const first = child(tok, 0);
    if (typeOf(first) === 'cfws' || typeOf(child(first, 0)) === 'cfws') pre = ' ';
    const last = child(tok, -1);
    if (typeOf(last) === 'cfws' || typeOf(child(last, -1)) === 'cfws') post = ' ';
    return pre + quoteString(displayName(tok)) + post;
  }
  return joinValue(tok.items);
}

/** DisplayName.display_name: the phrase's value without its outer comments and folding whitespace. */
export function displayName(tok: List): string {
  const res = [...tok.items];
  if (res.length === 0) return '';
  const first = res[0] as Tok;
  if (typeOf(first) === 'cfws') res.shift();
  else if (typeOf(child(first, 0)) === 'cfws') res[0] = list('TokenList', (first as List).items.slice(1));
  const last = res[res.length - 1];
  if (last === undefined) throw pythonCrash('IndexError: list index out of range');
  if (typeOf(last) === 'cfws') res.pop();
  else if (typeOf(child(last, -1)) === 'cfws')
    res[res.length - 1] = list('TokenList', (last as List).items.slice(0, -1));
  return joinValue(res);
}

/** LocalPart.local_part: the local part's value with folding whitespace around dots removed. */
export function localPartOf(tok: List): string {
  const inner = child(tok, 0);
  if (inner.term) throw pythonCrash('TypeError: can only concatenate list');
  const res: Tok[] = [DOT];
  let last: Tok = DOT;
  let lastIsList = false;
  for (const t of [...inner.items, DOT]) {
    if (typeOf(t) === 'cfws') continue;
    if (lastIsList && typeOf(t) === 'dot' && typeOf(child(last, -1)) === 'cfws') {
      res[res.length - 1] = list('TokenList', (last as List).items.slice(0, -1));
    }
    const isList = !t.term;
    if (isList && typeOf(last) === 'dot' && typeOf(child(t, 0)) === 'cfws')
      res.push(list('TokenList', t.items.slice(1)));
    else res.push(t);
    last = res[res.length - 1] as Tok;
    lastIsList = isList;
  }
  return joinValue(res.slice(1, -1));
}

/** Domain.domain / DomainLiteral.domain: the value with every whitespace character removed. */
export function domainOf(tok: List): string {
  return pySplitWs(joinValue(tok.items)).join('');
}

/** Parameter.section_number. */
function sectionNumber(param: List): number {
  if (!param.sectioned) return 0;
  const section = child(param, 1);
  return section.term ? 0 : (section.number ?? 0);
}

/** Value.stripped_value (undefined stands for Python's None). */
function valueStripped(v: Tok): string | undefined {
  let t = child(v, 0);
  if (typeOf(t) === 'cfws') t = child(v, 1);
  const ty = typeOf(t);
  if (ty.endsWith('quoted-string')) return t.term ? undefined : strippedValue(t);
  if (ty.endsWith('attribute') || ty.endsWith('extended-attribute')) {
    if (t.term) return undefined;
    for (const x of t.items) if (typeOf(x).endsWith('attrtext')) return value(x);
    return undefined;
  }
  return value(v);
}

/** Parameter.param_value. */
function paramValue(param: List): string | undefined {
  for (const t of param.items) {
    if (typeOf(t) === 'value') return valueStripped(t);
    if (typeOf(t) === 'quoted-string' && !t.term) {
      for (const b of t.items) {
        if (typeOf(b) === 'bare-quoted-string' && !b.term) {
          for (const v of b.items) if (typeOf(v) === 'value') return valueStripped(v);
        }
      }
    }
  }
  return '';
}

const HEX = /^[0-9a-fA-F]{2}$/;

/** urllib.parse.unquote_to_bytes on a str (UTF-8 encoded first); undefined where that encoding fails. */
function unquoteToBytes(s: string): Uint8Array | undefined {
  if (hasLoneSurrogate(s)) return undefined;
  const src = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const b = src[i] as number;
    if (b === 0x25 && i + 2 < src.length && HEX.test(String.fromCharCode(src[i + 1] as number, src[i + 2] as number))) {
      out.push(Number.parseInt(String.fromCharCode(src[i + 1] as number, src[i + 2] as number), 16));
      i += 2;
    } else {
      out.push(b);
    }
  }
  return Uint8Array.from(out);
}

/** urllib.parse.unquote(s, encoding='latin-1'): every %XX becomes the character with that code. */
function unquoteLatin1(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

function decodeSurrogateEscape(bytes: Uint8Array, charset: string): string {
  // A charset name with lone surrogates cannot even be looked up (UnicodeEncodeError): Python then falls back.
  const found = hasLoneSurrogate(charset) ? lookupCodec('us-ascii') : lookupCodec(charset);
  if (found.kind === 'unsupported') throw pythonCrash(`charset ${JSON.stringify(charset)} is not supported here`);
  const codec =
    found.kind === 'codec' ? found.codec : (lookupCodec('us-ascii') as { kind: 'codec'; codec: Codec }).codec;
  try {
    return codec.decode(bytes, 'surrogateescape') as string;
  } catch (e) {
    if (e instanceof SurrogateEscapeError) throw pythonCrash(e.message);
    throw e;
  }
}

/** MimeParameters.params: RFC 2231 sections joined and decoded, duplicates dropped, in first-seen order. */
export function mimeParams(tok: List): Array<[string, string]> {
  const byName = new Map<string, Array<[number, List]>>();
  for (const t of tok.items) {
    if (!typeOf(t).endsWith('parameter') || t.term) continue;
    if (typeOf(child(t, 0)) !== 'attribute') continue;
    const name = pyStrip(value(child(t, 0)));
    let parts = byName.get(name);
    if (!parts) {
      parts = [];
      byName.set(name, parts);
    }
    parts.push([sectionNumber(t), t]);
  }
  const out: Array<[string, string]> = [];
  for (const [name, unsorted] of byName) {
    let parts = [...unsorted].sort((a, b) => a[0] - b[0]);
    const first = (parts[0] as [number, List])[1];
    const charset = first.charset ?? 'us-ascii';
    if (!first.extended && parts.length > 1 && (parts[1] as [number, List])[0] === 0) parts = parts.slice(0, 1);
    const pieces: string[] = [];
    let i = 0;
    for (const [section, param] of parts) {
      if (section !== i && !param.extended) continue;
      i++;
      let v = paramValue(param);
      if (v === undefined) throw pythonCrash('TypeError: sequence item: expected str instance, NoneType found');
      if (param.extended) {
        const bytes = unquoteToBytes(v);
        v = bytes === undefined ? unquoteLatin1(v) : decodeSurrogateEscape(bytes, charset);
      }
      pieces.push(v);
    }
    out.push([name, pieces.join('')]);
  }
  return out;
}
