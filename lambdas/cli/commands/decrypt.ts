import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { LocalKeyUnwrapper, localKeyArn } from '../../adapters/local-key-unwrapper';
import type { OpenEnvelopeOptions } from '../../envelope/envelope';
import { openEnvelopeToFile, produceThenCopy } from '../../envelope/files';
import { PermanentError } from '../../shared/errors';
import { type CliIo, type Command, UsageError } from '../io';

const USAGE =
  'cyberactive decrypt --envelope esdk|cybexp|none --key PEM [--key-arn ARN] [--tenant T] [--typetag TT] [--gunzip] <in> <out>';

/**
 * Decrypts with a local private key, all-or-nothing: <out> appears only once the whole input authenticated (a
 * temporary file beside it is renamed); with `-` the plaintext is held in a private temporary file and copied to
 * stdout only after verification. On failure: exit 1, the reason on stderr, no output.
 */
export const command: Command = {
  summary: 'open an envelope with a local key (all-or-nothing output)',
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
    if (envelope !== 'esdk' && envelope !== 'cybexp' && envelope !== 'none') {
      throw new UsageError('--envelope must be esdk, cybexp or none');
    }
    if (envelope !== 'none' && !values.key) throw new UsageError('--key PEM (the private key) is required');
    if (positionals.length !== 2) throw new UsageError('expected <in> and <out> (use - for stdin or stdout)');
    const [input = '', output = ''] = positionals;
    if (envelope !== 'esdk' && (values.tenant || values.typetag)) {
      throw new UsageError(`${envelope} carries no encryption context: drop --tenant and --typetag`);
    }
    if (input !== '-' && input === output) throw new UsageError('<in> and <out> must differ');

    const options: OpenEnvelopeOptions = { gzip: values.gunzip ?? false };
    if (values.key) {
      let unwrapper: LocalKeyUnwrapper;
      try {
        const pem = await readFile(resolve(io.cwd, values.key));
        unwrapper = new LocalKeyUnwrapper([{ pem, keyArn: values['key-arn'] ?? localKeyArn(pem) }]);
      } catch (err) {
        io.stderr.write(`cyberactive decrypt: cannot read the private key: ${(err as Error).message}\n`);
        return 1;
      }
      const [key] = unwrapper.list();
      const context: Record<string, string> = {};
      if (values.tenant) context.tenant = values.tenant;
      if (values.typetag) context.typetag = values.typetag;
      Object.assign(options, {
        unwrapper,
        allowedKeyArns: key ? [key.keyArn] : [],
        rsaModulusBytes: key?.modulusBytes,
        expectedContext: context,
      });
    }

    const source: Readable = input === '-' ? io.stdin : createReadStream(resolve(io.cwd, input));
    const open = (target: string) => openEnvelopeToFile(envelope, source, target, options);
    try {
      if (output === '-') await produceThenCopy(open, io.stdout);
      else await open(resolve(io.cwd, output));
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      io.stderr.write(`cyberactive decrypt: ${err.outcome}: ${err.message}\n`);
      return 1;
    }
    return 0;
  },
};

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      envelope: { type: 'string' },
      key: { type: 'string' },
      'key-arn': { type: 'string' },
      tenant: { type: 'string' },
      typetag: { type: 'string' },
      gunzip: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
}
