/**
 * RFC 822 email → one `email` event (TAHOE.md §5; reference: cybexp-analytics filters/email.py).
 *
 * Needs From, To, Subject and Date; otherwise the raw is flagged invalid. The event holds `src` {name?,
 * email_addr, ipv4?}, `reply_to` {email_addr}?, `dst` {name?, email_addr}, `subject` and `body`, category unknown
 * with no context. A Date without a zone is read in the upload's declared timezone (the reference used the
 * server's local time); `-0000` is UTC (RFC 5322 §3.3). Only the {@link EmailMessage} interface is used here.
 */
import { EmailError, type EmailMessage } from '../email/types';
import { getItem, notSubscriptableByStr, PyError } from '../errors';
import { type PyValue, pyTypeName } from '../json';
import type { Attribute, Child, RecordStore } from '../model';
import { sliceInnerCodePoints } from '../pystr';
import type { FilterContext, TahoeFilter } from './types';

export const EMAIL_FILTER_ID = '6e52bc6a-af7f-41ea-8684-e39c42d4aa3f';

const REQUIRED = ['from', 'to', 'subject', 'date'] as const;

/**
 * An address header as the reference splits it: when it ends with '>', the display name is everything before
 * the last space (quotes kept) and the address is the last word without its angle brackets; otherwise the whole
 * header (a multi-recipient list included) is one address.
 */
function address(header: string, store: RecordStore): Attribute[] {
  if (header.endsWith('>')) {
    const cut = header.lastIndexOf(' ');
    const name = cut === -1 ? '' : header.slice(0, cut);
    const addr = sliceInnerCodePoints(cut === -1 ? header : header.slice(cut + 1));
    const parts: Attribute[] = [];
    if (name !== '') parts.push(store.attribute('name', name));
    parts.push(store.attribute('email_addr', addr));
    return parts;
  }
  return [store.attribute('email_addr', header)];
}

/** The Python exception the reference raises where the message parser reports a problem. */
function asPyError(err: unknown): unknown {
  if (!(err instanceof EmailError)) return err;
  const pyType = err.kind === 'no_body' ? 'AttributeError' : err.kind === 'bad_date' ? 'TypeError' : 'ValueError';
  return new PyError(pyType, err.message, { cause: err });
}

export function createEmailFilter(parseMessage: (text: string) => EmailMessage): TahoeFilter {
  return {
    name: 'Email',
    id: EMAIL_FILTER_ID,
    subType: 'email',
    parse(data: PyValue, ctx: FilterContext): readonly string[] | false {
      if (!(data instanceof Map)) throw notSubscriptableByStr(data);
      const text = getItem(data, 'data');
      if (typeof text !== 'string') {
        throw new PyError('TypeError', `initial_value must be str or None, not ${pyTypeName(text)}`);
      }
      try {
        return readEmail(parseMessage(text), ctx);
      } catch (err) {
        throw asPyError(err);
      }
    },
  };
}

function readEmail(msg: EmailMessage, ctx: FilterContext): readonly string[] | false {
  const { store } = ctx;
  const headers = new Map<string, string>();
  for (const name of REQUIRED) {
    const value = msg.header(name);
    if (!value) return false;
    headers.set(name, value);
  }
  const src: Child[] = address(headers.get('from') as string, store);
  const sendingIp = msg.header('X-Mailgun-Sending-Ip');
  if (sendingIp) src.push(store.attribute('ipv4', sendingIp));
  const parts: Child[] = [store.object('src', src)];
  const replyTo = msg.header('reply-to');
  if (replyTo) parts.push(store.object('reply_to', [store.attribute('email_addr', replyTo)]));
  parts.push(store.object('dst', address(headers.get('to') as string, store)));
  parts.push(store.attribute('subject', headers.get('subject') as string));
  parts.push(store.attribute('body', msg.body()));
  const timestamp = msg.dateTimestamp(ctx.timezone);
  const event = ctx.store.event('email', parts, ctx.orgid, timestamp);
  return [...event.ref, event.hash];
}
