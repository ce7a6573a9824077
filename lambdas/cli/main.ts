import { type CliIo, type Command, UsageError } from './io';

/**
 * Sub-commands, loaded lazily so that `cyberactive tahoe` does not pay for the AWS SDK.
 * Add one line per command here.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  keys: () => import('./commands/keys').then((m) => m.command),
  encrypt: () => import('./commands/encrypt').then((m) => m.command),
  decrypt: () => import('./commands/decrypt').then((m) => m.command),
  demo: () => import('./commands/demo').then((m) => m.command),
  tahoe: () => import('./commands/tahoe').then((m) => m.command),
  process: () => import('./commands/process').then((m) => m.command),
  load: () => import('./commands/load').then((m) => m.command),
  sql: () => import('./commands/sql').then((m) => m.command),
  'age-off': () => import('./commands/age-off').then((m) => m.command),
  purge: () => import('./commands/purge').then((m) => m.command),
};

function help(io: CliIo, commands: Record<string, Command>): void {
  const lines = ['usage: cyberactive <command> [options]', '', 'commands:'];
  for (const [name, cmd] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  io.stderr.write(`${lines.join('\n')}\n`);
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const load = name === undefined ? undefined : COMMANDS[name];
  if (!load) {
    const all: Record<string, Command> = {};
    for (const [n, l] of Object.entries(COMMANDS)) all[n] = await l();
    if (name !== undefined && name !== 'help' && name !== '--help' && name !== '-h') {
      io.stderr.write(`cyberactive: unknown command '${name}'\n`);
      help(io, all);
      return 2;
    }
    help(io, all);
    return name === undefined ? 2 : 0;
  }
  const cmd = await load();
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cyberactive ${name}: ${err.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    io.stderr.write(`cyberactive ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
