/**
 * The RFC 5322 / 2047 / 2231 header grammar exactly as Python's `email._header_value_parser` accepts it, error
 * recovery included, because `str(msg[name])` under `policy.default` is rebuilt from this parse.
 *
 * Python's parser passes the unparsed remainder around as a new string; here a cursor moves over one string,
 * which keeps the work linear. Python raises HeaderParseError to backtrack: `attempt()` restores the cursor in the
 * same places. Where Python itself crashes (IndexError, AttributeError, ...), pythonCrash() is thrown instead.
 */
import { type Codec, lookupCodec, SurrogateEscapeError } from './charsets';
import { hasLoneSurrogate, isPySpace, pyInt, pyIsDigit, pySplitWs, pyStrip, pythonCrash } from './py-text';
import {
  allDefects,
  child,
  DOT,
  defectObject,
  ewWsTerm,
  type List,
  list,
  str,
  strippedValue,
  type Term,
  type Tok,
  typeOf,
  value,
  valueTerm,
  wsTerm,
} from './tokens';
import { decodeBase64Header } from './transfer';

/**
 * Python's HeaderParseError: the parser's ordinary way to backtrack, thrown far more often than anything fails.
 * It is deliberately not an Error subclass, so that throwing it does not capture a stack trace.
 */
export class HeaderParseError {
  constructor(readonly message: string) {}
}
class InvalidEncodedWord extends HeaderParseError {}

/** Array push without spreading (spreading a long list into arguments overflows the stack). */
function appendAll<T>(into: T[], items: readonly T[]): void {
  for (const x of items) into.push(x);
}

const charSet = (s: string) => new Set(s.split(''));
const WSP = charSet(' \t');
const CFWS_LEADER = charSet(' \t(');
const SPECIALS = charSet('()<>@,:;.\\"[]');
const ATOM_ENDS = new Set([...SPECIALS, ...WSP]);
const PHRASE_ENDS = charSet(')<>@,:;\\[]');
const TSPECIALS = charSet('()<>@,:;\\"[]/?=');
const TOKEN_ENDS = new Set([...TSPECIALS, ...WSP]);
const ATTRIBUTE_ENDS = new Set([...TSPECIALS, ...charSet("*'%"), ...WSP]);
const EXTENDED_ATTRIBUTE_ENDS = new Set([...ATTRIBUTE_ENDS].filter((c) => c !== '%'));
const HEX_DIGITS = charSet('0123456789abcdefABCDEF');

/** Bounds the extra copying that obsolete local parts cause (Python re-parses `str(local_part) + rest`). */
const COPY_BUDGET = 50_000_000;
/** Python's recursion limit stops nested comments near this depth with RecursionError. */
const MAX_COMMENT_DEPTH = 900;

class Cursor {
  copied = 0;
  depth = 0;
  private qeFrom = -1;
  private qeAt = -1;
  constructor(
    public s: string,
    public i = 0,
  ) {}
  get empty(): boolean {
    return this.i >= this.s.length;
  }
  /** The next character, or '' at the end (for Python's `value and value[0] ...`). */
  peek(): string {
    return this.s[this.i] ?? '';
  }
  /** `value[0]` where Python does not check for an empty remainder first. */
  at0(): string {
    const ch = this.s[this.i];
    if (ch === undefined) throw pythonCrash('IndexError: string index out of range');
    return ch;
  }
  startsWith(p: string): boolean {
    return this.s.startsWith(p, this.i);
  }
  rest(): string {
    return this.s.slice(this.i);
  }
  mark(): [string, number] {
    return [this.s, this.i];
  }
  reset([s, i]: [string, number]): void {
    if (s !== this.s) {
      this.qeFrom = -1;
      this.qeAt = -1;
    }
    this.s = s;
    this.i = i;
  }
  /** Replaces the remainder with `prefix + remainder` (Python's `str(local_part) + value`). */
  prepend(prefix: string): void {
    const remaining = this.s.length - this.i;
    this.copied += prefix.length + remaining;
    if (this.copied > COPY_BUDGET) throw pythonCrash('header too complex to parse within bounds');
    this.reset([prefix + this.rest(), 0]);
  }
  /** indexOf('?=') from `from`; memoised so that repeated failed encoded-word scans stay linear. */
  indexOfQE(from: number): number {
    if (this.qeFrom >= 0 && from >= this.qeFrom && (this.qeAt < 0 || from <= this.qeAt)) return this.qeAt;
    this.qeFrom = from;
    this.qeAt = this.s.indexOf('?=', from);
    return this.qeAt;
  }
}

/** Runs a Python sub-parser inside `try: ... except HeaderParseError:`; undefined means it raised. */
function attempt<T>(c: Cursor, fn: () => T, onlyInvalidEw = false): T | undefined {
  const saved = c.mark();
  try {
    return fn();
  } catch (e) {
    if (e instanceof HeaderParseError && (!onlyInvalidEw || e instanceof InvalidEncodedWord)) {
      c.reset(saved);
      return undefined;
    }
    throw e;
  }
}

function invalid(tok: Tok): void {
  tok.defects.push('invalid');
}
function obsolete(tok: Tok): void {
  tok.defects.push('other');
}

/** Index of the first `[ \t]` at or after i (the end of Python's `_wsp_splitter(value, 1)[0]`). */
function nextWsp(s: string, i: number): number {
  let j = i;
  while (j < s.length && s[j] !== ' ' && s[j] !== '\t') j++;
  return j;
}

function getFws(c: Cursor): Term {
  // value.lstrip(): every Unicode whitespace character, not only space and tab.
  const start = c.i;
  while (!c.empty && isPySpace(c.s[c.i] as string)) c.i++;
  return wsTerm(c.s.slice(start, c.i), 'fws');
}

function ptextToEndchars(c: Cursor, endchars: Set<string>): [string, boolean] {
  // Python splits off the text before the first space or tab, then scans it up to the first unescaped endchar;
  // scanning only as far as needed gives the same result without rescanning the rest of the header.
  const first = c.s[c.i];
  if (first === undefined || first === ' ' || first === '\t') {
    throw pythonCrash("UnboundLocalError: local variable 'pos' referenced before assignment");
  }
  let out = '';
  let escaped = false;
  let hadQp = false;
  let pos = c.i;
  for (; pos < c.s.length; pos++) {
    const ch = c.s[pos] as string;
    if (ch === ' ' || ch === '\t') break;
    if (ch === '\\') {
      if (escaped) {
        escaped = false;
        hadQp = true;
      } else {
        escaped = true;
        continue;
      }
    }
    if (escaped) escaped = false;
    else if (endchars.has(ch)) break;
    out += ch;
  }
  c.i = pos;
  return [out, hadQp];
}

