/**
 * Cowrie honeypot events → TAHOE (TAHOE.md §5; reference: cybexp-analytics filters/cowrie.py).
 *
 * Every event id yields the session `cowrie_session` {sessionid, sesnor}; the misspelt `sesnor` is part of the
 * session hash and is kept. Login, command, direct-tcpip and file transfer ids also yield a malicious event that
 * joins the session. The order of field reads follows the reference, so a record missing several fields fails
 * on the same one.
 */
import { contains, getItem, PyError } from '../errors';
import { type PyValue, pyTypeName } from '../json';
import type { Child, RecordStore, TahoeSession } from '../model';
import { pyStrip } from '../pystr';
import { cowrieTimestamp } from '../time';
import { type FilterContext, loadsInFilter, type TahoeFilter } from './types';

interface EventParts {
  readonly subType: string;
  readonly data: Child[];
  readonly mal: Child[];
}

/** `data["timestamp"]` → float seconds, with the reference's errors for wrong types. */
function timestampOf(data: PyValue): number {
  const t = getItem(data, 'timestamp');
  if (typeof t !== 'string')
    throw new PyError('AttributeError', `'${pyTypeName(t)}' object has no attribute 'replace'`);
  return cowrieTimestamp(t);
}

function session(data: PyValue, store: RecordStore): TahoeSession {
  const sessionid = store.attribute('sessionid', getItem(data, 'session'));
  const sensor = store.attribute('sesnor', getItem(data, 'sensor'));
  return store.session('cowrie_session', [sessionid, sensor]);
}

function command(data: PyValue, store: RecordStore, success: boolean | undefined): EventParts {
  const cmd = store.attribute('shell_command', getItem(data, 'input'));
  const parts: Child[] = [cmd];
  if (success !== undefined) parts.push(store.attribute('success', success));
  return { subType: 'shell_command', data: parts, mal: [cmd] };
}

function directTcpIp(data: PyValue, store: RecordStore, withPayload: boolean): EventParts {
  const parts: Child[] = [];
  if (withPayload) parts.push(store.attribute('data', getItem(data, 'data')));
  // The destination is stored as `url` even when it is an IP address (as the reference does).
  const url = store.attribute('url', getItem(data, 'dst_ip'));
  const port = store.attribute('port', getItem(data, 'dst_port'));
  parts.push(store.object('dst', [url, port]), store.attribute('protocol', 'TCP'));
  return { subType: 'network_traffic', data: parts, mal: [] };
}

function login(data: PyValue, store: RecordStore, success: boolean): EventParts {
  const username = store.attribute('username', getItem(data, 'username'));
  const password = store.attribute('password', getItem(data, 'password'));
  const credential = store.object('credential', [username, password]);
  // The reference records every login as ssh, telnet included.
  const parts = [credential, store.attribute('success', success), store.attribute('method', 'ssh')];
  return { subType: 'login', data: parts, mal: [credential] };
}

function urlAndFilename(data: PyValue, store: RecordStore) {
  const raw = getItem(data, 'url');
  if (typeof raw !== 'string') {
    throw new PyError('AttributeError', `'${pyTypeName(raw)}' object has no attribute 'strip'`);
  }
  const url = pyStrip(raw);
  const filename = pyStrip(url.slice(url.lastIndexOf('/') + 1));
  return { url: store.attribute('url', url), filename: store.attribute('filename', filename) };
}

function fileDownload(data: PyValue, store: RecordStore): EventParts {
  const { url, filename } = urlAndFilename(data, store);
  const success = store.attribute('success', true);
  const sha256 = store.attribute('sha256', getItem(data, 'shasum'));
  const file = store.object('file', [filename, sha256]);
  return { subType: 'file_download', data: [url, file, success], mal: [url, filename, sha256, file] };
}

function fileDownloadFailed(data: PyValue, store: RecordStore): EventParts {
  const { url, filename } = urlAndFilename(data, store);
  const success = store.attribute('success', false);
  const file = store.object('file', [filename]);
  return { subType: 'file_download', data: [url, file, success], mal: [url, filename, file] };
}

