import { createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { localKeyArn } from '../../adapters/local-key-unwrapper';
import { produceThenCopy, sealEnvelopeToFile } from '../../envelope/files';
import { type CliIo, type Command, UsageError } from '../io';

const USAGE =
  'cyberactive encrypt --envelope esdk|cybexp --public-key PEM [--tenant T] [--typetag TT] [--key-arn ARN] [--gzip] <in> <out>';

export const command: Command = {
  summary: 'seal a file as a shipper does (esdk or cybexp envelope)',
  usage: USAGE,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(argv);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const { values, positionals } = parsed;
    const envelope = values.envelope;
    if (envelope !== 'esdk' && envelope !== 'cybexp') throw new UsageError('--envelope must be esdk or cybexp');
    if (!values['public-key']) throw new UsageError('--public-key PEM is required');
    if (positionals.length !== 2) throw new UsageError('expected <in> and <out> (use - for stdin or stdout)');
    const [input = '', output = ''] = positionals;
    if (envelope === 'cybexp' && (values.tenant || values.typetag || values['key-arn'])) {
      throw new UsageError('cybexp carries no encryption context and no key id: drop --tenant, --typetag, --key-arn');
    }
    if (input !== '-' && input === output) throw new UsageError('<in> and <out> must differ');

    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(await readFile(resolve(io.cwd, values['public-key'])));
    } catch (err) {
      io.stderr.write(`cyberactive encrypt: cannot read the public key: ${(err as Error).message}\n`);
      return 1;
    }
    const context: Record<string, string> = {};
    if (values.tenant) context.tenant = values.tenant;
    if (values.typetag) context.typetag = values.typetag;
    const options = {
      keyArn: values['key-arn'] ?? localKeyArn(publicKey),
      publicKey,
      context,
      gzip: values.gzip ?? false,
    };
    const source: Readable = input === '-' ? io.stdin : createReadStream(resolve(io.cwd, input));
    const seal = (target: string) => sealEnvelopeToFile(envelope, source, target, options);
    if (output === '-') await produceThenCopy(seal, io.stdout);
    else await seal(resolve(io.cwd, output));
    return 0;
  },
};

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      envelope: { type: 'string' },
      'public-key': { type: 'string' },
      tenant: { type: 'string' },
      typetag: { type: 'string' },
      'key-arn': { type: 'string' },
      gzip: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
}