// ---------------------------------------------------------------------------------------------- encoded words

const Q_ESCAPE = /=([a-fA-F0-9]{2})/g;

function decodeQ(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes).toString('latin1').replace(/_/g, ' ');
  return Uint8Array.from(
    Buffer.from(
      text.replace(Q_ESCAPE, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ),
  );
}

/** `_encoded_words.decode` of '=?' + tok + '?=' (Python 3.8): throws InvalidEncodedWord where Python raised ValueError/KeyError. */
function decodeEncodedWord(tok: string): string {
  const fields = tok.split('?');
  if (fields.length !== 3) throw new InvalidEncodedWord('encoded word format invalid');
  const [charsetLang, cteName, payload] = fields as [string, string, string];
  const star = charsetLang.indexOf('*');
  const charset = star >= 0 ? charsetLang.slice(0, star) : charsetLang;
  const cte = cteName.toLowerCase();
  const raw: number[] = [];
  for (let k = 0; k < payload.length; k++) {
    const code = payload.charCodeAt(k);
    if (code < 0x80) raw.push(code);
    else if (code >= 0xdc80 && code <= 0xdcff) raw.push(code - 0xdc00);
    else throw new InvalidEncodedWord('non-ASCII encoded text');
  }
  let bytes: Uint8Array;
  if (cte === 'q') bytes = decodeQ(Uint8Array.from(raw));
  else if (cte === 'b') bytes = decodeBase64Header(Uint8Array.from(raw));
  else throw new InvalidEncodedWord('unknown encoded word CTE');
  if (hasLoneSurrogate(charset)) throw new InvalidEncodedWord('charset name cannot be encoded');
  const found = lookupCodec(charset);
  let codec: Codec;
  if (found.kind === 'codec') codec = found.codec;
  else if (found.kind === 'unsupported') {
    if (found.name.toLowerCase() === 'undefined') throw new InvalidEncodedWord('undefined codec');
    throw pythonCrash(`charset ${JSON.stringify(charset)} is not supported here`);
  } else codec = (lookupCodec('ascii') as { kind: 'codec'; codec: Codec }).codec;
  try {
    return codec.decode(bytes, 'strict') ?? (codec.decode(bytes, 'surrogateescape') as string);
  } catch (e) {
    if (e instanceof SurrogateEscapeError) throw new InvalidEncodedWord('undecodable bytes');
    throw e;
  }
}

function getEncodedWord(c: Cursor): List {
  const ew = list('EncodedWord');
  if (!c.startsWith('=?')) throw new HeaderParseError('expected encoded word');
  const start = c.i + 2;
  const close = c.indexOfQE(start);
  if (close < 0) throw new HeaderParseError('expected encoded word');
  let tok = c.s.slice(start, close);
  let after = close + 2;
  const s = c.s;
  if (
    after + 1 < s.length &&
    HEX_DIGITS.has(s[after] as string) &&
    HEX_DIGITS.has(s[after + 1] as string) &&
    countQ(tok) < 2
  ) {
    // The '?=' was really the start of an '=XX' escape right after the CTE letter: look for the next one.
    const next = s.indexOf('?=', after);
    if (next < 0) {
      tok = `${tok}?=${s.slice(after)}`;
      after = s.length;
    } else {
      tok = `${tok}?=${s.slice(after, next)}`;
      after = next + 2;
    }
  }
  if (pySplitWs(tok).length > 1) invalid(ew);
  const text = decodeEncodedWord(tok);
  c.i = after;
  let k = 0;
  while (k < text.length) {
    const ch = text[k] as string;
    if (ch === ' ' || ch === '\t') {
      const from = k;
      while (k < text.length && isPySpace(text[k] as string)) k++;
      ew.items.push(wsTerm(text.slice(from, k), 'fws'));
    } else {
      const end = nextWsp(text, k);
      ew.items.push(valueTerm(text.slice(k, end), 'vtext'));
      k = end;
    }
  }
  if (!c.empty && !WSP.has(c.peek())) invalid(ew);
  return ew;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function countQ(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === '?') n++;
  return n;
}

/** rfc2047_matcher.search(tok): `=?` charset `?` [qQbB] `?` ... `?=` anywhere in tok. */
function looksLikeEncodedWord(tok: string): boolean {
  const lastQE = tok.lastIndexOf('?=');
  if (lastQE < 0) return false;
  let k = tok.indexOf('=?');
  while (k >= 0) {
    const q = tok.indexOf('?', k + 2);
    if (q < 0) return false;
    if ('qQbB'.includes(tok[q + 1] ?? '') && tok[q + 2] === '?' && lastQE >= q + 3) return true;
    k = tok.indexOf('=?', k + 1);
  }
  return false;
}

// ------------------------------------------------------------------------------------------------ unstructured

export function parseUnstructured(input: string): List {
  const c = new Cursor(input);
  const out = list('Unstructured');
  while (!c.empty) {
    if (WSP.has(c.peek())) {
      out.items.push(getFws(c));
      continue;
    }
    let validEw = true;
    if (c.startsWith('=?')) {
      const saved = c.mark();
      let ew: List | undefined;
      try {
        ew = getEncodedWord(c);
      } catch (e) {
        if (!(e instanceof HeaderParseError)) throw e;
        c.reset(saved);
        if (e instanceof InvalidEncodedWord) validEw = false;
      }
      if (ew) {
        let haveWs = true;
        const last = out.items[out.items.length - 1];
        if (last && last.type !== 'fws') {
          invalid(out);
          haveWs = false;
        }
        const beforeLast = out.items[out.items.length - 2];
        if (haveWs && beforeLast && beforeLast.type === 'encoded-word') {
          out.items[out.items.length - 1] = ewWsTerm(last as Term);
        }
        out.items.push(ew);
        continue;
      }
    }
    let end = nextWsp(c.s, c.i);
    if (validEw && looksLikeEncodedWord(c.s.slice(c.i, end))) end = c.s.indexOf('=?', c.i);
    if (end <= c.i) throw pythonCrash('unstructured parser made no progress');
    out.items.push(valueTerm(c.s.slice(c.i, end), 'vtext'));
    c.i = end;
  }
  return out;
}

