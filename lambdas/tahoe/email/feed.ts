/**
 * The message tree `email.feedparser.FeedParser` builds from a str: header blocks, bodies, multipart parts split
 * on boundary lines (with its recovery rules for missing boundaries, repeated boundaries and stray '--' lines),
 * message/* parts parsed as nested messages.
 *
 * Lines end at '\r\n', '\r' or '\n' (universal newlines, as Python's StringIO reads them), and each keeps its
 * ending. Python reads lines through a stack of "end of part" predicates; `Lines` reproduces that, pushed-back
 * lines included, because the recovery rules depend on exactly which line is seen where.
 */
import { headerString } from './headers';
import { pyRstrip, pyStrip, pythonCrash } from './py-text';

/** Nesting beyond this many message levels is not parsed (Python itself fails with RecursionError far deeper). */
export const MAX_DEPTH = 32;

class TooDeep extends Error {}

export interface Part {
  /** (name, stored value) in order: the value after `header_source_parse`, still folded. */
  readonly headers: Array<[string, string]>;
  /** A string body, or the sub-parts of a multipart / message part. */
  payload: string | Part[];
  defaultType: 'text/plain' | 'message/rfc822';
  /** Parsed header results, by key: the same header is read many times while the tree is walked. */
  memo?: Map<string, { value: unknown } | { error: unknown }>;
}

/** Computes fn once per part and key; a thrown error is remembered and thrown again, as Python would raise again. */
export function memo<T>(part: Part, key: string, fn: () => T): T {
  part.memo ??= new Map();
  let hit = part.memo.get(key);
  if (!hit) {
    try {
      hit = { value: fn() };
    } catch (e) {
      hit = { error: e };
    }
    part.memo.set(key, hit);
  }
  if ('error' in hit) throw hit.error;
  return hit.value as T;
}

/** str() of the first header of that name, or undefined. */
export function partHeader(part: Part, name: string): string | undefined {
  const raw = getHeader(part, name);
  if (raw === undefined) return undefined;
  return memo(part, `str:${name.toLowerCase()}`, () => headerString(name, raw));
}

type EofPredicate = (line: string) => boolean;

class Lines {
  private readonly lines: string[];
  private next = 0;
  private readonly pushedBack: string[] = [];
  private readonly eof: EofPredicate[] = [];

  constructor(text: string) {
    this.lines = splitLines(text);
  }

  /** The next line, or '' at the end of the current part. */
  readline(): string {
    let line: string | undefined = this.pushedBack.pop();
    if (line === undefined) {
      if (this.next >= this.lines.length) return '';
      line = this.lines[this.next++] as string;
    }
    for (const atEof of this.eof) {
      if (atEof(line)) {
        this.pushedBack.push(line);
        return '';
      }
    }
    return line;
  }

  unread(line: string): void {
    this.pushedBack.push(line);
  }

  pushEof(p: EofPredicate): void {
    this.eof.push(p);
  }

  popEof(): void {
    this.eof.pop();
  }
}

