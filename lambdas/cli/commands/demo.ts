import { isAbsolute, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { demoReport, demoSucceeded, runDemo } from '../../local/demo';
import { type Command, UsageError } from '../io';

const USAGE = 'cyberactive demo [--out DIR] [--cowrie-lines N]';

export const command: Command = {
  summary: 'run the pipeline locally on generated sample logs, load the warehouse, and ask the analyst views',
  usage: USAGE,
  async run(argv, io) {
    let values: { out?: string; 'cowrie-lines'?: string };
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: { out: { type: 'string' }, 'cowrie-lines': { type: 'string' } },
        strict: true,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const lines = values['cowrie-lines'] ?? '5000';
    if (!/^[1-9]\d{0,7}$/.test(lines))
      throw new UsageError(`--cowrie-lines: expected a positive integer, got ${lines}`);
    const result = await runDemo({
      dir: resolve(io.cwd, values.out ?? '.data/demo'),
      cowrieLines: Number(lines),
      now: io.now(),
      log: (line) => io.stdout.write(`${line}\n`),
    });
    // The folder as the user would type it, so that the `cyberactive sql` lines printed can be pasted as they are.
    const shown = relative(io.cwd, result.runDir);
    io.stdout.write(
      demoReport(result, {
        runDir: shown === '' || shown.startsWith('..') || isAbsolute(shown) ? result.runDir : shown,
      }),
    );
    return demoSucceeded(result) ? 0 : 1;
  },
};