// ------------------------------------------------------------------------------- comments, quoted strings, atoms

function getQpCtext(c: Cursor): Term {
  const [text] = ptextToEndchars(c, charSet('()'));
  return wsTerm(text, 'ptext');
}

function getQcontent(c: Cursor): Term {
  const [text] = ptextToEndchars(c, charSet('"'));
  return valueTerm(text, 'ptext');
}

function getAtext(c: Cursor): Term {
  const start = c.i;
  while (!c.empty && !ATOM_ENDS.has(c.s[c.i] as string)) c.i++;
  if (c.i === start) throw new HeaderParseError('expected atext');
  return valueTerm(c.s.slice(start, c.i), 'atext');
}

function getBareQuotedString(c: Cursor): List {
  if (c.at0() !== '"') throw new HeaderParseError("expected '\"'");
  const bqs = list('BareQuotedString');
  c.i++;
  if (c.peek() === '"') bqs.items.push(getQcontent(c));
  while (!c.empty && c.peek() !== '"') {
    let token: Tok;
    if (WSP.has(c.peek())) token = getFws(c);
    else if (c.startsWith('=?')) {
      let validEw = false;
      const ew = attempt(c, () => getEncodedWord(c));
      if (ew) {
        invalid(bqs);
        validEw = true;
        token = ew;
      } else token = getQcontent(c);
      const n = bqs.items.length;
      if (validEw && n > 1) {
        const last = bqs.items[n - 1] as Tok;
        if (last.type === 'fws' && (bqs.items[n - 2] as Tok).type === 'encoded-word')
          bqs.items[n - 1] = ewWsTerm(last as Term);
      }
    } else token = getQcontent(c);
    bqs.items.push(token);
  }
  if (c.empty) {
    invalid(bqs);
    return bqs;
  }
  c.i++;
  return bqs;
}

function getComment(c: Cursor): List {
  if (!c.empty && c.peek() !== '(') throw new HeaderParseError("expected '('");
  if (++c.depth > MAX_COMMENT_DEPTH) throw pythonCrash('RecursionError: comments nested too deeply');
  const comment = list('Comment');
  c.i++;
  while (!c.empty && c.peek() !== ')') {
    if (WSP.has(c.peek())) comment.items.push(getFws(c));
    else if (c.peek() === '(') comment.items.push(getComment(c));
    else comment.items.push(getQpCtext(c));
  }
  c.depth--;
  if (c.empty) {
    invalid(comment);
    return comment;
  }
  c.i++;
  return comment;
}

function getCfws(c: Cursor): List {
  const cfws = list('CFWSList');
  while (!c.empty && CFWS_LEADER.has(c.peek())) {
    cfws.items.push(WSP.has(c.peek()) ? getFws(c) : getComment(c));
  }
  return cfws;
}

function getQuotedString(c: Cursor): List {
  const qs = list('QuotedString');
  if (CFWS_LEADER.has(c.peek())) qs.items.push(getCfws(c));
  qs.items.push(getBareQuotedString(c));
  if (CFWS_LEADER.has(c.peek())) qs.items.push(getCfws(c));
  return qs;
}

function getAtom(c: Cursor): List {
  const atom = list('Atom');
  if (CFWS_LEADER.has(c.peek())) atom.items.push(getCfws(c));
  if (!c.empty && ATOM_ENDS.has(c.peek())) throw new HeaderParseError('expected atom');
  if (c.startsWith('=?')) atom.items.push(attempt(c, () => getEncodedWord(c)) ?? getAtext(c));
  else atom.items.push(getAtext(c));
  if (CFWS_LEADER.has(c.peek())) atom.items.push(getCfws(c));
  return atom;
}

function getDotAtomText(c: Cursor): List {
  const dat = list('DotAtomText');
  if (c.empty || ATOM_ENDS.has(c.peek())) throw new HeaderParseError('expected atom at start of dot-atom-text');
  while (!c.empty && !ATOM_ENDS.has(c.peek())) {
    dat.items.push(getAtext(c));
    if (c.peek() === '.') {
      dat.items.push(DOT);
      c.i++;
    }
  }
  if (dat.items[dat.items.length - 1] === DOT) throw new HeaderParseError('expected atom at end of dot-atom-text');
  return dat;
}

function getDotAtom(c: Cursor): List {
  const da = list('DotAtom');
  if (CFWS_LEADER.has(c.at0())) da.items.push(getCfws(c));
  if (c.startsWith('=?')) da.items.push(attempt(c, () => getEncodedWord(c)) ?? getDotAtomText(c));
  else da.items.push(getDotAtomText(c));
  if (CFWS_LEADER.has(c.peek())) da.items.push(getCfws(c));
  return da;
}

function getWord(c: Cursor): List {
  let leader: List | undefined;
  if (CFWS_LEADER.has(c.at0())) leader = getCfws(c);
  if (c.empty) throw new HeaderParseError("expected 'atom' or 'quoted-string'");
  let token: List;
  if (c.peek() === '"') token = getQuotedString(c);
  else if (SPECIALS.has(c.peek())) throw new HeaderParseError("expected 'atom' or 'quoted-string'");
  else token = getAtom(c);
  if (leader) token.items.unshift(leader);
  return token;
}

function getPhrase(c: Cursor): List {
  const phrase = list('Phrase');
  const first = attempt(c, () => getWord(c));
  if (first) phrase.items.push(first);
  else invalid(phrase);
  while (!c.empty && !PHRASE_ENDS.has(c.peek())) {
    if (c.peek() === '.') {
      phrase.items.push(DOT);
      obsolete(phrase);
      c.i++;
    } else {
      const word = attempt(c, () => getWord(c));
      if (word) phrase.items.push(word);
      else if (CFWS_LEADER.has(c.at0())) {
        phrase.items.push(getCfws(c));
        obsolete(phrase);
      } else throw new HeaderParseError("expected 'atom' or 'quoted-string'");
    }
  }
  return phrase;
}

// --------------------------------------------------------------------------------------------- addresses

