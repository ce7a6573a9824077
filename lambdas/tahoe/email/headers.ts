/**
 * `str(msg[name])` under `email.policy.default`: the header class chosen by name (HeaderRegistry), its parse,
 * and the string it rebuilds. Address headers are re-serialised from the parsed addresses (display names quoted
 * when they hold specials, comments dropped), MIME headers are rebuilt from their parameters, everything else
 * is the unfolded text with RFC 2047 encoded words decoded.
 */
import { formatDate, parseDate } from './dates';
import {
  allMailboxes,
  HeaderParseError,
  parseAddressList,
  parseContentDisposition,
  parseContentTransferEncoding,
  parseContentType,
  parseMessageId,
  parseMimeVersion,
  parseUnstructured,
} from './header-parser';
import { pythonCrash, sanitize } from './py-text';
import {
  allDefects,
  child,
  displayName,
  domainOf,
  type List,
  localPartOf,
  quoteString,
  str,
  type Tok,
  typeOf,
} from './tokens';
import { EmailError } from './types';

type HeaderKind =
  | 'unstructured'
  | 'date'
  | 'address'
  | 'mime-version'
  | 'content-type'
  | 'content-disposition'
  | 'cte'
  | 'message-id';

const REGISTRY: Record<string, HeaderKind> = {
  subject: 'unstructured',
  date: 'date',
  'resent-date': 'date',
  'orig-date': 'date',
  sender: 'address',
  'resent-sender': 'address',
  to: 'address',
  'resent-to': 'address',
  cc: 'address',
  'resent-cc': 'address',
  bcc: 'address',
  'resent-bcc': 'address',
  from: 'address',
  'resent-from': 'address',
  'reply-to': 'address',
  'mime-version': 'mime-version',
  'content-type': 'content-type',
  'content-disposition': 'content-disposition',
  'content-transfer-encoding': 'cte',
  'message-id': 'message-id',
};

/** policy.header_fetch_parse: the stored value with every CR and LF removed (that is the unfolding). */
export function unfold(raw: string): string {
  return raw.replace(/[\r\n]/g, '');
}

/** A parse that escapes with HeaderParseError is an uncaught exception in Python. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof HeaderParseError) throw pythonCrash(`HeaderParseError: ${e.message}`);
    throw e;
  }
}

const SPECIALS = /[()<>@,:;.\\"[\]]/;
const DOT_ATOM_ENDS = /[()<>@,:;\\"[\] \t]/;

/** headerregistry.Address.__str__ */
function formatAddress(display: string, username: string, domain: string): string {
  if (/[\r\n]/.test(display + username + domain))
    throw pythonCrash('ValueError: address parts cannot contain CR or LF');
  let lp = username;
  if (DOT_ATOM_ENDS.test(lp)) lp = quoteString(lp);
  let spec: string;
  if (domain) spec = `${lp}@${domain}`;
  else if (!lp) spec = '<>';
  else spec = lp;
  const disp = SPECIALS.test(display) ? quoteString(display) : display;
  if (disp) return `${disp} <${spec === '<>' ? '' : spec}>`;
  return spec;
}

/** Mailbox / NameAddr / AddrSpec / AngleAddr attribute lookups, with Python's AttributeError where one is missing. */
function mailboxField(tok: Tok, field: 'display_name' | 'local_part' | 'domain'): string | undefined {
  if (tok.term) throw pythonCrash(`AttributeError: 'str' object has no attribute '${field}'`);
  switch (tok.cls) {
    case 'Mailbox': {
      const first = child(tok, 0);
      if (field === 'display_name') return typeOf(first) === 'name-addr' ? mailboxField(first, field) : undefined;
      return mailboxField(first, field);
    }
    case 'InvalidMailbox':
      return undefined;
    case 'NameAddr':
      if (field === 'display_name') return tok.items.length === 1 ? undefined : displayNameOf(child(tok, 0));
      return mailboxField(child(tok, -1), field);
    case 'AngleAddr':
      if (field === 'display_name') break;
      for (const x of tok.items) if (typeOf(x) === 'addr-spec') return mailboxField(x, field);
      return undefined;
    case 'AddrSpec':
      if (field === 'local_part') return localPartOf(child(tok, 0) as List);
      if (field === 'domain') {
        if (tok.items.length < 3) return undefined;
        const d = child(tok, -1);
        if (d.term) throw pythonCrash("AttributeError: 'str' object has no attribute 'domain'");
        return domainOf(d);
      }
      break;
    case 'Group':
      if (field === 'display_name') return displayNameOf(child(tok, 0));
      break;
    default:
      break;
  }
  throw pythonCrash(`AttributeError: '${tok.cls}' object has no attribute '${field}'`);
}

