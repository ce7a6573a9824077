import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import type { CliIo } from '../../../lambdas/cli/io';
import { main } from '../../../lambdas/cli/main';
import { sealCybexp } from '../../../lambdas/envelope/cybexp';
import { rsaModulusBits } from '../../../lambdas/envelope/rsa';
import { newKey, pattern } from '../../unit/envelope/helpers';

const ROOT = resolve(__dirname, '../../..');

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

async function cli(argv: string[], cwd: string, stdin?: Buffer): Promise<Run> {
  const io: CliIo = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    cwd,
    now: () => new Date('2024-05-01T00:00:00Z'),
  };
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  io.stdout.on('data', (c: Buffer) => out.push(c));
  io.stderr.on('data', (c: Buffer) => err.push(c));
  (io.stdin as PassThrough).end(stdin ?? Buffer.alloc(0));
  const code = await main(argv, io);
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

let dir: string;
const key = newKey(2048);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cyberactive-cli-'));
  writeFileSync(join(dir, 'private.pem'), key.privatePem, { mode: 0o600 });
  writeFileSync(join(dir, 'public.pem'), key.publicPem);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ls = () => readdirSync(dir).sort();

describe('cyberactive keys', () => {
  it('generates a key pair with a private key only its owner can read, and refuses to overwrite it', async () => {
    const out = join(dir, 'k');
    const first = await cli(['keys', 'generate', '--out', 'k', '--bits', '2048'], dir);
    expect(first.code).toBe(0);
    expect(statSync(join(out, 'private.pem')).mode & 0o777).toBe(0o600);
    const pub = readFileSync(join(out, 'public.pem'), 'utf8');
    expect(pub).toContain('BEGIN PUBLIC KEY');
    expect(first.stdout.toString()).toContain(localKeyArn(pub));
    const before = readFileSync(join(out, 'private.pem'));
    const second = await cli(['keys', 'generate', '--out', 'k', '--bits', '2048'], dir);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/refusing to overwrite/);
    expect(readFileSync(join(out, 'private.pem')).equals(before)).toBe(true);
  });

  it('prints the same key id for either half of a key', async () => {
    const a = await cli(['keys', 'id', '--key', 'private.pem'], dir);
    const b = await cli(['keys', 'id', '--key', 'public.pem'], dir);
    expect(a.stdout.toString().trim()).toBe(key.arn);
    expect(b.stdout.toString().trim()).toBe(key.arn);
  });

  it('rejects unknown options with the usage and status 2', async () => {
    const r = await cli(['keys', 'generate', '--out', 'k', '--size', '1'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage: cyberactive keys generate/);
  });
});