function getLocalPart(c: Cursor): List {
  const lp = list('LocalPart');
  let leader: List | undefined;
  if (CFWS_LEADER.has(c.at0())) leader = getCfws(c);
  if (c.empty) throw new HeaderParseError('expected local-part');
  let token: List | undefined = attempt(c, () => getDotAtom(c));
  if (!token) token = attempt(c, () => getWord(c));
  if (!token) {
    if (c.at0() !== '\\' && PHRASE_ENDS.has(c.at0())) throw new HeaderParseError('expected local-part');
    token = list('TokenList');
  }
  if (leader) token.items.unshift(leader);
  lp.items.push(token);
  if (!c.empty && (c.peek() === '\\' || !PHRASE_ENDS.has(c.peek()))) {
    c.prepend(str(lp));
    const obs = getObsLocalPart(c);
    if (obs.type === 'invalid-obs-local-part') invalid(lp);
    else obsolete(lp);
    lp.items[0] = obs;
  }
  if (!isAscii(value(lp))) lp.defects.push('other');
  return lp;
}

function getObsLocalPart(c: Cursor): List {
  const obs = list('ObsLocalPart');
  let lastNonWsWasDot = false;
  while (!c.empty && (c.peek() === '\\' || !PHRASE_ENDS.has(c.peek()))) {
    if (c.peek() === '.') {
      if (lastNonWsWasDot) invalid(obs);
      obs.items.push(DOT);
      lastNonWsWasDot = true;
      c.i++;
      continue;
    }
    if (c.peek() === '\\') {
      obs.items.push(valueTerm('\\', 'misplaced-special'));
      c.i++;
      invalid(obs);
      lastNonWsWasDot = false;
      continue;
    }
    const prev = obs.items[obs.items.length - 1];
    if (prev && prev.type !== 'dot') invalid(obs);
    const word = attempt(c, () => getWord(c));
    if (word) {
      lastNonWsWasDot = false;
      obs.items.push(word);
    } else {
      if (!CFWS_LEADER.has(c.at0())) throw new HeaderParseError("expected 'atom' or 'quoted-string'");
      obs.items.push(getCfws(c));
    }
  }
  const first = child(obs, 0);
  if (typeOf(first) === 'dot' || (typeOf(first) === 'cfws' && typeOf(child(obs, 1)) === 'dot')) invalid(obs);
  const last = child(obs, -1);
  if (typeOf(last) === 'dot' || (typeOf(last) === 'cfws' && typeOf(child(obs, -2)) === 'dot')) invalid(obs);
  if (obs.defects.length) obs.type = 'invalid-obs-local-part';
  return obs;
}

function getDtext(c: Cursor): Term {
  const [text, hadQp] = ptextToEndchars(c, charSet('[]'));
  const t = valueTerm(text, 'ptext');
  if (hadQp) obsolete(t);
  return t;
}

function earlyDomainLiteralEnd(c: Cursor, dl: List): boolean {
  if (!c.empty) return false;
  dl.items.push(defectObject('end of input inside domain-literal'));
  dl.items.push(valueTerm(']', 'domain-literal-end'));
  return true;
}

function getDomainLiteral(c: Cursor): List {
  const dl = list('DomainLiteral');
  if (CFWS_LEADER.has(c.at0())) dl.items.push(getCfws(c));
  if (c.empty) throw new HeaderParseError('expected domain-literal');
  if (c.peek() !== '[') throw new HeaderParseError("expected '['");
  c.i++;
  if (earlyDomainLiteralEnd(c, dl)) return dl;
  dl.items.push(valueTerm('[', 'domain-literal-start'));
  if (WSP.has(c.at0())) dl.items.push(getFws(c));
  dl.items.push(getDtext(c));
  if (earlyDomainLiteralEnd(c, dl)) return dl;
  if (WSP.has(c.at0())) dl.items.push(getFws(c));
  if (earlyDomainLiteralEnd(c, dl)) return dl;
  if (c.at0() !== ']') throw new HeaderParseError("expected ']'");
  dl.items.push(valueTerm(']', 'domain-literal-end'));
  c.i++;
  if (CFWS_LEADER.has(c.peek())) dl.items.push(getCfws(c));
  return dl;
}

function getDomain(c: Cursor): List {
  const domain = list('Domain');
  let leader: List | undefined;
  if (CFWS_LEADER.has(c.at0())) leader = getCfws(c);
  if (c.empty) throw new HeaderParseError('expected domain');
  if (c.peek() === '[') {
    const dl = getDomainLiteral(c);
    if (leader) dl.items.unshift(leader);
    domain.items.push(dl);
    return domain;
  }
  const token = attempt(c, () => getDotAtom(c)) ?? getAtom(c);
  if (c.peek() === '@') throw new HeaderParseError('Invalid Domain');
  if (leader) token.items.unshift(leader);
  domain.items.push(token);
  if (c.peek() === '.') {
    obsolete(domain);
    if (typeOf(child(domain, 0)) === 'dot-atom') domain.items = [...(child(domain, 0) as List).items];
    while (c.peek() === '.') {
      domain.items.push(DOT);
      c.i++;
      domain.items.push(getAtom(c));
    }
  }
  return domain;
}

function getAddrSpec(c: Cursor): List {
  const as = list('AddrSpec');
  as.items.push(getLocalPart(c));
  if (c.empty || c.peek() !== '@') {
    invalid(as);
    return as;
  }
  as.items.push(valueTerm('@', 'address-at-symbol'));
  c.i++;
  as.items.push(getDomain(c));
  return as;
}

const LIST_SEPARATOR = (): Term => valueTerm(',', 'list-separator');

function getObsRoute(c: Cursor): List {
  const route = list('ObsRoute');
  while (!c.empty && (c.peek() === ',' || CFWS_LEADER.has(c.peek()))) {
    if (CFWS_LEADER.has(c.peek())) route.items.push(getCfws(c));
    else {
      route.items.push(LIST_SEPARATOR());
      c.i++;
    }
  }
  if (c.empty || c.peek() !== '@') throw new HeaderParseError('expected obs-route domain');
  route.items.push(valueTerm('@', 'route-component-marker'));
  c.i++;
  route.items.push(getDomain(c));
  while (c.peek() === ',') {
    route.items.push(LIST_SEPARATOR());
    c.i++;
    if (c.empty) break;
    if (CFWS_LEADER.has(c.peek())) route.items.push(getCfws(c));
    if (c.at0() === '@') {
      route.items.push(valueTerm('@', 'route-component-marker'));
      c.i++;
      route.items.push(getDomain(c));
    }
  }
  if (c.empty) throw new HeaderParseError('end of header while parsing obs-route');
  if (c.peek() !== ':') throw new HeaderParseError("expected ':' marking end of obs-route");
  route.items.push(valueTerm(':', 'end-of-obs-route-marker'));
  c.i++;
  return route;
}

