import { generateKeyPair } from 'node:crypto';
import { access, chmod, mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { localKeyArn } from '../../adapters/local-key-unwrapper';
import { type CliIo, type Command, parseOptions, UsageError } from '../io';

const USAGE = 'cyberactive keys generate --out DIR [--bits 4096] | cyberactive keys id --key PEM';
const BITS = [2048, 3072, 4096] as const;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function writeNew(path: string, data: string, mode: number): Promise<void> {
  // 'wx' fails if the file appeared since we looked: never overwrite a key.
  const file = await open(path, 'wx', mode);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await chmod(path, mode);
}

async function generate(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseOptions(argv, { out: { type: 'string' }, bits: { type: 'string', default: '4096' } });
  if (!values.out) throw new UsageError('--out DIR is required');
  const bits = Number(values.bits);
  if (!BITS.includes(bits as (typeof BITS)[number])) throw new UsageError(`--bits must be one of ${BITS.join(', ')}`);
  const dir = resolve(io.cwd, values.out);
  const privatePath = join(dir, 'private.pem');
  const publicPath = join(dir, 'public.pem');
  for (const path of [privatePath, publicPath]) {
    if (await exists(path)) {
      io.stderr.write(`cyberactive keys: refusing to overwrite ${path}\n`);
      return 1;
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  await writeNew(privatePath, privateKey, 0o600);
  try {
    await writeNew(publicPath, publicKey, 0o644);
  } catch (err) {
    await rm(privatePath, { force: true });
    throw err;
  }
  io.stdout.write(`private key: ${privatePath} (mode 0600; keep it secret)\n`);
  io.stdout.write(`public key:  ${publicPath}\n`);
  io.stdout.write(`key id:      ${localKeyArn(publicKey)}\n`);
  return 0;
}

async function id(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseOptions(argv, { key: { type: 'string' } });
  if (!values.key) throw new UsageError('--key PEM is required (public or private)');
  const pem = await readFile(resolve(io.cwd, values.key));
  io.stdout.write(`${localKeyArn(pem)}\n`);
  return 0;
}

export const command: Command = {
  summary: 'envelope keys: generate a local RSA key pair, print a key id',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === 'generate') return generate(rest, io);
    if (sub === 'id') return id(rest, io);
    throw new UsageError(sub === undefined ? 'missing sub-command' : `unknown sub-command '${sub}'`);
  },
};
