/**
 * An RFC 822 message read the way the reference email filter reads it with Python 3.8:
 * `email.parser.Parser(policy=email.policy.default).parsestr(text)`, then `str(msg[name])`,
 * `msg.get_body(preferencelist=('plain', 'html')).get_content()` and `msg['date'].datetime.timestamp()`.
 *
 * Work is linear in the input: lines are split once, header values are parsed with a cursor, MIME nesting is
 * bounded (MAX_DEPTH). Every failure is an EmailError: 'bad_date', 'no_body', or 'malformed' where Python
 * itself raises (or where this reader refuses input it cannot reproduce, such as an unsupported charset).
 */
import { lookupCodec } from './charsets';
import { dateTimestamp, parseDate } from './dates';
import { contentType, getHeader, getParam, memo, type Part, parseTree, partHeader } from './feed';
import { contentDisposition, headerString } from './headers';
import { decodeBase64Body, decodeQuotedPrintable, decodeUuencode, payloadBytes } from './transfer';
import { EmailError, type EmailMessage } from './types';

export { MAX_DEPTH } from './feed';

const PREFERENCE = ['plain', 'html'] as const;

function isAttachment(part: Part): boolean {
  const raw = getHeader(part, 'content-disposition');
  return raw !== undefined && memo(part, 'disposition', () => contentDisposition(raw).disposition) === 'attachment';
}

function crashOnString(payload: string): never {
  // Python 3.8's iter_parts() iterates a multipart's payload even when it is a string, and then asks a
  // one-character string whether it is an attachment.
  throw new EmailError(
    'malformed',
    `the reference raises AttributeError: a multipart part without parts holds text (${payload.length} characters)`,
  );
}

/** MIMEPart.iter_parts() as in Python 3.8: every item of the payload of a part whose main type is multipart. */
function* iterParts(part: Part): Generator<Part> {
  if (contentType(part).split('/')[0] !== 'multipart') return;
  if (typeof part.payload === 'string') {
    if (part.payload.length > 0) crashOnString(part.payload);
    return;
  }
  yield* part.payload;
}

/** MIMEPart._find_body: candidates as (preference index, part), depth first, lazily (the caller stops early). */
function* findBody(root: Part, part: Part): Generator<[number, Part]> {
  if (isAttachment(part)) return;
  const [maintype, subtype] = contentType(part).split('/') as [string, string];
  if (maintype === 'text') {
    const index = (PREFERENCE as readonly string[]).indexOf(subtype);
    if (index >= 0) yield [index, part];
    return;
  }
  // Python tests whether the *root* is multipart here, not the part.
  if (maintype !== 'multipart' || !Array.isArray(root.payload)) return;
  if (subtype !== 'related') {
    for (const sub of iterParts(part)) yield* findBody(root, sub);
    return;
  }
  let candidate: Part | undefined;
  const start = getParam(part, 'start');
  if (start) {
    for (const sub of iterParts(part)) {
      if (partHeader(sub, 'content-id') === start) {
        candidate = sub;
        break;
      }
    }
  }
  if (candidate === undefined) {
    if (typeof part.payload === 'string') {
      if (part.payload.length > 0) crashOnString(part.payload);
    } else candidate = part.payload[0];
  }
  if (candidate !== undefined) yield* findBody(root, candidate);
}

/** get_body(preferencelist=('plain', 'html')). */
function getBody(root: Part): Part | undefined {
  let best: number = PREFERENCE.length;
  let body: Part | undefined;
  for (const [prio, part] of findBody(root, root)) {
    if (prio < best) {
      best = prio;
      body = part;
      if (prio === 0) break;
    }
  }
  return body;
}

/** get_payload(decode=True) of a non-multipart part. */
function decodedPayload(part: Part): Uint8Array {
  if (typeof part.payload !== 'string') {
    throw new EmailError('malformed', 'the reference raises AttributeError: the body part holds sub-parts');
  }
  const cte = (partHeader(part, 'content-transfer-encoding') ?? '').toLowerCase();
  const bytes = payloadBytes(part.payload);
  if (cte === 'quoted-printable') return decodeQuotedPrintable(bytes);
  if (cte === 'base64') return decodeBase64Body(bytes);
  if (cte === 'x-uuencode' || cte === 'uuencode' || cte === 'uue' || cte === 'x-uue') return decodeUuencode(bytes);
  return bytes;
}

/** raw_data_manager's get_text_content: decode the payload with its charset (default ASCII), errors='replace'. */
function textContent(part: Part): string {
  const bytes = decodedPayload(part);
  const charset = getParam(part, 'charset') ?? 'ASCII';
  const found = lookupCodec(charset);
  if (found.kind === 'unknown') {
    throw new EmailError('malformed', `the reference raises LookupError: unknown charset ${JSON.stringify(charset)}`);
  }
  if (found.kind === 'unsupported') {
    throw new EmailError('malformed', `charset ${JSON.stringify(charset)} is not supported by this reader`);
  }
  return found.codec.decode(bytes, 'replace') as string;
}

/** Deep recursion (beyond the depth bounds) surfaces as RangeError in V8; report it as the documented error. */
function bounded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError) throw new EmailError('malformed', `message too complex to read: ${e.message}`);
    throw e;
  }
}

class ParsedMessage implements EmailMessage {
  constructor(
    private readonly root: Part,
    private readonly tooDeep: string | undefined,
  ) {}

  header(name: string): string | undefined {
    const raw = getHeader(this.root, name);
    return raw === undefined ? undefined : bounded(() => headerString(name, raw));
  }

  body(): string {
    if (this.tooDeep) throw new EmailError('malformed', this.tooDeep);
    return bounded(() => {
      const part = getBody(this.root);
      if (!part) throw new EmailError('no_body', 'the message has no text/plain or text/html part outside attachments');
      return textContent(part);
    });
  }

  dateTimestamp(timezone: string): number {
    const raw = getHeader(this.root, 'date');
    if (raw === undefined) throw new EmailError('bad_date', 'the message has no Date header');
    const value = raw.replace(/[\r\n]/g, '');
    const parsed = value ? parseDate(value) : undefined;
    if (!parsed) throw new EmailError('bad_date', `the reference cannot read the date ${JSON.stringify(value)}`);
    return dateTimestamp(parsed, timezone);
  }
}

/**
 * Parses `text` like Python's `Parser(policy=policy.default).parsestr(text)`. Throws EmailError('malformed')
 * where that call raises; header(), body() and dateTimestamp() then give what the reference reads.
 */
export function parseMessage(text: string): EmailMessage {
  const { root, tooDeep } = bounded(() => parseTree(text));
  return new ParsedMessage(root, tooDeep);
}
