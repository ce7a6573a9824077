import type { Readable, Writable } from 'node:stream';

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

export function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    now: () => new Date(),
  };
}
