/**
 * `cyberactive process`: the process core on a local file, in-process through main(argv, io) and once as a real
 * process, as a user runs it.
 */
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import type { CliIo } from '../../../lambdas/cli/io';
import { main } from '../../../lambdas/cli/main';
import { sealEnvelope } from '../../../lambdas/envelope/envelope';
import { cowrieLines } from '../../../lambdas/local/sample-logs';
import { readHyparquet } from '../../unit/parquet/helpers';
import { parseQuarantine } from '../../unit/process/outputs';

const ROOT = resolve(__dirname, '../../..');
const LINES = [...cowrieLines({ lines: 300, seed: 21, badShare: 0.05 })];
/** The lines, then one that is not UTF-8. */
const FILE = Buffer.concat([Buffer.from(`${LINES.join('\n')}\n`), Buffer.from([0xff, 0xfe, 0x0a])]);
const RECORDS = LINES.length + 1;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], cwd: string): Promise<Run> {
  const io: CliIo = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    cwd,
    now: () => new Date('2026-11-22T10:30:00Z'),
  };
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  io.stdout.on('data', (c: Buffer) => out.push(c));
  io.stderr.on('data', (c: Buffer) => err.push(c));
  (io.stdin as PassThrough).end();
  const code = await main(argv, io);
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

interface Summary {
  status: string;
  outcome: string;
  reason?: string;
  sha256: string;
  rawObject: string;
  counts: Record<string, number>;
  parts: string[];
  quarantine?: string;
  ledger: string;
}