function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x0a || ch === 0x0d) {
      if (ch === 0x0d && text.charCodeAt(i + 1) === 0x0a) i++;
      out.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

const HEADER_LINE = /^(?:From |[\x21-\x39\x3b-\x7e]*:|[\t ])/;
const startsWithNewline = (line: string) => line[0] === '\r' || line[0] === '\n';

/** Strips one trailing line ending (NLCRE_eol). */
function stripEol(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\r') || s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

export function getHeader(part: Part, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of part.headers) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Message.get_content_type(): from str(Content-Type), 'text/plain' when malformed, the default type when absent. */
export function contentType(part: Part): string {
  const text = partHeader(part, 'content-type');
  if (text === undefined) return part.defaultType;
  const semi = text.indexOf(';');
  const ctype = pyStrip(semi >= 0 ? text.slice(0, semi) : text).toLowerCase();
  return ctype.split('/').length - 1 === 1 ? ctype : 'text/plain';
}

function mainType(part: Part): string {
  return contentType(part).split('/')[0] as string;
}

/** `_parseparam`: ';'-separated fields of the header string, keeping ';' inside double quotes. */
function parseParamFields(s: string): string[] {
  const text = `;${s}`;
  // Prefix counts of '"' and of the two-character sequence '\"' make the quote-balance test O(1).
  const quotes = new Int32Array(text.length + 1);
  const escaped = new Int32Array(text.length + 1);
  for (let i = 0; i < text.length; i++) {
    quotes[i + 1] = (quotes[i] as number) + (text[i] === '"' ? 1 : 0);
    escaped[i + 1] = (escaped[i] as number) + (text[i] === '\\' && text[i + 1] === '"' ? 1 : 0);
  }
  const fields: string[] = [];
  let pos = 0;
  while (text[pos] === ';') {
    const start = pos + 1;
    let end = text.indexOf(';', start);
    // Python counts within s[:end] relative to start; '\"' counts only when both characters are inside.
    const inQuotes = (e: number) => {
      const q = (quotes[e] as number) - (quotes[start] as number);
      const lastEscInside = e - 1 >= start ? (escaped[e - 1] as number) - (escaped[start] as number) : 0;
      return (q - lastEscInside) % 2 !== 0;
    };
    while (end > start && inQuotes(end)) end = text.indexOf(';', end + 1);
    if (end < 0) end = text.length;
    let f = text.slice(start, end);
    const eq = f.indexOf('=');
    if (eq >= 0) f = `${pyStrip(f.slice(0, eq)).toLowerCase()}=${pyStrip(f.slice(eq + 1))}`;
    fields.push(pyStrip(f));
    pos = end;
  }
  return fields;
}

function unquote(s: string): string {
  if (s.length > 1) {
    if (s.startsWith('"') && s.endsWith('"')) return s.slice(1, -1).replace(/\\\\/g, '\\').replace(/\\"/g, '"');
    if (s.startsWith('<') && s.endsWith('>')) return s.slice(1, -1);
  }
  return s;
}

const quote = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/** Message.get_param(name, header='content-type') with unquote=True; undefined when absent. */
export function getParam(part: Part, param: string, header = 'content-type'): string | undefined {
  const text = partHeader(part, header);
  if (text === undefined) return undefined;
  const wanted = param.toLowerCase();
  const fields = memo(part, `fields:${header.toLowerCase()}`, () => parseParamFields(text));
  for (let index = 0; index < fields.length; index++) {
    const p = fields[index] as string;
    const eq = p.indexOf('=');
    const name = eq >= 0 ? pyStrip(p.slice(0, eq)) : pyStrip(p);
    let val = eq >= 0 ? pyStrip(p.slice(eq + 1)) : '';
    // decode_params keeps the first field as it is and unquotes then re-quotes the others. RFC 2231 names
    // ('name*', 'name*0') cannot reach it: str() of the header was rebuilt from already-decoded parameters.
    if (index > 0) {
      if (/^\w+\*([0-9]+\*?)?$/.test(name)) throw pythonCrash('unexpected RFC 2231 parameter name');
      val = `"${quote(unquote(val))}"`;
    }
    if (name.toLowerCase() === wanted) return unquote(val);
  }
  return undefined;
}

/** Message.get_boundary(). */
function getBoundary(part: Part): string | undefined {
  const b = getParam(part, 'boundary');
  return b === undefined ? undefined : pyRstrip(unquote(b));
}

function boundaryMatcher(boundary: string): (line: string) => { end: boolean; linesep: boolean } | undefined {
  const sep = `--${boundary}`;
  const rest = (line: string, from: number) => {
    let k = from;
    while (line[k] === ' ' || line[k] === '\t') k++;
    const tail = line.slice(k);
    return tail === '' || tail === '\n' || tail === '\r' || tail === '\r\n' ? tail : undefined;
  };
  return (line) => {
    if (!line.startsWith(sep)) return undefined;
    if (line.startsWith('--', sep.length)) {
      const t = rest(line, sep.length + 2);
      if (t !== undefined) return { end: true, linesep: t !== '' };
    }
    const t = rest(line, sep.length);
    return t === undefined ? undefined : { end: false, linesep: t !== '' };
  };
}

class FeedParser {
  private readonly input: Lines;
  private last: Part | undefined;

  constructor(text: string) {
    this.input = new Lines(text);
  }

  private readHeaders(part: Part): void {
    const headerLines: string[] = [];
    for (;;) {
      const line = this.input.readline();
      if (line === '') break;
      if (!HEADER_LINE.test(line)) {
        if (!startsWithNewline(line)) this.input.unread(line);
        break;
      }
      headerLines.push(line);
    }
    this.parseHeaders(part, headerLines);
  }

  private newPart(parent: Part): Part {
    const part: Part = {
      headers: [],
      payload: '',
      defaultType: contentType(parent) === 'multipart/digest' ? 'message/rfc822' : 'text/plain',
    };
    if (!Array.isArray(parent.payload)) parent.payload = [];
    parent.payload.push(part);
    return part;
  }

  /** FeedParser._parsegen for one message whose object already exists. */
  parseInto(part: Part, depth: number): void {
    if (depth > MAX_DEPTH) throw new TooDeep(`MIME parts nested deeper than ${MAX_DEPTH} levels`);
    this.last = part;
    this.readHeaders(part);
    this.parseBody(part, depth);
  }

  private parseBody(part: Part, depth: number): void {
    const ctype = contentType(part);
    if (ctype === 'message/delivery-status') {
      for (;;) {
        this.input.pushEof(startsWithNewline);
        this.parseInto(this.newPart(part), depth + 1);
        this.input.popEof();
        this.input.readline();
        const line = this.input.readline();
        if (line === '') break;
        this.input.unread(line);
      }
      return;
    }
    const main = ctype.split('/')[0];
    if (main === 'message') {
      this.parseInto(this.newPart(part), depth + 1);
      return;
    }
    if (main === 'multipart') {
      this.parseMultipart(part, depth);
      return;
    }
    part.payload = this.rest();
  }

  private rest(): string {
    const lines: string[] = [];
    for (let line = this.input.readline(); line !== ''; line = this.input.readline()) lines.push(line);
    return lines.join('');
  }

  private parseMultipart(part: Part, depth: number): void {
    const boundary = getBoundary(part);
    if (boundary === undefined) {
      part.payload = this.rest();
      return;
    }
    // Python only records a defect for an unusual transfer encoding here, but it parses the header to do so.
    partHeader(part, 'content-transfer-encoding');
    const match = boundaryMatcher(boundary);
    let capturingPreamble = true;
    const preamble: string[] = [];
    let closeBoundarySeen = false;
    for (;;) {
      let line = this.input.readline();
      if (line === '') break;
      const mo = match(line);
      if (!mo) {
        if (!capturingPreamble) throw pythonCrash('AssertionError: text after a MIME part that is not a boundary');
        preamble.push(line);
        continue;
      }
      if (mo.end) {
        closeBoundarySeen = true;
        break;
      }
      if (capturingPreamble) {
        capturingPreamble = false;
        this.input.unread(line);
        continue;
      }
      // Consecutive boundary lines (closing ones included) are skipped.
      for (;;) {
        line = this.input.readline();
        if (!match(line)) {
          this.input.unread(line);
          break;
        }
      }
      this.input.pushEof((l) => match(l) !== undefined);
      this.parseInto(this.newPart(part), depth + 1);
      const last = this.last as Part;
      if (mainType(last) !== 'multipart' && typeof last.payload === 'string') last.payload = stripEol(last.payload);
      this.input.popEof();
      this.last = part;
    }
    if (capturingPreamble) {
      part.payload = preamble.join('');
      this.rest();
      return;
    }
    if (!closeBoundarySeen) return;
    this.rest();
  }

  private parseHeaders(part: Part, lines: string[]): void {
    let lastHeader = '';
    let lastValue: string[] = [];
    const flush = () => {
      if (!lastHeader) return;
      const first = lastValue[0] as string;
      const colon = first.indexOf(':');
      const value = first.slice(colon + 1).replace(/^[ \t]+/, '') + lastValue.slice(1).join('');
      part.headers.push([first.slice(0, colon), value.replace(/[\r\n]+$/, '')]);
      lastHeader = '';
      lastValue = [];
    };
    lines.forEach((line, lineno) => {
      if (line[0] === ' ' || line[0] === '\t') {
        if (lastHeader) lastValue.push(line);
        return;
      }
      flush();
      if (line.startsWith('From ')) {
        if (lineno === 0) return;
        if (lineno === lines.length - 1) {
          this.input.unread(line);
          lastHeader = '';
          return;
        }
        return;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) return;
      lastHeader = line.slice(0, colon);
      lastValue = [line];
    });
    flush();
  }
}

/**
 * Parses the whole message as Python does (where Python raises, so does this, with EmailError). Nesting beyond
 * MAX_DEPTH stops the parse: the root headers stay readable and `tooDeep` says why the body is not.
 */
export function parseTree(text: string): { root: Part; tooDeep?: string } {
  const parser = new FeedParser(text);
  const root: Part = { headers: [], payload: '', defaultType: 'text/plain' };
  try {
    parser.parseInto(root, 0);
  } catch (e) {
    if (e instanceof TooDeep) return { root, tooDeep: e.message };
    throw e;
  }
  return { root };
}
