/**
 * Whatever the input, the reader finishes and fails only with EmailError: the filter turns that into a
 * quarantined record, anything else would be a crash of the processing step.
 */
import fc from 'fast-check';
import { parseMessage } from '../../../lambdas/tahoe/email/message';
import { EmailError } from '../../../lambdas/tahoe/email/types';

/** Runs every reader call; returns the errors that are not EmailError. */
function unexpectedErrors(text: string): unknown[] {
  const bad: unknown[] = [];
  const guard = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof EmailError)) bad.push(e);
    }
  };
  let msg: ReturnType<typeof parseMessage> | undefined;
  guard(() => {
    msg = parseMessage(text);
  });
  if (msg) {
    const m = msg;
    for (const name of ['From', 'To', 'Reply-To', 'Subject', 'Date', 'Content-Type', 'Message-ID', 'MIME-Version']) {
      guard(() => m.header(name));
    }
    guard(() => m.body());
    guard(() => m.dateTimestamp('America/New_York'));
    guard(() => m.dateTimestamp('not a zone'));
  }
  return bad;
}

const HEADER_NAMES = [
  'From',
  'To',
  'Reply-To',
  'Cc',
  'Subject',
  'Date',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-Disposition',
  'Message-ID',
  'MIME-Version',
  'Content-ID',
  'X-Mailgun-Sending-Ip',
  'From ',
];

const fragment = fc.oneof(
  fc.constantFrom(
    ' ',
    '\t',
    '(',
    ')',
    '<',
    '>',
    '@',
    ',',
    ':',
    ';',
    '.',
    '\\',
    '"',
    '[',
    ']',
    '=?',
    '?=',
    '?q?',
    '?B?',
    '=?utf-8?q?',
    '=?iso-8859-1?b?',
    '=',
    '*',
    "'",
    '%',
    '/',
    '--',
    'boundary=',
    'charset=',
    'multipart/',
    'text/',
    'plain',
    'html',
    'base64',
    'quoted-printable',
    'attachment',
    'begin 644 x',
    'end',
    '\r',
    '\n',
    '\r\n',
    '\n ',
    'é',
    '\u3000',
    '\ud800',
    '\udcff',
    '𝟘',
    '\x00',
    'Mon, 1 Jan 2024 12:00:00 ',
    '-0000',
    '+2400',
    '23:59:60',
  ),
  fc.string({ maxLength: 6 }),
);

const headerValue = fc.array(fragment, { maxLength: 12 }).map((xs) => xs.join(''));

const message = fc
  .record({
    headers: fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue), { maxLength: 8 }),
    eol: fc.constantFrom('\n', '\r\n', '\r'),
    body: fc.array(fragment, { maxLength: 30 }),
  })
  .map(({ headers, eol, body }) => `${headers.map(([n, v]) => `${n}: ${v}`).join(eol)}${eol}${eol}${body.join('')}`);

/** A multipart skeleton with random boundaries, types, encodings and junk in between. */
const multipart = fc
  .record({
    boundary: fc.constantFrom('b', '==X==', 'a b', ''),
    parts: fc.array(
      fc.record({
        type: fc.constantFrom(
          'text/plain',
          'text/html',
          'multipart/mixed',
          'multipart/alternative',
          'multipart/related',
          'message/rfc822',
          'message/delivery-status',
          'application/pdf',
          'multipart/digest',
        ),
        params: headerValue,
        cte: fc.constantFrom('', 'base64', 'quoted-printable', 'x-uuencode', '8bit'),
        disposition: fc.constantFrom('', 'attachment', 'inline'),
        body: fc.array(fragment, { maxLength: 10 }),
      }),
      { maxLength: 5 },
    ),
    close: fc.boolean(),
  })
  .map(({ boundary, parts, close }) => {
    let text = `From: a@b\nContent-Type: multipart/mixed; boundary="${boundary}"\n\npreamble\n`;
    for (const p of parts) {
      text += `--${boundary}\nContent-Type: ${p.type}; ${p.params}\n`;
      if (p.cte) text += `Content-Transfer-Encoding: ${p.cte}\n`;
      if (p.disposition) text += `Content-Disposition: ${p.disposition}\n`;
      text += `\n${p.body.join('')}\n`;
    }
    return close ? `${text}--${boundary}--\n` : text;
  });

describe('reader robustness', () => {
  it('never throws anything but EmailError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        expect(unexpectedErrors(text)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('never throws anything but EmailError on header-shaped text built from the grammar special characters', () => {
    fc.assert(
      fc.property(message, (text) => {
        expect(unexpectedErrors(text)).toEqual([]);
      }),
      { numRuns: 600 },
    );
  });

  it('never throws anything but EmailError on malformed multipart messages', () => {
    fc.assert(
      fc.property(multipart, (text) => {
        expect(unexpectedErrors(text)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('gives the same answers when asked twice (the parse is not changed by reading it)', () => {
    fc.assert(
      fc.property(message, (text) => {
        let msg: ReturnType<typeof parseMessage>;
        try {
          msg = parseMessage(text);
        } catch {
          return;
        }
        const read = () => {
          try {
            return [msg.header('From'), msg.header('Subject'), msg.body()];
          } catch (e) {
            return [(e as EmailError).kind];
          }
        };
        expect(read()).toEqual(read());
      }),
      { numRuns: 200 },
    );
  });
});