function getAngleAddr(c: Cursor): List {
  const aa = list('AngleAddr');
  if (CFWS_LEADER.has(c.at0())) aa.items.push(getCfws(c));
  if (c.empty || c.peek() !== '<') throw new HeaderParseError('expected angle-addr');
  aa.items.push(valueTerm('<', 'angle-addr-start'));
  c.i++;
  if (c.at0() === '>') {
    aa.items.push(valueTerm('>', 'angle-addr-end'));
    invalid(aa);
    c.i++;
    return aa;
  }
  let token = attempt(c, () => getAddrSpec(c));
  if (!token) {
    const route = attempt(c, () => getObsRoute(c));
    if (!route) throw new HeaderParseError('expected addr-spec or obs-route');
    obsolete(aa);
    aa.items.push(route);
    token = getAddrSpec(c);
  }
  aa.items.push(token);
  if (c.peek() === '>') c.i++;
  else invalid(aa);
  aa.items.push(valueTerm('>', 'angle-addr-end'));
  if (CFWS_LEADER.has(c.peek())) aa.items.push(getCfws(c));
  return aa;
}

function getDisplayName(c: Cursor): List {
  const phrase = getPhrase(c);
  const dn = list('DisplayName', [...phrase.items]);
  dn.defects = [...phrase.defects];
  return dn;
}

function getNameAddr(c: Cursor): List {
  const na = list('NameAddr');
  let leader: List | undefined;
  if (CFWS_LEADER.has(c.at0())) {
    leader = getCfws(c);
    if (c.empty) throw new HeaderParseError('expected name-addr');
  }
  if (c.peek() !== '<') {
    if (PHRASE_ENDS.has(c.peek())) throw new HeaderParseError('expected name-addr');
    const dn = getDisplayName(c);
    if (c.empty) throw new HeaderParseError('expected name-addr');
    if (leader) {
      const first = child(dn, 0);
      if (first.term) throw pythonCrash("TypeError: 'Terminal' object does not support item assignment");
      first.items.unshift(leader);
      leader = undefined;
    }
    na.items.push(dn);
  }
  const aa = getAngleAddr(c);
  if (leader) aa.items.unshift(leader);
  na.items.push(aa);
  return na;
}

function getMailbox(c: Cursor): List {
  const mailbox = list('Mailbox');
  const token = attempt(c, () => getNameAddr(c)) ?? attempt(c, () => getAddrSpec(c));
  if (!token) throw new HeaderParseError('expected mailbox');
  if (allDefects(token).includes('invalid')) mailbox.type = 'invalid-mailbox';
  mailbox.items.push(token);
  return mailbox;
}

function getInvalidMailbox(c: Cursor, endchars: Set<string>): List {
  const im = list('InvalidMailbox');
  while (!c.empty && !endchars.has(c.peek())) {
    if (PHRASE_ENDS.has(c.peek())) {
      im.items.push(valueTerm(c.peek(), 'misplaced-special'));
      c.i++;
    } else im.items.push(getPhrase(c));
  }
  return im;
}

const COMMA_SEMI = charSet(',;');
const COMMA = charSet(',');

function getMailboxList(c: Cursor): List {
  const ml = list('MailboxList');
  while (!c.empty && c.peek() !== ';') {
    const mb = attempt(c, () => getMailbox(c));
    if (mb) ml.items.push(mb);
    else if (CFWS_LEADER.has(c.at0())) {
      const leader = getCfws(c);
      if (c.empty || COMMA_SEMI.has(c.peek())) {
        ml.items.push(leader);
        obsolete(ml);
      } else {
        const im = getInvalidMailbox(c, COMMA_SEMI);
        im.items.unshift(leader);
        ml.items.push(im);
        invalid(ml);
      }
    } else if (c.peek() === ',') {
      obsolete(ml);
    } else {
      ml.items.push(getInvalidMailbox(c, COMMA_SEMI));
      invalid(ml);
    }
    if (!c.empty && !COMMA_SEMI.has(c.peek())) {
      const last = child(ml, -1);
      if (last.term) throw pythonCrash("AttributeError: can't set attribute on a terminal");
      last.type = 'invalid-mailbox';
      appendAll(last.items, getInvalidMailbox(c, COMMA_SEMI).items);
      invalid(ml);
    }
    if (c.peek() === ',') {
      ml.items.push(LIST_SEPARATOR());
      c.i++;
    }
  }
  return ml;
}

/** GroupList/MailboxList/Address all_mailboxes. */
export function allMailboxes(tok: Tok): Tok[] {
  if (tok.term) throw pythonCrash("AttributeError: 'str' object has no attribute 'all_mailboxes'");
  switch (tok.cls) {
    case 'MailboxList':
      return tok.items.filter((x) => x.type === 'mailbox' || x.type === 'invalid-mailbox');
    case 'GroupList': {
      if (!tok.items.length || typeOf(child(tok, 0)) !== 'mailbox-list') return [];
      return allMailboxes(child(tok, 0));
    }
    case 'Group':
      if (typeOf(child(tok, 2)) !== 'group-list') return [];
      return allMailboxes(child(tok, 2));
    case 'Address': {
      const first = child(tok, 0);
      const ty = typeOf(first);
      if (ty === 'mailbox' || ty === 'invalid-mailbox') return [first];
      return allMailboxes(first);
    }
    default:
      throw pythonCrash(`AttributeError: '${tok.cls}' object has no attribute 'all_mailboxes'`);
  }
}

function getGroupList(c: Cursor): List {
  const gl = list('GroupList');
  if (c.empty) {
    invalid(gl);
    return gl;
  }
  let leader: List | undefined;
  if (CFWS_LEADER.has(c.peek())) {
    leader = getCfws(c);
    if (c.empty) {
      invalid(gl);
      gl.items.push(leader);
      return gl;
    }
    if (c.peek() === ';') {
      gl.items.push(leader);
      return gl;
    }
  }
  const ml = getMailboxList(c);
  if (allMailboxes(ml).length === 0) {
    if (leader) gl.items.push(leader);
    appendAll(gl.items, ml.items);
    obsolete(gl);
    return gl;
  }
  if (leader) ml.items.unshift(leader);
  gl.items.push(ml);
  return gl;
}