function displayNameOf(tok: Tok): string {
  if (tok.term || tok.cls !== 'DisplayName')
    throw pythonCrash("AttributeError: object has no attribute 'display_name'");
  return displayName(tok);
}

/** AddressHeader.parse: every address becomes a Group (display name or None, its mailboxes), joined by ', '. */
function addressHeader(value: string): string {
  const tree = guarded(() => parseAddressList(value));
  const groups: string[] = [];
  for (const addr of tree.items) {
    if (typeOf(addr) !== 'address' || addr.term) continue;
    const first = child(addr, 0);
    const groupName = typeOf(first) === 'group' ? mailboxField(first, 'display_name') : undefined;
    const addresses = allMailboxes(addr).map((mb) =>
      formatAddress(
        mailboxField(mb, 'display_name') ?? '',
        mailboxField(mb, 'local_part') ?? '',
        mailboxField(mb, 'domain') ?? '',
      ),
    );
    if (groupName === undefined && addresses.length === 1) groups.push(addresses[0] as string);
    else {
      const disp = groupName === undefined ? 'None' : SPECIALS.test(groupName) ? quoteString(groupName) : groupName;
      const list = addresses.join(', ');
      groups.push(`${disp}:${list ? ` ${list}` : ''};`);
    }
  }
  allDefects(tree);
  return groups.join(', ');
}

function treeHeader(parse: (v: string) => List, value: string): string {
  const tree = guarded(() => parse(value));
  allDefects(tree);
  return str(tree);
}

/** Parsed Content-Disposition: its str() and content_disposition attribute. */
export function contentDisposition(value: string): { text: string; disposition: string | undefined } {
  const tree = guarded(() => parseContentDisposition(value));
  allDefects(tree);
  const text = sanitize(str(tree));
  return { text, disposition: tree.contentDisposition === undefined ? undefined : sanitize(tree.contentDisposition) };
}

/** `str(header)` for the named header built from its stored value. */
export function headerString(name: string, raw: string): string {
  const value = unfold(raw);
  const kind = REGISTRY[name.toLowerCase()] ?? 'unstructured';
  let decoded: string;
  switch (kind) {
    case 'unstructured':
      decoded = str(guarded(() => parseUnstructured(value)));
      break;
    case 'date': {
      if (!value) return '';
      const parsed = parseDate(value);
      if (!parsed) throw new EmailError('bad_date', `the reference cannot parse the date ${JSON.stringify(value)}`);
      return formatDate(parsed);
    }
    case 'address':
      decoded = addressHeader(value);
      break;
    case 'mime-version':
      decoded = treeHeader(parseMimeVersion, value);
      break;
    case 'content-type': {
      const tree = guarded(() => parseContentType(value));
      allDefects(tree);
      decoded = str(tree);
      sanitize(tree.maintype ?? '');
      break;
    }
    case 'content-disposition':
      return contentDisposition(value).text;
    case 'cte': {
      const tree = guarded(() => parseContentTransferEncoding(value));
      allDefects(tree);
      decoded = str(tree);
      sanitize(tree.cte ?? '');
      break;
    }
    case 'message-id':
      decoded = treeHeader(parseMessageId, value);
      break;
  }
  return sanitize(decoded);
}