/** Python `message[:4] == 'SFTP'` for whatever JSON type `message` has. */
function startsWithSftp(message: PyValue): boolean {
  if (typeof message === 'string') return message.startsWith('SFTP');
  if (Array.isArray(message)) return false;
  if (message instanceof Map) throw new PyError('TypeError', "unhashable type: 'slice'");
  throw new PyError('TypeError', `'${pyTypeName(message)}' object is not subscriptable`);
}

function fileUpload(data: PyValue, store: RecordStore): EventParts {
  const filename = store.attribute('filename', getItem(data, 'filename'));
  const sha256 = store.attribute('sha256', getItem(data, 'shasum'));
  const file = store.object('file', [filename, sha256]);
  const parts: Child[] = [file];
  if (startsWithSftp(getItem(data, 'message'))) {
    parts.push(store.attribute('method', 'SFTP'), store.attribute('output_file_path', getItem(data, 'outfile')));
  }
  return { subType: 'file_upload', data: parts, mal: [filename, sha256, file] };
}

type Handler = (data: PyValue, store: RecordStore) => EventParts;

const EVENTS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['cowrie.command.failed', (d, s) => command(d, s, false)],
  ['cowrie.command.input', (d, s) => command(d, s, undefined)],
  ['cowrie.command.success', (d, s) => command(d, s, true)],
  ['cowrie.direct-tcpip.data', (d, s) => directTcpIp(d, s, true)],
  // The reference's direct_tcp_ip(data, event_data=[]) grows its shared default list on every request event
  // (README quirk 2); each request here gets its own list.
  ['cowrie.direct-tcpip.request', (d, s) => directTcpIp(d, s, false)],
  ['cowrie.login.failed', (d, s) => login(d, s, false)],
  ['cowrie.login.success', (d, s) => login(d, s, true)],
  ['cowrie.session.file_download', fileDownload],
  ['cowrie.session.file_download.failed', fileDownloadFailed],
  ['cowrie.session.file_upload', fileUpload],
]);

/** Parses one Cowrie event (a dict, or a JSON string of one). Shared with the unr_honeypot filter. */
export function parseCowrie(input: PyValue, ctx: FilterContext): readonly string[] | false {
  const { store } = ctx;
  const data = typeof input === 'string' ? loadsInFilter(input, ctx) : input;
  if (!contains(data, 'eventid')) return false;
  const eventid = getItem(data, 'eventid');
  // Required for every event id, even those that only yield the session (README quirk 13).
  const timestamp = timestampOf(data);

  const handler = typeof eventid === 'string' ? EVENTS.get(eventid) : undefined;
  const parts = handler?.(data, store);
  // Unknown ids (client.*, log.*, anything else, even non-strings) still yield the session. The reference builds
  // it twice for connect/closed; the store returns the same instance both times, so building it once is the same.
  const sess = session(data, store);
  if (eventid === 'cowrie.session.connect') sess.startTime = timestamp;
  else if (eventid === 'cowrie.session.closed') {
    sess.duration = getItem(data, 'duration');
    sess.endTime = timestamp;
  }
  if (!parts) return [sess.hash];

  const ip = store.attribute('ipv4', getItem(data, 'src_ip'));
  const attacker = store.object('attacker', [ip]);
  // The handlers build fresh lists for each record: appending to them spares two copies.
  parts.data.push(attacker);
  parts.mal.push(ip, attacker);
  const event = store.event(parts.subType, parts.data, ctx.orgid, timestamp, { mal: parts.mal });
  event.category = 'malicious';
  store.addEvent(sess, event);
  return [...event.ref, event.hash, sess.hash];
}

export const cowrieFilter: TahoeFilter = {
  name: 'Cowrie',
  id: 'd2076b75-715e-4e4d-ae0a-a291cc6d90b7',
  subType: 'cowrie',
  parse: parseCowrie,
};