function getGroup(c: Cursor): List {
  const group = list('Group');
  const dn = getDisplayName(c);
  if (c.empty || c.peek() !== ':') throw new HeaderParseError("expected ':' at end of group display name");
  group.items.push(dn);
  group.items.push(valueTerm(':', 'group-display-name-terminator'));
  c.i++;
  if (c.peek() === ';') {
    group.items.push(valueTerm(';', 'group-terminator'));
    c.i++;
    return group;
  }
  group.items.push(getGroupList(c));
  if (c.empty) invalid(group);
  else if (c.peek() !== ';') throw new HeaderParseError("expected ';' at end of group");
  group.items.push(valueTerm(';', 'group-terminator'));
  if (!c.empty) c.i++;
  if (CFWS_LEADER.has(c.peek())) group.items.push(getCfws(c));
  return group;
}

function getAddress(c: Cursor): List {
  const address = list('Address');
  const token = attempt(c, () => getGroup(c)) ?? attempt(c, () => getMailbox(c));
  if (!token) throw new HeaderParseError('expected address');
  address.items.push(token);
  return address;
}

export function parseAddressList(input: string): List {
  const c = new Cursor(input);
  const al = list('AddressList');
  while (!c.empty) {
    const address = attempt(c, () => getAddress(c));
    if (address) al.items.push(address);
    else if (CFWS_LEADER.has(c.at0())) {
      const leader = getCfws(c);
      if (c.empty || c.peek() === ',') {
        al.items.push(leader);
        obsolete(al);
      } else {
        const im = getInvalidMailbox(c, COMMA);
        im.items.unshift(leader);
        al.items.push(list('Address', [im]));
        invalid(al);
      }
    } else if (c.peek() === ',') {
      obsolete(al);
    } else {
      al.items.push(list('Address', [getInvalidMailbox(c, COMMA)]));
      invalid(al);
    }
    if (!c.empty && c.peek() !== ',') {
      const mailbox = child(child(al, -1), 0);
      if (mailbox.term) throw pythonCrash("AttributeError: can't set attribute on a terminal");
      mailbox.type = 'invalid-mailbox';
      appendAll(mailbox.items, getInvalidMailbox(c, COMMA).items);
      invalid(al);
    }
    if (!c.empty) {
      al.items.push(LIST_SEPARATOR());
      c.i++;
    }
  }
  return al;
}

// ---------------------------------------------------------------------------------------------- message-id

function getNoFoldLiteral(c: Cursor): List {
  const nfl = list('NoFoldLiteral');
  if (c.empty) throw new HeaderParseError('expected no-fold-literal');
  if (c.peek() !== '[') throw new HeaderParseError("expected '['");
  nfl.items.push(valueTerm('[', 'no-fold-literal-start'));
  c.i++;
  nfl.items.push(getDtext(c));
  if (c.empty || c.peek() !== ']') throw new HeaderParseError("expected ']'");
  nfl.items.push(valueTerm(']', 'no-fold-literal-end'));
  c.i++;
  return nfl;
}

function getMsgId(c: Cursor): List {
  const msgId = list('MsgID');
  if (CFWS_LEADER.has(c.peek())) msgId.items.push(getCfws(c));
  if (c.empty || c.peek() !== '<') throw new HeaderParseError('expected msg-id');
  msgId.items.push(valueTerm('<', 'msg-id-start'));
  c.i++;
  let left: List | undefined = attempt(c, () => getDotAtomText(c));
  if (!left) {
    left = attempt(c, () => getObsLocalPart(c));
    if (!left) throw new HeaderParseError('expected dot-atom-text or obs-id-left');
    obsolete(msgId);
  }
  msgId.items.push(left);
  if (c.empty || c.peek() !== '@') {
    invalid(msgId);
    if (c.peek() === '>') {
      msgId.items.push(valueTerm('>', 'msg-id-end'));
      c.i++;
    }
    return msgId;
  }
  msgId.items.push(valueTerm('@', 'address-at-symbol'));
  c.i++;
  let right: List | undefined = attempt(c, () => getDotAtomText(c)) ?? attempt(c, () => getNoFoldLiteral(c));
  if (!right) {
    right = attempt(c, () => getDomain(c));
    if (!right) throw new HeaderParseError('expected dot-atom-text, no-fold-literal or obs-id-right');
    obsolete(msgId);
  }
  msgId.items.push(right);
  if (c.peek() === '>') c.i++;
  else invalid(msgId);
  msgId.items.push(valueTerm('>', 'msg-id-end'));
  if (CFWS_LEADER.has(c.peek())) msgId.items.push(getCfws(c));
  return msgId;
}

export function parseMessageId(input: string): List {
  const c = new Cursor(input);
  const saved = c.mark();
  try {
    const mid = list('MessageID', [getMsgId(c)]);
    if (!c.empty) invalid(mid);
    return mid;
  } catch (e) {
    if (!(e instanceof HeaderParseError)) throw e;
    c.reset(saved);
    const bad = list('InvalidMessageID', [...parseUnstructured(input).items]);
    invalid(bad);
    return bad;
  }
}

// -------------------------------------------------------------------------------------------- MIME headers

export function parseMimeVersion(input: string): List {
  const c = new Cursor(input);
  const mv = list('MIMEVersion');
  if (c.empty) return mv;
  if (CFWS_LEADER.has(c.peek())) mv.items.push(getCfws(c));
  const digitsUntil = (stop: (ch: string) => boolean): string => {
    const start = c.i;
    while (!c.empty && !stop(c.peek())) c.i++;
    return c.s.slice(start, c.i);
  };
  const major = digitsUntil((ch) => ch === '.' || CFWS_LEADER.has(ch));
  mv.items.push(versionNumber(major));
  if (CFWS_LEADER.has(c.peek())) mv.items.push(getCfws(c));
  if (c.empty || c.peek() !== '.') {
    if (!c.empty) {
      mv.items.push(valueTerm(c.rest(), 'xtext'));
      c.i = c.s.length;
    }
    return mv;
  }
  mv.items.push(valueTerm('.', 'version-separator'));
  c.i++;
  if (CFWS_LEADER.has(c.peek())) mv.items.push(getCfws(c));
  if (c.empty) return mv;
  const minor = digitsUntil((ch) => CFWS_LEADER.has(ch));
  mv.items.push(versionNumber(minor));
  if (CFWS_LEADER.has(c.peek())) mv.items.push(getCfws(c));
  if (!c.empty) {
    mv.items.push(valueTerm(c.rest(), 'xtext'));
    c.i = c.s.length;
  }
  return mv;
}