describe('cyberactive encrypt / decrypt', () => {
  it.each(['esdk', 'cybexp'])('round-trips a %s file, with and without gzip', async (envelope) => {
    const plaintext = pattern(3 * 1024 * 1024 + 5);
    writeFileSync(join(dir, 'in.log'), plaintext);
    const ctx = envelope === 'esdk' ? ['--tenant', 'acme', '--typetag', 'cowrie'] : [];
    for (const gz of [[], ['--gzip']]) {
      const enc = await cli(
        ['encrypt', '--envelope', envelope, '--public-key', 'public.pem', ...ctx, ...gz, 'in.log', 'in.sealed'],
        dir,
      );
      expect(enc).toMatchObject({ code: 0, stderr: '' });
      const dec = await cli(
        [
          'decrypt',
          '--envelope',
          envelope,
          '--key',
          'private.pem',
          ...ctx,
          ...(gz.length ? ['--gunzip'] : []),
          'in.sealed',
          'out.log',
        ],
        dir,
      );
      expect(dec).toMatchObject({ code: 0, stderr: '' });
      expect(readFileSync(join(dir, 'out.log')).equals(plaintext)).toBe(true);
    }
    expect(ls()).toEqual(['in.log', 'in.sealed', 'out.log', 'private.pem', 'public.pem']);
  });

  it('streams stdin to stdout both ways', async () => {
    const plaintext = Buffer.from('{"eventid":"cowrie.login.failed"}\n'.repeat(1000));
    const enc = await cli(['encrypt', '--envelope', 'esdk', '--public-key', 'public.pem', '-', '-'], dir, plaintext);
    expect(enc.code).toBe(0);
    expect(enc.stdout.readUInt8(0)).toBe(2);
    const dec = await cli(['decrypt', '--envelope', 'esdk', '--key', 'private.pem', '-', '-'], dir, enc.stdout);
    expect(dec.code).toBe(0);
    expect(dec.stdout.equals(plaintext)).toBe(true);
  });

  it('decrypts a cybexp blob made by the seed layout with gzip inside', async () => {
    writeFileSync(join(dir, 'blob'), sealCybexp(gzipSync(Buffer.from('hello\n')), key.publicKey));
    const dec = await cli(['decrypt', '--envelope', 'cybexp', '--key', 'private.pem', '--gunzip', 'blob', '-'], dir);
    expect(dec).toMatchObject({ code: 0, stderr: '' });
    expect(dec.stdout.toString()).toBe('hello\n');
  });

  describe('failures leave no output', () => {
    let sealed: Buffer;
    beforeEach(async () => {
      writeFileSync(join(dir, 'in.log'), pattern(2 * 1024 * 1024 + 17));
      const enc = await cli(
        [
          'encrypt',
          '--envelope',
          'esdk',
          '--public-key',
          'public.pem',
          '--tenant',
          'acme',
          '--typetag',
          'cowrie',
          'in.log',
          'in.sealed',
        ],
        dir,
      );
      expect(enc.code).toBe(0);
      sealed = readFileSync(join(dir, 'in.sealed'));
    });

    const cases: [string, () => Buffer, string[], RegExp][] = [
      [
        'a byte flipped in the last frame',
        () => flipped(sealed, sealed.length - 40),
        [],
        /BAD_DATA: esdk: authentication failed/,
      ],
      ['a truncated file', () => sealed.subarray(0, sealed.length - 100), [], /BAD_DATA: esdk: truncated/],
      ['appended bytes', () => Buffer.concat([sealed, Buffer.from('x')]), [], /BAD_DATA: esdk: unexpected bytes/],
      ['another tenant', () => sealed, ['--tenant', 'other'], /BAD_DATA: .*"tenant" is "acme", expected "other"/],
      [
        'a key that is not allowed',
        () => sealed,
        ['--key-arn', 'arn:aws:kms:eu-west-1:1:key/x'],
        /BAD_DATA: .*allowed KMS key/,
      ],
    ];

    it.each(cases)('refuses %s: exit 1, reason on stderr, no file', async (_what, data, extra, reason) => {
      writeFileSync(join(dir, 'bad.sealed'), data());
      const before = ls();
      const r = await cli(
        ['decrypt', '--envelope', 'esdk', '--key', 'private.pem', ...extra, 'bad.sealed', 'out.log'],
        dir,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(reason);
      expect(ls()).toEqual(before);
    });

    it('writes nothing to stdout when the input fails to authenticate', async () => {
      const r = await cli(
        ['decrypt', '--envelope', 'esdk', '--key', 'private.pem', '-', '-'],
        dir,
        flipped(sealed, sealed.length - 40),
      );
      expect(r.code).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(/BAD_DATA/);
    });

    it('refuses the wrong private key', async () => {
      const other = newKey(2048);
      writeFileSync(join(dir, 'other.pem'), other.privatePem);
      const r = await cli(['decrypt', '--envelope', 'esdk', '--key', 'other.pem', 'in.sealed', 'out.log'], dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/BAD_DATA: esdk: no data key is wrapped for an allowed KMS key/);
      const forced = await cli(
        ['decrypt', '--envelope', 'esdk', '--key', 'other.pem', '--key-arn', key.arn, 'in.sealed', 'out.log'],
        dir,
      );
      expect(forced.code).toBe(1);
      expect(forced.stderr).toMatch(/does not decrypt/);
      expect(ls()).not.toContain('out.log');
    });
  });

  it('reports a missing input file without leaving a partial output', async () => {
    const r = await cli(['decrypt', '--envelope', 'esdk', '--key', 'private.pem', 'nope', 'out.log'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ENOENT/);
    expect(ls()).toEqual(['private.pem', 'public.pem']);
  });

  it('rejects cybexp with a context, and missing arguments, as usage errors', async () => {
    const a = await cli(
      ['encrypt', '--envelope', 'cybexp', '--public-key', 'public.pem', '--tenant', 't', 'a', 'b'],
      dir,
    );
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/no encryption context/);
    const b = await cli(['decrypt', '--envelope', 'esdk', '--key', 'private.pem', 'only-one'], dir);
    expect(b.code).toBe(2);
  });
});

describe('the real CLI process', () => {
  it('generates an RSA-4096 key, encrypts and decrypts through bin/cyberactive.ts, and fails cleanly', () => {
    const run = (...args: string[]) =>
      spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'bin/cyberactive.ts'), ...args], {
        cwd: dir,
        encoding: 'utf8',
      });
    const gen = run('keys', 'generate', '--out', 'keys');
    expect(gen.stderr).toBe('');
    expect(gen.status).toBe(0);
    const pub = readFileSync(join(dir, 'keys/public.pem'), 'utf8');
    expect(rsaModulusBits(createPublicKey(pub))).toBe(4096);
    writeFileSync(join(dir, 'in.log'), 'line 1\nline 2\n');
    const enc = run('encrypt', '--envelope', 'cybexp', '--public-key', 'keys/public.pem', 'in.log', 'in.cybexp');
    expect(enc.status).toBe(0);
    expect(statSync(join(dir, 'in.cybexp')).size).toBe(512 + 16 + 16 + 14);
    const dec = run('decrypt', '--envelope', 'cybexp', '--key', 'keys/private.pem', 'in.cybexp', '-');
    expect(dec.status).toBe(0);
    expect(dec.stdout).toBe('line 1\nline 2\n');
    writeFileSync(join(dir, 'bad.cybexp'), flipped(readFileSync(join(dir, 'in.cybexp')), 550));
    const bad = run('decrypt', '--envelope', 'cybexp', '--key', 'keys/private.pem', 'bad.cybexp', 'out.log');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/BAD_DATA: cybexp: EAX tag mismatch/);
    expect(readdirSync(dir).sort()).toEqual(['bad.cybexp', 'in.cybexp', 'in.log', 'keys', 'private.pem', 'public.pem']);
  });
});

function flipped(data: Buffer, at: number): Buffer {
  const out = Buffer.from(data);
  out[at] = (out[at] ?? 0) ^ 0x10;
  return out;
}
