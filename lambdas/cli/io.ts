import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';

/** The streams a CLI command talks to; injected so that tests can drive commands in-process. */
export interface CliIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly cwd: string;
  /** Wall clock; commands never call Date.now() themselves. */
  readonly now: () => Date;
}

/** A sub-command: parses its own arguments and returns the process exit status. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** A usage mistake: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The option table of a command without positional arguments. */
export type OptionTable = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

/** Parses a command's options strictly (unknown options and positionals are refused) as a UsageError. */
export function parseOptions<T extends OptionTable>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    now: () => new Date(),
  };
}