function versionNumber(digits: string): Term {
  if (!pyIsDigit(digits)) return valueTerm(digits, 'xtext');
  if (pyInt(digits) === undefined) throw pythonCrash('ValueError: invalid literal for int()');
  return valueTerm(digits, 'digits');
}

function getInvalidParameter(c: Cursor): List {
  const ip = list('InvalidParameter');
  while (!c.empty && c.peek() !== ';') {
    if (PHRASE_ENDS.has(c.peek())) {
      ip.items.push(valueTerm(c.peek(), 'misplaced-special'));
      c.i++;
    } else ip.items.push(getPhrase(c));
  }
  return ip;
}

function runOf(c: Cursor, ends: Set<string>, type: string, what: string): Term {
  const start = c.i;
  while (!c.empty && !ends.has(c.s[c.i] as string)) c.i++;
  if (c.i === start) throw new HeaderParseError(`expected ${what}`);
  return valueTerm(c.s.slice(start, c.i), type);
}

function getToken(c: Cursor): List {
  const tok = list('Token');
  if (CFWS_LEADER.has(c.peek())) tok.items.push(getCfws(c));
  if (!c.empty && TOKEN_ENDS.has(c.peek())) throw new HeaderParseError('expected token');
  tok.items.push(runOf(c, TOKEN_ENDS, 'ttext', 'ttext'));
  if (CFWS_LEADER.has(c.peek())) tok.items.push(getCfws(c));
  return tok;
}

function getAttribute(c: Cursor, ends: Set<string>, textType: string): List {
  const attr = list('Attribute');
  if (CFWS_LEADER.has(c.peek())) attr.items.push(getCfws(c));
  if (!c.empty && ends.has(c.peek())) throw new HeaderParseError('expected token');
  attr.items.push(runOf(c, ends, textType, textType));
  if (CFWS_LEADER.has(c.peek())) attr.items.push(getCfws(c));
  return attr;
}

/** The code point at the cursor as a string (Python indexes code points, not UTF-16 units). */
function codePointAt(c: Cursor): string {
  const cp = c.s.codePointAt(c.i);
  return cp === undefined ? '' : String.fromCodePoint(cp);
}

function getSection(c: Cursor): List {
  const section = list('Section');
  if (c.empty || c.peek() !== '*') throw new HeaderParseError('expected section');
  section.items.push(valueTerm('*', 'section-marker'));
  c.i++;
  if (c.empty || !pyIsDigit(codePointAt(c))) throw new HeaderParseError('expected section number');
  let digits = '';
  while (!c.empty && pyIsDigit(codePointAt(c))) {
    const ch = codePointAt(c);
    digits += ch;
    c.i += ch.length;
  }
  const n = pyInt(digits);
  if (n === undefined) throw pythonCrash('ValueError: invalid literal for int()');
  section.number = n;
  section.items.push(valueTerm(digits, 'digits'));
  return section;
}

function getValue(c: Cursor): List {
  const v = list('Value');
  if (c.empty) throw new HeaderParseError('expected value');
  let leader: List | undefined;
  if (CFWS_LEADER.has(c.peek())) leader = getCfws(c);
  if (c.empty) throw new HeaderParseError('expected value');
  const token = c.peek() === '"' ? getQuotedString(c) : getAttribute(c, EXTENDED_ATTRIBUTE_ENDS, 'extended-attrtext');
  if (leader) token.items.unshift(leader);
  v.items.push(token);
  return v;
}

function getParameter(c: Cursor): List {
  const param = list('Parameter');
  param.items.push(getAttribute(c, ATTRIBUTE_ENDS, 'attrtext'));
  if (c.empty || c.peek() === ';') {
    invalid(param);
    return param;
  }
  if (c.peek() === '*') {
    const section = attempt(c, () => getSection(c));
    if (section) {
      param.sectioned = true;
      param.items.push(section);
    }
    if (c.empty) throw new HeaderParseError('Incomplete parameter');
    if (c.peek() === '*') {
      param.items.push(valueTerm('*', 'extended-parameter-marker'));
      c.i++;
      param.extended = true;
    }
  }
  if (c.at0() !== '=') throw new HeaderParseError("Parameter not followed by '='");
  param.items.push(valueTerm('=', 'parameter-separator'));
  c.i++;
  if (CFWS_LEADER.has(c.peek())) param.items.push(getCfws(c));
  let remainder: [string, number] | undefined;
  let appendTo: List = param;
  const sectionNumber = param.sectioned ? ((child(param, 1) as List).number ?? 0) : 0;
  if (param.extended && c.peek() === '"') {
    // Double quotes around an extended value: accept it if the quoted text looks like one.
    const beforeQuote = c.mark();
    const qstring = getQuotedString(c);
    remainder = c.mark();
    const inner = strippedValue(qstring);
    let semiValid = false;
    const ic = new Cursor(inner ?? '');
    if (sectionNumber === 0) {
      if (inner && inner[0] === "'") semiValid = true;
      else {
        if (inner === undefined) throw pythonCrash('TypeError: expected string or bytes-like object');
        runOf(ic, ATTRIBUTE_ENDS, 'attrtext', 'attrtext');
        if (ic.peek() === "'") semiValid = true;
      }
    } else if (inner !== undefined) {
      try {
        runOf(ic, EXTENDED_ATTRIBUTE_ENDS, 'extended-attrtext', 'extended attrtext');
        if (ic.empty) semiValid = true;
      } catch {
        // Python: a bare `except: pass`.
      }
    }
    if (semiValid) {
      invalid(param);
      param.items.push(qstring);
      for (const t of qstring.items) {
        if (t.type === 'bare-quoted-string' && !t.term) {
          t.items = [];
          appendTo = t;
          break;
        }
      }
      c.reset([inner ?? '', 0]);
    } else {
      remainder = undefined;
      invalid(param);
      c.reset(beforeQuote);
    }
  }
  let token: List | undefined;
  if (c.peek() === "'") token = undefined;
  else token = getValue(c);
  if (!param.extended || sectionNumber > 0) {
    if (c.empty || c.peek() !== "'") {
      if (token === undefined) throw pythonCrash('AttributeError: NoneType appended to token list');
      appendTo.items.push(token);
      if (remainder !== undefined) {
        if (!c.empty) throw pythonCrash('AssertionError');
        c.reset(remainder);
      }
      return param;
    }
    invalid(param);
  }
  if (c.empty) {
    invalid(param);
    if (token === undefined) throw pythonCrash('AttributeError: NoneType appended to token list');
    appendTo.items.push(token);
    if (remainder === undefined) return param;
  } else {
    if (token !== undefined) {
      // Python picks the first 'extended-attrtext' child (or the last child when none is) as the charset.
      let t: Tok | undefined;
      for (t of token.items) if (t.type === 'extended-attrtext') break;
      if (t === undefined) throw pythonCrash("UnboundLocalError: local variable 't' referenced before assignment");
      appendTo.items.push(t);
      param.charset = value(t);
    }
    if (c.at0() !== "'") throw new HeaderParseError('Expected RFC2231 char/lang encoding delimiter');
    appendTo.items.push(valueTerm("'", 'RFC2231-delimiter'));
    c.i++;
    if (!c.empty && c.peek() !== "'") {
      appendTo.items.push(runOf(c, ATTRIBUTE_ENDS, 'attrtext', 'attrtext'));
      if (c.empty || c.peek() !== "'") throw new HeaderParseError('Expected RFC2231 char/lang encoding delimiter');
    }
    appendTo.items.push(valueTerm("'", 'RFC2231-delimiter'));
    c.i++;
  }
  let last: List;
  if (remainder !== undefined) {
    const v = list('Value');
    while (!c.empty) {
      if (WSP.has(c.peek())) v.items.push(getFws(c));
      else if (c.peek() === '"') {
        v.items.push(valueTerm('"', 'DQUOTE'));
        c.i++;
      } else v.items.push(getQcontent(c));
    }
    last = v;
  } else last = getValue(c);
  appendTo.items.push(last);
  if (remainder !== undefined) {
    if (!c.empty) throw pythonCrash('AssertionError');
    c.reset(remainder);
  }
  return param;
}