let dir: string;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cyberactive-process-cli-'));
  writeFileSync(join(dir, 'cowrie.jsonl'), FILE);
  writeFileSync(join(dir, 'private.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const BASE = ['process', 'cowrie.jsonl', '--tenant', 'acme', '--typetag', 'cowrie', '--out', 'out'];

describe('cyberactive process', () => {
  test('writes Parquet parts, the quarantine file and the ledger item into the folder, and exits 0', async () => {
    const run = await cli([...BASE, '--timezone', 'Europe/Paris', '--rows-per-part', '100', '--json'], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const s = JSON.parse(run.stdout) as Summary;
    expect(s).toMatchObject({ status: 'processed', outcome: 'SUCCESS' });
    expect(s.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(join(dir, 'cowrie.jsonl')))
        .digest('hex'),
    );
    const c = s.counts as Record<'recordsIn' | 'success' | 'successInvalid' | 'error' | 'badData' | 'raws', number>;
    expect(c.recordsIn).toBe(RECORDS);
    expect(c.success + c.successInvalid + c.error + c.badData).toBe(RECORDS);
    expect(c.badData).toBe(1);

    // The raw copy, under a proper raw key, with the file's bytes.
    expect(s.rawObject).toMatch(
      /\/out\/raw\/raw\/tenant=acme\/typetag=cowrie\/dt=2026-11-22\/hour=10\/[0-9A-Z]{26}\.raw$/,
    );
    expect(readFileSync(s.rawObject)).toEqual(readFileSync(join(dir, 'cowrie.jsonl')));

    const raws = (
      await Promise.all(s.parts.filter((p) => p.includes('/tahoe_raw/')).map((p) => readHyparquet(readFileSync(p))))
    ).flat();
    expect(raws).toHaveLength(c.raws);
    expect(new Set(raws.map((r) => r.timezone))).toEqual(new Set(['Europe/Paris']));
    expect(raws[0]).toMatchObject({
      tenant: 'acme',
      object_sha256: s.sha256,
      received_at: '2026-11-22T10:30:00.000000Z',
    });

    const quarantined = parseQuarantine(readFileSync(s.quarantine as string));
    expect(quarantined).toHaveLength(s.counts.quarantined ?? -1);
    expect(quarantined.at(-1)).toMatchObject({ line: RECORDS, outcome: 'BAD_DATA' });

    const itemFiles = readdirSync(join(dir, 'out', 'ledger', 'items'));
    expect(itemFiles).toHaveLength(1);
    const events = readFileSync(join(dir, 'out', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(events[0] as string)).toMatchObject({ status: 'PROCESSED', sha256: s.sha256 });
  });

  test('derives the orgid from the tenant by default, and says so in --help', async () => {
    const help = await cli(['process', '--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/SHA-256 of "tenant:" \+ T/);
    expect(help.stdout).toMatch(/Exit status: 0 .* 3 .*/s);

    const run = await cli([...BASE, '--json'], dir);
    const s = JSON.parse(run.stdout) as Summary;
    const instances = (
      await Promise.all(
        s.parts.filter((p) => p.includes('/tahoe_instance/')).map((p) => readHyparquet(readFileSync(p))),
      )
    ).flat();
    const orgids = new Set(instances.filter((r) => r.itype === 'event').map((r) => r.orgid));
    expect(orgids).toEqual(new Set([createHash('sha256').update('tenant:acme').digest('hex')]));
  });

  test('a rerun with the same --received-at is a duplicate that writes nothing', async () => {
    const args = [...BASE, '--received-at', '2026-11-22T08:00:00Z', '--json'];
    const first = JSON.parse((await cli(args, dir)).stdout) as Summary;
    const again = await cli(args, dir);
    expect(again.code).toBe(0);
    const second = JSON.parse(again.stdout) as Summary;
    expect(second.status).toBe('duplicate (already processed)');
    expect(second.parts).toEqual(first.parts);
    expect(
      readFileSync(join(dir, 'out', 'events.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(2);
  });

  test('opens an esdk file with --key and refuses a tampered one with exit status 3 and no Parquet', async () => {
    const sealed = await buffer(
      sealEnvelope('esdk', Readable.from([readFileSync(join(dir, 'cowrie.jsonl'))]), {
        keyArn: localKeyArn(publicKey),
        publicKey,
        context: { tenant: 'acme', typetag: 'cowrie' },
        gzip: true,
      }),
    );
    writeFileSync(join(dir, 'sealed.esdk'), sealed);
    const args = ['process', 'sealed.esdk', '--tenant', 'acme', '--typetag', 'cowrie', '--envelope', 'esdk', '--gzip'];
    const ok = await cli([...args, '--key', 'private.pem', '--out', 'good'], dir);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^processed: SUCCESS/);

    sealed[sealed.length - 30] = (sealed[sealed.length - 30] ?? 0) ^ 1;
    writeFileSync(join(dir, 'sealed.esdk'), sealed);
    const bad = await cli([...args, '--key', 'private.pem', '--out', 'bad'], dir);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/^quarantined: BAD_DATA \(esdk: authentication failed/);
    expect(existsSync(join(dir, 'bad', 'curated'))).toBe(false);
  });

  test('an unsupported typetag is refused as a whole with exit status 3', async () => {
    const run = await cli(['process', 'cowrie.jsonl', '--tenant', 'acme', '--typetag', 'syslog', '--out', 'out'], dir);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^quarantined: NOT_SUPPORTED \(typetag syslog is not enabled/);
  });

  test.each([
    [['process', 'cowrie.jsonl', '--typetag', 'cowrie', '--out', 'o'], /--tenant/],
    [[...BASE, '--envelope', 'esdk'], /needs --key/],
    [[...BASE, '--timezone', 'Nowhere/Atlantis'], /IANA/],
    [[...BASE, '--orgid', 'XYZ'], /64 lower-case hex/],
    [[...BASE, '--received-at', 'yesterday'], /ISO 8601/],
    [['process', '--tenant', 'acme', '--typetag', 'cowrie', '--out', 'o'], /exactly one input/],
  ])('usage mistakes exit with status 2: %j', async (argv, message) => {
    const run = await cli(argv, dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/usage: cyberactive process/);
  });

  test('runs as a command: npx tsx bin/cyberactive.ts process …', () => {
    const args = [
      'process',
      join(dir, 'cowrie.jsonl'),
      '--tenant',
      'acme',
      '--typetag',
      'cowrie',
      '--out',
      join(dir, 'out'),
    ];
    const res = spawnSync('npx', ['tsx', 'bin/cyberactive.ts', ...args, '--received-at', '2026-11-22T10:00:00Z'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    // npm may warn about the machine's own configuration; the command itself prints nothing on stderr.
    expect(res.stderr.replace(/^npm warn.*\n/gm, '')).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^processed: SUCCESS/);
    expect(res.stdout).toMatch(new RegExp(`records: ${RECORDS} in;`));
    expect(res.stdout).toMatch(/tahoe_raw\/tenant=acme\/dt=2026-11-22\/[0-9a-f]{64}-00000\.parquet/);
  });
});
