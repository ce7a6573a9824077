#!/usr/bin/env -S npx tsx
import { processIo } from '../lambdas/cli/io';
import { main } from '../lambdas/cli/main';

main(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cyberactive: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