function parseMimeParameters(c: Cursor): List {
  const mp = list('MimeParameters');
  while (!c.empty) {
    const param = attempt(c, () => getParameter(c));
    if (param) mp.items.push(param);
    else {
      let leader: List | undefined;
      if (CFWS_LEADER.has(c.at0())) leader = getCfws(c);
      if (c.empty) {
        mp.items.push(leader as List);
        return mp;
      }
      if (c.peek() === ';') {
        if (leader) mp.items.push(leader);
        invalid(mp);
      } else {
        const ip = getInvalidParameter(c);
        if (leader?.items.length) ip.items.unshift(leader);
        mp.items.push(ip);
        invalid(mp);
      }
    }
    if (!c.empty && c.peek() !== ';') {
      const last = child(mp, -1);
      if (last.term) throw pythonCrash("AttributeError: can't set attribute on a terminal");
      last.type = 'invalid-parameter';
      appendAll(last.items, getInvalidParameter(c).items);
      invalid(mp);
    }
    if (!c.empty) {
      mp.items.push(valueTerm(';', 'parameter-separator'));
      c.i++;
    }
  }
  return mp;
}

function findMimeParameters(c: Cursor, into: List): void {
  while (!c.empty && c.peek() !== ';') {
    if (PHRASE_ENDS.has(c.peek())) {
      into.items.push(valueTerm(c.peek(), 'misplaced-special'));
      c.i++;
    } else into.items.push(getPhrase(c));
  }
  if (c.empty) return;
  into.items.push(valueTerm(';', 'parameter-separator'));
  c.i++;
  into.items.push(parseMimeParameters(c));
}

export function parseContentType(input: string): List {
  const c = new Cursor(input);
  const ct = list('ContentType');
  ct.maintype = 'text';
  ct.subtype = 'plain';
  if (c.empty) return ct;
  const main = attempt(c, () => getToken(c));
  if (!main) {
    invalid(ct);
    findMimeParameters(c, ct);
    return ct;
  }
  ct.items.push(main);
  if (c.empty || c.peek() !== '/') {
    invalid(ct);
    if (!c.empty) findMimeParameters(c, ct);
    return ct;
  }
  ct.maintype = pyStrip(value(main)).toLowerCase();
  ct.items.push(valueTerm('/', 'content-type-separator'));
  c.i++;
  const sub = attempt(c, () => getToken(c));
  if (!sub) {
    invalid(ct);
    findMimeParameters(c, ct);
    return ct;
  }
  ct.items.push(sub);
  ct.subtype = pyStrip(value(sub)).toLowerCase();
  if (c.empty) return ct;
  if (c.peek() !== ';') {
    invalid(ct);
    ct.maintype = 'text';
    ct.subtype = 'plain';
    findMimeParameters(c, ct);
    return ct;
  }
  ct.items.push(valueTerm(';', 'parameter-separator'));
  c.i++;
  ct.items.push(parseMimeParameters(c));
  return ct;
}

export function parseContentDisposition(input: string): List {
  const c = new Cursor(input);
  const cd = list('ContentDisposition');
  if (c.empty) return cd;
  const token = attempt(c, () => getToken(c));
  if (!token) {
    invalid(cd);
    findMimeParameters(c, cd);
    return cd;
  }
  cd.items.push(token);
  cd.contentDisposition = pyStrip(value(token)).toLowerCase();
  if (c.empty) return cd;
  if (c.peek() !== ';') {
    invalid(cd);
    findMimeParameters(c, cd);
    return cd;
  }
  cd.items.push(valueTerm(';', 'parameter-separator'));
  c.i++;
  cd.items.push(parseMimeParameters(c));
  return cd;
}

export function parseContentTransferEncoding(input: string): List {
  const c = new Cursor(input);
  const cte = list('ContentTransferEncoding');
  cte.cte = '7bit';
  if (c.empty) return cte;
  const token = attempt(c, () => getToken(c));
  if (token) {
    cte.items.push(token);
    cte.cte = pyStrip(value(token)).toLowerCase();
  } else invalid(cte);
  while (!c.empty) {
    invalid(cte);
    if (PHRASE_ENDS.has(c.peek())) {
      cte.items.push(valueTerm(c.peek(), 'misplaced-special'));
      c.i++;
    } else cte.items.push(getPhrase(c));
  }
  return cte;
}
